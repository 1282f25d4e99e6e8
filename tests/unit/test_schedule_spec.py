"""registry.schedules.rules: schedule requests checked and turned into Temporal's ScheduleSpec.

Every problem is a FieldViolation on the field the client sent, never an exception; one-off
offsets are pinned to exact UTC seconds; render_spec reads Temporal's structured calendars
back in the cron-field syntax that Temporal itself parses.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from temporal_registry.v1 import schedules_pb2
from temporalio.api.enums.v1 import ScheduleOverlapPolicy
from temporalio.api.schedule.v1 import CalendarSpec as TemporalCalendar
from temporalio.api.schedule.v1 import IntervalSpec as TemporalInterval
from temporalio.api.schedule.v1 import Range, StructuredCalendarSpec
from temporalio.api.schedule.v1 import ScheduleSpec as TemporalSpec

from registry.schedules.rules import (
    DEFAULT_INTERVAL_SECONDS,
    MAX_CALENDAR_COMMENT_LENGTH,
    MAX_CALENDAR_FIELD_LENGTH,
    MAX_SECONDS,
    MAX_SPEC_ITEMS,
    MIN_CATCHUP_WINDOW_SECONDS,
    OVERLAP_POLICIES,
    BuiltSpec,
    SpecRequest,
    aware_datetime,
    backfill_range,
    build_spec,
    catchup_window,
    overlap_policy,
    overlap_policy_name,
    render_spec,
    rfc3339,
)
from registry.server.errors import FieldViolation

P = ScheduleOverlapPolicy
NOW = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)  # not on a whole second
WHOLE_NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
HUGE = 10**15  # beyond what a timedelta can hold

# --- helpers ---------------------------------------------------------------------------------


def request(
    *,
    interval_seconds: int | None = None,
    start_at: str = "",
    end_at: str = "",
    offsets: tuple[int, ...] = (),
    **spec_fields: Any,
) -> SpecRequest:
    return SpecRequest(
        spec=schedules_pb2.ScheduleSpec(**spec_fields),
        interval_seconds=interval_seconds,
        start_at=start_at,
        end_at=end_at,
        fire_offsets_seconds=offsets,
    )


def build(now: datetime = NOW, **changes: Any) -> BuiltSpec:
    return build_spec(request(**changes), now)


def violated(built: BuiltSpec) -> dict[str, str]:
    return {v.field: v.reason for v in built.violations}


def every(spec: TemporalSpec) -> list[tuple[int, int]]:
    return [(i.interval.ToSeconds(), i.phase.ToSeconds()) for i in spec.interval]


def pinned(calendar: TemporalCalendar) -> datetime:
    """The single UTC second a one-off calendar matches."""
    fields = ("year", "month", "day_of_month", "hour", "minute", "second")
    return datetime(*(int(getattr(calendar, name)) for name in fields), tzinfo=UTC)


def interval(every_seconds: int, offset_seconds: int = 0) -> schedules_pb2.IntervalSpec:
    return schedules_pb2.IntervalSpec(every_seconds=every_seconds, offset_seconds=offset_seconds)


# --- overlap policy --------------------------------------------------------------------------


POLICY_NAMES = [
    ("skip", P.SCHEDULE_OVERLAP_POLICY_SKIP),
    ("SKIP", P.SCHEDULE_OVERLAP_POLICY_SKIP),
    ("buffer_one", P.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE),
    ("Buffer_All", P.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL),
    ("CANCEL_OTHER", P.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER),
    ("terminate_other", P.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER),
    ("allow_all", P.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL),
    ("SCHEDULE_OVERLAP_POLICY_SKIP", P.SCHEDULE_OVERLAP_POLICY_SKIP),
    ("SCHEDULE_OVERLAP_POLICY_BUFFER_ONE", P.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE),
    ("schedule_overlap_policy_buffer_all", P.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL),
    ("Schedule_Overlap_Policy_Cancel_Other", P.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER),
    ("SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER", P.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER),
    ("SCHEDULE_OVERLAP_POLICY_ALLOW_ALL", P.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL),
]


@pytest.mark.parametrize(("name", "expected"), POLICY_NAMES, ids=[name for name, _ in POLICY_NAMES])
def test_overlap_policy_accepts_short_and_prefixed_names_in_any_case(
    name: str, expected: int
) -> None:
    violations: list[FieldViolation] = []
    assert overlap_policy(name, "overlap_policy", violations) == expected
    assert violations == []


def test_overlap_policy_empty_is_unspecified_without_violation() -> None:
    violations: list[FieldViolation] = []
    assert overlap_policy("", "overlap_policy", violations) == (
        P.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED
    )
    assert violations == []


@pytest.mark.parametrize(
    "name",
    ["sometimes", "SCHEDULE_OVERLAP_POLICY_UNSPECIFIED", "unspecified", "skip ", "buffer-one"],
    ids=["unknown", "prefixed-unspecified", "unspecified", "trailing-space", "dash"],
)
def test_overlap_policy_unknown_is_a_violation_on_the_given_field(name: str) -> None:
    violations: list[FieldViolation] = []
    result = overlap_policy(name, "trigger.overlap_policy", violations)
    assert result == P.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED
    assert [(v.field, v.reason) for v in violations] == [("trigger.overlap_policy", "invalid")]
    assert all(short in violations[0].description for short in OVERLAP_POLICIES)


@pytest.mark.parametrize("short", OVERLAP_POLICIES, ids=OVERLAP_POLICIES)
def test_overlap_policy_name_round_trips(short: str) -> None:
    assert overlap_policy_name(overlap_policy(short.upper(), "overlap_policy", [])) == short


def test_overlap_policy_name_reads_unspecified_as_skip() -> None:
    assert overlap_policy_name(P.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED) == "skip"


# --- aware_datetime --------------------------------------------------------------------------


def test_aware_datetime_empty_is_none_without_violation() -> None:
    violations: list[FieldViolation] = []
    assert aware_datetime("", "start_at", violations) is None
    assert violations == []


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01T09:00:00Z",
        "2026-12-01T09:00:00+00:00",
        "2026-12-01T10:00:00+01:00",
        "2026-12-01T03:30:00-05:30",
        "2026-12-02T00:00:00+15:00",
    ],
    ids=["z", "utc-offset", "plus-one", "minus-five-thirty", "date-change"],
)
def test_aware_datetime_converts_offsets_to_utc(text: str) -> None:
    violations: list[FieldViolation] = []
    moment = aware_datetime(text, "start_at", violations)
    assert moment == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert moment is not None and moment.tzinfo is UTC
    assert violations == []


@pytest.mark.parametrize(
    "text", ["2026-12-01T09:00:00", "2026-12-01"], ids=["naive-datetime", "date-only"]
)
def test_aware_datetime_refuses_naive_datetimes(text: str) -> None:
    violations: list[FieldViolation] = []
    assert aware_datetime(text, "end_at", violations) is None
    assert [(v.field, v.reason) for v in violations] == [("end_at", "naive_datetime")]


@pytest.mark.parametrize(
    "text",
    ["tomorrow", "2026-13-01T00:00:00Z", "2026-12-01T25:00:00Z", "1764579600", "2026-12-01 9am"],
    ids=["word", "month-13", "hour-25", "epoch", "sloppy"],
)
def test_aware_datetime_refuses_garbage(text: str) -> None:
    violations: list[FieldViolation] = []
    assert aware_datetime(text, "start_at", violations) is None
    assert [(v.field, v.reason) for v in violations] == [("start_at", "invalid")]


@pytest.mark.parametrize(
    "text",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"],
    ids=["before-year-1-in-utc", "after-year-9999-in-utc"],
)
def test_aware_datetime_out_of_range_in_utc_is_a_violation_not_a_crash(text: str) -> None:
    violations: list[FieldViolation] = []
    assert aware_datetime(text, "start_at", violations) is None
    assert [(v.field, v.reason) for v in violations] == [("start_at", "invalid")]


# --- build_spec: defaults, cron, calendars ---------------------------------------------------


def test_nothing_given_means_every_minute() -> None:
    built = build()
    assert built.violations == []
    assert every(built.spec) == [(DEFAULT_INTERVAL_SECONDS, 0)]
    assert not built.spec.interval[0].HasField("phase")
    assert list(built.spec.cron_string) == []
    assert list(built.spec.calendar) == []
    assert not built.spec.HasField("start_time")
    assert not built.spec.HasField("end_time")
    assert not built.spec.HasField("jitter")
    assert built.spec.timezone_name == ""
    assert (built.trigger_now, built.one_off_actions) == (False, 0)


def test_a_spec_replaces_the_default_interval() -> None:
    built = build(cron_expressions=["0 9 * * *"])
    assert built.violations == []
    assert list(built.spec.cron_string) == ["0 9 * * *"]
    assert every(built.spec) == []


def test_interval_seconds_adds_an_interval_alongside_a_cron_spec() -> None:
    built = build(interval_seconds=300, cron_expressions=["@daily"])
    assert built.violations == []
    assert list(built.spec.cron_string) == ["@daily"]
    assert every(built.spec) == [(300, 0)]


def test_interval_seconds_comes_after_spec_intervals() -> None:
    built = build(interval_seconds=300, intervals=[interval(3600, 60)])
    assert every(built.spec) == [(3600, 60), (300, 0)]


def test_exclusions_alone_keep_the_default_interval() -> None:
    built = build(exclude_calendars=[schedules_pb2.CalendarSpec(hour="0-6", minute="*")])
    assert built.violations == []
    assert every(built.spec) == [(DEFAULT_INTERVAL_SECONDS, 0)]
    assert [c.hour for c in built.spec.exclude_calendar] == ["0-6"]


@pytest.mark.parametrize(
    "interval_seconds", [0, -60, MAX_SECONDS + 1], ids=["zero", "negative", "over-a-century"]
)
def test_interval_seconds_out_of_range(interval_seconds: int) -> None:
    assert violated(build(interval_seconds=interval_seconds)) == {
        "interval_seconds": "out_of_range"
    }


@pytest.mark.parametrize(
    "cron",
    [
        "0 9 * * MON-FRI",
        "*/15 * * * *",
        "0 9 1,15 * *",
        "0 9 * * * 2026",
        "30 0 9 * * MON-FRI 2026-2030",
        "0 12 * JAN-MAR 1#2",
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
        "@every 1h30m",
        "@every 90s",
        "@every 1.5h",
        "@every 500ms",
        "  @daily  ",
    ],
)
def test_valid_cron_expressions(cron: str) -> None:
    built = build(cron_expressions=[cron])
    assert built.violations == []
    assert list(built.spec.cron_string) == [cron.strip()]


@pytest.mark.parametrize(
    "cron",
    [
        "",
        "@every forever",
        "@every",
        "@every 1 hour",
        "every day",
        "@reboot",
        "@DAILY",
        "0 9 * *",
        "0 0 9 * * MON 2026 extra",
        "0 9 * * MON;FRI",
        "0 9 * * $",
        "0 9 * * M\u00d6N",
    ],
    ids=[
        "empty",
        "every-forever",
        "every-alone",
        "every-words",
        "every-day",
        "reboot",
        "uppercase-descriptor",
        "4-fields",
        "8-fields",
        "semicolon",
        "dollar",
        "non-ascii",
    ],
)
def test_invalid_cron_expressions(cron: str) -> None:
    built = build(cron_expressions=["@daily", cron])
    assert violated(built) == {"spec.cron_expressions[1]": "invalid_cron"}


def test_calendars_are_copied_field_by_field() -> None:
    calendar = schedules_pb2.CalendarSpec(
        second="30",
        minute="*/15",
        hour="9-17",
        day_of_month="1,15",
        month="JAN-MAR",
        year="2026",
        day_of_week="MON-FRI",
        comment="office hours",
    )
    built = build(calendars=[calendar], exclude_calendars=[schedules_pb2.CalendarSpec(year="*")])
    assert built.violations == []
    assert list(built.spec.calendar) == [
        TemporalCalendar(
            second="30",
            minute="*/15",
            hour="9-17",
            day_of_month="1,15",
            month="JAN-MAR",
            year="2026",
            day_of_week="MON-FRI",
            comment="office hours",
        )
    ]
    assert list(built.spec.exclude_calendar) == [TemporalCalendar(year="*")]
    assert every(built.spec) == []


@pytest.mark.parametrize(
    "name", ["second", "minute", "hour", "day_of_month", "month", "year", "day_of_week"]
)
@pytest.mark.parametrize(
    "value", ["9;10", "9 10", "?", "L#2", "1_5"], ids=["semicolon", "space", "q", "hash", "under"]
)
def test_calendar_field_syntax(name: str, value: str) -> None:
    good = schedules_pb2.CalendarSpec(hour="9")
    bad = schedules_pb2.CalendarSpec(**{name: value})
    assert violated(build(calendars=[good, bad])) == {f"spec.calendars[1].{name}": "invalid"}
    assert violated(build(exclude_calendars=[bad])) == {
        f"spec.exclude_calendars[0].{name}": "invalid"
    }


def test_every_bad_calendar_field_is_reported() -> None:
    bad = schedules_pb2.CalendarSpec(second="?", hour="9 ", day_of_week="MON;TUE")
    assert violated(build(calendars=[bad])) == {
        "spec.calendars[0].second": "invalid",
        "spec.calendars[0].hour": "invalid",
        "spec.calendars[0].day_of_week": "invalid",
    }


def test_calendar_fields_and_comments_are_bounded_before_temporal_sees_them() -> None:
    at_limit = schedules_pb2.CalendarSpec(
        minute=",".join(["1"] * 50)[:MAX_CALENDAR_FIELD_LENGTH],
        comment="c" * MAX_CALENDAR_COMMENT_LENGTH,
    )
    assert violated(build(calendars=[at_limit])) == {}
    too_long = schedules_pb2.CalendarSpec(
        second="1" * (MAX_CALENDAR_FIELD_LENGTH + 1),
        comment="c" * (MAX_CALENDAR_COMMENT_LENGTH + 1),
    )
    assert violated(build(exclude_calendars=[too_long])) == {
        "spec.exclude_calendars[0].second": "too_long",
        "spec.exclude_calendars[0].comment": "too_long",
    }


# --- build_spec: intervals, jitter, time zone, window, caps ----------------------------------


@pytest.mark.parametrize(
    ("every_seconds", "offset_seconds"),
    [(1, 0), (60, 0), (60, 59), (86_400, 3_600), (MAX_SECONDS, MAX_SECONDS - 1)],
    ids=["one-second", "minute", "last-offset", "daily-at-one", "century"],
)
def test_valid_intervals(every_seconds: int, offset_seconds: int) -> None:
    built = build(intervals=[interval(every_seconds, offset_seconds)])
    assert built.violations == []
    assert every(built.spec) == [(every_seconds, offset_seconds)]


@pytest.mark.parametrize(
    ("every_seconds", "offset_seconds", "expected"),
    [
        (0, 0, {"every_seconds"}),
        (-5, 0, {"every_seconds"}),
        (MAX_SECONDS + 1, 0, {"every_seconds"}),
        (60, 60, {"offset_seconds"}),
        (60, 61, {"offset_seconds"}),
        (60, -1, {"offset_seconds"}),
        (0, 5, {"every_seconds", "offset_seconds"}),
    ],
    ids=[
        "zero",
        "negative",
        "over-a-century",
        "offset-equals-every",
        "offset-above-every",
        "negative-offset",
        "both",
    ],
)
def test_invalid_intervals(every_seconds: int, offset_seconds: int, expected: set[str]) -> None:
    built = build(intervals=[interval(60), interval(every_seconds, offset_seconds)])
    assert violated(built) == {f"spec.intervals[1].{name}": "out_of_range" for name in expected}


def test_interval_phase_is_a_duration() -> None:
    built = build(intervals=[interval(3_600, 900), interval(60)])
    hourly, minutely = built.spec.interval
    assert hourly.interval.ToTimedelta() == timedelta(hours=1)
    assert hourly.phase.ToTimedelta() == timedelta(minutes=15)
    assert minutely.interval.ToTimedelta() == timedelta(minutes=1)
    assert not minutely.HasField("phase")


def test_jitter_is_a_duration() -> None:
    built = build(cron_expressions=["@hourly"], jitter_seconds=90)
    assert built.violations == []
    assert built.spec.jitter.ToTimedelta() == timedelta(seconds=90)


@pytest.mark.parametrize("jitter", [-1, MAX_SECONDS + 1], ids=["negative", "over-a-century"])
def test_jitter_out_of_range(jitter: int) -> None:
    assert violated(build(jitter_seconds=jitter)) == {"spec.jitter_seconds": "out_of_range"}


@pytest.mark.parametrize("zone", ["Europe/Paris", "UTC", "America/Argentina/Buenos_Aires"])
def test_valid_time_zone(zone: str) -> None:
    built = build(cron_expressions=["0 9 * * *"], time_zone_name=zone)
    assert built.violations == []
    assert built.spec.timezone_name == zone


@pytest.mark.parametrize(
    "zone",
    ["Mars/Olympus_Mons", "europe/paris", "Europe/Paris ", "../../etc/passwd", "/etc/localtime"],
    ids=["unknown", "lowercase", "trailing-space", "traversal", "absolute"],
)
def test_invalid_time_zone(zone: str) -> None:
    built = build(time_zone_name=zone)
    assert violated(built) == {"spec.time_zone_name": "invalid"}
    assert built.spec.timezone_name == ""


@pytest.mark.parametrize("zone", ["Europe", "Etc", "America/Argentina"])
def test_a_time_zone_folder_is_invalid_not_a_crash(zone: str) -> None:
    assert violated(build(time_zone_name=zone)) == {"spec.time_zone_name": "invalid"}


def test_start_and_end_are_set_in_utc() -> None:
    built = build(start_at="2026-12-01T10:00:00+01:00", end_at="2027-01-01T00:00:00Z")
    assert built.violations == []
    assert built.spec.start_time.ToDatetime(UTC) == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert built.spec.end_time.ToDatetime(UTC) == datetime(2027, 1, 1, tzinfo=UTC)


def test_start_alone_or_end_alone() -> None:
    started = build(start_at="2026-12-01T09:00:00Z")
    assert started.violations == []
    assert started.spec.HasField("start_time") and not started.spec.HasField("end_time")
    ended = build(end_at="2026-12-01T09:00:00Z")
    assert ended.violations == []
    assert ended.spec.HasField("end_time") and not ended.spec.HasField("start_time")


@pytest.mark.parametrize(
    "end_at",
    ["2026-12-01T09:00:00Z", "2026-12-01T10:00:00+01:00", "2026-12-01T08:59:59Z"],
    ids=["equal", "equal-other-offset", "before"],
)
def test_end_must_be_after_start(end_at: str) -> None:
    built = build(start_at="2026-12-01T09:00:00Z", end_at=end_at)
    assert violated(built) == {"end_at": "invalid"}


def test_bad_window_datetimes_are_violations_on_their_fields() -> None:
    built = build(start_at="2026-12-01T09:00:00", end_at="soon")
    assert violated(built) == {"start_at": "naive_datetime", "end_at": "invalid"}
    assert not built.spec.HasField("start_time")
    assert not built.spec.HasField("end_time")


@pytest.mark.parametrize(
    ("name", "item", "target"),
    [
        ("cron_expressions", "@daily", "cron_string"),
        ("calendars", schedules_pb2.CalendarSpec(hour="9"), "calendar"),
        ("intervals", interval(60), "interval"),
        ("exclude_calendars", schedules_pb2.CalendarSpec(hour="0"), "exclude_calendar"),
    ],
    ids=["cron", "calendars", "intervals", "exclusions"],
)
def test_at_most_max_spec_items(name: str, item: object, target: str) -> None:
    full = build(**{name: [item] * MAX_SPEC_ITEMS})
    assert full.violations == []
    assert len(getattr(full.spec, target)) == MAX_SPEC_ITEMS
    over = build(**{name: [item] * (MAX_SPEC_ITEMS + 1)})
    assert violated(over) == {f"spec.{name}": "too_long"}
    assert len(getattr(over.spec, target)) == MAX_SPEC_ITEMS


def test_violations_collect_across_fields() -> None:
    built = build(
        cron_expressions=["every day"],
        calendars=[schedules_pb2.CalendarSpec(hour="9;10")],
        intervals=[interval(0)],
        jitter_seconds=-1,
        time_zone_name="Nowhere/Special",
        start_at="2026-12-01T09:00:00",
        interval_seconds=0,
    )
    assert violated(built) == {
        "spec.cron_expressions[0]": "invalid_cron",
        "spec.calendars[0].hour": "invalid",
        "spec.intervals[0].every_seconds": "out_of_range",
        "interval_seconds": "out_of_range",
        "spec.jitter_seconds": "out_of_range",
        "spec.time_zone_name": "invalid",
        "start_at": "naive_datetime",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"intervals": [interval(HUGE)]}, "spec.intervals[0].every_seconds"),
        ({"intervals": [interval(60, HUGE)]}, "spec.intervals[0].offset_seconds"),
        ({"intervals": [interval(2**63 - 1, 2**63 - 2)]}, "spec.intervals[0].every_seconds"),
        ({"interval_seconds": HUGE}, "interval_seconds"),
        ({"jitter_seconds": HUGE}, "spec.jitter_seconds"),
        ({"jitter_seconds": -(2**63)}, "spec.jitter_seconds"),
        ({"start_at": "0001-01-01T00:00:00+01:00"}, "start_at"),
        ({"end_at": "9999-12-31T23:59:59-01:00"}, "end_at"),
    ],
    ids=[
        "huge-every",
        "huge-offset",
        "int64-interval",
        "huge-interval-seconds",
        "huge-jitter",
        "int64-min-jitter",
        "start-before-year-1",
        "end-after-year-9999",
    ],
)
def test_extreme_values_are_violations_not_crashes(changes: dict[str, Any], field: str) -> None:
    assert field in violated(build(**changes))


# --- build_spec: one-off offsets -------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "clashes"),
    [
        ({"interval_seconds": 60}, ["interval_seconds"]),
        ({"interval_seconds": 0}, ["interval_seconds"]),
        ({"cron_expressions": ["@daily"]}, ["spec"]),
        ({"calendars": [schedules_pb2.CalendarSpec(hour="9")]}, ["spec"]),
        ({"intervals": [interval(60)]}, ["spec"]),
        ({"exclude_calendars": [schedules_pb2.CalendarSpec(hour="9")]}, ["spec"]),
        ({"start_at": "2026-12-01T09:00:00Z"}, ["start_at"]),
        ({"end_at": "garbage"}, ["end_at"]),
        (
            {
                "interval_seconds": 60,
                "cron_expressions": ["@daily"],
                "start_at": "2026-12-01T09:00:00Z",
                "end_at": "2026-12-02T09:00:00Z",
            },
            ["interval_seconds", "spec", "start_at", "end_at"],
        ),
    ],
    ids=[
        "interval",
        "zero-interval",
        "cron",
        "calendar",
        "spec-interval",
        "exclusion",
        "start",
        "end",
        "all",
    ],
)
def test_offsets_are_exclusive(changes: dict[str, Any], clashes: list[str]) -> None:
    built = build(offsets=(60,), **changes)
    assert [(v.field, v.reason) for v in built.violations] == [(c, "exclusive") for c in clashes]
    # only the offsets are turned into a spec
    assert list(built.spec.cron_string) == [] and every(built.spec) == []
    assert not built.spec.HasField("start_time") and not built.spec.HasField("end_time")


def test_zero_offset_triggers_now_only() -> None:
    built = build(offsets=(0,))
    assert built.violations == []
    assert built.trigger_now is True
    assert built.one_off_actions == 0
    assert list(built.spec.calendar) == []
    assert every(built.spec) == []  # no default interval
    assert built.spec.timezone_name == "UTC"


def test_positive_offsets_are_pinned_to_utc_seconds_after_now_rounded_up() -> None:
    built = build(offsets=(3_600, 60, 0, 60))
    assert built.violations == []
    assert built.trigger_now is True
    assert built.one_off_actions == 2
    assert built.spec.timezone_name == "UTC"
    base = datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC)  # NOW is 12:00:00.25
    assert [pinned(c) for c in built.spec.calendar] == [
        base + timedelta(seconds=60),
        base + timedelta(seconds=3_600),
    ]
    first = built.spec.calendar[0]
    assert (first.second, first.minute, first.hour) == ("1", "1", "12")
    assert first.day_of_week == ""  # any day: the date is pinned already
    assert [c.comment for c in built.spec.calendar] == [
        "relative offset 60s",
        "relative offset 3600s",
    ]
    assert every(built.spec) == []
    assert list(built.spec.cron_string) == []


def test_offsets_from_a_whole_second_are_not_rounded() -> None:
    built = build(now=WHOLE_NOW, offsets=(1, 59))
    assert built.trigger_now is False
    assert [pinned(c) for c in built.spec.calendar] == [
        WHOLE_NOW + timedelta(seconds=1),
        WHOLE_NOW + timedelta(seconds=59),
    ]


def test_offsets_roll_over_the_year_in_utc() -> None:
    paris_new_year = datetime(2027, 1, 1, 0, 59, 30, 1, tzinfo=timezone(timedelta(hours=1)))
    built = build(now=paris_new_year, offsets=(29, 30))
    assert [pinned(c) for c in built.spec.calendar] == [
        datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC) + timedelta(seconds=1),
        datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC),
    ]
    assert [c.year for c in built.spec.calendar] == ["2027", "2027"]


@pytest.mark.parametrize(
    ("offsets", "bad", "actions"),
    [
        ((-1, 60), [0], 1),
        ((60, MAX_SECONDS + 1), [1], 1),
        ((-(2**63), 2**63 - 1, 0), [0, 1], 0),
        ((MAX_SECONDS,), [], 1),
    ],
    ids=["negative", "over-a-century", "int64-extremes", "a-century"],
)
def test_offsets_out_of_range(offsets: tuple[int, ...], bad: list[int], actions: int) -> None:
    built = build(offsets=offsets)
    assert [(v.field, v.reason) for v in built.violations] == [
        (f"fire_offsets_seconds[{i}]", "out_of_range") for i in bad
    ]
    assert built.one_off_actions == actions == len(built.spec.calendar)


# --- render_spec -----------------------------------------------------------------------------


def test_render_structured_calendars_in_cron_field_syntax() -> None:
    weekdays = StructuredCalendarSpec(
        second=[Range(start=0)],
        minute=[Range(start=0, end=59, step=15)],
        hour=[Range(start=9), Range(start=12, end=14)],
        day_of_month=[Range(start=1, end=31)],
        month=[Range(start=1, end=12, step=1)],
        year=[],
        day_of_week=[Range(start=1, end=5)],
        comment="weekdays",
    )
    weekend = StructuredCalendarSpec(
        hour=[Range(start=10, end=3)],  # end before start: the start alone
        day_of_week=[Range(start=6), Range(start=0)],
    )
    rendered = render_spec(
        TemporalSpec(structured_calendar=[weekdays], exclude_structured_calendar=[weekend])
    )
    assert list(rendered.calendars) == [
        schedules_pb2.CalendarSpec(
            second="0",
            minute="0-59/15",
            hour="9,12-14",
            day_of_month="1-31",
            month="1-12",
            year="",
            day_of_week="1-5",
            comment="weekdays",
        )
    ]
    assert list(rendered.exclude_calendars) == [
        schedules_pb2.CalendarSpec(hour="10", day_of_week="6,0")
    ]


@pytest.mark.parametrize(
    "value", [Range(start=5, step=15), Range(start=5, end=5, step=15)], ids=["no-end", "end"]
)
def test_render_a_single_value_with_a_step_as_the_value(value: Range) -> None:
    # Temporal matches only 5 here; it would read "5/15" as 5, 20, 35, 50.
    calendar = StructuredCalendarSpec(minute=[value])
    rendered = render_spec(TemporalSpec(structured_calendar=[calendar]))
    assert rendered.calendars[0].minute == "5"


def test_render_intervals_jitter_and_time_zone() -> None:
    hourly = TemporalInterval()
    hourly.interval.FromTimedelta(timedelta(hours=1))
    hourly.phase.FromTimedelta(timedelta(minutes=15))
    minutely = TemporalInterval()
    minutely.interval.FromTimedelta(timedelta(minutes=1))
    spec = TemporalSpec(interval=[hourly, minutely], timezone_name="Europe/Paris")
    spec.jitter.FromTimedelta(timedelta(seconds=30))
    assert render_spec(spec) == schedules_pb2.ScheduleSpec(
        intervals=[interval(3_600, 900), interval(60)],
        jitter_seconds=30,
        time_zone_name="Europe/Paris",
    )


def test_render_empty_spec() -> None:
    assert render_spec(TemporalSpec()) == schedules_pb2.ScheduleSpec()


def test_build_then_render_round_trips_intervals() -> None:
    sent = request(
        intervals=[interval(3_600, 900), interval(86_400), interval(1)],
        jitter_seconds=45,
        time_zone_name="Europe/Paris",
    )
    built = build_spec(sent, NOW)
    assert built.violations == []
    assert render_spec(built.spec) == sent.spec


def test_build_then_render_the_default_interval() -> None:
    assert render_spec(build().spec) == schedules_pb2.ScheduleSpec(
        intervals=[interval(DEFAULT_INTERVAL_SECONDS)]
    )


# --- rfc3339 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 9, 0, 0, 999_999, tzinfo=UTC),
        datetime(2026, 12, 1, 10, 0, 0, 123_456, tzinfo=timezone(timedelta(hours=1))),
        datetime(2026, 12, 1, 3, 30, 0, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    ],
    ids=["utc", "microseconds-dropped", "plus-one", "minus-five-thirty"],
)
def test_rfc3339_prints_utc_seconds_with_z(moment: datetime) -> None:
    assert rfc3339(moment) == "2026-12-01T09:00:00Z"


def test_rfc3339_reads_back_through_aware_datetime() -> None:
    text = rfc3339(NOW)
    violations: list[FieldViolation] = []
    assert aware_datetime(text, "start_at", violations) == NOW.replace(microsecond=0)
    assert violations == []


# --- catch-up window and backfill range -----------------------------------------------------


@pytest.mark.parametrize("value", [1, 9, -5, MAX_SECONDS + 1, HUGE, 2**63 - 1, -(2**63)])
def test_catchup_window_out_of_range_is_a_violation_not_an_overflow(value: int) -> None:
    violations: list[FieldViolation] = []
    window = catchup_window(value, violations)
    assert [(v.field, v.reason) for v in violations] == [("catchup_window_seconds", "out_of_range")]
    assert window is not None and window <= timedelta(seconds=MAX_SECONDS)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, None),
        (MIN_CATCHUP_WINDOW_SECONDS, timedelta(seconds=10)),
        (3600, timedelta(hours=1)),
        (MAX_SECONDS, timedelta(seconds=MAX_SECONDS)),
    ],
)
def test_catchup_window_in_range(value: int, expected: timedelta | None) -> None:
    violations: list[FieldViolation] = []
    assert catchup_window(value, violations) == expected
    assert violations == []


def test_backfill_range_in_range() -> None:
    violations: list[FieldViolation] = []
    span = backfill_range("2026-01-01T00:00:00Z", "2026-01-03T00:00:00+01:00", violations)
    assert violations == []
    assert span == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, 23, tzinfo=UTC))


@pytest.mark.parametrize(
    ("start_at", "end_at", "expected"),
    [
        ("0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z", [("end_at", "out_of_range")]),
        ("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", [("end_at", "invalid")]),
        ("", "", [("start_at", "required"), ("end_at", "required")]),
        ("2026-01-01T00:00:00", "x", [("start_at", "naive_datetime"), ("end_at", "invalid")]),
    ],
)
def test_backfill_range_refused(
    start_at: str, end_at: str, expected: list[tuple[str, str]]
) -> None:
    violations: list[FieldViolation] = []
    backfill_range(start_at, end_at, violations)
    assert [(v.field, v.reason) for v in violations] == expected
