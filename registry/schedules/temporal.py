"""Temporal's schedule API: one method per call, every refusal a RegistryError; Temporal's
Schedule built from a checked SchedulePlan (registry.schedules.rules), and the registry's own
record on each schedule it creates (a memo entry with the workflow type, which marks the
schedule as managed; Temporal does not let a memo change after creation)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any, Final

import grpc
from temporalio.api.common.v1 import Memo, Payloads, WorkflowType
from temporalio.api.schedule.v1 import (
    BackfillRequest,
    Schedule,
    ScheduleAction,
    SchedulePatch,
    SchedulePolicies,
    ScheduleState,
    TriggerImmediatelyRequest,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import NewWorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    CreateScheduleRequest,
    DeleteScheduleRequest,
    DescribeScheduleRequest,
    DescribeScheduleResponse,
    ListSchedulesRequest,
    ListSchedulesResponse,
    PatchScheduleRequest,
    UpdateScheduleRequest,
)
from temporalio.client import Client
from temporalio.converter import PayloadConverter
from temporalio.service import RPCError, RPCStatusCode

from registry.dispatch.temporal import encode_typed_search_attributes
from registry.schedules.rules import Backfill, Pausing, SchedulePlan, Trigger, conflict
from registry.server.errors import (
    FieldViolation,
    RegistryError,
    invalid_fields,
    not_found,
    unavailable,
)

MEMO_KEY: Final = "temporal_registry"


class TemporalSchedules:
    def __init__(self, client: Client, namespace: str, timeout: timedelta) -> None:
        self.client = client
        self._namespace = namespace
        self._timeout = timeout

    @property
    def _converter(self) -> PayloadConverter:
        return self.client.data_converter.payload_converter

    def _memo(self, record: dict[str, Any]) -> Memo:
        return Memo(fields={MEMO_KEY: self._converter.to_payload(json.dumps(record))})

    def record(self, memo: Memo) -> dict[str, Any] | None:
        """The registry's record on a schedule, or None when it did not create it."""
        payload = memo.fields.get(MEMO_KEY)
        if payload is None:
            return None
        try:
            record = json.loads(self.client.data_converter.payload_converter.from_payload(payload))
        except (ValueError, TypeError):
            return None
        return record if isinstance(record, dict) else None

    def decode_input(self, schedule: Schedule) -> Any:
        """The first argument of the schedule's workflow start as JSON, or None (none, or
        not JSON: a schedule made elsewhere may carry any payload)."""
        payloads = schedule.action.start_workflow.input.payloads
        if not payloads:
            return None
        try:
            return self.client.data_converter.payload_converter.from_payload(payloads[0])
        except Exception:  # the converter raises assorted errors for foreign encodings
            return None

    async def create(self, plan: SchedulePlan, task_queue: str) -> None:
        """Create the plan's schedule with the registry's record on it; a zero offset
        triggers it at once, with the schedule's overlap policy."""
        request = CreateScheduleRequest(
            namespace=self._namespace,
            schedule_id=plan.schedule_id,
            schedule=temporal_schedule(plan, task_queue, self._converter),
            identity=self.client.identity,
            request_id=str(uuid.uuid4()),
            memo=self._memo({"workflow_type": plan.workflow_type}),
        )
        if plan.trigger_now:
            request.initial_patch.CopyFrom(
                SchedulePatch(
                    trigger_immediately=TriggerImmediatelyRequest(
                        overlap_policy=plan.overlap_policy
                    )
                )
            )
        await self._call("create_schedule", request, plan.schedule_id)

    async def describe(self, schedule_id: str) -> DescribeScheduleResponse:
        response: DescribeScheduleResponse = await self._call(
            "describe_schedule",
            DescribeScheduleRequest(namespace=self._namespace, schedule_id=schedule_id),
            schedule_id,
        )
        return response

    async def update(self, plan: SchedulePlan, task_queue: str) -> DescribeScheduleResponse:
        """Replace the schedule with the plan's (Temporal keeps the memo: it can't be
        updated) and answer it as it now is. Temporal drops, silently, an update whose
        conflict token went stale in between: an unchanged token afterwards means the plan
        was not applied, ABORTED SCHEDULE_CONFLICT."""
        await self._call(
            "update_schedule",
            UpdateScheduleRequest(
                namespace=self._namespace,
                schedule_id=plan.schedule_id,
                schedule=temporal_schedule(plan, task_queue, self._converter),
                conflict_token=plan.conflict_token,
                identity=self.client.identity,
                request_id=str(uuid.uuid4()),
            ),
            plan.schedule_id,
        )
        updated = await self.describe(plan.schedule_id)
        if updated.conflict_token == plan.conflict_token:
            raise conflict(plan.schedule_id)
        return updated

    async def set_paused(self, pausing: Pausing) -> None:
        patch = (
            SchedulePatch(pause=pausing.note)
            if pausing.paused
            else SchedulePatch(unpause=pausing.note)
        )
        await self._patch(pausing.schedule_id, patch)

    async def trigger(self, trigger: Trigger) -> None:
        await self._patch(
            trigger.schedule_id,
            SchedulePatch(
                trigger_immediately=TriggerImmediatelyRequest(overlap_policy=trigger.overlap_policy)
            ),
        )

    async def backfill(self, backfill: Backfill) -> None:
        request = BackfillRequest(overlap_policy=backfill.overlap_policy)
        request.start_time.FromDatetime(backfill.start)
        request.end_time.FromDatetime(backfill.end)
        await self._patch(backfill.schedule_id, SchedulePatch(backfill_request=[request]))

    async def _patch(self, schedule_id: str, patch: SchedulePatch) -> None:
        await self._call(
            "patch_schedule",
            PatchScheduleRequest(
                namespace=self._namespace,
                schedule_id=schedule_id,
                patch=patch,
                identity=self.client.identity,
                request_id=str(uuid.uuid4()),
            ),
            schedule_id,
        )

    async def list_page(self, page_size: int, token: bytes) -> ListSchedulesResponse:
        response: ListSchedulesResponse = await self._call(
            "list_schedules",
            ListSchedulesRequest(
                namespace=self._namespace, maximum_page_size=page_size, next_page_token=token
            ),
            "",
        )
        return response

    async def delete(self, schedule_id: str) -> None:
        await self._call(
            "delete_schedule",
            DeleteScheduleRequest(
                namespace=self._namespace, schedule_id=schedule_id, identity=self.client.identity
            ),
            schedule_id,
        )

    async def _call(self, method: str, request: Any, schedule_id: str) -> Any:
        try:
            return await getattr(self.client.workflow_service, method)(
                request, timeout=self._timeout
            )
        except RPCError as error:
            raise schedule_error(error, schedule_id) from error


def temporal_schedule(plan: SchedulePlan, task_queue: str, converter: PayloadConverter) -> Schedule:
    """Temporal's schedule of a plan, its runs started on task_queue with the plan's input
    as their one argument."""
    start = NewWorkflowExecutionInfo(
        workflow_id=plan.workflow_id,
        workflow_type=WorkflowType(name=plan.workflow_type),
        task_queue=TaskQueue(name=task_queue),
        input=Payloads(payloads=converter.to_payloads([plan.input])),
    )
    encode_typed_search_attributes(plan.search_attributes, start.search_attributes)
    policies = SchedulePolicies(
        overlap_policy=plan.overlap_policy, pause_on_failure=plan.pause_on_failure
    )
    if plan.catchup_window is not None:
        policies.catchup_window.FromTimedelta(plan.catchup_window)
    state = ScheduleState(
        notes=plan.note,
        paused=plan.paused,
        limited_actions=plan.remaining_actions > 0,
        remaining_actions=plan.remaining_actions,
    )
    return Schedule(
        spec=plan.spec,
        action=ScheduleAction(start_workflow=start),
        policies=policies,
        state=state,
    )


def schedule_error(error: RPCError, schedule_id: str) -> RegistryError:
    if error.status == RPCStatusCode.NOT_FOUND:
        return not_found(
            "SCHEDULE_NOT_FOUND",
            f"schedule {schedule_id!r} does not exist",
            schedule_id=schedule_id,
        )
    if error.status == RPCStatusCode.ALREADY_EXISTS:
        return RegistryError(
            grpc.StatusCode.ALREADY_EXISTS,
            "SCHEDULE_ALREADY_EXISTS",
            f"schedule {schedule_id!r} already exists; update it with PUT /schedules/{schedule_id}",
            metadata={"schedule_id": schedule_id},
        )
    if error.status == RPCStatusCode.INVALID_ARGUMENT:
        return invalid_fields(
            "INVALID_SCHEDULE_SPEC",
            [FieldViolation("spec", f"Temporal refused it: {error.message}", "refused")],
        )
    if error.status in (RPCStatusCode.FAILED_PRECONDITION, RPCStatusCode.RESOURCE_EXHAUSTED):
        return RegistryError(
            grpc.StatusCode.FAILED_PRECONDITION,
            "TEMPORAL_REFUSED_SCHEDULE",
            f"Temporal refused the schedule operation: {error.message}",
        )
    return unavailable("TEMPORAL_UNAVAILABLE", f"Temporal did not answer ({error.status.name})")
