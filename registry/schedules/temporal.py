"""Temporal's schedule API, raw: one method per call, every refusal a RegistryError, and the
registry's own record on each schedule it creates (a memo entry with the workflow type, which
marks the schedule as managed; Temporal does not let a memo change after creation)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any, Final

import grpc
from temporalio.api.common.v1 import Memo
from temporalio.api.schedule.v1 import Schedule, SchedulePatch
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
from temporalio.service import RPCError, RPCStatusCode

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

    def memo(self, record: dict[str, Any]) -> Memo:
        converter = self.client.data_converter.payload_converter
        return Memo(fields={MEMO_KEY: converter.to_payload(json.dumps(record))})

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

    async def create(
        self, schedule_id: str, schedule: Schedule, memo: Memo, patch: SchedulePatch | None
    ) -> None:
        request = CreateScheduleRequest(
            namespace=self._namespace,
            schedule_id=schedule_id,
            schedule=schedule,
            identity=self.client.identity,
            request_id=str(uuid.uuid4()),
            memo=memo,
        )
        if patch is not None:
            request.initial_patch.CopyFrom(patch)
        await self._call("create_schedule", request, schedule_id)

    async def describe(self, schedule_id: str) -> DescribeScheduleResponse:
        response: DescribeScheduleResponse = await self._call(
            "describe_schedule",
            DescribeScheduleRequest(namespace=self._namespace, schedule_id=schedule_id),
            schedule_id,
        )
        return response

    async def update(self, schedule_id: str, schedule: Schedule, conflict_token: bytes) -> None:
        """Replace the schedule (Temporal keeps the memo: it can't be updated)."""
        await self._call(
            "update_schedule",
            UpdateScheduleRequest(
                namespace=self._namespace,
                schedule_id=schedule_id,
                schedule=schedule,
                conflict_token=conflict_token,
                identity=self.client.identity,
                request_id=str(uuid.uuid4()),
            ),
            schedule_id,
        )

    async def patch(self, schedule_id: str, patch: SchedulePatch) -> None:
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
