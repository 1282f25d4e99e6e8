"""ScheduleService: Temporal schedules of registered workflow types.

The registry resolves the task queue (from a healthy worker, as a start does), validates the
input against the type's schema at create and update, and records on each schedule (memo) the
spec as the caller wrote it. Describe adds whether the stored input still fits the schema.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf import json_format
from temporal_registry.v1 import resources_pb2, schedules_pb2, schedules_pb2_grpc
from temporalio.api.common.v1 import Payloads, WorkflowType
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
from temporalio.api.workflowservice.v1 import DescribeScheduleResponse

from registry.catalog.store import RegistryStore, StoreAccess
from registry.dispatch.rules import (
    check_payload,
    input_violations,
    warning_messages,
    workflow_id_violations,
)
from registry.dispatch.temporal import encode_typed_search_attributes
from registry.schedules.rules import (
    BACKFILL_OVERLAP_POLICY,
    MAX_SCHEDULED_WORKFLOW_ID_LENGTH,
    BuiltSpec,
    SpecRequest,
    backfill_range,
    build_spec,
    catchup_window,
    overlap_policy,
    overlap_policy_name,
    render_spec,
    rfc3339,
)
from registry.server.config import Config
from registry.server.errors import FieldViolation, RegistryError, invalid_fields
from registry.server.pagination import page_size_of
from registry.shared.messages import value_to_python

Context = grpc.aio.ServicerContext[Any, Any]

MAX_SCHEDULE_ID_LENGTH = 200
MAX_NOTE_LENGTH = 1000


class ScheduleService(schedules_pb2_grpc.ScheduleServiceServicer):
    def __init__(self, store: StoreAccess, config: Config) -> None:
        self._store = store
        self._config = config

    # --- create and update --------------------------------------------------------------------

    async def CreateSchedule(
        self, request: schedules_pb2.CreateScheduleRequest, context: Context
    ) -> schedules_pb2.CreateScheduleResponse:
        store = self._store()
        schedules = store.schedules
        violations = _schedule_id_violations(request.schedule_id)
        spec_request = _spec_request(request, list(request.fire_offsets_seconds))
        action, built, warnings = await self._action(
            store, request, spec_request, violations, task_queue=None
        )
        policies = _policies(request, violations)
        if violations:
            raise invalid_fields("INVALID_SCHEDULE", violations)
        remaining = request.remaining_actions or built.one_off_actions
        state = ScheduleState(
            notes=request.note[:MAX_NOTE_LENGTH],
            paused=request.paused,
            limited_actions=remaining > 0,
            remaining_actions=remaining,
        )
        patch = None
        if built.trigger_now:
            patch = SchedulePatch(
                trigger_immediately=TriggerImmediatelyRequest(
                    overlap_policy=policies.overlap_policy
                )
            )
        schedule = Schedule(spec=built.spec, action=action, policies=policies, state=state)
        record = {"workflow_type": request.workflow_type}
        await schedules.create(request.schedule_id, schedule, schedules.memo(record), patch)
        described = await schedules.describe(request.schedule_id)
        return schedules_pb2.CreateScheduleResponse(
            warnings=warnings, schedule=await self._message(store, request.schedule_id, described)
        )

    async def UpdateSchedule(
        self, request: schedules_pb2.UpdateScheduleRequest, context: Context
    ) -> schedules_pb2.Schedule:
        _require_schedule_id(request.schedule_id)
        store = self._store()
        schedules = store.schedules
        violations: list[FieldViolation] = []
        token = _conflict_token(request.conflict_token, violations)
        current = await schedules.describe(request.schedule_id)
        if token and current.conflict_token != token:
            raise _conflict(request.schedule_id)
        keep_queue = (
            None
            if request.follow_task_queue
            else (current.schedule.action.start_workflow.task_queue.name)
        )
        spec_request = _spec_request(request, [])
        action, built, _ = await self._action(
            store, request, spec_request, violations, task_queue=keep_queue
        )
        policies = _policies(request, violations)
        if violations:
            raise invalid_fields("INVALID_SCHEDULE", violations)
        state = ScheduleState(
            notes=current.schedule.state.notes,
            paused=current.schedule.state.paused,
            limited_actions=request.remaining_actions > 0,
            remaining_actions=request.remaining_actions,
        )
        schedule = Schedule(spec=built.spec, action=action, policies=policies, state=state)
        await schedules.update(request.schedule_id, schedule, token)
        # Temporal drops (silently) an update whose token went stale in between: an
        # unchanged token afterwards means ours was not applied.
        updated = await schedules.describe(request.schedule_id)
        if updated.conflict_token == token:
            raise _conflict(request.schedule_id)
        return await self._message(store, request.schedule_id, updated)

    async def _action(
        self,
        store: RegistryStore,
        request: schedules_pb2.CreateScheduleRequest | schedules_pb2.UpdateScheduleRequest,
        spec_request: SpecRequest,
        violations: list[FieldViolation],
        *,
        task_queue: str | None,
    ) -> tuple[ScheduleAction, BuiltSpec, list[resources_pb2.InputWarning]]:
        """The start action of the schedule, after checking the type, input, search
        attributes and spec (violations are collected; an unknown type, a disabled one or no
        healthy worker raise at once). task_queue None: resolve it from the registry."""
        stored = store.enabled_workflow(request.workflow_type)
        workflow_input = value_to_python(request.input) if request.HasField("input") else {}
        attributes, payload_violations = await check_payload(
            stored,
            workflow_input,
            {k: value_to_python(v) for k, v in request.search_attributes.items()},
        )
        violations += payload_violations
        built = build_spec(spec_request, datetime.now(UTC))
        violations += built.violations
        if request.workflow_id:
            violations += workflow_id_violations(
                request.workflow_id,
                self._config.registry.workflow_id,
                max_length=MAX_SCHEDULED_WORKFLOW_ID_LENGTH,
            )
        if request.remaining_actions < 0:
            violations.append(
                FieldViolation("remaining_actions", "must be 0 or more", "out_of_range")
            )
        if task_queue is None and not violations:
            task_queue = await store.task_queue_for(stored, request.label_selector)
        converter = store.temporal.data_converter.payload_converter
        start = NewWorkflowExecutionInfo(
            workflow_id=request.workflow_id or request.schedule_id,
            workflow_type=WorkflowType(name=request.workflow_type),
            task_queue=TaskQueue(name=task_queue or ""),
            input=Payloads(payloads=converter.to_payloads([workflow_input])),
        )
        encode_typed_search_attributes(attributes, start.search_attributes)
        return (
            ScheduleAction(start_workflow=start),
            built,
            warning_messages(stored, workflow_input),
        )

    # --- reads --------------------------------------------------------------------------------

    async def GetSchedule(
        self, request: schedules_pb2.GetScheduleRequest, context: Context
    ) -> schedules_pb2.Schedule:
        _require_schedule_id(request.schedule_id)
        store = self._store()
        described = await store.schedules.describe(request.schedule_id)
        return await self._message(store, request.schedule_id, described)

    async def ListSchedules(
        self, request: schedules_pb2.ListSchedulesRequest, context: Context
    ) -> schedules_pb2.ListSchedulesResponse:
        size = page_size_of(request.page_size)
        try:
            token = (
                base64.urlsafe_b64decode(request.page_token.encode()) if request.page_token else b""
            )
        except (binascii.Error, ValueError):
            raise invalid_fields(
                "INVALID_PAGE_TOKEN",
                [FieldViolation("page_token", "is not a page token from this server", "invalid")],
            ) from None
        page = await self._store().schedules.list_page(size, token)
        return schedules_pb2.ListSchedulesResponse(
            schedules=[
                schedules_pb2.ScheduleSummary(
                    id=entry.schedule_id,
                    workflow_type=entry.info.workflow_type.name,
                    paused=entry.info.paused,
                    note=entry.info.notes,
                    next_fires=[rfc3339(t.ToDatetime(UTC)) for t in entry.info.future_action_times],
                )
                for entry in page.schedules
                if not request.workflow_type
                or entry.info.workflow_type.name == request.workflow_type
            ],
            next_page_token=base64.urlsafe_b64encode(page.next_page_token).decode(),
        )

    async def _message(
        self, store: RegistryStore, schedule_id: str, described: DescribeScheduleResponse
    ) -> schedules_pb2.Schedule:
        schedules = store.schedules
        schedule, info = described.schedule, described.info
        start = schedule.action.start_workflow
        record = schedules.record(described.memo)
        message = schedules_pb2.Schedule(
            id=schedule_id,
            paused=schedule.state.paused,
            next_fires=[rfc3339(t.ToDatetime(UTC)) for t in info.future_action_times],
            running=[
                schedules_pb2.ScheduleRunningWorkflow(
                    workflow_id=run.workflow_id, first_execution_run_id=run.run_id
                )
                for run in info.running_workflows
            ],
            recent=[
                schedules_pb2.ScheduleRecentAction(
                    scheduled_at=rfc3339(action.schedule_time.ToDatetime(UTC)),
                    started_at=rfc3339(action.actual_time.ToDatetime(UTC)),
                    workflow_id=action.start_workflow_result.workflow_id,
                )
                for action in info.recent_actions
            ],
            note=schedule.state.notes,
            workflow_type=start.workflow_type.name,
            workflow_id=start.workflow_id,
            task_queue=start.task_queue.name,
            overlap_policy=overlap_policy_name(schedule.policies.overlap_policy),
            catchup_window_seconds=schedule.policies.catchup_window.seconds,
            pause_on_failure=schedule.policies.pause_on_failure,
            remaining_actions=schedule.state.remaining_actions,
            limited_actions=schedule.state.limited_actions,
            action_count=info.action_count,
            conflict_token=base64.urlsafe_b64encode(described.conflict_token).decode(),
            managed=record is not None,
        )
        workflow_input = schedules.decode_input(schedule)
        if workflow_input is not None:
            json_format.ParseDict(workflow_input, message.input)
        message.spec.CopyFrom(render_spec(schedule.spec))
        if schedule.spec.HasField("start_time"):
            message.start_at = rfc3339(schedule.spec.start_time.ToDatetime(UTC))
        if schedule.spec.HasField("end_time"):
            message.end_at = rfc3339(schedule.spec.end_time.ToDatetime(UTC))
        stored = store.catalog.workflows.get(start.workflow_type.name)
        if stored is None:
            problems = [FieldViolation("workflow_type", "is not registered", "not_found")]
        else:
            try:
                problems = await input_violations(stored, workflow_input)
            except RegistryError as error:
                problems = [FieldViolation("input_schema", error.message, "invalid_schema")]
        message.input_valid = not problems
        message.input_violations.extend(
            resources_pb2.InputWarning(field=v.field, message=v.description) for v in problems
        )
        return message

    # --- state changes ------------------------------------------------------------------------

    async def PauseSchedule(
        self, request: schedules_pb2.PauseScheduleRequest, context: Context
    ) -> schedules_pb2.Schedule:
        _require_schedule_id(request.schedule_id)
        note = request.note[:MAX_NOTE_LENGTH] or "paused through temporal-registry"
        return await self._patched(request.schedule_id, SchedulePatch(pause=note))

    async def UnpauseSchedule(
        self, request: schedules_pb2.UnpauseScheduleRequest, context: Context
    ) -> schedules_pb2.Schedule:
        _require_schedule_id(request.schedule_id)
        note = request.note[:MAX_NOTE_LENGTH] or "unpaused through temporal-registry"
        return await self._patched(request.schedule_id, SchedulePatch(unpause=note))

    async def TriggerSchedule(
        self, request: schedules_pb2.TriggerScheduleRequest, context: Context
    ) -> schedules_pb2.TriggerScheduleResponse:
        _require_schedule_id(request.schedule_id)
        violations: list[FieldViolation] = []
        policy = overlap_policy(request.overlap_policy, "overlap_policy", violations)
        if violations:
            raise invalid_fields("INVALID_TRIGGER", violations)
        await self._store().schedules.patch(
            request.schedule_id,
            SchedulePatch(trigger_immediately=TriggerImmediatelyRequest(overlap_policy=policy)),
        )
        return schedules_pb2.TriggerScheduleResponse()

    async def BackfillSchedule(
        self, request: schedules_pb2.BackfillScheduleRequest, context: Context
    ) -> schedules_pb2.BackfillScheduleResponse:
        _require_schedule_id(request.schedule_id)
        violations: list[FieldViolation] = []
        span = backfill_range(request.start_at, request.end_at, violations)
        policy = overlap_policy(
            request.overlap_policy, "overlap_policy", violations, BACKFILL_OVERLAP_POLICY
        )
        if violations or span is None:
            raise invalid_fields("INVALID_BACKFILL", violations)
        backfill = BackfillRequest(overlap_policy=policy)
        backfill.start_time.FromDatetime(span[0])
        backfill.end_time.FromDatetime(span[1])
        await self._store().schedules.patch(
            request.schedule_id, SchedulePatch(backfill_request=[backfill])
        )
        return schedules_pb2.BackfillScheduleResponse()

    async def DeleteSchedule(
        self, request: schedules_pb2.DeleteScheduleRequest, context: Context
    ) -> schedules_pb2.DeleteScheduleResponse:
        _require_schedule_id(request.schedule_id)
        await self._store().schedules.delete(request.schedule_id)
        return schedules_pb2.DeleteScheduleResponse()

    async def _patched(self, schedule_id: str, patch: SchedulePatch) -> schedules_pb2.Schedule:
        store = self._store()
        schedules = store.schedules
        await schedules.patch(schedule_id, patch)
        return await self._message(store, schedule_id, await schedules.describe(schedule_id))


def _schedule_id_violations(schedule_id: str) -> list[FieldViolation]:
    if (
        not schedule_id
        or len(schedule_id) > MAX_SCHEDULE_ID_LENGTH
        or not schedule_id.isprintable()
    ):
        message = f"must be 1-{MAX_SCHEDULE_ID_LENGTH} printable characters"
        return [FieldViolation("schedule_id", message, "invalid")]
    return []


def _require_schedule_id(schedule_id: str) -> None:
    """INVALID_ARGUMENT for an id no schedule can have (Temporal's own refusal of an empty one
    named no field)."""
    violations = _schedule_id_violations(schedule_id)
    if violations:
        raise invalid_fields("INVALID_SCHEDULE_ID", violations)


def _spec_request(
    request: schedules_pb2.CreateScheduleRequest | schedules_pb2.UpdateScheduleRequest,
    fire_offsets_seconds: list[int],
) -> SpecRequest:
    return SpecRequest(
        spec=request.spec,
        interval_seconds=request.interval_seconds if request.HasField("interval_seconds") else None,
        start_at=request.start_at,
        end_at=request.end_at,
        fire_offsets_seconds=fire_offsets_seconds,
    )


def _policies(
    request: schedules_pb2.CreateScheduleRequest | schedules_pb2.UpdateScheduleRequest,
    violations: list[FieldViolation],
) -> SchedulePolicies:
    policies = SchedulePolicies(
        overlap_policy=overlap_policy(request.overlap_policy, "overlap_policy", violations),
        pause_on_failure=request.pause_on_failure,
    )
    window = catchup_window(request.catchup_window_seconds, violations)
    if window is not None:
        policies.catchup_window.FromTimedelta(window)
    return policies


def _conflict_token(token: str, violations: list[FieldViolation]) -> bytes:
    if not token:
        message = "is required: pass the conflict_token of GetSchedule"
        violations.append(FieldViolation("conflict_token", message, "required"))
        return b""
    try:
        return base64.urlsafe_b64decode(token.encode())
    except (binascii.Error, ValueError):
        violations.append(FieldViolation("conflict_token", "is not a conflict token", "invalid"))
        return b""


def _conflict(schedule_id: str) -> RegistryError:
    return RegistryError(
        grpc.StatusCode.ABORTED,
        "SCHEDULE_CONFLICT",
        f"schedule {schedule_id!r} changed since its conflict_token was read; "
        "read it again and reapply your change",
        metadata={"schedule_id": schedule_id},
    )
