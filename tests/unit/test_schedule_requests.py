"""registry.schedules.rules: each schedule handler's request parsed with one call into a plan,
every bad field of it in one INVALID_* answer; registry.schedules.temporal: Temporal's schedule
built from a plan."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from temporal_registry.v1 import schedules_pb2
from temporalio.api.enums.v1 import ScheduleOverlapPolicy
from temporalio.api.schedule.v1 import Schedule, ScheduleAction, ScheduleState
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import NewWorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import DescribeScheduleResponse
from temporalio.converter import DataConverter

from registry.dispatch.rules import TypedSearchAttribute
from registry.schedules.rules import (
    BACKFILL_OVERLAP_POLICY,
    DEFAULT_INTERVAL_SECONDS,
    MAX_NOTE_LENGTH,
    MAX_SCHEDULE_ID_LENGTH,
    MAX_SCHEDULED_WORKFLOW_ID_LENGTH,
    parse_backfill,
    parse_create,
    parse_list,
    parse_pause,
    parse_schedule_id,
    parse_trigger,
    parse_update,
    stored_input_problems,
)
from registry.schedules.temporal import temporal_schedule
from registry.server.errors import RegistryError
from registry.shared.model import (
    InputWarningSpec,
    SearchAttributeSpec,
    StoredWorkflow,
    WorkflowSpec,
)
from registry.shared.schemas import MAX_INPUT_DEPTH

P = ScheduleOverlapPolicy
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
RESERVED = "temporal-registry"
STORED = StoredWorkflow(
    WorkflowSpec(
        "nightly.v1",
        input_schema={"type": "object", "properties": {"order_id": {"type": "string"}}},
        search_attributes=[SearchAttributeSpec("Tier", "Keyword")],
        schedule_input_warnings=[InputWarningSpec("order_id", "schedules should set it")],
    )
)
TOKEN = b"token-1"


def create_request(**fields: Any) -> schedules_pb2.CreateScheduleRequest:
    request = schedules_pb2.CreateScheduleRequest(
        schedule_id=fields.pop("schedule_id", "nightly"), workflow_type="nightly.v1"
    )
    _fill(request, fields)
    return request


def update_request(**fields: Any) -> schedules_pb2.UpdateScheduleRequest:
    request = schedules_pb2.UpdateScheduleRequest(
        schedule_id="nightly",
        workflow_type="nightly.v1",
        conflict_token=fields.pop("conflict_token", base64.urlsafe_b64encode(TOKEN).decode()),
    )
    _fill(request, fields)
    return request


def _fill(
    request: schedules_pb2.CreateScheduleRequest | schedules_pb2.UpdateScheduleRequest,
    fields: dict[str, Any],
) -> None:
    workflow_input = fields.pop("input", None)
    if workflow_input is not None:
        request.input.struct_value.update(workflow_input)
    for name, value in fields.pop("search_attributes", {}).items():
        request.search_attributes[name].string_value = value
    for name, value in fields.items():
        if isinstance(value, list):
            getattr(request, name).extend(value)
        elif name == "spec":
            request.spec.CopyFrom(value)
        else:
            setattr(request, name, value)


def current(
    token: bytes = TOKEN, notes: str = "as it was", paused: bool = True
) -> DescribeScheduleResponse:
    start = NewWorkflowExecutionInfo(task_queue=TaskQueue(name="old-queue"))
    return DescribeScheduleResponse(
        schedule=Schedule(
            action=ScheduleAction(start_workflow=start),
            state=ScheduleState(notes=notes, paused=paused),
        ),
        conflict_token=token,
    )


def refused(call: Callable[[], object]) -> RegistryError:
    with pytest.raises(RegistryError) as caught:
        call()
    return caught.value


def fields(error: RegistryError) -> list[tuple[str, str]]:
    return [(v.field, v.reason) for v in error.violations]


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


# --- create -----------------------------------------------------------------------------------


def test_a_create_becomes_a_plan_with_everything_checked() -> None:
    request = create_request(
        input={"amount": 2},
        search_attributes={"Tier": "gold"},
        overlap_policy="buffer_one",
        catchup_window_seconds=600,
        pause_on_failure=True,
        note="n" * (MAX_NOTE_LENGTH + 5),
        paused=True,
    )
    plan = asyncio.run(parse_create(request, STORED, RESERVED, NOW))
    assert (plan.schedule_id, plan.workflow_type, plan.workflow_id) == (
        "nightly",
        "nightly.v1",
        "nightly",  # a schedule's runs are named after it unless told
    )
    assert plan.input == {"amount": 2}
    assert plan.search_attributes == [TypedSearchAttribute("Tier", "Keyword", "gold")]
    assert [i.interval.ToSeconds() for i in plan.spec.interval] == [DEFAULT_INTERVAL_SECONDS]
    assert plan.overlap_policy == P.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE
    assert plan.catchup_window == timedelta(minutes=10)
    assert plan.pause_on_failure and plan.paused
    assert plan.note == "n" * MAX_NOTE_LENGTH
    assert [(w.field, w.message) for w in plan.warnings] == [
        ("order_id", "schedules should set it")
    ]
    assert (plan.remaining_actions, plan.trigger_now) == (0, False)
    assert plan.task_queue is None  # chosen from the workers, as a start's is
    assert plan.conflict_token == b""


def test_offsets_limit_the_actions_and_a_zero_offset_triggers_at_once() -> None:
    request = create_request(fire_offsets_seconds=[0, 60, 3600])
    plan = asyncio.run(parse_create(request, STORED, RESERVED, NOW))
    assert (plan.remaining_actions, plan.trigger_now) == (2, True)
    given = create_request(fire_offsets_seconds=[60], remaining_actions=5)
    assert asyncio.run(parse_create(given, STORED, RESERVED, NOW)).remaining_actions == 5


def test_every_bad_field_of_a_create_in_one_answer_in_the_order_of_the_request() -> None:
    request = create_request(
        schedule_id="",
        input={"order_id": nested(MAX_INPUT_DEPTH + 1)},
        search_attributes={"Colour": "red"},
        spec=schedules_pb2.ScheduleSpec(cron_expressions=["every day"]),
        workflow_id="w" * (MAX_SCHEDULED_WORKFLOW_ID_LENGTH + 1),
        remaining_actions=-1,
        overlap_policy="sometimes",
        catchup_window_seconds=1,
    )
    error = refused(lambda: asyncio.run(parse_create(request, STORED, RESERVED, NOW)))
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_SCHEDULE")
    deep = "input/order_id" + "/0" * (MAX_INPUT_DEPTH - 1)  # the first level too deep
    assert fields(error) == [
        ("schedule_id", "invalid"),
        (deep, "too_deep"),
        ('search_attributes["Colour"]', "undeclared"),
        ("spec.cron_expressions[0]", "invalid_cron"),
        ("workflow_id", "invalid"),
        ("remaining_actions", "out_of_range"),
        ("overlap_policy", "invalid"),
        ("catchup_window_seconds", "out_of_range"),
    ]


def test_a_create_may_not_name_its_runs_as_the_registry_workflow() -> None:
    error = refused(
        lambda: asyncio.run(
            parse_create(create_request(workflow_id=RESERVED), STORED, RESERVED, NOW)
        )
    )
    assert fields(error) == [("workflow_id", "reserved")]


# --- update -----------------------------------------------------------------------------------


def test_an_update_keeps_the_note_the_pause_and_the_task_queue() -> None:
    plan = asyncio.run(
        parse_update(update_request(remaining_actions=3), STORED, current(), RESERVED, NOW)
    )
    assert (plan.note, plan.paused, plan.task_queue) == ("as it was", True, "old-queue")
    assert (plan.conflict_token, plan.remaining_actions) == (TOKEN, 3)


def test_an_update_that_follows_the_type_has_its_queue_chosen_again() -> None:
    request = update_request(follow_task_queue=True)
    plan = asyncio.run(parse_update(request, STORED, current(), RESERVED, NOW))
    assert plan.task_queue is None


@pytest.mark.parametrize(
    ("token", "reason"), [("", "required"), ("not base64!", "invalid")], ids=["missing", "garbled"]
)
def test_an_updates_conflict_token_is_checked_with_the_other_fields(
    token: str, reason: str
) -> None:
    request = update_request(conflict_token=token, overlap_policy="sometimes")
    error = refused(lambda: asyncio.run(parse_update(request, STORED, current(), RESERVED, NOW)))
    assert error.reason == "INVALID_SCHEDULE"
    assert fields(error) == [("conflict_token", reason), ("overlap_policy", "invalid")]


def test_a_stale_conflict_token_is_a_conflict_before_any_field() -> None:
    request = update_request(overlap_policy="sometimes", remaining_actions=-1)
    error = refused(
        lambda: asyncio.run(parse_update(request, STORED, current(token=b"newer"), RESERVED, NOW))
    )
    assert (error.code, error.reason) == (grpc.StatusCode.ABORTED, "SCHEDULE_CONFLICT")
    assert error.metadata == {"schedule_id": "nightly"}


# --- schedule ids, pause, trigger, backfill, list ---------------------------------------------


@pytest.mark.parametrize(
    "schedule_id",
    ["", "s" * (MAX_SCHEDULE_ID_LENGTH + 1), "tab\there"],
    ids=["empty", "long", "tab"],
)
def test_a_schedule_id_no_schedule_can_have(schedule_id: str) -> None:
    error = refused(lambda: parse_schedule_id(schedule_id))
    assert (error.reason, fields(error)) == ("INVALID_SCHEDULE_ID", [("schedule_id", "invalid")])
    pause = schedules_pb2.PauseScheduleRequest(schedule_id=schedule_id)
    trigger = schedules_pb2.TriggerScheduleRequest(schedule_id=schedule_id, overlap_policy="x")
    backfill = schedules_pb2.BackfillScheduleRequest(schedule_id=schedule_id)
    for parse in (lambda: parse_pause(pause), lambda: parse_trigger(trigger)):
        assert refused(parse).reason == "INVALID_SCHEDULE_ID"  # before any other field
    assert refused(lambda: parse_backfill(backfill)).reason == "INVALID_SCHEDULE_ID"


def test_pause_and_unpause_notes() -> None:
    pause = parse_pause(schedules_pb2.PauseScheduleRequest(schedule_id="s"))
    assert (pause.paused, pause.note) == (True, "paused through temporal-registry")
    unpause = parse_pause(schedules_pb2.UnpauseScheduleRequest(schedule_id="s", note="back"))
    assert (unpause.paused, unpause.note) == (False, "back")
    long = parse_pause(schedules_pb2.PauseScheduleRequest(schedule_id="s", note="n" * 2000))
    assert long.note == "n" * MAX_NOTE_LENGTH


def test_trigger_policies() -> None:
    default = parse_trigger(schedules_pb2.TriggerScheduleRequest(schedule_id="s"))
    assert default.overlap_policy == P.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED  # the schedule's
    bad = schedules_pb2.TriggerScheduleRequest(schedule_id="s", overlap_policy="sometimes")
    error = refused(lambda: parse_trigger(bad))
    assert (error.reason, fields(error)) == ("INVALID_TRIGGER", [("overlap_policy", "invalid")])


def test_a_backfill_collects_the_range_and_the_policy() -> None:
    good = parse_backfill(
        schedules_pb2.BackfillScheduleRequest(
            schedule_id="s", start_at="2026-01-01T00:00:00Z", end_at="2026-01-02T00:00:00Z"
        )
    )
    assert (good.start, good.end) == (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 2, tzinfo=UTC),
    )
    assert good.overlap_policy == BACKFILL_OVERLAP_POLICY
    bad = schedules_pb2.BackfillScheduleRequest(
        schedule_id="s", start_at="2026-01-01T00:00:00", overlap_policy="sometimes"
    )
    error = refused(lambda: parse_backfill(bad))
    assert error.reason == "INVALID_BACKFILL"
    assert fields(error) == [
        ("start_at", "naive_datetime"),
        ("end_at", "required"),
        ("overlap_policy", "invalid"),
    ]


def test_list_queries() -> None:
    token = base64.urlsafe_b64encode(b"temporal's").decode()
    query = parse_list(
        schedules_pb2.ListSchedulesRequest(page_token=token, workflow_type="nightly.v1")
    )
    assert (query.page_token, query.workflow_type) == (b"temporal's", "nightly.v1")
    assert query.page_size > 0
    garbled = schedules_pb2.ListSchedulesRequest(page_token="not base64!")
    error = refused(lambda: parse_list(garbled))
    assert (error.reason, fields(error)) == ("INVALID_PAGE_TOKEN", [("page_token", "invalid")])
    negative = schedules_pb2.ListSchedulesRequest(page_size=-1)
    assert refused(lambda: parse_list(negative)).reason == "INVALID_PAGE_SIZE"


# --- a schedule's stored input, read back ----------------------------------------------------


def test_stored_input_problems() -> None:
    workflows = {"nightly.v1": STORED}
    assert asyncio.run(stored_input_problems(workflows, "nightly.v1", {"order_id": "x"})) == []
    gone = asyncio.run(stored_input_problems(workflows, "gone.v1", {}))
    assert [(v.field, v.reason) for v in gone] == [("workflow_type", "not_found")]
    deep = asyncio.run(stored_input_problems(workflows, "nightly.v1", nested(MAX_INPUT_DEPTH + 1)))
    assert [(v.field, v.reason) for v in deep] == [("input" + "/0" * MAX_INPUT_DEPTH, "too_deep")]


# --- Temporal's schedule of a plan ------------------------------------------------------------


def test_temporal_schedule_of_a_plan() -> None:
    plan = asyncio.run(
        parse_create(
            create_request(
                input={"order_id": "x"},
                search_attributes={"Tier": "gold"},
                workflow_id="nightly-run",
                overlap_policy="allow_all",
                catchup_window_seconds=60,
                fire_offsets_seconds=[60, 120],
                note="n",
            ),
            STORED,
            RESERVED,
            NOW,
        )
    )
    converter = DataConverter.default.payload_converter
    schedule = temporal_schedule(plan, "queue-a", converter)
    start = schedule.action.start_workflow
    assert (start.workflow_id, start.workflow_type.name, start.task_queue.name) == (
        "nightly-run",
        "nightly.v1",
        "queue-a",
    )
    assert converter.from_payloads(start.input.payloads) == [{"order_id": "x"}]
    assert list(start.search_attributes.indexed_fields) == ["Tier"]
    assert schedule.spec == plan.spec
    assert schedule.policies.overlap_policy == P.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL
    assert schedule.policies.catchup_window.ToTimedelta() == timedelta(minutes=1)
    state = schedule.state
    assert (state.notes, state.paused, state.limited_actions, state.remaining_actions) == (
        "n",
        False,
        True,
        2,
    )


def test_temporal_schedule_without_a_window_or_a_limit() -> None:
    plan = asyncio.run(parse_create(create_request(), STORED, RESERVED, NOW))
    schedule = temporal_schedule(plan, "q", DataConverter.default.payload_converter)
    assert not schedule.policies.HasField("catchup_window")  # Temporal's default
    assert (schedule.state.limited_actions, schedule.state.remaining_actions) == (False, 0)
