"""Schema evolution end to end through Envoy (docs/schemas.md): versions kept per type, the
compatibility check before a deploy, registrations refused for breaking schemas, an operator's
override, per-type modes, starts valid for every serving version during a rolling deploy,
schedules a candidate would break, and workers that mix type sets on one queue."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from integration.conftest import ECHO_QUEUE
from integration.stack import Envoy, wait_until
from integration.test_cli_client import cli
from integration.test_registry_api import (
    BAD_REQUEST,
    ERROR_INFO,
    error,
    unique,
    violation_fields,
)

pytestmark = pytest.mark.integration

V1 = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "minLength": 1},
        "amount": {"type": "number", "minimum": 0},
        "currency": {"enum": ["EUR", "USD", "GBP"]},
    },
    "required": ["order_id", "amount"],
    "additionalProperties": False,
}
# BACKWARD compatible with V1: an optional field added, one more currency.
V2 = copy.deepcopy(V1)
V2["properties"]["note"] = {"type": "string"}
V2["properties"]["currency"] = {"enum": ["EUR", "USD", "GBP", "JPY"]}
# Breaks V2: a required field added, a currency removed.
BREAKING = copy.deepcopy(V2)
BREAKING["required"] = ["order_id", "amount", "customer_id"]
BREAKING["properties"]["customer_id"] = {"type": "string"}
BREAKING["properties"]["currency"] = {"enum": ["EUR", "USD", "JPY"]}


def register(
    http: httpx.Client, workflow_type: str, schema: dict[str, Any], queue: str = ""
) -> httpx.Response:
    return http.post(
        "/registry/workers",
        json={
            "worker_id": unique("w"),
            "task_queue": queue or unique("q"),
            "workflows": [{"workflow_type": workflow_type, "input_schema": schema}],
        },
    )


def versions(http: httpx.Client, workflow_type: str) -> dict[str, Any]:
    response = http.get(f"/registry/workflows/{workflow_type}/versions")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_each_distinct_schema_is_a_version_and_identical_ones_are_stored_once(
    http: httpx.Client,
) -> None:
    kind = unique("order")
    assert register(http, kind, V1).status_code == 200
    assert register(http, kind, V1).status_code == 200  # the same schema: still version 1
    listed = versions(http, kind)
    assert [v["version"] for v in listed["versions"]] == [1]
    assert listed["current_version"] == 1 and listed["serving_versions"] == [1]
    assert listed["compatibility_mode"] == "COMPATIBILITY_MODE_BACKWARD"
    assert listed["versions"][0]["serving_worker_count"] == 2
    assert "input_schema" not in listed["versions"][0]  # lists leave schemas out

    second = register(http, kind, V2)
    assert second.status_code == 200, second.text
    assert second.json()["worker"]["schema_versions"] == {kind: 2}
    listed = versions(http, kind)
    assert [v["version"] for v in listed["versions"]] == [2, 1]  # newest first
    assert listed["serving_versions"] == [1, 2]
    one = http.get(f"/registry/workflows/{kind}/versions/2").json()
    assert one["input_schema"] == V2 and one["current"] is True
    assert one["created_by_worker"] == second.json()["worker"]["worker_id"]
    workflow = http.get(f"/registry/workflows/{kind}").json()
    assert (workflow["schema_version"], workflow["serving_schema_versions"]) == (2, [1, 2])
    assert workflow["input_schema"] == V2

    missing = http.get(f"/registry/workflows/{kind}/versions/9")
    details = error(missing, 404, 5, "SCHEMA_VERSION_NOT_FOUND")
    assert details[ERROR_INFO]["metadata"]["version"] == "9"


def test_a_breaking_schema_is_refused_with_every_finding(http: httpx.Client) -> None:
    kind = unique("order")
    register(http, kind, V1).raise_for_status()
    register(http, kind, V2).raise_for_status()
    refused = register(http, kind, BREAKING)
    details = error(refused, 400, 9, "SCHEMA_INCOMPATIBLE")
    assert details[ERROR_INFO]["metadata"]["compatibility_mode"] == "BACKWARD"
    assert details[ERROR_INFO]["metadata"]["compared_versions"] == "2"
    assert set(violation_fields(details)) == {"workflows[0].input_schema"}
    descriptions = [v["description"] for v in details[BAD_REQUEST]["field_violations"]]
    assert any("required" in d and "customer_id" in d for d in descriptions), descriptions
    assert any('"GBP"' in d for d in descriptions), descriptions
    assert [v["version"] for v in versions(http, kind)["versions"]] == [2, 1]  # nothing stored

    check = http.post(
        f"/registry/workflows/{kind}/compatibility/check", json={"input_schema": BREAKING}
    ).json()
    assert check["compatible"] is False and check["compared_versions"] == [2]
    assert {(f["version"], f["direction"]) for f in check["incompatibilities"]} == {(2, "BACKWARD")}
    paths = {f["path"] for f in check["incompatibilities"]}
    assert any("currency" in path for path in paths), paths

    transitive = http.post(
        f"/registry/workflows/{kind}/compatibility/check",
        json={"input_schema": V2, "mode": "COMPATIBILITY_MODE_FULL_TRANSITIVE"},
    ).json()
    assert transitive["identical_version"] == 2 and transitive["compatible"] is True
    forward = http.post(
        f"/registry/workflows/{kind}/compatibility/check",
        json={
            "input_schema": {**V2, "required": ["order_id"]},
            "mode": "COMPATIBILITY_MODE_FORWARD",
        },
    ).json()
    assert forward["compatible"] is False
    assert {f["direction"] for f in forward["incompatibilities"]} == {"FORWARD"}


def test_an_operator_override_and_a_rollback(http: httpx.Client) -> None:
    kind = unique("order")
    register(http, kind, V1).raise_for_status()
    without = http.post(f"/registry/workflows/{kind}/versions", json={"input_schema": BREAKING})
    error(without, 400, 9, "SCHEMA_INCOMPATIBLE")
    approved = http.post(
        f"/registry/workflows/{kind}/versions",
        json={"input_schema": BREAKING, "override_reason": "every client sends customer_id"},
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["version"] == 2 and approved.json()["current"] is False
    assert approved.json()["override_reason"] == "every client sends customer_id"
    # The approved schema is now a known version: its workers register without a check.
    deployed = register(http, kind, BREAKING)
    assert deployed.status_code == 200, deployed.text
    assert deployed.json()["worker"]["schema_versions"] == {kind: 2}
    # Rolling back to version 1 is accepted as version 1 (no check against 2).
    rolled_back = register(http, kind, V1)
    assert rolled_back.json()["worker"]["schema_versions"] == {kind: 1}
    assert http.get(f"/registry/workflows/{kind}").json()["schema_version"] == 1


def test_a_types_mode_decides_and_follows_the_default_when_unset(http: httpx.Client) -> None:
    kind = unique("order")
    register(http, kind, V2).raise_for_status()
    assert http.get(f"/registry/workflows/{kind}/compatibility").json() == {
        "workflow_type": kind,
        "mode": "COMPATIBILITY_MODE_BACKWARD",
        "type_mode": "COMPATIBILITY_MODE_UNSPECIFIED",
        "default_mode": "COMPATIBILITY_MODE_BACKWARD",
    }
    set_none = http.put(
        f"/registry/workflows/{kind}/compatibility", json={"mode": "COMPATIBILITY_MODE_NONE"}
    )
    assert set_none.json()["mode"] == "COMPATIBILITY_MODE_NONE"
    assert register(http, kind, BREAKING).status_code == 200  # NONE accepts anything
    assert http.get(f"/registry/workflows/{kind}").json()["compatibility_mode"] == (
        "COMPATIBILITY_MODE_NONE"
    )
    http.put(f"/registry/workflows/{kind}/compatibility", json={}).raise_for_status()
    error(register(http, kind, V1), 400, 9, "SCHEMA_INCOMPATIBLE")  # BACKWARD again
    unknown = http.put(
        f"/registry/workflows/{unique('missing')}/compatibility",
        json={"mode": "COMPATIBILITY_MODE_NONE"},
    )
    error(unknown, 404, 5, "WORKFLOW_NOT_FOUND")


def test_a_start_must_be_valid_for_every_serving_version(http: httpx.Client) -> None:
    kind = unique("order")
    queue = unique("q")
    register(http, kind, V1, queue).raise_for_status()
    register(http, kind, V2, queue).raise_for_status()
    body = {"input": {"order_id": "o-1", "amount": 5, "note": "gift"}, "validate_only": True}
    refused = http.post(f"/workflows/{kind}/start", json=body)
    details = error(refused, 400, 3, "INVALID_START")
    (violation,) = details[BAD_REQUEST]["field_violations"]
    assert violation["field"] == "input"
    assert "(schema version 1)" in violation["description"]


def test_a_candidate_lists_the_schedules_it_would_break(echo: None, http: httpx.Client) -> None:
    kind = unique("nightly")
    register(http, kind, V1, ECHO_QUEUE).raise_for_status()
    schedule_id = unique("sched")
    created = http.post(
        f"/schedules/{schedule_id}",
        json={
            "workflow_type": kind,
            "input": {"order_id": "nightly", "amount": 2, "currency": "GBP"},
            "interval_seconds": 3600,
        },
    )
    assert created.status_code == 200, created.text
    wait_until(
        lambda: (
            schedule_id
            in {
                s["id"]
                for s in http.get("/schedules", params={"workflow_type": kind}).json()["schedules"]
            }
        ),
        15,
        "schedule listed",
    )
    drops_gbp = copy.deepcopy(V1)
    drops_gbp["properties"]["currency"] = {"enum": ["EUR", "USD"]}
    check = http.post(
        f"/registry/workflows/{kind}/compatibility/check",
        json={"input_schema": drops_gbp, "mode": "COMPATIBILITY_MODE_NONE"},
    ).json()
    assert check["compatible"] is True  # NONE: reported, not blocking
    assert [s["schedule_id"] for s in check["broken_schedules"]] == [schedule_id]
    assert "currency" in check["broken_schedules"][0]["reason"]
    refused = register(http, kind, drops_gbp, ECHO_QUEUE)
    details = error(refused, 400, 9, "SCHEMA_INCOMPATIBLE")
    reasons = {v["reason"] for v in details[BAD_REQUEST]["field_violations"]}
    assert reasons == {"schema_incompatible", "schedule_input_refused"}
    http.delete(f"/schedules/{schedule_id}").raise_for_status()


def test_workers_mixing_type_sets_on_one_queue_are_flagged(http: httpx.Client) -> None:
    both, only = unique("order"), unique("refund")
    queue = unique("q")
    full = {
        "worker_id": unique("w"),
        "task_queue": queue,
        "workflows": [{"workflow_type": both}, {"workflow_type": only}],
    }
    partial = {
        "worker_id": unique("w"),
        "task_queue": queue,
        "workflows": [{"workflow_type": both}],
    }
    http.post("/registry/workers", json=full).raise_for_status()
    http.post("/registry/workers", json=partial).raise_for_status()
    reasons = http.get(f"/registry/workflows/{only}").json()["health_reasons"]
    flagged = [r for r in reasons if "mixes type sets" in r]
    assert flagged and partial["worker_id"] in flagged[0], reasons
    assert not any(
        "mixes type sets" in r
        for r in http.get(f"/registry/workflows/{both}").json()["health_reasons"]
    )


def test_schemas_check_gates_a_deploy_by_its_exit_code(
    http: httpx.Client, envoy: Envoy, tmp_path: Path
) -> None:
    kind = unique("order")
    register(http, kind, V2).raise_for_status()
    manifest = tmp_path / "worker.yaml"

    def check(schema: dict[str, Any], *options: str) -> subprocess.CompletedProcess[str]:
        workflows = [{"workflow_type": kind, "input_schema": schema}]
        manifest.write_text(
            yaml.safe_dump({"worker_id": "ci", "task_queue": "q", "workflows": workflows})
        )
        return cli(envoy, "schemas", "check", "--manifest", str(manifest), *options)

    same = check(V2)
    assert (same.returncode, same.stdout) == (0, f"{kind}: ok, identical to version 1\n")
    breaking = check(BREAKING)
    assert breaking.returncode == 1, breaking.stderr
    lines = breaking.stdout.splitlines()
    assert lines[0] == f"{kind}: BREAKING under BACKWARD"
    assert "  version 1 BACKWARD: properties/customer_id: required added" in lines
    as_json = check(BREAKING, "-o", "json")
    (answer,) = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and answer["compatible"] is False
    manifest.write_text("worker_id: [")
    bad = cli(envoy, "schemas", "check", "--manifest", str(manifest))
    assert bad.returncode == 2 and "schemas check" in bad.stderr


def test_an_operator_replace_meets_the_mode_unless_it_gives_a_reason(http: httpx.Client) -> None:
    kind = unique("order")
    register(http, kind, V2).raise_for_status()
    stored = http.get(f"/registry/workflows/{kind}").json()
    replacement = {"task_queue": stored["task_queue"], "input_schema": BREAKING}
    refused = http.put(f"/registry/workflows/{kind}", json=replacement)
    details = error(refused, 400, 9, "SCHEMA_INCOMPATIBLE")
    assert set(violation_fields(details)) == {"workflow.input_schema"}
    replaced = http.put(
        f"/registry/workflows/{kind}",
        params={"override_reason": "customer_id is sent by every client"},
        json=replacement,
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["schema_version"] == 2
    version = http.get(f"/registry/workflows/{kind}/versions/2").json()
    assert version["override_reason"] == "customer_id is sent by every client"
    assert version["created_by_worker"] == ""  # an operator's
