"""Schedule requests checked and turned into Temporal's schedule spec, as plain functions.

Each handler of registry.schedules.service parses its request with one call here
(parse_create, parse_update, parse_pause, parse_trigger, parse_backfill, parse_list,
parse_schedule_id), which answers a plan with everything checked or raises the request's
INVALID_* error naming every bad field at once; registry.schedules.temporal builds Temporal's
protos from the plan. No I/O here (validating an input may wait for a validation process).

Every problem is a field violation (`spec.cron_expressions[0]`, `start_at`, ...); the
registry never hands Temporal a datetime without a time zone, an unknown time zone or a
malformed cron expression. Temporal still has the last word on cron semantics: its refusal
comes back as a violation on `spec`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
from temporal_registry.v1 import resources_pb2, schedules_pb2
from temporalio.api.enums.v1 import ScheduleOverlapPolicy
from temporalio.api.schedule.v1 import CalendarSpec as TemporalCalendar
from temporalio.api.schedule.v1 import IntervalSpec as TemporalInterval
from temporalio.api.schedule.v1 import Range, StructuredCalendarSpec
from temporalio.api.schedule.v1 import ScheduleSpec as TemporalSpec
from temporalio.api.workflowservice.v1 import DescribeScheduleResponse

from registry.dispatch.rules import (
    TypedSearchAttribute,
    check_payload,
    input_violations,
    warning_messages,
    workflow_id_violations,
)
from registry.server.errors import FieldViolation, RegistryError, invalid_fields
from registry.server.pagination import page_size_of
from registry.shared.messages import value_to_python
from registry.shared.model import SchemaVersion, StoredWorkflow

T = TypeVar("T")

DEFAULT_INTERVAL_SECONDS: Final = 60  # 0.1.x: without offsets or a spec, every minute
MIN_CATCHUP_WINDOW_SECONDS: Final = 10  # Temporal's own minimum
MAX_SPEC_ITEMS: Final = 100
MAX_CALENDAR_FIELD_LENGTH: Final = 100
MAX_CALENDAR_COMMENT_LENGTH: Final = 200  # Temporal's
# Temporal appends `-<RFC 3339 fire time>` (21 characters) to a schedule's workflow id, and
# refuses workflow ids longer than 1000 characters.
MAX_SCHEDULED_WORKFLOW_ID_LENGTH: Final = 1000 - len("-2006-01-02T15:04:05Z")
MAX_SCHEDULE_ID_LENGTH: Final = 200
MAX_NOTE_LENGTH: Final = 1000
MAX_SECONDS: Final = 100 * 366 * 86_400  # a century: offsets, intervals, windows, jitter
OVERLAP_POLICIES: Final = (
    "skip",
    "buffer_one",
    "buffer_all",
    "cancel_other",
    "terminate_other",
    "allow_all",
)
# A backfill that names no overlap policy runs every action of its range, as Temporal
# advises, rather than the schedule's (with `skip`, a 3-day backfill would run 1 day).
BACKFILL_OVERLAP_POLICY: Final = ScheduleOverlapPolicy.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL
_UNSPECIFIED: Final = ScheduleOverlapPolicy.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED
_PREFIX = "SCHEDULE_OVERLAP_POLICY_"
_CRON_DESCRIPTORS = (
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
)
_CRON_FIELD = re.compile(r"[0-9A-Za-z*?/,#-]+")
_CALENDAR_FIELD = re.compile(r"[0-9A-Za-z*/,-]+")
_GO_DURATION = re.compile(r"([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+")
_CALENDAR_FIELDS = ("second", "minute", "hour", "day_of_month", "month", "year", "day_of_week")


def overlap_policy(
    name: str,
    field_name: str,
    violations: list[FieldViolation],
    default: ScheduleOverlapPolicy.ValueType = _UNSPECIFIED,
) -> ScheduleOverlapPolicy.ValueType:
    """`skip`, `buffer_one`, ... (any case, with or without Temporal's prefix); "" is
    `default`: UNSPECIFIED unless told (Temporal's default, skip, or the schedule's own for
    a trigger)."""
    if not name:
        return default
    short = name.upper().removeprefix(_PREFIX).lower()
    if short not in OVERLAP_POLICIES:
        message = "must be one of " + ", ".join(OVERLAP_POLICIES)
        violations.append(FieldViolation(field_name, message, "invalid"))
        return _UNSPECIFIED
    return ScheduleOverlapPolicy.Value(_PREFIX + short.upper())


def overlap_policy_name(policy: int) -> str:
    if policy == ScheduleOverlapPolicy.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED:
        return "skip"
    return ScheduleOverlapPolicy.Name(policy).removeprefix(_PREFIX).lower()  # type: ignore[arg-type]


def aware_datetime(text: str, field_name: str, violations: list[FieldViolation]) -> datetime | None:
    """An RFC 3339 datetime with a time zone, in UTC; "" is None. Naive datetimes are refused:
    the registry will not guess a zone."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        message = "must be an RFC 3339 date-time, e.g. 2026-12-01T09:00:00Z"
        violations.append(FieldViolation(field_name, message, "invalid"))
        return None
    if moment.tzinfo is None:
        message = "must include a time zone (Z or an offset such as +01:00)"
        violations.append(FieldViolation(field_name, message, "naive_datetime"))
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        violations.append(FieldViolation(field_name, "must be in years 1-9999 in UTC", "invalid"))
        return None


def seconds(
    value: int, field_name: str, violations: list[FieldViolation], *, minimum: int = 0
) -> int:
    """`value`, recording a violation unless minimum <= value <= MAX_SECONDS (a century): pass
    it through clamp_seconds before it becomes a timedelta."""
    if not minimum <= value <= MAX_SECONDS:
        message = f"must be between {minimum} and {MAX_SECONDS} seconds"
        violations.append(FieldViolation(field_name, message, "out_of_range"))
    return value


def catchup_window(value: int, violations: list[FieldViolation]) -> timedelta | None:
    """The catch-up window of `catchup_window_seconds` (0: Temporal's default, None)."""
    if not value:
        return None
    checked = seconds(
        value, "catchup_window_seconds", violations, minimum=MIN_CATCHUP_WINDOW_SECONDS
    )
    return timedelta(seconds=clamp_seconds(checked, MIN_CATCHUP_WINDOW_SECONDS))


def backfill_range(
    start_at: str, end_at: str, violations: list[FieldViolation]
) -> tuple[datetime, datetime] | None:
    """The range of a backfill: both ends required, end after start, at most MAX_SECONDS apart
    (Temporal would run every action of the range: from year 1 to 9999, without end)."""
    start = aware_datetime(start_at, "start_at", violations)
    end = aware_datetime(end_at, "end_at", violations)
    for name, value in (("start_at", start), ("end_at", end)):
        if value is None and not any(v.field == name for v in violations):
            violations.append(FieldViolation(name, "is required", "required"))
    if start is None or end is None:
        return None
    if end <= start:
        violations.append(FieldViolation("end_at", "must be after start_at", "invalid"))
    elif end - start > timedelta(seconds=MAX_SECONDS):
        message = f"must be at most {MAX_SECONDS} seconds (a century) after start_at"
        violations.append(FieldViolation("end_at", message, "out_of_range"))
    return start, end


@dataclass
class SpecRequest:
    """The spec-related fields of a create or update request."""

    spec: schedules_pb2.ScheduleSpec
    interval_seconds: int | None
    start_at: str
    end_at: str
    fire_offsets_seconds: Sequence[int] = ()


@dataclass
class BuiltSpec:
    spec: TemporalSpec
    trigger_now: bool = False  # a zero offset: fire at once
    one_off_actions: int = 0  # positive offsets: the schedule ends after these
    violations: list[FieldViolation] = field(default_factory=list)


def build_spec(request: SpecRequest, now: datetime) -> BuiltSpec:
    """Temporal's spec for a request, or the violations that stop it."""
    violations: list[FieldViolation] = []
    spec = request.spec
    has_spec = bool(spec.cron_expressions or spec.calendars or spec.intervals)
    if request.fire_offsets_seconds:
        clashes = [
            name
            for name, given in (
                ("interval_seconds", request.interval_seconds is not None),
                ("spec", spec.ByteSize() > 0),  # any spec field: offsets are the whole spec
                ("start_at", bool(request.start_at)),
                ("end_at", bool(request.end_at)),
            )
            if given
        ]
        for name in clashes:
            message = "can't be combined with fire_offsets_seconds (one-off firings)"
            violations.append(FieldViolation(name, message, "exclusive"))
        return _offsets_spec(request.fire_offsets_seconds, now, violations)

    built = TemporalSpec()
    for i, cron in enumerate(_capped(spec.cron_expressions, "spec.cron_expressions", violations)):
        _check_cron(cron, f"spec.cron_expressions[{i}]", violations)
        built.cron_string.append(cron.strip())
    for name, calendars, target in (
        ("spec.calendars", spec.calendars, built.calendar),
        ("spec.exclude_calendars", spec.exclude_calendars, built.exclude_calendar),
    ):
        for i, calendar in enumerate(_capped(calendars, name, violations)):
            target.append(_calendar(calendar, f"{name}[{i}]", violations))
    for i, interval in enumerate(_capped(spec.intervals, "spec.intervals", violations)):
        built.interval.append(
            _interval(
                interval.every_seconds, interval.offset_seconds, f"spec.intervals[{i}]", violations
            )
        )
    if request.interval_seconds is not None or not has_spec:
        every = (
            DEFAULT_INTERVAL_SECONDS
            if request.interval_seconds is None
            else request.interval_seconds
        )
        built.interval.append(_interval(every, 0, "interval_seconds", violations))
    if spec.jitter_seconds:
        built.jitter.FromTimedelta(
            timedelta(
                seconds=clamp_seconds(
                    seconds(spec.jitter_seconds, "spec.jitter_seconds", violations)
                )
            )
        )
    if spec.time_zone_name:
        try:
            ZoneInfo(spec.time_zone_name)
            built.timezone_name = spec.time_zone_name
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder (Europe)
            message = "must be an IANA time zone name such as Europe/Paris"
            violations.append(FieldViolation("spec.time_zone_name", message, "invalid"))
    start = aware_datetime(request.start_at, "start_at", violations)
    end = aware_datetime(request.end_at, "end_at", violations)
    if start and end and end <= start:
        violations.append(FieldViolation("end_at", "must be after start_at", "invalid"))
    if start:
        built.start_time.FromDatetime(start)
    if end:
        built.end_time.FromDatetime(end)
    return BuiltSpec(built, violations=violations)


def _offsets_spec(
    offsets: Sequence[int], now: datetime, violations: list[FieldViolation]
) -> BuiltSpec:
    """0.1.x relative offsets: one-off calendar firings at exact UTC seconds after now
    (rounded up to a whole second), a zero offset firing at once."""
    for i, offset in enumerate(offsets):
        seconds(offset, f"fire_offsets_seconds[{i}]", violations)
    base = now.astimezone(UTC).replace(microsecond=0) + timedelta(
        seconds=1 if now.microsecond else 0
    )
    built = TemporalSpec(timezone_name="UTC")
    positive = sorted({offset for offset in offsets if 0 < offset <= MAX_SECONDS})
    for offset in positive:
        at = base + timedelta(seconds=offset)
        built.calendar.append(
            TemporalCalendar(
                second=str(at.second),
                minute=str(at.minute),
                hour=str(at.hour),
                day_of_month=str(at.day),
                month=str(at.month),
                year=str(at.year),
                comment=f"relative offset {offset}s",
            )
        )
    return BuiltSpec(
        built, trigger_now=0 in offsets, one_off_actions=len(positive), violations=violations
    )


def clamp_seconds(value: int, minimum: int = 0) -> int:
    """Within what a timedelta holds, once out-of-range values are already violations."""
    return min(max(value, minimum), MAX_SECONDS)


def _capped(items: Sequence[T], name: str, violations: list[FieldViolation]) -> Sequence[T]:
    if len(items) > MAX_SPEC_ITEMS:
        violations.append(FieldViolation(name, f"at most {MAX_SPEC_ITEMS} entries", "too_long"))
        return items[:MAX_SPEC_ITEMS]
    return items


def _check_cron(cron: str, field_name: str, violations: list[FieldViolation]) -> None:
    text = cron.strip()
    if text in _CRON_DESCRIPTORS:
        return
    if text.startswith("@every "):
        if _GO_DURATION.fullmatch(text.removeprefix("@every ").strip()):
            return
    elif not text.startswith("@"):
        fields = text.split()
        if 5 <= len(fields) <= 7 and all(_CRON_FIELD.fullmatch(f) for f in fields):
            return
    message = (
        "must be a cron expression of 5-7 fields (e.g. '0 9 * * MON-FRI'), @daily, @every 1h..."
    )
    violations.append(FieldViolation(field_name, message, "invalid_cron"))


def _calendar(
    calendar: schedules_pb2.CalendarSpec, field_name: str, violations: list[FieldViolation]
) -> TemporalCalendar:
    for name in _CALENDAR_FIELDS:
        value = getattr(calendar, name)
        if len(value) > MAX_CALENDAR_FIELD_LENGTH:
            message = f"must be at most {MAX_CALENDAR_FIELD_LENGTH} characters"
            violations.append(FieldViolation(f"{field_name}.{name}", message, "too_long"))
        elif value and not _CALENDAR_FIELD.fullmatch(value):
            message = "must be a value, a range (1-5), a step (*/15) or a list of those"
            violations.append(FieldViolation(f"{field_name}.{name}", message, "invalid"))
    if len(calendar.comment) > MAX_CALENDAR_COMMENT_LENGTH:
        message = f"must be at most {MAX_CALENDAR_COMMENT_LENGTH} characters"
        violations.append(FieldViolation(f"{field_name}.comment", message, "too_long"))
    return TemporalCalendar(
        **{name: getattr(calendar, name) for name in _CALENDAR_FIELDS}, comment=calendar.comment
    )


def _interval(
    every: int, offset: int, field_name: str, violations: list[FieldViolation]
) -> TemporalInterval:
    every_field = field_name if field_name == "interval_seconds" else f"{field_name}.every_seconds"
    seconds(every, every_field, violations, minimum=1)
    if not 0 <= offset < max(every, 1):
        message = "must be at least 0 and less than every_seconds"
        violations.append(FieldViolation(f"{field_name}.offset_seconds", message, "out_of_range"))
    interval = TemporalInterval()
    interval.interval.FromTimedelta(timedelta(seconds=clamp_seconds(every, 1)))
    if offset > 0:
        interval.phase.FromTimedelta(timedelta(seconds=clamp_seconds(offset)))
    return interval


def render_spec(spec: TemporalSpec) -> schedules_pb2.ScheduleSpec:
    """Temporal's spec in the registry's terms (structured calendars in cron-field syntax)."""
    return schedules_pb2.ScheduleSpec(
        calendars=[_render_calendar(c) for c in spec.structured_calendar],
        intervals=[
            schedules_pb2.IntervalSpec(
                every_seconds=interval.interval.seconds, offset_seconds=interval.phase.seconds
            )
            for interval in spec.interval
        ],
        exclude_calendars=[_render_calendar(c) for c in spec.exclude_structured_calendar],
        jitter_seconds=spec.jitter.seconds,
        time_zone_name=spec.timezone_name,
    )


def _render_calendar(calendar: StructuredCalendarSpec) -> schedules_pb2.CalendarSpec:
    def ranges(values: Sequence[Range]) -> str:
        parts = []
        for value in values:
            text = str(value.start)
            if value.end > value.start:  # a step on a single value is no step ("5/15" is 5-max)
                text += f"-{value.end}"
                if value.step > 1:
                    text += f"/{value.step}"
            parts.append(text)
        return ",".join(parts)

    return schedules_pb2.CalendarSpec(
        **{name: ranges(getattr(calendar, name)) for name in _CALENDAR_FIELDS},
        comment=calendar.comment,
    )


def rfc3339(moment: datetime) -> str:
    """UTC, second precision, `Z`: how the registry prints times."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- requests, parsed: one call per handler, every check in one answer -----------------------

ScheduleRequest = schedules_pb2.CreateScheduleRequest | schedules_pb2.UpdateScheduleRequest


@dataclass(frozen=True)
class SchedulePlan:
    """A create or update request, checked: what Temporal's schedule is made of
    (registry.schedules.temporal builds it) but, unless kept, the task queue."""

    schedule_id: str
    workflow_type: str
    workflow_id: str  # of each run, before Temporal appends the fire time
    input: Any
    search_attributes: list[TypedSearchAttribute]
    spec: TemporalSpec
    overlap_policy: ScheduleOverlapPolicy.ValueType
    catchup_window: timedelta | None  # None: Temporal's default
    pause_on_failure: bool
    remaining_actions: int  # 0: no limit
    warnings: list[resources_pb2.InputWarning]
    note: str = ""
    paused: bool = False
    trigger_now: bool = False  # a zero offset: fire once at creation
    task_queue: str | None = None  # None: a healthy worker's queue, chosen as a start's is
    conflict_token: bytes = b""  # an update's: Temporal applies it only if still current


async def parse_create(
    request: schedules_pb2.CreateScheduleRequest,
    stored: StoredWorkflow,
    reserved_workflow_id: str,
    now: datetime,
    serving: Sequence[SchemaVersion] = (),
) -> SchedulePlan:
    """Every check of a CreateSchedule request against its (enabled) workflow type, in one
    answer: INVALID_SCHEDULE with one violation per bad field, the schedule id's first."""
    violations = schedule_id_violations(request.schedule_id)
    plan = await _parse_schedule(
        request,
        stored,
        reserved_workflow_id,
        now,
        violations,
        request.fire_offsets_seconds,
        serving,
    )
    return replace(plan, note=request.note[:MAX_NOTE_LENGTH], paused=request.paused)


async def parse_update(
    request: schedules_pb2.UpdateScheduleRequest,
    stored: StoredWorkflow,
    current: DescribeScheduleResponse,
    reserved_workflow_id: str,
    now: datetime,
    serving: Sequence[SchemaVersion] = (),
) -> SchedulePlan:
    """Every check of an UpdateSchedule request (its schedule id checked, `current` the
    schedule as it is) in one answer: INVALID_SCHEDULE with one violation per bad field, the
    conflict token's first; ABORTED SCHEDULE_CONFLICT, before any other check, when the token
    is not the current one. The note and the paused state stay as they are; the task queue
    too, unless the request follows the type's current one."""
    violations: list[FieldViolation] = []
    token = _conflict_token(request.conflict_token, violations)
    if token and current.conflict_token != token:
        raise conflict(request.schedule_id)
    plan = await _parse_schedule(
        request, stored, reserved_workflow_id, now, violations, (), serving
    )
    state = current.schedule.state
    task_queue = current.schedule.action.start_workflow.task_queue.name
    return replace(
        plan,
        note=state.notes,
        paused=state.paused,
        task_queue=None if request.follow_task_queue else task_queue,
        conflict_token=token,
    )


async def _parse_schedule(
    request: ScheduleRequest,
    stored: StoredWorkflow,
    reserved_workflow_id: str,
    now: datetime,
    violations: list[FieldViolation],
    fire_offsets_seconds: Sequence[int],
    serving: Sequence[SchemaVersion],
) -> SchedulePlan:
    """What creates and updates share: the start action (input, search attributes, workflow
    id), the spec and the policies, with the violations so far raised together."""
    workflow_input = value_to_python(request.input) if request.HasField("input") else {}
    attributes, payload_violations = await check_payload(
        stored,
        workflow_input,
        {k: value_to_python(v) for k, v in request.search_attributes.items()},
        serving,
    )
    violations += payload_violations
    built = build_spec(
        SpecRequest(
            spec=request.spec,
            interval_seconds=(
                request.interval_seconds if request.HasField("interval_seconds") else None
            ),
            start_at=request.start_at,
            end_at=request.end_at,
            fire_offsets_seconds=fire_offsets_seconds,
        ),
        now,
    )
    violations += built.violations
    if request.workflow_id:
        violations += workflow_id_violations(
            request.workflow_id, reserved_workflow_id, max_length=MAX_SCHEDULED_WORKFLOW_ID_LENGTH
        )
    if request.remaining_actions < 0:
        violations.append(FieldViolation("remaining_actions", "must be 0 or more", "out_of_range"))
    policy = overlap_policy(request.overlap_policy, "overlap_policy", violations)
    window = catchup_window(request.catchup_window_seconds, violations)
    if violations:
        raise invalid_fields("INVALID_SCHEDULE", violations)
    return SchedulePlan(
        schedule_id=request.schedule_id,
        workflow_type=request.workflow_type,
        workflow_id=request.workflow_id or request.schedule_id,
        input=workflow_input,
        search_attributes=attributes,
        spec=built.spec,
        overlap_policy=policy,
        catchup_window=window,
        pause_on_failure=request.pause_on_failure,
        remaining_actions=request.remaining_actions or built.one_off_actions,
        warnings=warning_messages(stored, workflow_input),
        trigger_now=built.trigger_now,
    )


def schedule_id_violations(schedule_id: str) -> list[FieldViolation]:
    if (
        not schedule_id
        or len(schedule_id) > MAX_SCHEDULE_ID_LENGTH
        or not schedule_id.isprintable()
    ):
        message = f"must be 1-{MAX_SCHEDULE_ID_LENGTH} printable characters"
        return [FieldViolation("schedule_id", message, "invalid")]
    return []


def parse_schedule_id(schedule_id: str) -> str:
    """The id, or INVALID_SCHEDULE_ID for one no schedule can have (Temporal's own refusal
    of an empty one named no field)."""
    violations = schedule_id_violations(schedule_id)
    if violations:
        raise invalid_fields("INVALID_SCHEDULE_ID", violations)
    return schedule_id


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


def conflict(schedule_id: str) -> RegistryError:
    """The schedule changed since the update's conflict token was read."""
    return RegistryError(
        grpc.StatusCode.ABORTED,
        "SCHEDULE_CONFLICT",
        f"schedule {schedule_id!r} changed since its conflict_token was read; "
        "read it again and reapply your change",
        metadata={"schedule_id": schedule_id},
    )


@dataclass(frozen=True)
class Pausing:
    schedule_id: str
    paused: bool  # False: unpause
    note: str


def parse_pause(
    request: schedules_pb2.PauseScheduleRequest | schedules_pb2.UnpauseScheduleRequest,
) -> Pausing:
    """A pause (or unpause) with its note, at most MAX_NOTE_LENGTH characters (the registry
    says who paused it when the request gives none)."""
    schedule_id = parse_schedule_id(request.schedule_id)
    if isinstance(request, schedules_pb2.PauseScheduleRequest):
        note = request.note[:MAX_NOTE_LENGTH] or "paused through temporal-registry"
        return Pausing(schedule_id, paused=True, note=note)
    note = request.note[:MAX_NOTE_LENGTH] or "unpaused through temporal-registry"
    return Pausing(schedule_id, paused=False, note=note)


@dataclass(frozen=True)
class Trigger:
    schedule_id: str
    overlap_policy: ScheduleOverlapPolicy.ValueType  # UNSPECIFIED: the schedule's own


def parse_trigger(request: schedules_pb2.TriggerScheduleRequest) -> Trigger:
    """INVALID_SCHEDULE_ID, then INVALID_TRIGGER for an unknown overlap policy."""
    schedule_id = parse_schedule_id(request.schedule_id)
    violations: list[FieldViolation] = []
    policy = overlap_policy(request.overlap_policy, "overlap_policy", violations)
    if violations:
        raise invalid_fields("INVALID_TRIGGER", violations)
    return Trigger(schedule_id, policy)


@dataclass(frozen=True)
class Backfill:
    schedule_id: str
    start: datetime
    end: datetime
    overlap_policy: ScheduleOverlapPolicy.ValueType


def parse_backfill(request: schedules_pb2.BackfillScheduleRequest) -> Backfill:
    """INVALID_SCHEDULE_ID, then INVALID_BACKFILL with the range's and the policy's
    violations together (no policy: every action of the range, BACKFILL_OVERLAP_POLICY)."""
    schedule_id = parse_schedule_id(request.schedule_id)
    violations: list[FieldViolation] = []
    span = backfill_range(request.start_at, request.end_at, violations)
    policy = overlap_policy(
        request.overlap_policy, "overlap_policy", violations, BACKFILL_OVERLAP_POLICY
    )
    if violations or span is None:
        raise invalid_fields("INVALID_BACKFILL", violations)
    return Backfill(schedule_id, span[0], span[1], policy)


@dataclass(frozen=True)
class ListQuery:
    page_size: int
    page_token: bytes  # Temporal's
    workflow_type: str  # "": every type


def parse_list(request: schedules_pb2.ListSchedulesRequest) -> ListQuery:
    """The page size (INVALID_PAGE_SIZE when negative) and Temporal's page token, which the
    registry passes on in URL-safe base64 (INVALID_PAGE_TOKEN when it is not)."""
    size = page_size_of(request.page_size)
    try:
        token = base64.urlsafe_b64decode(request.page_token.encode()) if request.page_token else b""
    except (binascii.Error, ValueError):
        raise invalid_fields(
            "INVALID_PAGE_TOKEN",
            [FieldViolation("page_token", "is not a page token from this server", "invalid")],
        ) from None
    return ListQuery(size, token, request.workflow_type)


async def stored_input_problems(
    workflows: Mapping[str, StoredWorkflow], workflow_type: str, workflow_input: Any
) -> list[FieldViolation]:
    """Why a schedule's stored input does not fit its type now: the type is gone, its
    schema is unusable, or the input violates it (none: it fits)."""
    stored = workflows.get(workflow_type)
    if stored is None:
        return [FieldViolation("workflow_type", "is not registered", "not_found")]
    try:
        return await input_violations(stored, workflow_input)
    except RegistryError as error:
        return [FieldViolation("input_schema", error.message, "invalid_schema")]
