"""Starting a workflow in Temporal: StartWorkflowExecution built by hand, so the registry
controls the request id, the id policies, memo, search attributes and timeouts, and
Temporal's refusals become clear RegistryErrors.

Idempotent starts (a client `request_id`) and `started`
-------------------------------------------------------
Temporal deduplicates a start whose request id started the id's current run, but answers
the duplicate exactly like the original (`started: true`), so it cannot tell a client which
of several attempts with one request id started the run. The registry therefore gives each
attempt its own Temporal request id, `registry-start:<attempt nonce>:<request_id>`, and
first asks for a run only where no execution holds the id (conflict policy FAIL, reuse
policy REJECT_DUPLICATE). In one call:

- the attempt that creates the run is answered `started: true`;
- any other attempt meets the run (open or closed) in an ALREADY_EXISTS whose details carry
  the start request id of the run holding the id: when it carries the same client request
  id, the attempt answers that run with `started: false`, whichever replica made it;
- when another request's execution holds the id, the caller's id policies decide, in a
  second call (TERMINATE_EXISTING then uses the fixed attempt `same`, so that Temporal's own
  deduplication keeps concurrent retries from terminating each other's run).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

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

from registry.dispatch.rules import StartPlan, TypedSearchAttribute
from registry.server.errors import RegistryError, unavailable

_FAIL: Final = WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL
_TERMINATE: Final = WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING
_REJECT: Final = WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
ATTEMPT_PREFIX: Final = "registry-start:"
# The attempt of a start that leaves the choice between attempts to Temporal's deduplication.
SAME_ATTEMPT: Final = "same"

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
class Started:
    run_id: str
    started: bool  # False: an existing run was answered (a retry, or USE_EXISTING)
    task_queue: str = ""  # where the run was started, when not the plan's queue


@dataclass(frozen=True)
class _Conflict:
    """An ALREADY_EXISTS: the run holding the id, and the request id that started it."""

    run_id: str
    start_request_id: str
    error: RPCError


def temporal_request_id(request_id: str, attempt: str) -> str:
    """The request id Temporal gets for one attempt at a start with a client request id."""
    return f"{ATTEMPT_PREFIX}{attempt}:{request_id}"


def client_request_id(start_request_id: str) -> str:
    """The client request id a Temporal start request id carries (itself when it is not one
    of the registry's: a run an earlier registry version started with the bare request id)."""
    if start_request_id.startswith(ATTEMPT_PREFIX):
        _, sep, request_id = start_request_id[len(ATTEMPT_PREFIX) :].partition(":")
        if sep:
            return request_id
    return start_request_id


class WorkflowStarter:
    def __init__(self, client: Client, namespace: str, timeout: timedelta) -> None:
        self.client = client
        self._namespace = namespace
        self._timeout = timeout

    async def start(self, plan: StartPlan) -> Started:
        """Start the plan's run under its id policies; with a request id, a retry answers the
        run an earlier attempt started (see the module docstring)."""
        if not plan.request_id:
            outcome = await self._attempt(
                plan, str(uuid.uuid4()), plan.conflict_policy, plan.reuse_policy
            )
            if isinstance(outcome, _Conflict):
                raise _start_refused(outcome.error, plan)
            return outcome
        first = await self._start_new(plan)
        if not isinstance(first, _Conflict):
            return first
        if (plan.conflict_policy, plan.reuse_policy) == (_FAIL, _REJECT):
            raise _start_refused(first.error, plan)
        # Another request's execution holds the id: the caller's policies decide.
        attempt = SAME_ATTEMPT if plan.conflict_policy == _TERMINATE else uuid.uuid4().hex
        outcome = await self._attempt(
            plan,
            temporal_request_id(plan.request_id, attempt),
            plan.conflict_policy,
            plan.reuse_policy,
        )
        if isinstance(outcome, _Conflict):
            return await self._retried(plan, outcome)
        return outcome

    async def start_new(self, plan: StartPlan) -> Started | None:
        """Start the plan's run only if no execution of another request (open or closed, within
        retention) has its id: None when one has. A retry of the request that started the
        execution answers it, with started=False."""
        outcome = await self._start_new(plan)
        return None if isinstance(outcome, _Conflict) else outcome

    async def _start_new(self, plan: StartPlan) -> Started | _Conflict:
        request_id = (
            temporal_request_id(plan.request_id, uuid.uuid4().hex)
            if plan.request_id
            else str(uuid.uuid4())
        )
        outcome = await self._attempt(plan, request_id, _FAIL, _REJECT)
        if isinstance(outcome, _Conflict) and _ours(plan, outcome):
            return await self._retried(plan, outcome)
        return outcome

    async def _retried(self, plan: StartPlan, conflict: _Conflict) -> Started:
        """The answer to a retry: the run its request started, or the refusal of a run that
        another request started."""
        if not _ours(plan, conflict):
            raise _start_refused(conflict.error, plan)
        return Started(conflict.run_id, False, await self._task_queue_of(plan, conflict.run_id))

    async def _task_queue_of(self, plan: StartPlan, run_id: str) -> str:
        """The queue a run was started on (the retry may have picked another one now)."""
        try:
            description = await self.client.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(
                    namespace=self._namespace,
                    execution=WorkflowExecution(workflow_id=plan.workflow_id, run_id=run_id),
                ),
                timeout=self._timeout,
            )
        except RPCError:
            return plan.task_queue  # e.g. deleted since: the answer still names the run
        return description.execution_config.task_queue.name or plan.task_queue

    async def _attempt(
        self,
        plan: StartPlan,
        request_id: str,
        conflict_policy: WorkflowIdConflictPolicy.ValueType,
        reuse_policy: WorkflowIdReusePolicy.ValueType,
    ) -> Started | _Conflict:
        """One StartWorkflowExecution; ALREADY_EXISTS is returned, any other refusal raised."""
        try:
            response = await self.client.workflow_service.start_workflow_execution(
                self._request(plan, request_id, conflict_policy, reuse_policy),
                timeout=self._timeout,
            )
        except RPCError as error:
            if error.status != RPCStatusCode.ALREADY_EXISTS:
                raise _start_refused(error, plan) from error
            running = _already_started(error)
            return _Conflict(running.run_id, running.start_request_id, error)
        return Started(response.run_id, response.started)

    def _request(
        self,
        plan: StartPlan,
        request_id: str,
        conflict_policy: WorkflowIdConflictPolicy.ValueType,
        reuse_policy: WorkflowIdReusePolicy.ValueType,
    ) -> StartWorkflowExecutionRequest:
        converter = self.client.data_converter.payload_converter
        request = StartWorkflowExecutionRequest(
            namespace=self._namespace,
            workflow_id=plan.workflow_id,
            workflow_type=WorkflowType(name=plan.workflow_type),
            task_queue=TaskQueue(name=plan.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            input=Payloads(payloads=converter.to_payloads([plan.input])),
            identity=self.client.identity,
            request_id=request_id,
            workflow_id_conflict_policy=conflict_policy,
            workflow_id_reuse_policy=reuse_policy,
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
        return request

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


def _ours(plan: StartPlan, conflict: _Conflict) -> bool:
    """Whether the run holding the id was started by this plan's request id."""
    return bool(plan.request_id) and client_request_id(conflict.start_request_id) == (
        plan.request_id
    )


def _already_started(error: RPCError) -> WorkflowExecutionAlreadyStartedFailure:
    running = WorkflowExecutionAlreadyStartedFailure()
    for detail in error.grpc_status.details:
        if detail.Unpack(running):
            break
    return running


def _start_refused(error: RPCError, plan: StartPlan | None) -> RegistryError:
    if error.status == RPCStatusCode.ALREADY_EXISTS and plan is not None:
        run_id = _already_started(error).run_id
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
