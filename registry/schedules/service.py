"""ScheduleService: Temporal schedules of registered workflow types.

Each handler parses its request with one call into registry.schedules.rules (every bad field
in one INVALID_* answer), carries the plan out through registry.schedules.temporal, and
answers the schedule as Temporal then describes it. The registry resolves the task queue
(from a healthy worker, as a start does), validates the input against the type's schema at
create and update, and marks each schedule it creates as its own (a memo). Describe adds
whether the stored input still fits the schema.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf import json_format
from temporal_registry.v1 import resources_pb2, schedules_pb2, schedules_pb2_grpc
from temporalio.api.workflowservice.v1 import DescribeScheduleResponse

from registry.catalog.store import RegistryStore, StoreAccess
from registry.schedules.rules import (
    overlap_policy_name,
    parse_backfill,
    parse_create,
    parse_list,
    parse_pause,
    parse_schedule_id,
    parse_trigger,
    parse_update,
    render_spec,
    rfc3339,
    stored_input_problems,
)
from registry.server.config import Config

Context = grpc.aio.ServicerContext[Any, Any]


class ScheduleService(schedules_pb2_grpc.ScheduleServiceServicer):
    def __init__(self, store: StoreAccess, config: Config) -> None:
        self._store = store
        self._config = config

    # --- create and update --------------------------------------------------------------------

    async def CreateSchedule(
        self, request: schedules_pb2.CreateScheduleRequest, context: Context
    ) -> schedules_pb2.CreateScheduleResponse:
        store = self._store()
        stored = await store.enabled_workflow(request.workflow_type)
        plan = await parse_create(
            request,
            stored,
            self._config.registry.workflow_id,
            datetime.now(UTC),
            store.serving_schemas(stored),
        )
        task_queue = await store.task_queue_for(stored, request.label_selector)
        await store.schedules.create(plan, task_queue)
        return schedules_pb2.CreateScheduleResponse(
            warnings=plan.warnings, schedule=await self._described(store, plan.schedule_id)
        )

    async def UpdateSchedule(
        self, request: schedules_pb2.UpdateScheduleRequest, context: Context
    ) -> schedules_pb2.Schedule:
        schedule_id = parse_schedule_id(request.schedule_id)
        store = self._store()
        current = await store.schedules.describe(schedule_id)
        stored = await store.enabled_workflow(request.workflow_type)
        plan = await parse_update(
            request,
            stored,
            current,
            self._config.registry.workflow_id,
            datetime.now(UTC),
            store.serving_schemas(stored),
        )
        task_queue = (
            plan.task_queue
            if plan.task_queue is not None
            else await store.task_queue_for(stored, request.label_selector)
        )
        updated = await store.schedules.update(plan, task_queue)
        return await self._message(store, schedule_id, updated)

    # --- reads --------------------------------------------------------------------------------

    async def GetSchedule(
        self, request: schedules_pb2.GetScheduleRequest, context: Context
    ) -> schedules_pb2.Schedule:
        schedule_id = parse_schedule_id(request.schedule_id)
        return await self._described(self._store(), schedule_id)

    async def ListSchedules(
        self, request: schedules_pb2.ListSchedulesRequest, context: Context
    ) -> schedules_pb2.ListSchedulesResponse:
        query = parse_list(request)
        page = await self._store().schedules.list_page(query.page_size, query.page_token)
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
                if not query.workflow_type or entry.info.workflow_type.name == query.workflow_type
            ],
            next_page_token=base64.urlsafe_b64encode(page.next_page_token).decode(),
        )

    async def _described(self, store: RegistryStore, schedule_id: str) -> schedules_pb2.Schedule:
        return await self._message(store, schedule_id, await store.schedules.describe(schedule_id))

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
        problems = await stored_input_problems(
            store.catalog.workflows, start.workflow_type.name, workflow_input
        )
        message.input_valid = not problems
        message.input_violations.extend(
            resources_pb2.InputWarning(field=v.field, message=v.description) for v in problems
        )
        return message

    # --- state changes ------------------------------------------------------------------------

    async def PauseSchedule(
        self, request: schedules_pb2.PauseScheduleRequest, context: Context
    ) -> schedules_pb2.Schedule:
        pausing = parse_pause(request)
        store = self._store()
        await store.schedules.set_paused(pausing)
        return await self._described(store, pausing.schedule_id)

    async def UnpauseSchedule(
        self, request: schedules_pb2.UnpauseScheduleRequest, context: Context
    ) -> schedules_pb2.Schedule:
        pausing = parse_pause(request)
        store = self._store()
        await store.schedules.set_paused(pausing)
        return await self._described(store, pausing.schedule_id)

    async def TriggerSchedule(
        self, request: schedules_pb2.TriggerScheduleRequest, context: Context
    ) -> schedules_pb2.TriggerScheduleResponse:
        trigger = parse_trigger(request)
        await self._store().schedules.trigger(trigger)
        return schedules_pb2.TriggerScheduleResponse()

    async def BackfillSchedule(
        self, request: schedules_pb2.BackfillScheduleRequest, context: Context
    ) -> schedules_pb2.BackfillScheduleResponse:
        backfill = parse_backfill(request)
        await self._store().schedules.backfill(backfill)
        return schedules_pb2.BackfillScheduleResponse()

    async def DeleteSchedule(
        self, request: schedules_pb2.DeleteScheduleRequest, context: Context
    ) -> schedules_pb2.DeleteScheduleResponse:
        schedule_id = parse_schedule_id(request.schedule_id)
        await self._store().schedules.delete(schedule_id)
        return schedules_pb2.DeleteScheduleResponse()
