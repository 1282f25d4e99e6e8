"""Starting a workflow in Temporal: one StartWorkflowExecution call, built by hand so the
registry controls the request id (Temporal's own idempotency key), the id policies, memo,
search attributes and timeouts, and Temporal's refusals become clear RegistryErrors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
from temporalio.api.common.v1 import Memo, Payloads, WorkflowExecution, WorkflowType
from temporalio.api.common.v1 import SearchAttributes as ApiSearchAttributes
from temporalio.api.enums.v1 import (
    TaskQueueKind,
    WorkflowIdConflictPolicy,
    WorkflowIdReusePolicy,
)
from temporalio.api.errordetails.v1 import WorkflowExecutionAlreadyStartedFailure
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.converter import encode_search_attributes
from temporalio.service import RPCError, RPCStatusCode

from registry.dispatch import TypedSearchAttribute
from registry.errors import RegistryError, unavailable

_KEYS: dict[str, Any] = {
    "Keyword": SearchAttributeKey.for_keyword,
    "Text": SearchAttributeKey.for_text,
    "KeywordList": SearchAttributeKey.for_keyword_list,
    "Int": SearchAttributeKey.for_int,
    "Double": SearchAttributeKey.for_float,
    "Bool": SearchAttributeKey.for_bool,
    "Datetime": SearchAttributeKey.for_datetime,
}


@dataclass(frozen=True)
class StartPlan:
    """Everything one start needs, already validated."""

    workflow_type: str
    workflow_id: str
    task_queue: str
    input: Any
    request_id: str
    search_attributes: list[TypedSearchAttribute] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict)
    conflict_policy: WorkflowIdConflictPolicy.ValueType = (
        WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL
    )
    reuse_policy: WorkflowIdReusePolicy.ValueType = (
        WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
    )
    execution_timeout: timedelta | None = None
    run_timeout: timedelta | None = None


@dataclass(frozen=True)
class Started:
    run_id: str
    started: bool  # False: an existing run was answered (USE_EXISTING)


class WorkflowStarter:
    def __init__(self, client: Client, namespace: str, timeout: timedelta) -> None:
        self.client = client
        self._namespace = namespace
        self._timeout = timeout

    async def start(self, plan: StartPlan) -> Started:
        converter = self.client.data_converter.payload_converter
        request = StartWorkflowExecutionRequest(
            namespace=self._namespace,
            workflow_id=plan.workflow_id,
            workflow_type=WorkflowType(name=plan.workflow_type),
            task_queue=TaskQueue(name=plan.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            input=Payloads(payloads=converter.to_payloads([plan.input])),
            identity=self.client.identity,
            request_id=plan.request_id,
            workflow_id_conflict_policy=plan.conflict_policy,
            workflow_id_reuse_policy=plan.reuse_policy,
        )
        if plan.memo:
            request.memo.CopyFrom(
                Memo(fields={k: converter.to_payload(v) for k, v in plan.memo.items()})
            )
        encode_typed_search_attributes(plan.search_attributes, request.search_attributes)
        if plan.execution_timeout is not None:
            request.workflow_execution_timeout.FromTimedelta(plan.execution_timeout)
        if plan.run_timeout is not None:
            request.workflow_run_timeout.FromTimedelta(plan.run_timeout)
        try:
            response = await self.client.workflow_service.start_workflow_execution(
                request, timeout=self._timeout
            )
        except RPCError as error:
            raise _start_refused(error, plan) from error
        return Started(response.run_id, response.started)

    async def exists(self, workflow_id: str) -> bool:
        """Whether Temporal knows an execution (open or closed, within retention) with this id."""
        try:
            await self.client.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(
                    namespace=self._namespace, execution=WorkflowExecution(workflow_id=workflow_id)
                ),
                timeout=self._timeout,
            )
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return False
            raise _start_refused(error, None) from error
        return True


def encode_typed_search_attributes(
    attributes: list[TypedSearchAttribute], target: ApiSearchAttributes
) -> None:
    """Write checked search attribute values into a Temporal SearchAttributes message."""
    if attributes:
        pairs = [SearchAttributePair(_KEYS[a.type](a.name), a.value) for a in attributes]
        encode_search_attributes(TypedSearchAttributes(pairs), target)


def _start_refused(error: RPCError, plan: StartPlan | None) -> RegistryError:
    if error.status == RPCStatusCode.ALREADY_EXISTS and plan is not None:
        running = WorkflowExecutionAlreadyStartedFailure()
        status = error.grpc_status
        run_id = next((running.run_id for detail in status.details if detail.Unpack(running)), "")
        return RegistryError(
            grpc.StatusCode.ALREADY_EXISTS,
            "WORKFLOW_ALREADY_RUNNING",
            f"workflow id {plan.workflow_id} is already running (run {run_id}); "
            "pick another id or set id_conflict_policy",
            metadata={"workflow_id": plan.workflow_id, "run_id": run_id},
        )
    if error.status in (
        RPCStatusCode.INVALID_ARGUMENT,
        RPCStatusCode.FAILED_PRECONDITION,
        RPCStatusCode.NOT_FOUND,
    ):
        return RegistryError(
            grpc.StatusCode.FAILED_PRECONDITION,
            "TEMPORAL_REFUSED_START",
            f"Temporal refused the start: {error.message}",
        )
    if error.status == RPCStatusCode.RESOURCE_EXHAUSTED:
        return RegistryError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "TEMPORAL_RESOURCE_EXHAUSTED",
            f"Temporal is overloaded: {error.message}",
        )
    return unavailable("TEMPORAL_UNAVAILABLE", f"Temporal did not answer ({error.status.name})")
