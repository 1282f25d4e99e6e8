"""Schedules end to end against the real dev server: create (0.1.x fields and the extended
spec), describe, list, update with a conflict token, pause/unpause, trigger, backfill,
delete, every refusal, and the schedule guardian when a type's schema changes."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.conftest import ECHO_QUEUE
from integration.stack import (
    ADMIN_HEADERS,
    Envoy,
    Registry,
    TemporalDevServer,
    start_echo_worker,
    wait_until,
)
from integration.test_dispatch import register_echo
from integration.test_registry_api import error, unique, violation_fields
from integration.test_registry_durability import own_registry_settings

pytestmark = pytest.mark.integration

GOOD_INPUT = {"order_id": "nightly", "amount": 2}


def create(http: httpx.Client, schedule_id: str, **body: Any) -> httpx.Response:
    return http.post(f"/schedules/{schedule_id}", json=body)


def describe(http: httpx.Client, schedule_id: str) -> dict[str, Any]:
    response = http.get(f"/schedules/{schedule_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def kind(echo: None, http: httpx.Client) -> str:
    workflow_type = unique("nightly")
    register_echo(http, workflow_type)
    return workflow_type


def test_create_with_the_seed_fields_then_describe(http: httpx.Client, kind: str) -> None:
    schedule_id = unique("sched")
    response = create(
        http,
        schedule_id,
        workflow_type=kind,
        input={"order_id": "nightly"},
        interval_seconds=3600,
        overlap_policy="buffer_one",
        note="nightly run",
        search_attributes={"OrderId": "nightly"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["warnings"] == [{"field": "amount", "message": "set an amount"}]
    schedule = body["schedule"]
    assert schedule["id"] == schedule_id
    assert (schedule["paused"], schedule["note"]) == (False, "nightly run")
    assert schedule["workflow_type"] == kind and schedule["task_queue"] == ECHO_QUEUE
    assert schedule["workflow_id"] == schedule_id  # default: the schedule id
    assert schedule["input"] == {"order_id": "nightly"}
    assert schedule["overlap_policy"] == "buffer_one"
    assert schedule["spec"]["intervals"] == [{"every_seconds": "3600", "offset_seconds": "0"}]
    assert len(schedule["next_fires"]) >= 1 and schedule["next_fires"][0].endswith("Z")
    assert schedule["managed"] is True and schedule["input_valid"] is True
    assert schedule["conflict_token"]
    assert describe(http, schedule_id)["note"] == "nightly run"
    error(
        create(http, schedule_id, workflow_type=kind, input=GOOD_INPUT),
        409,
        6,
        "SCHEDULE_ALREADY_EXISTS",
    )


def test_create_with_the_extended_spec(http: httpx.Client, kind: str) -> None:
    schedule_id = unique("sched")
    response = create(
        http,
        schedule_id,
        workflow_type=kind,
        input=GOOD_INPUT,
        spec={
            "cron_expressions": ["0 9 * * MON-FRI"],
            "calendars": [{"hour": "18", "minute": "30", "day_of_week": "SAT,SUN"}],
            "intervals": [{"every_seconds": 7200, "offset_seconds": 900}],
            "exclude_calendars": [{"month": "12", "day_of_month": "25"}],
            "jitter_seconds": 30,
            "time_zone_name": "Europe/Paris",
        },
        start_at="2026-01-01T00:00:00+01:00",
        end_at="2036-01-01T00:00:00Z",
        catchup_window_seconds=600,
        pause_on_failure=True,
        remaining_actions=5,
        paused=True,
        overlap_policy="ALLOW_ALL",
    )
    assert response.status_code == 200, response.text
    schedule = response.json()["schedule"]
    assert schedule["paused"] is True
    assert (schedule["remaining_actions"], schedule["limited_actions"]) == (5, True)
    assert (schedule["catchup_window_seconds"], schedule["pause_on_failure"]) == ("600", True)
    assert schedule["overlap_policy"] == "allow_all"
    # Temporal keeps cron expressions as calendars: 0 9 * * MON-FRI, then the calendar.
    assert {(c["hour"], c["day_of_week"]) for c in schedule["spec"]["calendars"]} == {
        ("9", "1-5"),
        ("18", "6,0"),
    }
    assert schedule["spec"]["intervals"] == [{"every_seconds": "7200", "offset_seconds": "900"}]
    assert schedule["spec"]["exclude_calendars"][0]["day_of_month"] == "25"
    assert schedule["spec"]["jitter_seconds"] == "30"
    assert (schedule["start_at"], schedule["end_at"]) == (
        "2025-12-31T23:00:00Z",
        "2036-01-01T00:00:00Z",
    )
    assert schedule["spec"]["time_zone_name"] == "Europe/Paris"
    assert schedule["next_fires"]


@pytest.mark.parametrize(
    "policy", ["skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"]
)
def test_every_overlap_policy(http: httpx.Client, kind: str, policy: str) -> None:
    schedule_id = unique("policy")
    response = create(
        http, schedule_id, workflow_type=kind, input=GOOD_INPUT, overlap_policy=policy
    )
    assert response.json()["schedule"]["overlap_policy"] == policy
    http.delete(f"/schedules/{schedule_id}")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        pytest.param({"start_at": "2026-12-01T09:00:00"}, ["start_at"], id="naive-datetime"),
        pytest.param(
            {"start_at": "2027-01-01T00:00:00Z", "end_at": "2026-01-01T00:00:00Z"},
            ["end_at"],
            id="end-before-start",
        ),
        pytest.param(
            {"spec": {"cron_expressions": ["every day"]}},
            ["spec.cron_expressions[0]"],
            id="bad-cron",
        ),
        pytest.param(
            {"spec": {"time_zone_name": "Mars/Olympus"}}, ["spec.time_zone_name"], id="bad-zone"
        ),
        pytest.param(
            {"spec": {"intervals": [{"every_seconds": 60, "offset_seconds": 60}]}},
            ["spec.intervals[0].offset_seconds"],
            id="phase-too-big",
        ),
        pytest.param(
            {"fire_offsets_seconds": [10], "interval_seconds": 60},
            ["interval_seconds"],
            id="offsets-and-interval",
        ),
        pytest.param({"overlap_policy": "sometimes"}, ["overlap_policy"], id="bad-policy"),
        pytest.param({"input": {"amount": 0}}, ["input/amount", "input/order_id"], id="bad-input"),
    ],
)
def test_create_refusals(
    http: httpx.Client, kind: str, body: dict[str, Any], fields: list[str]
) -> None:
    request = {"workflow_type": kind, "input": GOOD_INPUT, **body}
    details = error(create(http, unique("bad"), **request), 400, 3, "INVALID_SCHEDULE")
    assert violation_fields(details) == fields


def test_a_bad_policy_is_the_clients_mistake_even_without_a_healthy_worker(
    echo: None, http: httpx.Client
) -> None:
    """Every field is checked before a worker is looked for: a bad overlap policy or catch-up
    window is INVALID_SCHEDULE, not the 503 a type without a matching worker gets."""
    kind = unique("nightly")
    register_echo(http, kind, worker_labels={"region": "eu"})
    request = {"workflow_type": kind, "input": GOOD_INPUT, "label_selector": "region=us"}
    error(create(http, unique("s"), **request), 503, 14, "NO_HEALTHY_WORKER")
    bad = {**request, "overlap_policy": "sometimes", "catchup_window_seconds": 1}
    details = error(create(http, unique("s"), **bad), 400, 3, "INVALID_SCHEDULE")
    assert violation_fields(details) == ["overlap_policy", "catchup_window_seconds"]


def test_a_cron_temporal_refuses_is_a_field_violation(http: httpx.Client, kind: str) -> None:
    response = create(
        http,
        unique("bad"),
        workflow_type=kind,
        input=GOOD_INPUT,
        spec={"cron_expressions": ["99 * * * *"]},
    )
    details = error(response, 400, 3, "INVALID_SCHEDULE_SPEC")
    assert violation_fields(details) == ["spec"]


def test_unknown_type_and_unknown_schedule(http: httpx.Client) -> None:
    error(create(http, unique("s"), workflow_type=unique("nope")), 404, 5, "WORKFLOW_NOT_FOUND")
    for response in (
        http.get("/schedules/no-such-schedule"),
        http.delete("/schedules/no-such-schedule"),
        http.post("/schedules/no-such-schedule/pause", json={}),
    ):
        error(response, 404, 5, "SCHEDULE_NOT_FOUND")


def test_offsets_fire_once_and_at_once(http: httpx.Client, kind: str) -> None:
    schedule_id = unique("offsets")
    response = create(
        http, schedule_id, workflow_type=kind, input=GOOD_INPUT, fire_offsets_seconds=[0, 3600]
    )
    assert response.status_code == 200, response.text
    schedule = response.json()["schedule"]
    assert (schedule["remaining_actions"], schedule["limited_actions"]) == (1, True)
    fire = time.time() + 3600
    [next_fire] = schedule["next_fires"]
    assert abs(_epoch(next_fire) - fire) < 5
    wait_until(lambda: describe(http, schedule_id)["recent"], 15, "offset 0 fired")
    assert describe(http, schedule_id)["recent"][0]["workflow_id"].startswith(schedule_id)


def test_update_needs_the_current_conflict_token(http: httpx.Client, kind: str) -> None:
    schedule_id = unique("upd")
    create(http, schedule_id, workflow_type=kind, input=GOOD_INPUT, interval_seconds=3600)
    token = describe(http, schedule_id)["conflict_token"]
    update = {
        "workflow_type": kind,
        "input": {"order_id": "v2", "amount": 3},
        "interval_seconds": 1800,
    }

    details = error(http.put(f"/schedules/{schedule_id}", json=update), 400, 3, "INVALID_SCHEDULE")
    assert violation_fields(details) == ["conflict_token"]
    updated = http.put(f"/schedules/{schedule_id}", json={**update, "conflict_token": token})
    assert updated.status_code == 200, updated.text
    assert updated.json()["input"] == {"order_id": "v2", "amount": 3}
    assert updated.json()["spec"]["intervals"] == [{"every_seconds": "1800", "offset_seconds": "0"}]
    # The same token again: someone (we) changed the schedule since it was read.
    stale = http.put(f"/schedules/{schedule_id}", json={**update, "conflict_token": token})
    error(stale, 409, 10, "SCHEDULE_CONFLICT")
    fresh = describe(http, schedule_id)["conflict_token"]
    bad_input = {**update, "input": {"amount": 1}, "conflict_token": fresh}
    details = error(
        http.put(f"/schedules/{schedule_id}", json=bad_input), 400, 3, "INVALID_SCHEDULE"
    )
    assert violation_fields(details) == ["input/order_id"]


def test_update_can_follow_the_types_current_task_queue(
    http: httpx.Client, workdir: Path, temporal: TemporalDevServer, kind: str
) -> None:
    schedule_id = unique("follow")
    create(http, schedule_id, workflow_type=kind, input=GOOD_INPUT, interval_seconds=3600)
    assert describe(http, schedule_id)["task_queue"] == ECHO_QUEUE
    # The type moves: a worker on another queue, and the old one goes away.
    moved_queue = unique("moved-q")
    mover = start_echo_worker(workdir, temporal.address, moved_queue)
    try:
        old_workers = http.get("/registry/workers", params={"workflow_type": kind}).json()
        http.post(
            "/registry/workers",
            json={
                "worker_id": unique("mover"),
                "task_queue": moved_queue,
                "workflows": [{"workflow_type": kind}],
            },
        ).raise_for_status()
        for worker in old_workers["workers"]:
            http.delete(f"/registry/workers/{worker['worker_id']}")
        base = {"workflow_type": kind, "input": GOOD_INPUT, "interval_seconds": 3600}
        kept = http.put(
            f"/schedules/{schedule_id}",
            json={**base, "conflict_token": describe(http, schedule_id)["conflict_token"]},
        )
        assert kept.json()["task_queue"] == ECHO_QUEUE  # not asked to follow
        followed = http.put(
            f"/schedules/{schedule_id}",
            json={
                **base,
                "follow_task_queue": True,
                "conflict_token": describe(http, schedule_id)["conflict_token"],
            },
        )
        assert followed.status_code == 200, followed.text
        assert followed.json()["task_queue"] == moved_queue
    finally:
        mover.stop()


def test_pause_unpause_trigger_backfill_list_delete(http: httpx.Client, kind: str) -> None:
    schedule_id = unique("ops")
    create(http, schedule_id, workflow_type=kind, input=GOOD_INPUT, interval_seconds=3600)

    paused = http.post(f"/schedules/{schedule_id}/pause", json={"note": "maintenance"}).json()
    assert (paused["paused"], paused["note"]) == (True, "maintenance")
    unpaused = http.post(f"/schedules/{schedule_id}/unpause", json={"note": "back"}).json()
    assert (unpaused["paused"], unpaused["note"]) == (False, "back")

    assert http.post(f"/schedules/{schedule_id}/trigger", json={}).status_code == 200
    wait_until(lambda: describe(http, schedule_id)["action_count"] != "0", 15, "triggered")

    now = time.time()
    backfill = {
        "start_at": _iso(now - 4 * 3600),
        "end_at": _iso(now - 60),
        "overlap_policy": "allow_all",
    }
    assert http.post(f"/schedules/{schedule_id}/backfill", json=backfill).status_code == 200
    wait_until(lambda: int(describe(http, schedule_id)["action_count"]) >= 4, 30, "backfilled")
    details = error(
        http.post(
            f"/schedules/{schedule_id}/backfill",
            json={"start_at": "2026-01-01T00:00:00", "end_at": _iso(now)},
        ),
        400,
        3,
        "INVALID_BACKFILL",
    )
    assert violation_fields(details) == ["start_at"]

    def listed() -> bool:
        page = http.get("/schedules", params={"workflow_type": kind}).json()
        return [s["id"] for s in page["schedules"]] == [schedule_id]

    wait_until(listed, 15, "schedule listed")
    assert http.delete(f"/schedules/{schedule_id}").status_code == 200
    error(http.get(f"/schedules/{schedule_id}"), 404, 5, "SCHEDULE_NOT_FOUND")


def test_a_backfill_without_a_policy_runs_every_action_of_its_range(
    http: httpx.Client, kind: str
) -> None:
    """A daily schedule with `skip` backfilled over three days runs three actions, though each
    run outlasts the others' start: a backfill that names no overlap policy runs them all
    (allow_all) instead of inheriting the schedule's, which would skip two of three."""
    schedule_id = unique("backfill")
    created = create(
        http,
        schedule_id,
        workflow_type=kind,
        input={**GOOD_INPUT, "hold_seconds": 20},
        spec={"cron_expressions": ["0 3 * * *"]},
        overlap_policy="skip",
    )
    assert created.status_code == 200, created.text
    backfill = {"start_at": "2026-11-20T00:00:00Z", "end_at": "2026-11-23T00:00:00Z"}
    assert http.post(f"/schedules/{schedule_id}/backfill", json=backfill).status_code == 200

    def actions() -> int:
        return int(describe(http, schedule_id)["action_count"])

    wait_until(lambda: actions() >= 3, 30, "three backfilled actions")
    time.sleep(1)  # a fourth would be a bug too
    assert actions() == 3
    assert http.delete(f"/schedules/{schedule_id}").status_code == 200


def test_the_guardian_reports_schedules_a_schema_change_breaks(
    http: httpx.Client, kind: str
) -> None:
    fits, breaks = unique("fits"), unique("breaks")
    create(
        http, fits, workflow_type=kind, input={"order_id": "a", "sku": "s-1"}, interval_seconds=3600
    )
    create(http, breaks, workflow_type=kind, input={"order_id": "b"}, interval_seconds=3600)

    def both_listed() -> bool:
        page = http.get("/schedules", params={"workflow_type": kind, "page_size": 1000}).json()
        return {s["id"] for s in page["schedules"]} == {fits, breaks}

    wait_until(both_listed, 15, "schedules listed")
    accept_breaking_schemas(http, kind)
    stricter = {
        "worker_id": unique("v2"),
        "task_queue": ECHO_QUEUE,
        "workflows": [
            {
                "workflow_type": kind,
                "input_schema": {"type": "object", "required": ["order_id", "sku"]},
            }
        ],
    }
    response = http.post("/registry/workers", json=stricter).json()
    assert response["changed_workflows"] == [kind]
    assert response["affected_schedules"] == [breaks]
    broken = describe(http, breaks)
    assert broken["input_valid"] is False
    assert broken["input_violations"] == [
        {"field": "input/sku", "message": '"sku" is a required property'}
    ]
    assert broken["paused"] is False  # reported, not paused, by default
    assert describe(http, fits)["input_valid"] is True


def test_the_guardian_pauses_when_configured(
    workdir: Path, temporal: TemporalDevServer, echo: None
) -> None:
    overrides = {**own_registry_settings(), "schedules": {"pause_on_invalid_input": True}}
    registry = Registry(workdir, temporal.address, overrides=overrides).start()
    envoy = Envoy(workdir, registry).start()
    try:
        with httpx.Client(base_url=envoy.http_url, timeout=10, headers=ADMIN_HEADERS) as http:
            wait_until(lambda: http.get("/ready").status_code == 200, 60, "ready")
            kind = unique("guarded")
            register_echo(http, kind)
            schedule_id = unique("guarded")
            create(
                http,
                schedule_id,
                workflow_type=kind,
                input={"order_id": "x"},
                interval_seconds=3600,
            )
            wait_until(
                lambda: http.get("/schedules", params={"workflow_type": kind}).json()["schedules"],
                15,
                "listed",
            )
            accept_breaking_schemas(http, kind)
            stricter = {
                "worker_id": unique("v2"),
                "task_queue": ECHO_QUEUE,
                "workflows": [
                    {"workflow_type": kind, "input_schema": {"type": "object", "required": ["sku"]}}
                ],
            }
            assert http.post("/registry/workers", json=stricter).json()["affected_schedules"] == [
                schedule_id
            ]
            paused = describe(http, schedule_id)
            assert paused["paused"] is True
            assert "no longer fits" in paused["note"]
    finally:
        envoy.stop()
        registry.stop()


def accept_breaking_schemas(http: httpx.Client, kind: str) -> None:
    """The type's compatibility mode NONE: a schema that breaks its schedules is stored (and
    the guardian reports them) instead of being refused (docs/schemas.md)."""
    response = http.put(
        f"/registry/workflows/{kind}/compatibility", json={"mode": "COMPATIBILITY_MODE_NONE"}
    )
    assert response.status_code == 200, response.text


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()
