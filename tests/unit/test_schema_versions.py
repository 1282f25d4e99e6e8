"""Schema versions and the rules of schema evolution, without a stack: the versions a type
entry keeps (registry.catalog.versions) as the types shard decides them, the modes and what
a candidate is compared with (registry.schemas.rules), starts checked against every serving
version (registry.dispatch.rules), and queues that mix type sets (registry.liveness.views)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import pytest
from temporal_registry.v1 import resources_pb2

from registry.catalog.engine import Limits, Refusal, Shard, new_state
from registry.catalog.shard_rules import (
    approve_op,
    decide_type_op,
    decide_worker_op,
    declare_op,
    register_op,
    schema_digest,
    set_mode_op,
    stored_worker,
    stored_workflow,
)
from registry.catalog.versions import (
    MAX_KEPT_VERSIONS,
    MAX_SERVED_VERSIONS,
    VersionRequest,
    add_version,
    kept_for_room,
    kept_versions,
)
from registry.dispatch.rules import input_violations
from registry.liveness.views import LivenessInputs, workflow_view
from registry.schemas.rules import (
    MODES,
    check_candidate,
    effective_mode,
    incompatible,
    mode_name,
    mode_value,
    plan_override_reason,
    serving_schemas,
    serving_versions,
)
from registry.server.errors import RegistryError
from registry.shared.model import (
    SchemaVersion,
    StoredWorker,
    StoredWorkflow,
    WorkerRegistration,
    WorkflowSpec,
)

NOW = 1_800_000_000.0
ORDER = "order.v1"
V1 = {
    "type": "object",
    "required": ["order_id", "amount_cents"],
    "properties": {"order_id": {"type": "string"}, "amount_cents": {"type": "integer"}},
}
V2 = {**V1, "required": ["order_id"]}  # BACKWARD compatible: amount_cents optional
STRICTER = {**V1, "required": ["order_id", "amount_cents", "currency"]}


def schema(n: int) -> dict[str, Any]:
    return {"type": "object", "properties": {f"f{n}": {"type": "string"}}}


# --- the versions of a type entry -----------------------------------------------------------


def entry_with(*digests: str) -> dict[str, Any]:
    versions = [{"n": i + 1, "schema": d, "created": NOW} for i, d in enumerate(digests)]
    return {"schema": digests[-1], "versions": versions, "mode": ""}


def test_a_new_type_s_schema_is_version_1_and_a_known_schema_keeps_its_number() -> None:
    versions, number = add_version(None, "a", VersionRequest(worker="w1"), NOW)  # type: ignore[misc]
    assert number == 1 and versions == [{"n": 1, "schema": "a", "created": NOW, "worker": "w1"}]
    stored = entry_with("a", "b")
    assert add_version(stored, "a", VersionRequest(base="zzz"), NOW) == (kept_versions(stored), 1)


def test_a_new_schema_checked_against_a_moved_schema_or_mode_is_refused_to_be_checked_again() -> (
    None
):
    stored = entry_with("a", "b")
    for request in (VersionRequest(base="a", mode=""), VersionRequest(base="b", mode="NONE")):
        refused = add_version(stored, "c", request, NOW)
        assert isinstance(refused, Refusal)
        assert (refused.code, refused.reason) == ("ABORTED", "SCHEMA_CHECK_OUTDATED")
    added = add_version(stored, "c", VersionRequest(base="b", mode=""), NOW)
    assert not isinstance(added, Refusal) and added[1] == 3
    unchecked = add_version(stored, "c", VersionRequest(), NOW)  # a tool's write: no base
    assert not isinstance(unchecked, Refusal) and unchecked[1] == 3


def test_a_type_keeps_its_newest_versions_and_every_served_one() -> None:
    digests = [f"d{i}" for i in range(1, MAX_KEPT_VERSIONS + 3)]
    stored = entry_with(*digests)  # 10 versions, current d10
    versions, number = add_version(  # type: ignore[misc]
        stored, "new", VersionRequest(serving=frozenset({2})), NOW
    )
    assert number == 11
    assert [v["n"] for v in versions] == [2, 5, 6, 7, 8, 9, 10, 11]
    assert len(versions) == MAX_KEPT_VERSIONS
    tight, _ = add_version(stored, "new", VersionRequest(serving=frozenset({2})), NOW, keep=0)  # type: ignore[misc]
    assert [v["n"] for v in tight] == [2, 10, 11]  # served, current, new
    assert kept_for_room(10_000, 100) == MAX_KEPT_VERSIONS and kept_for_room(300, 100) == 0


def test_more_served_versions_than_the_bound_is_refused() -> None:
    digests = [f"d{i}" for i in range(1, MAX_SERVED_VERSIONS + 2)]
    serving = frozenset(range(1, MAX_SERVED_VERSIONS + 1))
    refused = add_version(entry_with(*digests), "new", VersionRequest(serving=serving), NOW)
    assert isinstance(refused, Refusal)
    assert (refused.code, refused.reason) == ("RESOURCE_EXHAUSTED", "TOO_MANY_SCHEMA_VERSIONS")


def test_an_entry_from_before_versions_reads_its_schema_as_version_1() -> None:
    legacy = {"schema": "abc", "updated": NOW}
    assert kept_versions(legacy) == [{"n": 1, "schema": "abc", "created": NOW}]
    stored = stored_workflow(ORDER, legacy, {"abc": V1})
    assert (stored.schema_version, stored.versions[0].schema) == (1, V1)


# --- through the types and workers shards ---------------------------------------------------


class Types:
    def __init__(self) -> None:
        self.shard = Shard(new_state("types", "workflow-registry/types/00", Limits()))

    def apply(self, op: dict[str, Any]) -> dict[str, Any]:
        (outcome,) = self.shard.apply({"ops": [{"id": f"op-{id(op)}", **op}]}, decide_type_op, NOW)[
            "outcomes"
        ]
        return outcome

    def declare(
        self, input_schema: dict[str, Any], principal: str = "", **checked: Any
    ) -> dict[str, Any]:
        spec = WorkflowSpec(ORDER, input_schema=input_schema)
        registration = WorkerRegistration("w1", "orders", workflows=[spec], principal=principal)
        checked["principal"] = principal
        return self.apply(
            declare_op(registration, 0, keep_queue=False, checked=VersionRequest(**checked))
        )

    def stored(self) -> StoredWorkflow:
        blobs = {d: json.loads(raw) for d, raw in self.shard.state["blobs"].items()}
        return stored_workflow(ORDER, json.loads(self.shard.state["entries"][ORDER]), blobs)


def test_declarations_approvals_and_modes_through_the_types_shard() -> None:
    types = Types()
    assert types.declare(V1, worker="w1")["result"] == {"changed": True, "version": 1}
    second = types.declare(V2, base=schema_digest(V1), mode="", worker="w2", principal="team")
    assert second["result"] == {"changed": True, "version": 2}
    stored = types.stored()
    assert [(v.number, v.worker_id, v.principal) for v in stored.versions] == [
        (1, "w1", ""),
        (2, "w2", "team"),
    ]
    assert (stored.schema_version, stored.spec.input_schema) == (2, V2)
    # A rollback: version 1 again, current again, nothing added.
    assert types.declare(V1, base="stale")["result"] == {"changed": True, "version": 1}
    assert types.stored().schema_version == 1

    approved = types.apply(
        approve_op(ORDER, STRICTER, VersionRequest(base=schema_digest(V1), mode="", override="ok"))
    )
    assert approved["result"] == {"version": 3, "created": True}
    stored = types.stored()
    assert (stored.schema_version, stored.versions[-1].override_reason) == (1, "ok")
    assert types.apply(approve_op(ORDER, V2, VersionRequest()))["result"] == {
        "version": 2,
        "created": False,
    }
    assert set(types.shard.state["blobs"]) == {schema_digest(s) for s in (V1, V2, STRICTER)}

    assert types.apply(set_mode_op(ORDER, "FULL"))["result"] == {"changed": True}
    assert types.stored().compatibility == "FULL"
    bad = types.apply(set_mode_op(ORDER, "SIDEWAYS"))
    assert (bad["code"], bad["reason"]) == ("INVALID_ARGUMENT", "INVALID_OPERATION")
    missing = types.apply(set_mode_op("nope", "NONE"))
    assert (missing["code"], missing["reason"]) == ("NOT_FOUND", "WORKFLOW_NOT_FOUND")


def test_a_worker_entry_records_the_version_of_each_type_it_declared() -> None:
    shard = Shard(new_state("workers", "workflow-registry/workers/00", Limits()))
    registration = WorkerRegistration(
        "w1", "orders", workflows=[WorkflowSpec(ORDER), WorkflowSpec("report.v1")]
    )
    op = {"id": "r1", **register_op(registration, [2, 1])}
    (outcome,) = shard.apply({"ops": [op]}, decide_worker_op, NOW)["outcomes"]
    assert outcome["ok"]
    worker = stored_worker("w1", json.loads(shard.state["entries"]["w1"]))
    assert worker.schema_versions == {ORDER: 2, "report.v1": 1}


# --- modes and checks ------------------------------------------------------------------------


def stored_with(*schemas: dict[str, Any], current: int = 0, mode: str = "") -> StoredWorkflow:
    versions = tuple(SchemaVersion(i + 1, schema_digest(s), s, NOW) for i, s in enumerate(schemas))
    current = current or len(schemas)
    return StoredWorkflow(
        spec=WorkflowSpec(ORDER, input_schema=schemas[current - 1]),
        versions=versions,
        schema_version=current,
        compatibility=mode,
    )


def test_modes_map_to_the_contract_s_enum_both_ways() -> None:
    for name in MODES:
        assert mode_name(mode_value(name)) == name
    assert mode_value("") == resources_pb2.COMPATIBILITY_MODE_UNSPECIFIED
    assert effective_mode(stored_with(V1), "BACKWARD") == "BACKWARD"
    assert effective_mode(stored_with(V1, mode="NONE"), "BACKWARD") == "NONE"
    assert effective_mode(None, "FULL") == "FULL"


def test_what_each_mode_compares_a_candidate_with() -> None:
    stored = stored_with(V1, V2, current=2)
    assert check_candidate(stored, V1, "FULL_TRANSITIVE").identical_version == 1
    assert check_candidate(stored, STRICTER, "NONE").compatible
    backward = check_candidate(stored, STRICTER, "BACKWARD")
    assert backward.compared == (2,) and not backward.compatible
    assert {f.direction for f in backward.findings} == {"BACKWARD"}
    transitive = check_candidate(stored, STRICTER, "BACKWARD_TRANSITIVE")
    assert transitive.compared == (2, 1)
    forward = check_candidate(stored_with(V1), V2, "FORWARD")
    assert not forward.compatible and {f.direction for f in forward.findings} == {"FORWARD"}
    assert check_candidate(stored_with(V1), V2, "BACKWARD").compatible
    assert check_candidate(None, STRICTER, "FULL").compatible  # a new type


def test_an_incompatible_schema_is_failed_precondition_naming_findings_and_schedules() -> None:
    verdict = check_candidate(stored_with(V1), STRICTER, "BACKWARD")
    error = incompatible(ORDER, verdict, [("nightly", "input/currency: required")], "f")
    assert (error.code, error.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "SCHEMA_INCOMPATIBLE",
    )
    assert {v.reason for v in error.violations} == {"schema_incompatible", "schedule_input_refused"}
    assert all(v.field == "f" for v in error.violations)
    assert "breaks BACKWARD compatibility with version 1" in error.message
    assert error.metadata == {
        "workflow_type": ORDER,
        "compatibility_mode": "BACKWARD",
        "compared_versions": "1",
    }


def test_an_override_reason_is_optional_printable_and_bounded() -> None:
    assert plan_override_reason("") == ""
    assert plan_override_reason("  clients send it  ") == "clients send it"
    for bad in ("   ", "x" * 501, "line\nbreak"):
        with pytest.raises(RegistryError) as raised:
            plan_override_reason(bad)
        assert raised.value.violations[0].field == "override_reason"


# --- serving versions, starts and health ----------------------------------------------------


def worker(worker_id: str, version: int | None, *types: str, queue: str = "orders") -> StoredWorker:
    return StoredWorker(
        worker_id=worker_id,
        task_queue=queue,
        workflows=list(types or (ORDER,)),
        lease_expires_epoch=NOW + 60,
        ttl_seconds=60,
        schema_versions={} if version is None else {ORDER: version},
    )


def test_serving_versions_count_live_workers_and_read_old_workers_as_current() -> None:
    stored = stored_with(V1, V2, current=2)
    workers = [worker("a", 1), worker("b", 2), worker("c", None), worker("gone", 1)]
    serving = serving_versions(stored, workers, lambda w: w.worker_id != "gone")
    assert serving == {1: ["a"], 2: ["b", "c"]}
    assert [v.number for v in serving_schemas(stored, serving)] == [1, 2]


def test_a_start_must_suit_every_serving_version_and_says_which_refused_it() -> None:
    stored = stored_with(V1, V2, current=2)
    both = stored.versions
    assert asyncio.run(input_violations(stored, {"order_id": "o"}, both[1:])) == []
    (violation,) = asyncio.run(input_violations(stored, {"order_id": "o"}, both))
    assert violation.field == "input/amount_cents"
    assert violation.description.endswith("(schema version 1)")
    (shared,) = asyncio.run(input_violations(stored, {"amount_cents": 1}, both))
    assert shared.description.endswith("(schema versions 1, 2)")
    (current_only,) = asyncio.run(input_violations(stored, {}, ()))  # no live worker: current
    assert "version" not in current_only.description


def test_workers_on_a_queue_without_the_type_are_named_in_its_health() -> None:
    stored = stored_with(V1)
    inputs = LivenessInputs(heartbeats={}, pollers=None, poller_max_age=60, now=NOW)
    mates = [worker("old-1", None, "report.v1"), worker("old-2", None, "report.v1")]
    view = workflow_view(stored, [worker("new", 1)], inputs, mates)
    (reason,) = [r for r in view.health_reasons if "mixes type sets" in r]
    assert "live workers old-1, old-2 poll it" in reason and "task queue orders" in reason
    assert view.healthy and view.serving_versions == (1,)
    expired = [worker("old-1", None, "report.v1")]
    later = LivenessInputs(heartbeats={}, pollers=None, poller_max_age=60, now=NOW + 61)
    assert not any("mixes" in r for r in workflow_view(stored, [], later, expired).health_reasons)
