"""registry.catalog.shard_rules: the decide functions of the `workers` and `types` shards,
driven through a real shard engine the way the server drives them (one `register` on the
worker's shard, one `declare` per workflow type on the type's shard), and their encoding.

P and Q are worker principals, ADMIN an admin one; an empty principal is auth off."""

from __future__ import annotations

import ast
import itertools
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from temporalio.converter import DataConverter

from registry.catalog import op_fields, shard_rules
from registry.catalog.engine import Decision, Limits, Refusal, Shard, View, new_state
from registry.catalog.shard_rules import (
    MAX_BATCH,
    decide_type_op,
    decide_worker_op,
    declare_op,
    delete_op,
    expire_op,
    put_op,
    register_op,
    renew_op,
    schema_digest,
    spec_fields,
    stored_worker,
    stored_workflow,
    toggle_op,
    type_entry,
    unregister_op,
    worker_entry,
    worker_owner_refusal,
)
from registry.dispatch import claims
from registry.shared.model import (
    SOURCE_OPERATOR,
    SOURCE_WORKER,
    InputWarningSpec,
    SchemaVersion,
    SearchAttributeSpec,
    StoredWorker,
    StoredWorkflow,
    WorkerRef,
    WorkerRegistration,
    WorkflowDeletion,
    WorkflowSpec,
    WorkflowToggle,
    WorkflowWrite,
)
from registry.shared.specs import (
    DEFAULT_TTL_SECONDS,
    MAX_IDENTIFIER_LENGTH,
    MAX_INPUT_SCHEMA_BYTES,
    MAX_INPUT_WARNING_FIELD_LENGTH,
    MAX_INPUT_WARNING_MESSAGE_LENGTH,
    MAX_INPUT_WARNINGS,
    MAX_LABEL_KEY_LENGTH,
    MAX_LABEL_VALUE_LENGTH,
    MAX_LABELS,
    MAX_SEARCH_ATTRIBUTE_DESCRIPTION_LENGTH,
    MAX_SEARCH_ATTRIBUTES,
    MIN_SHARD_BYTES,
)

CONVERTER = DataConverter.default.payload_converter
NOW = 1_800_000_000.0
ORDERS = "orders.process.v1"
REFUND = "orders.refund.v1"
P, Q, ADMIN = "orders-team", "sha256:0123456789ab", "ops"
SCHEMA = {"type": "object", "properties": {"id": {"type": "string"}}}
FIRST_VERSION = SchemaVersion(1, schema_digest(SCHEMA), SCHEMA, NOW)

Decide = Callable[[Mapping[str, Any], View, float], "Decision | Refusal"]
_op_ids = itertools.count()


def apply(shard: Shard, decide: Decide, op: Mapping[str, Any], now: float = NOW) -> dict[str, Any]:
    """Apply one operation (with a fresh id) and return its outcome."""
    (outcome,) = shard.apply({"ops": [{"id": f"op-{next(_op_ids)}", **op}]}, decide, now)[
        "outcomes"
    ]
    return outcome


def through_temporal(shard: Shard) -> Shard:
    """The shard as its next run sees it: its state through the payload converter and back."""
    payload = CONVERTER.to_payloads([shard.state])[0]
    return Shard(CONVERTER.from_payloads([payload], [dict])[0])


def spec(workflow_type: str = ORDERS, **changes: Any) -> WorkflowSpec:
    base = WorkflowSpec(
        workflow_type=workflow_type,
        version="1.0.0",
        description="Processes an order.",
        input_schema=SCHEMA,
        labels={"team": "orders"},
    )
    return replace(base, **changes)


def registration(
    worker_id: str = "w1",
    task_queue: str = "orders",
    *specs: WorkflowSpec,
    principal: str = "",
    admin: bool = False,
    **changes: Any,
) -> WorkerRegistration:
    base = WorkerRegistration(
        worker_id=worker_id,
        task_queue=task_queue,
        environment="prod",
        labels={"zone": "a"},
        ttl_seconds=30,
        workflows=list(specs) or [spec(ORDERS), spec(REFUND, task_queue=task_queue)],
        principal=principal,
        admin=admin,
    )
    return replace(base, **changes)


class Registry:
    """A workers shard and a types shard, written as the server writes them."""

    def __init__(self, limits: Limits | None = None) -> None:
        limits = limits or Limits()
        self.workers = Shard(new_state("workers", "workflow-registry/workers/00", limits))
        self.types = Shard(new_state("types", "workflow-registry/types/00", limits))

    def register(self, reg: WorkerRegistration, now: float = NOW) -> list[dict[str, Any]]:
        """Declare each type (keep_queue from the other workers), then, when none was
        refused, register the worker. The outcomes: the declarations', then the worker's."""
        outcomes = [
            apply(self.types, decide_type_op, self.declare_op(reg, i), now)
            for i in range(len(reg.workflows))
        ]
        if all(outcome["ok"] for outcome in outcomes):
            outcomes.append(apply(self.workers, decide_worker_op, register_op(reg), now))
        return outcomes

    def declare_op(self, reg: WorkerRegistration, index: int) -> dict[str, Any]:
        workflow_type = reg.workflows[index].workflow_type
        stored = self.workflows().get(workflow_type)
        keep = stored is not None and any(
            worker.worker_id != reg.worker_id
            and worker.task_queue == stored.spec.task_queue
            and workflow_type in worker.workflows
            for worker in self.all_workers().values()
        )
        return declare_op(reg, index, keep_queue=keep)

    def worker_op(self, op: Mapping[str, Any], now: float = NOW) -> dict[str, Any]:
        return apply(self.workers, decide_worker_op, op, now)

    def type_op(self, op: Mapping[str, Any], now: float = NOW) -> dict[str, Any]:
        return apply(self.types, decide_type_op, op, now)

    def all_workers(self) -> dict[str, StoredWorker]:
        entries = self.workers.state["entries"]
        return {key: stored_worker(key, json.loads(raw)) for key, raw in entries.items()}

    def workflows(self) -> dict[str, StoredWorkflow]:
        out = {}
        blobs = {digest: json.loads(raw) for digest, raw in self.types.state["blobs"].items()}
        for key, raw in self.types.state["entries"].items():
            out[key] = stored_workflow(key, json.loads(raw), blobs)
        return out

    def snapshot(self) -> tuple[Any, ...]:
        return json.dumps(self.workers.state), json.dumps(self.types.state)


def registered(*registrations: WorkerRegistration, now: float = NOW) -> Registry:
    registry = Registry()
    for reg in registrations or (registration(),):
        assert all(outcome["ok"] for outcome in registry.register(reg, now))
    return registry


def refusal(outcome: Mapping[str, Any]) -> tuple[str, str]:
    assert not outcome["ok"], outcome
    return outcome["code"], outcome["reason"]


def fields(outcome: Mapping[str, Any]) -> list[str]:
    return [v["field"] for v in outcome["violations"]]


# --- registration -----------------------------------------------------------------------------


def test_registration_stores_the_worker_and_its_types_on_its_task_queue() -> None:
    registry = Registry()
    *declared, worker = registry.register(registration())
    assert [o["result"] for o in declared] == [
        {"changed": True, "version": 1},
        {"changed": True, "version": 1},
    ]
    assert worker["result"] == {"registered": NOW, "expires": NOW + 30}
    assert registry.all_workers() == {
        "w1": StoredWorker(
            worker_id="w1",
            task_queue="orders",
            environment="prod",
            labels={"zone": "a"},
            ttl_seconds=30,
            workflows=[ORDERS, REFUND],
            registered_epoch=NOW,
            lease_expires_epoch=NOW + 30,
        )
    }
    assert registry.workflows()[ORDERS] == StoredWorkflow(
        spec=spec(ORDERS, task_queue="orders"),  # declared with no task queue
        enabled=True,
        disabled_reason="",
        source=SOURCE_WORKER,
        update_time_epoch=NOW,
        versions=(FIRST_VERSION,),
        schema_version=1,
    )
    assert registry.workflows()[REFUND].spec.task_queue == "orders"


def test_reregistration_with_a_changed_spec_replaces_it_and_reports_it() -> None:
    registry = registered()
    refund_entry = registry.types.state["entries"][REFUND]
    changed = spec(ORDERS, version="2.0.0", input_schema={"type": "object"})
    outcomes = registry.register(registration("w1", "orders", changed, spec(REFUND)), NOW + 10)
    assert [o["result"] for o in outcomes[:2]] == [
        {"changed": True, "version": 2},
        {"changed": False, "version": 1},
    ]
    assert outcomes[1]["entries"] == {}  # nothing written
    stored = registry.workflows()[ORDERS]
    assert stored.spec == replace(changed, task_queue="orders")
    assert stored.update_time_epoch == NOW + 10
    assert registry.types.state["entries"][REFUND] == refund_entry  # untouched


def test_reregistration_with_unchanged_specs_changes_no_type_and_renews_the_lease() -> None:
    registry = registered()
    types_before = dict(registry.types.state["entries"])
    *declared, worker = registry.register(registration(), NOW + 10)
    assert [(o["result"], o["entries"]) for o in declared] == [
        ({"changed": False, "version": 1}, {})
    ] * 2
    assert registry.types.state["entries"] == types_before
    assert worker["result"] == {"registered": NOW, "expires": NOW + 40}


def test_reregistration_keeps_registered_and_replaces_the_rest() -> None:
    registry = registered()
    registry.register(registration(environment="staging", labels={}, ttl_seconds=120), NOW + 500)
    worker = registry.all_workers()["w1"]
    assert (worker.registered_epoch, worker.lease_expires_epoch) == (NOW, NOW + 620)
    assert (worker.environment, worker.labels, worker.ttl_seconds) == ("staging", {}, 120)


def test_ttl_zero_means_the_default() -> None:
    worker = registered(registration(ttl_seconds=0)).all_workers()["w1"]
    assert worker.ttl_seconds == DEFAULT_TTL_SECONDS
    assert worker.lease_expires_epoch == NOW + DEFAULT_TTL_SECONDS


def test_enabled_state_and_disabled_reason_survive_a_changed_declaration() -> None:
    registry = registered()
    registry.type_op(toggle_op(WorkflowToggle(ORDERS, False, "bad")), NOW + 1)
    outcomes = registry.register(registration("w1", "orders", spec(version="9"), spec(REFUND)))
    assert outcomes[0]["result"] == {"changed": True, "version": 1}
    stored = registry.workflows()[ORDERS]
    assert (stored.enabled, stored.disabled_reason, stored.spec.version) == (False, "bad", "9")
    assert registry.workflows()[REFUND].enabled is True


def test_reregistration_replaces_the_workers_list_but_keeps_dropped_types() -> None:
    registry = registered()
    registry.register(registration("w1", "orders", spec(REFUND)))
    assert registry.all_workers()["w1"].workflows == [REFUND]
    assert set(registry.workflows()) == {ORDERS, REFUND}


def test_a_worker_declaration_replaces_an_operator_spec_and_becomes_the_source() -> None:
    registry = Registry()
    registry.type_op(put_op(WorkflowWrite(spec(task_queue="orders", version="op"))))
    assert registry.workflows()[ORDERS].source == SOURCE_OPERATOR
    outcomes = registry.register(registration(), NOW + 1)
    assert outcomes[0]["result"] == {"changed": True, "version": 1}
    stored = registry.workflows()[ORDERS]
    assert (stored.source, stored.spec.version) == (SOURCE_WORKER, "1.0.0")


def test_workers_on_two_queues_do_not_flip_the_stored_task_queue() -> None:
    registry = Registry()
    first = WorkerRegistration("w1", "queue-a", workflows=[WorkflowSpec(ORDERS)])
    second = WorkerRegistration("w2", "queue-b", workflows=[WorkflowSpec(ORDERS)])
    registry.register(first, NOW)
    assert registry.register(second, NOW + 1)[0]["result"] == {"changed": False, "version": 1}
    assert registry.workflows()[ORDERS].spec.task_queue == "queue-a"
    # Re-registering either worker changes nothing.
    assert registry.register(first, NOW + 2)[0]["result"] == {"changed": False, "version": 1}
    assert registry.register(second, NOW + 2)[0]["result"] == {"changed": False, "version": 1}
    # Once queue-a's worker is gone, the next registration moves the type to its queue.
    assert registry.worker_op(unregister_op(WorkerRef("w1")))["ok"]
    assert registry.register(second, NOW + 3)[0]["result"] == {"changed": True, "version": 1}
    assert registry.workflows()[ORDERS].spec.task_queue == "queue-b"


def test_a_declaration_compares_equal_to_its_entry_after_continue_as_new() -> None:
    registry = registered(
        registration(
            "w1",
            "orders",
            spec(
                schedule_input_warnings=[InputWarningSpec("id", "set by the scheduler")],
                search_attributes=[SearchAttributeSpec("OrderId", "Keyword", "the order")],
            ),
        )
    )
    registry.types = through_temporal(registry.types)
    registry.workers = through_temporal(registry.workers)
    outcomes = registry.register(registration("w1", "orders", registry.workflows()[ORDERS].spec))
    assert (
        outcomes[0]["result"] == {"changed": False, "version": 1} and outcomes[0]["entries"] == {}
    )


# --- ownership of workers ---------------------------------------------------------------------


def owned_by_p() -> Registry:
    return registered(registration("p-1", "orders", spec(), principal=P))


def test_a_registration_records_its_principal_and_owns_the_new_types() -> None:
    registry = owned_by_p()
    assert registry.all_workers()["p-1"].principal == P
    assert registry.workflows()[ORDERS].owner == P


def test_auth_off_records_nothing_and_checks_nothing() -> None:
    registry = registered(registration("w", "orders", spec()))
    assert (registry.all_workers()["w"].principal, registry.workflows()[ORDERS].owner) == ("", "")
    outcomes = registry.register(registration("w", "elsewhere", spec(input_schema={})))
    assert all(outcome["ok"] for outcome in outcomes)
    assert registry.workflows()[ORDERS].spec.task_queue == "elsewhere"
    assert registry.worker_op(unregister_op(WorkerRef("w")))["ok"]


def test_auth_off_keeps_an_owner_recorded_earlier() -> None:
    registry = owned_by_p()
    registry.register(registration("w", "orders", spec(description="new")))
    assert registry.workflows()[ORDERS].owner == P


def test_the_owner_re_registers_its_worker_others_may_not() -> None:
    registry = owned_by_p()
    assert registry.register(registration("p-1", "orders", spec(), principal=P))[-1]["ok"]
    before = registry.snapshot()
    outcome = registry.worker_op(register_op(registration("p-1", "orders", spec(), principal=Q)))
    assert refusal(outcome) == ("PERMISSION_DENIED", "NOT_OWNER")
    assert [(v["field"], v["reason"]) for v in outcome["violations"]] == [
        ("worker_id", "not_owner")
    ]
    assert outcome["message"] == (
        f"worker_id: worker 'p-1' was registered by principal {P}; only that principal or "
        "an admin may heartbeat, unregister or re-register it"
    )
    assert registry.snapshot() == before


@pytest.mark.parametrize(
    ("principal", "admin", "allowed"),
    [(P, False, True), (Q, False, False), (ADMIN, True, True), ("", False, True)],
    ids=["its-own", "another-principals", "admin", "auth-off"],
)
def test_unregister_and_heartbeat_need_the_workers_principal(
    principal: str, admin: bool, allowed: bool
) -> None:
    registry = owned_by_p()
    heartbeat = worker_owner_refusal("p-1", P, principal, admin)
    outcome = registry.worker_op(unregister_op(WorkerRef("p-1", principal, admin)))
    if allowed:
        assert heartbeat is None and outcome["ok"] and outcome["entries"] == {"p-1": None}
    else:
        assert heartbeat is not None and (heartbeat.code, heartbeat.reason) == refusal(outcome)
        assert refusal(outcome) == ("PERMISSION_DENIED", "NOT_OWNER")
        assert fields(outcome) == ["worker_id"]
        assert "p-1" in registry.all_workers()


def test_an_unknown_worker_is_not_found_before_ownership_is_checked() -> None:
    outcome = owned_by_p().worker_op(unregister_op(WorkerRef("nope", Q)))
    assert refusal(outcome) == ("NOT_FOUND", "WORKER_NOT_FOUND")
    assert outcome["message"] == "worker 'nope' is not registered"
    assert outcome["violations"] == []


def test_not_found_message_shortens_a_long_worker_id() -> None:
    outcome = Registry().worker_op(unregister_op(WorkerRef("x" * 10_000)))
    assert refusal(outcome) == ("NOT_FOUND", "WORKER_NOT_FOUND")
    assert len(outcome["message"]) < 300


def test_a_worker_registered_without_a_principal_is_anyones() -> None:
    registry = registered(registration("old", "orders", spec()))
    assert worker_owner_refusal("old", "", Q, False) is None
    assert registry.register(registration("old", "orders", spec(), principal=Q))[-1]["ok"]
    assert registry.all_workers()["old"].principal == Q


def test_an_admin_re_registering_a_worker_records_itself() -> None:
    registry = owned_by_p()
    registry.register(registration("p-1", "orders", spec(), principal=ADMIN, admin=True))
    assert registry.all_workers()["p-1"].principal == ADMIN
    assert registry.workflows()[ORDERS].owner == P  # the type keeps its owner


# --- ownership of workflow types --------------------------------------------------------------


def test_another_principal_may_not_move_an_owned_type_to_its_queue() -> None:
    registry = owned_by_p()
    before = registry.snapshot()
    (outcome,) = registry.register(registration("q-1", "evil", spec(), principal=Q))
    assert refusal(outcome) == ("PERMISSION_DENIED", "NOT_OWNER")
    assert fields(outcome) == ["workflows[0].workflow_type"]
    assert outcome["message"] == (
        f"workflows[0].workflow_type: is owned by principal {P}: only that principal or an "
        "admin may run it on another task queue (it runs on 'orders', this worker polls 'evil')"
    )
    assert registry.snapshot() == before


def test_another_principal_may_not_change_an_owned_types_declaration() -> None:
    registry = owned_by_p()
    dropped = spec(input_schema={})
    (outcome,) = registry.register(registration("q-1", "orders", dropped, principal=Q))
    assert refusal(outcome) == ("PERMISSION_DENIED", "NOT_OWNER")
    assert "differs in input_schema" in outcome["violations"][0]["description"]
    several = spec(version="2", input_schema={}, labels={})
    (outcome,) = registry.register(registration("q-1", "orders", several, principal=Q))
    assert outcome["message"].endswith("(this one differs in version, input_schema, labels)")


def test_a_declaration_names_the_index_it_came_from() -> None:
    registry = owned_by_p()
    reg = registration("q", "orders", spec("new.v1"), spec(input_schema={}), principal=Q)
    outcomes = [registry.type_op(declare_op(reg, i, keep_queue=False)) for i in range(2)]
    assert outcomes[0]["ok"]
    assert fields(outcomes[1]) == ["workflows[1].workflow_type"]
    without_index = {k: v for k, v in declare_op(reg, 1, keep_queue=False).items() if k != "index"}
    assert fields(registry.type_op(without_index)) == ["workflow_type"]


def test_another_principal_may_run_an_owned_type_exactly_as_declared() -> None:
    registry = owned_by_p()
    types_before = dict(registry.types.state["entries"])
    declared, worker = registry.register(registration("q-1", "orders", spec(), principal=Q))
    assert declared["result"] == {"changed": False, "version": 1} and worker["ok"]
    assert registry.types.state["entries"] == types_before
    assert registry.all_workers()["q-1"].principal == Q


def test_the_owner_changes_and_moves_its_own_type() -> None:
    registry = owned_by_p()
    registry.register(registration("p-1", "orders-v2", spec(input_schema={}), principal=P))
    stored = registry.workflows()[ORDERS]
    assert (stored.spec.task_queue, stored.spec.input_schema, stored.owner) == ("orders-v2", {}, P)


def test_an_admin_changes_and_moves_any_type_and_it_keeps_its_owner() -> None:
    registry = owned_by_p()
    admin = registration("a-1", "orders", spec(input_schema={}), principal=ADMIN, admin=True)
    assert all(outcome["ok"] for outcome in registry.register(admin))
    assert registry.workflows()[ORDERS].spec.input_schema == {}
    registry.worker_op(unregister_op(WorkerRef("p-1", P)))
    registry.register(registration("a-1", "elsewhere", spec(), principal=ADMIN, admin=True))
    stored = registry.workflows()[ORDERS]
    assert (stored.spec.task_queue, stored.owner) == ("elsewhere", P)


def test_an_admins_registration_leaves_a_new_type_for_its_first_worker_principal() -> None:
    registry = registered(registration("a-1", "orders", spec(), principal=ADMIN, admin=True))
    assert registry.workflows()[ORDERS].owner == ""
    assert registry.all_workers()["a-1"].principal == ADMIN  # the worker is still the admin's
    registry.register(registration("p-1", "orders", spec(), principal=P))
    assert registry.workflows()[ORDERS].owner == P


def test_ownership_outlives_the_owners_workers() -> None:
    registry = owned_by_p()
    registry.worker_op(unregister_op(WorkerRef("p-1", P)))
    assert registry.all_workers() == {} and registry.workflows()[ORDERS].owner == P
    (outcome,) = registry.register(registration("q-1", "evil", spec(), principal=Q))
    assert refusal(outcome) == ("PERMISSION_DENIED", "NOT_OWNER")


def test_an_unowned_type_is_claimed_by_its_next_registrant_even_unchanged() -> None:
    registry = Registry()
    registry.type_op(put_op(WorkflowWrite(spec(task_queue="orders"))))  # an operator's: unowned
    before = registry.workflows()[ORDERS]
    declared, _ = registry.register(registration("q-1", "orders", spec(), principal=Q), NOW + 1)
    assert declared["result"] == {"changed": False, "version": 1}  # the spec did not change
    assert registry.workflows()[ORDERS] == replace(before, owner=Q, update_time_epoch=NOW + 1)


def test_delete_releases_a_type() -> None:
    registry = owned_by_p()
    assert registry.type_op(delete_op(WorkflowDeletion(ORDERS)))["result"] == {"deleted": True}
    registry.register(registration("q-1", "evil", spec(), principal=Q))
    assert registry.workflows()[ORDERS].owner == Q


@pytest.mark.parametrize(
    ("owner", "expected"),
    [(None, P), ("", ""), (Q, Q)],
    ids=["unset-keeps", "empty-releases", "name-transfers"],
)
def test_an_operator_write_keeps_releases_or_transfers_the_owner(
    owner: str | None, expected: str
) -> None:
    registry = owned_by_p()
    stored = registry.workflows()[ORDERS]
    registry.type_op(put_op(WorkflowWrite(stored.spec, owner=owner)))
    assert registry.workflows()[ORDERS].owner == expected


def test_an_operator_created_type_is_unowned_unless_given_an_owner() -> None:
    registry = Registry()
    registry.type_op(put_op(WorkflowWrite(spec(task_queue="q"))))
    registry.type_op(put_op(WorkflowWrite(spec("b.v1", task_queue="q"), owner=P)))
    assert registry.workflows()[ORDERS].owner == ""
    assert registry.workflows()["b.v1"].owner == P


def test_toggling_keeps_the_owner() -> None:
    registry = owned_by_p()
    registry.type_op(toggle_op(WorkflowToggle(ORDERS, False, "paused")))
    assert registry.workflows()[ORDERS].owner == P


# --- leases -----------------------------------------------------------------------------------


def test_renewal_extends_leases_by_the_workflows_clock_skipping_unknown_workers() -> None:
    registry = registered(registration("w1"), registration("w2"))  # leases end at NOW + 30
    outcome = registry.worker_op(renew_op({"w1": 5.0, "gone": 0.0}), NOW + 20)
    assert outcome["result"] == {"renewed": 1} and list(outcome["entries"]) == ["w1"]
    workers = registry.all_workers()
    assert workers["w1"].lease_expires_epoch == NOW + 20 - 5 + 30  # seen 5 s before now
    assert workers["w2"].lease_expires_epoch == NOW + 30
    assert workers["w1"] == replace(workers["w2"], worker_id="w1", lease_expires_epoch=NOW + 45)


def test_renewal_never_shortens_a_lease() -> None:
    registry = registered()
    for ago in (0.0, 0.5, 10, 1e300):  # at NOW, a renewal can only reach NOW + 30
        outcome = registry.worker_op(renew_op({"w1": ago}))
        assert (outcome["result"], outcome["entries"]) == ({"renewed": 0}, {})
    assert registry.all_workers()["w1"].lease_expires_epoch == NOW + 30


def test_expiry_rechecks_the_grace_period_against_now() -> None:
    registry = registered(registration("w1"), registration("w2"))  # ttl 30, lease NOW + 30
    registry.worker_op(renew_op({"w2": 0}), NOW + 970)  # w2's lease now ends at NOW + 1000
    end_of_grace = NOW + 30 + 2 * 30
    expiry = expire_op(["w1", "w2", "gone"], grace=2.0)
    assert registry.worker_op(expiry, end_of_grace)["result"] == {"expired": []}
    outcome = registry.worker_op(expiry, end_of_grace + 0.5)
    assert outcome["result"] == {"expired": ["w1"]}  # w2 was renewed since
    assert outcome["entries"] == {"w1": None}
    assert set(registry.all_workers()) == {"w2"}


def test_expiry_with_grace_zero_removes_a_lease_as_soon_as_it_ends() -> None:
    registry = registered()
    assert registry.worker_op(expire_op(["w1"], 0), NOW + 30)["result"] == {"expired": []}
    assert registry.worker_op(expire_op(["w1"], 0), NOW + 30.001)["result"] == {"expired": ["w1"]}


def test_expiry_reports_each_worker_once_in_order() -> None:
    registry = registered(registration("b"), registration("a"))
    outcome = registry.worker_op(expire_op(["b", "a", "b", "a"], 1), NOW + 1000)
    assert outcome["result"] == {"expired": ["a", "b"]}


# --- operator writes --------------------------------------------------------------------------


def test_put_creates_an_enabled_operator_type() -> None:
    registry = Registry()
    operator_spec = spec(task_queue="billing")
    outcome = registry.type_op(put_op(WorkflowWrite(operator_spec)))
    assert outcome["result"] == {"changed": True, "version": 1}
    assert registry.workflows()[ORDERS] == StoredWorkflow(
        spec=operator_spec,
        enabled=True,
        source=SOURCE_OPERATOR,
        update_time_epoch=NOW,
        versions=(FIRST_VERSION,),
        schema_version=1,
    )


def test_put_create_fails_if_the_type_exists() -> None:
    registry = registered()
    before = registry.snapshot()
    outcome = registry.type_op(put_op(WorkflowWrite(spec(task_queue="orders"), create=True)))
    assert refusal(outcome) == ("ALREADY_EXISTS", "WORKFLOW_ALREADY_EXISTS")
    assert outcome["message"] == (
        f"workflow type {ORDERS!r} is already registered; "
        "replace it with PUT /registry/workflows/{workflow_type}"
    )
    assert registry.snapshot() == before
    created = Registry().type_op(put_op(WorkflowWrite(spec(task_queue="orders"), create=True)))
    assert created["ok"]  # fine when it is new


def test_put_replace_keeps_the_enabled_state_when_enabled_is_null() -> None:
    registry = registered()
    registry.type_op(toggle_op(WorkflowToggle(ORDERS, False, "paused")))
    new_spec = spec(task_queue="orders", version="2")
    outcome = registry.type_op(put_op(WorkflowWrite(new_spec)), NOW + 5)
    assert outcome["result"] == {"changed": True, "version": 1}
    stored = registry.workflows()[ORDERS]
    assert (stored.enabled, stored.disabled_reason) == (False, "paused")
    assert (stored.spec, stored.source, stored.update_time_epoch) == (
        new_spec,
        SOURCE_OPERATOR,
        NOW + 5,
    )


@pytest.mark.parametrize(
    ("stored_enabled", "enabled", "expected"),
    [
        (True, False, (False, "disabled by an operator")),
        (False, False, (False, "paused")),
        (False, True, (True, "")),
        (True, True, (True, "")),
        (True, None, (True, "")),
    ],
    ids=["disable", "stay-disabled", "enable", "stay-enabled", "keep-enabled"],
)
def test_put_replace_sets_enabled_and_reason(
    stored_enabled: bool, enabled: bool | None, expected: tuple[bool, str]
) -> None:
    registry = registered()
    if not stored_enabled:
        registry.type_op(toggle_op(WorkflowToggle(ORDERS, False, "paused")))
    outcome = registry.type_op(put_op(WorkflowWrite(registry.workflows()[ORDERS].spec, enabled)))
    stored = registry.workflows()[ORDERS]
    assert (stored.enabled, stored.disabled_reason) == expected
    assert outcome["result"] == {"changed": False, "version": 1}  # same spec


def test_put_with_an_unchanged_spec_still_takes_over_the_source() -> None:
    registry = registered()
    outcome = registry.type_op(put_op(WorkflowWrite(registry.workflows()[ORDERS].spec)), NOW + 1)
    assert outcome["ok"] and outcome["result"] == {"changed": False, "version": 1}
    assert registry.workflows()[ORDERS].source == SOURCE_OPERATOR


def test_deleting_an_unknown_type_is_not_found_unless_allowed() -> None:
    registry = registered()
    outcome = registry.type_op(delete_op(WorkflowDeletion("missing")))
    assert refusal(outcome) == ("NOT_FOUND", "WORKFLOW_NOT_FOUND")
    assert outcome["message"] == "workflow type 'missing' is not registered"
    allowed = registry.type_op(delete_op(WorkflowDeletion("missing", allow_missing=True)))
    assert (allowed["result"], allowed["entries"]) == ({"deleted": False}, {})
    deleted = registry.type_op(delete_op(WorkflowDeletion(ORDERS, allow_missing=True)))
    assert (deleted["result"], deleted["entries"]) == ({"deleted": True}, {ORDERS: None})
    assert set(registry.workflows()) == {REFUND}


def test_disabling_stores_the_stripped_reason_and_enabling_clears_it() -> None:
    registry = registered()
    outcome = registry.type_op(toggle_op(WorkflowToggle(ORDERS, False, "  bad deploy \n")), NOW + 1)
    assert outcome["result"] == {"changed": True}
    stored = registry.workflows()[ORDERS]
    assert (stored.enabled, stored.disabled_reason, stored.update_time_epoch) == (
        False,
        "bad deploy",
        NOW + 1,
    )
    again = registry.type_op(toggle_op(WorkflowToggle(ORDERS, False, "another")), NOW + 2)
    assert again["result"] == {"changed": True}
    assert registry.workflows()[ORDERS].disabled_reason == "another"
    registry.type_op(toggle_op(WorkflowToggle(ORDERS, True, "ignored")), NOW + 3)
    stored = registry.workflows()[ORDERS]
    assert (stored.enabled, stored.disabled_reason) == (True, "")


def test_a_toggle_to_the_same_state_changes_nothing() -> None:
    registry = registered()
    entry = registry.types.state["entries"][ORDERS]
    outcome = registry.type_op(toggle_op(WorkflowToggle(ORDERS, True)), NOW + 1)
    assert (outcome["result"], outcome["entries"]) == ({"changed": False}, {})
    registry.type_op(toggle_op(WorkflowToggle(ORDERS, False, "x")))
    same = registry.type_op(toggle_op(WorkflowToggle(ORDERS, False, " x ")), NOW + 2)
    assert same["result"] == {"changed": False}
    assert entry != registry.types.state["entries"][ORDERS]


def test_toggling_an_unknown_type_is_not_found() -> None:
    outcome = registered().type_op(toggle_op(WorkflowToggle("missing", False, "x")))
    assert refusal(outcome) == ("NOT_FOUND", "WORKFLOW_NOT_FOUND")


# --- schemas ----------------------------------------------------------------------------------


def test_schemas_are_stored_once_per_shard_and_dropped_with_their_last_user() -> None:
    registry = Registry()
    same = {"properties": {"id": {"type": "string"}}, "type": "object"}  # SCHEMA, other order
    registry.type_op(put_op(WorkflowWrite(spec("a.v1", task_queue="q"))))
    outcome = registry.type_op(
        put_op(WorkflowWrite(spec("b.v1", task_queue="q", input_schema=same)))
    )
    digest = schema_digest(SCHEMA)
    assert schema_digest(same) == digest and len(digest) == 32
    assert registry.types.state["blobs"] == {
        digest: json.dumps(SCHEMA, separators=(",", ":"), sort_keys=True)
    }
    assert "blobs" not in outcome  # already stored
    assert registry.workflows()["b.v1"].spec.input_schema == SCHEMA
    # A changed schema is a new blob; the old one stays while a type uses it, as its current
    # schema or as a kept version.
    other = {"type": "object"}
    registry.type_op(put_op(WorkflowWrite(spec("a.v1", task_queue="q", input_schema=other))))
    assert set(registry.types.state["blobs"]) == {digest, schema_digest(other)}
    gone = registry.type_op(delete_op(WorkflowDeletion("b.v1")))
    assert "blobs" not in gone  # a.v1's version 1
    assert [v.number for v in registry.workflows()["a.v1"].versions] == [1, 2]
    gone = registry.type_op(delete_op(WorkflowDeletion("a.v1")))
    assert gone["blobs"] == {digest: None, schema_digest(other): None}
    assert registry.types.state["blobs"] == {}
    assert registry.types.size == CONVERTER.to_payloads([registry.types.state])[0].ByteSize()


def test_an_empty_schema_is_no_blob() -> None:
    registry = Registry()
    registry.type_op(put_op(WorkflowWrite(spec(task_queue="q", input_schema={}))))
    entry = json.loads(registry.types.state["entries"][ORDERS])
    assert (entry["schema"], "_refs" in entry, registry.types.state["blobs"]) == ("", False, {})
    assert schema_digest({}) == ""
    assert registry.workflows()[ORDERS].spec.input_schema == {}


# --- size: the largest valid entries -----------------------------------------------------------


def largest_labels(prefix: str) -> dict[str, str]:
    """The most labels, the longest keys and values, non-ASCII: six bytes a character once
    the payload converter escapes them."""
    key = MAX_LABEL_KEY_LENGTH - len(prefix) - 2
    return {f"{prefix}{i:02d}" + "k" * key: "é" * MAX_LABEL_VALUE_LENGTH for i in range(MAX_LABELS)}


def largest_schema() -> dict[str, Any]:
    """An input schema of MAX_INPUT_SCHEMA_BYTES as json.dumps writes it."""
    frame = {"type": "object", "description": ""}
    return {**frame, "description": "d" * (MAX_INPUT_SCHEMA_BYTES - len(json.dumps(frame)))}


def test_the_largest_worker_and_schema_fit_an_empty_shard_at_the_smallest_bound() -> None:
    """At registry.shard_max_bytes' minimum, a registration at every limit is stored, not
    refused: the bound is about how many entries a shard holds, never about a valid one."""
    longest = "w" * MAX_IDENTIFIER_LENGTH
    reg = registration(
        longest,
        "q" * MAX_IDENTIFIER_LENGTH,
        spec("t" * MAX_IDENTIFIER_LENGTH, input_schema=largest_schema(), labels={"team": "x"}),
        labels=largest_labels("w"),
    )
    registry = Registry(Limits(max_bytes=MIN_SHARD_BYTES))
    assert all(outcome["ok"] for outcome in registry.register(reg))
    for shard in (registry.workers, registry.types):
        assert CONVERTER.to_payloads([shard.state])[0].ByteSize() == shard.size <= MIN_SHARD_BYTES
    assert registry.all_workers()[longest].labels == reg.labels


def test_an_entry_no_shard_could_hold_is_refused_as_too_large_and_the_shard_keeps_working() -> None:
    """A type at every limit at once (the largest schema, labels, warnings and search
    attributes, non-ASCII) is larger than a shard at the smallest bound may hold: refused
    ENTRY_TOO_LARGE (more shards would not help), nothing stored, and the shard takes the
    next write."""
    huge = spec(
        ORDERS,
        input_schema=largest_schema(),
        labels=largest_labels("t"),
        description="é" * 10_000,
        schedule_input_warnings=[
            InputWarningSpec(
                "f" * (MAX_INPUT_WARNING_FIELD_LENGTH - 2) + f"{i:02d}",
                "é" * MAX_INPUT_WARNING_MESSAGE_LENGTH,
            )
            for i in range(MAX_INPUT_WARNINGS)
        ],
        search_attributes=[
            SearchAttributeSpec(
                f"Attr{i:02d}", "Keyword", "é" * MAX_SEARCH_ATTRIBUTE_DESCRIPTION_LENGTH
            )
            for i in range(MAX_SEARCH_ATTRIBUTES)
        ],
    )
    registry = Registry(Limits(max_bytes=MIN_SHARD_BYTES))
    before = registry.snapshot()
    (outcome,) = registry.register(registration("w1", "orders", huge))
    assert refusal(outcome) == ("RESOURCE_EXHAUSTED", "ENTRY_TOO_LARGE")
    assert "registry.shard_max_bytes" in outcome["message"]
    assert registry.snapshot() == before
    assert all(outcome["ok"] for outcome in registry.register(registration()))


def test_a_full_shard_says_so_and_frees_room_on_delete() -> None:
    """SHARD_FULL, not ENTRY_TOO_LARGE, once entries that would each fit fill the shard."""
    registry = Registry(Limits(max_bytes=MIN_SHARD_BYTES))
    outcomes: list[dict[str, Any]] = []
    for n in range(20):
        reg = registration(f"w{n:02d}", "orders", spec(ORDERS), labels=largest_labels(f"{n:02d}"))
        outcomes = registry.register(reg)
        if not outcomes[-1]["ok"]:
            break
    assert refusal(outcomes[-1]) == ("RESOURCE_EXHAUSTED", "SHARD_FULL")
    assert 1 < n < 20
    assert registry.worker_op(unregister_op(WorkerRef("w00")))["ok"]
    assert all(outcome["ok"] for outcome in registry.register(reg))


# --- the encoding -----------------------------------------------------------------------------


def test_entries_read_back_as_the_model_they_were_made_from() -> None:
    worker = StoredWorker("w1", "q", "prod", {"a": "b"}, 30, [ORDERS], NOW, NOW + 30.5, P)
    assert stored_worker("w1", worker_entry(worker)) == worker
    workflow = StoredWorkflow(
        spec(
            task_queue="q",
            schedule_input_warnings=[InputWarningSpec("id", "set it")],
            search_attributes=[SearchAttributeSpec("OrderId", "Keyword", "the order")],
        ),
        enabled=False,
        disabled_reason="paused",
        source=SOURCE_OPERATOR,
        update_time_epoch=NOW,
        owner=P,
    )
    entry = type_entry(workflow)  # as a 0.2 migration stores it: no versions yet
    assert entry["_refs"] == [entry["schema"]] == [schema_digest(SCHEMA)]
    read = stored_workflow(ORDERS, entry, {schema_digest(SCHEMA): SCHEMA})
    version = SchemaVersion(1, schema_digest(SCHEMA), SCHEMA, NOW)
    assert read == replace(workflow, versions=(version,), schema_version=1)
    assert entry["spec"] == spec_fields(workflow.spec)


# --- hostile operations: a refusal, never an exception ----------------------------------------

NAN, INF = float("nan"), float("inf")
HUGE = 10**400  # parses from JSON as an int; too large for a float
DEEP: Any = []
for _ in range(5_000):  # deeper than json (or the payload converter) could ever write
    DEEP = [DEEP]


def with_(op: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of op with the field at the dotted path set to value (the `...` sentinel
    removes it)."""
    out = json.loads(json.dumps(op))
    *parents, last = path.split(".")
    target = out
    for name in parents:
        target = target[name]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return out


REGISTER = register_op(registration(principal=P))
DECLARE = declare_op(registration(principal=P), 0, keep_queue=False)
PUT = put_op(WorkflowWrite(spec(task_queue="orders")))
WORKER_HOSTILE: list[tuple[str, Any]] = [
    ("not-an-object", ["register"]),
    ("non-string-key", {"op": "register", 1: "x"}),
    ("no-op-name", {"key": "w1"}),
    ("unknown-op", {"op": "explode"}),
    ("op-name-list", {"op": ["register"]}),
    ("register-no-key", with_(REGISTER, "key", ...)),
    ("register-key-int", with_(REGISTER, "key", 5)),
    ("register-key-empty", with_(REGISTER, "key", "")),
    ("register-key-surrogate", with_(REGISTER, "key", "\ud800")),
    ("register-worker-none", with_(REGISTER, "worker", None)),
    ("register-worker-list", with_(REGISTER, "worker", [REGISTER["worker"]])),
    ("register-worker-deep", with_(REGISTER, "worker", DEEP)),
    ("register-no-ttl", with_(REGISTER, "worker.ttl", ...)),
    ("register-ttl-bool", with_(REGISTER, "worker.ttl", True)),
    ("register-ttl-float", with_(REGISTER, "worker.ttl", 30.0)),
    ("register-ttl-zero", with_(REGISTER, "worker.ttl", 0)),
    ("register-ttl-negative", with_(REGISTER, "worker.ttl", -1)),
    ("register-ttl-nan", with_(REGISTER, "worker.ttl", NAN)),
    ("register-ttl-huge", with_(REGISTER, "worker.ttl", HUGE)),
    ("register-ttl-2-53", with_(REGISTER, "worker.ttl", 2**53)),
    ("register-ttl-str", with_(REGISTER, "worker.ttl", "30")),
    ("register-labels-list", with_(REGISTER, "worker.labels", [["a", "b"]])),
    ("register-labels-int-value", with_(REGISTER, "worker.labels", {"a": 1})),
    ("register-labels-nested", with_(REGISTER, "worker.labels", {"a": {"b": "c"}})),
    ("register-workflows-str", with_(REGISTER, "worker.workflows", ORDERS)),
    ("register-workflows-int", with_(REGISTER, "worker.workflows", [1])),
    ("register-environment-none", with_(REGISTER, "worker.environment", None)),
    ("register-task-queue-missing", with_(REGISTER, "worker.task_queue", ...)),
    ("register-principal-none", with_(REGISTER, "principal", None)),
    ("register-admin-str", with_(REGISTER, "admin", "yes")),
    ("register-admin-int", with_(REGISTER, "admin", 1)),
    ("register-admin-missing", with_(REGISTER, "admin", ...)),
    ("unregister-key-none", {"op": "unregister", "key": None, "principal": "", "admin": False}),
    ("unregister-key-list", {"op": "unregister", "key": ["w1"], "principal": "", "admin": False}),
    ("unregister-principal-int", {"op": "unregister", "key": "w1", "principal": 5, "admin": False}),
    ("unregister-admin-int", {"op": "unregister", "key": "w1", "principal": P, "admin": 1}),
    ("renew-no-seen", {"op": "renew"}),
    ("renew-seen-list", {"op": "renew", "seen": [["w1", 1.0]]}),
    ("renew-seen-empty", {"op": "renew", "seen": {}}),
    ("renew-too-many", renew_op({str(i): 0.0 for i in range(MAX_BATCH + 1)})),
    ("renew-nan", renew_op({"w1": NAN})),
    ("renew-inf", renew_op({"w1": INF})),
    ("renew-negative", renew_op({"w1": -1.0})),
    ("renew-huge", renew_op({"w1": HUGE})),
    ("renew-str", {"op": "renew", "seen": {"w1": "1"}}),
    ("renew-bool", {"op": "renew", "seen": {"w1": True}}),
    ("renew-none", {"op": "renew", "seen": {"w1": None}}),
    ("renew-unknown-worker-nan", renew_op({"gone": NAN})),
    ("renew-int-key", {"op": "renew", "seen": {1: 0.0}}),
    ("expire-no-workers", {"op": "expire", "grace": 2.0}),
    ("expire-workers-str", {"op": "expire", "workers": "w1", "grace": 2.0}),
    ("expire-workers-empty", expire_op([], 2.0)),
    ("expire-workers-int", {"op": "expire", "workers": [5], "grace": 2.0}),
    ("expire-too-many", expire_op(["w1"] * (MAX_BATCH + 1), 2.0)),
    ("expire-grace-none", {"op": "expire", "workers": ["w1"], "grace": None}),
    ("expire-grace-bool", expire_op(["w1"], True)),
    ("expire-grace-nan", expire_op(["w1"], NAN)),
    ("expire-grace-inf", expire_op(["w1"], INF)),
    ("expire-grace-negative", expire_op(["w1"], -1)),
    ("expire-grace-huge", expire_op(["w1"], HUGE)),
]
TYPE_HOSTILE: list[tuple[str, Any]] = [
    ("not-an-object", None),
    ("unknown-op", {"op": "register"}),
    ("declare-no-spec", with_(DECLARE, "spec", ...)),
    ("declare-spec-none", with_(DECLARE, "spec", None)),
    ("declare-spec-str", with_(DECLARE, "spec", "orders")),
    ("declare-task-queue-int", with_(DECLARE, "spec.task_queue", 7)),
    ("declare-version-missing", with_(DECLARE, "spec.version", ...)),
    ("declare-labels-list", with_(DECLARE, "spec.labels", ["a"])),
    ("declare-warnings-dict", with_(DECLARE, "spec.schedule_input_warnings", {"field": "x"})),
    ("declare-warning-str", with_(DECLARE, "spec.schedule_input_warnings", ["x"])),
    (
        "declare-warning-field-none",
        with_(DECLARE, "spec.schedule_input_warnings", [{"field": None, "message": "m"}]),
    ),
    ("declare-attributes-str", with_(DECLARE, "spec.search_attributes", "OrderId")),
    (
        "declare-attribute-name-int",
        with_(DECLARE, "spec.search_attributes", [{"name": 1, "type": "Int", "description": ""}]),
    ),
    (
        "declare-attribute-no-type",
        with_(DECLARE, "spec.search_attributes", [{"name": "A", "description": ""}]),
    ),
    ("declare-schema-list", with_(DECLARE, "schema", [])),
    ("declare-schema-none", with_(DECLARE, "schema", None)),
    ("declare-schema-nan", with_(DECLARE, "schema", {"maximum": NAN})),
    ("declare-schema-inf", with_(DECLARE, "schema", {"maximum": INF})),
    ("declare-schema-huge", with_(DECLARE, "schema", {"maximum": HUGE})),
    ("declare-schema-set", {**DECLARE, "schema": {"enum": {1, 2}}}),
    ("declare-schema-bytes", {**DECLARE, "schema": {"const": b"x"}}),
    ("declare-schema-int-key", {**DECLARE, "schema": {1: "x"}}),
    ("declare-schema-deep", with_(DECLARE, "schema", {"items": DEEP})),
    ("declare-schema-surrogate", with_(DECLARE, "schema", {"title": "\udfff"})),
    ("declare-keep-queue-str", with_(DECLARE, "keep_queue", "yes")),
    ("declare-keep-queue-missing", with_(DECLARE, "keep_queue", ...)),
    ("declare-index-negative", with_(DECLARE, "index", -1)),
    ("declare-index-str", with_(DECLARE, "index", "0")),
    ("declare-index-bool", with_(DECLARE, "index", True)),
    ("declare-principal-none", with_(DECLARE, "principal", None)),
    ("declare-admin-none", with_(DECLARE, "admin", None)),
    ("put-key-missing", with_(PUT, "key", ...)),
    ("put-key-int", with_(PUT, "key", 5)),
    ("put-enabled-str", with_(PUT, "enabled", "yes")),
    ("put-enabled-int", with_(PUT, "enabled", 1)),
    ("put-enabled-missing", with_(PUT, "enabled", ...)),
    ("put-create-none", with_(PUT, "create", None)),
    ("put-create-str", with_(PUT, "create", "true")),
    ("put-owner-int", with_(PUT, "owner", 7)),
    ("put-owner-missing", with_(PUT, "owner", ...)),
    ("put-spec-list", with_(PUT, "spec", [])),
    ("delete-key-list", {"op": "delete", "key": [ORDERS], "allow_missing": False}),
    ("delete-key-dict", {"op": "delete", "key": {ORDERS: 1}, "allow_missing": False}),
    ("delete-allow-missing-str", {"op": "delete", "key": "missing", "allow_missing": "yes"}),
    ("delete-allow-missing-int", {"op": "delete", "key": "missing", "allow_missing": 1}),
    ("toggle-enabled-none", {"op": "toggle", "key": ORDERS, "enabled": None, "reason": ""}),
    ("toggle-enabled-zero", {"op": "toggle", "key": ORDERS, "enabled": 0, "reason": "x"}),
    ("toggle-enabled-nan", {"op": "toggle", "key": ORDERS, "enabled": NAN, "reason": "x"}),
    ("toggle-reason-none", {"op": "toggle", "key": ORDERS, "enabled": False, "reason": None}),
    ("toggle-reason-list", {"op": "toggle", "key": ORDERS, "enabled": False, "reason": ["x"]}),
    ("toggle-reason-huge", {"op": "toggle", "key": ORDERS, "enabled": False, "reason": HUGE}),
    ("toggle-key-missing", {"op": "toggle", "enabled": True, "reason": ""}),
]


def assert_malformed(decided: Decision | Refusal) -> None:
    assert isinstance(decided, Refusal)
    assert (decided.code, decided.reason) == ("INVALID_ARGUMENT", "INVALID_OPERATION")
    assert decided.violations and decided.message
    assert decided.message.startswith(decided.violations[0]["field"] + ": ")
    decided.message.encode("utf-8")  # goes into a gRPC status
    json.dumps(decided.violations)


@pytest.mark.parametrize(
    "op", [case[1] for case in WORKER_HOSTILE], ids=[case[0] for case in WORKER_HOSTILE]
)
def test_a_malformed_worker_operation_is_refused_never_raised(op: Any) -> None:
    registry = registered(registration(principal=P))
    before = registry.snapshot()
    assert_malformed(decide_worker_op(op, View(registry.workers, lambda _: True), NOW))
    if isinstance(op, Mapping) and all(isinstance(key, str) for key in op):
        outcome = registry.worker_op(op)  # through the engine: refused, not INTERNAL
        assert refusal(outcome) == ("INVALID_ARGUMENT", "INVALID_OPERATION")
    assert registry.snapshot() == before


@pytest.mark.parametrize(
    "op", [case[1] for case in TYPE_HOSTILE], ids=[case[0] for case in TYPE_HOSTILE]
)
def test_a_malformed_type_operation_is_refused_never_raised(op: Any) -> None:
    registry = registered(registration(principal=P))
    before = registry.snapshot()
    assert_malformed(decide_type_op(op, View(registry.types, lambda _: True), NOW))
    if isinstance(op, Mapping) and all(isinstance(key, str) for key in op):
        outcome = registry.type_op(op)
        assert refusal(outcome) == ("INVALID_ARGUMENT", "INVALID_OPERATION")
    assert registry.snapshot() == before


def test_a_malformed_operation_names_each_bad_field() -> None:
    workers = View(Registry().workers, lambda _: True)
    op = with_(with_(REGISTER, "worker.ttl", "30"), "admin", "no")
    op["worker"]["labels"] = {"a": NAN}
    refused = decide_worker_op(op, workers, NOW)
    assert isinstance(refused, Refusal)  # not plain JSON: refused before anything is read
    assert [v["field"] for v in refused.violations] == ["worker/labels/a"]
    op["worker"]["labels"] = {"a": 1}
    refused = decide_worker_op(op, workers, NOW)
    assert isinstance(refused, Refusal)
    assert [(v["field"], v["reason"]) for v in refused.violations] == [
        ("worker.labels", "invalid_type"),
        ("worker.ttl", "invalid_type"),
        ("admin", "invalid_type"),
    ]
    assert refused.message == "worker.labels: must be an object of string values (and 2 more)"
    bad_renewal = renew_op({"w1": 1.0, "w2": -1.0, "w3": -2.0})
    refused = decide_worker_op(bad_renewal, workers, NOW)
    assert isinstance(refused, Refusal)
    assert [v["field"] for v in refused.violations] == ['seen["w2"]', 'seen["w3"]']


# --- sandbox ----------------------------------------------------------------------------------

SANDBOX_SAFE = {
    "registry.catalog.engine",
    "registry.catalog.op_fields",
    "registry.catalog.shard_rules",
    "registry.catalog.versions",
    "registry.dispatch.claims",
    "registry.shared.model",
    "registry.shared.specs",
    "registry.server.principals",
}
NOT_DETERMINISTIC = {"time", "os", "random", "datetime", "threading", "asyncio", "uuid", "secrets"}


def imports_of(module: str) -> set[str]:
    """The modules a registry module imports, its packages' __init__ included."""
    path = Path(sys.modules[module].__file__ or "")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    return names


@pytest.mark.parametrize("module", [op_fields, shard_rules, claims], ids=lambda m: m.__name__)
def test_the_rules_import_only_what_the_workflow_sandbox_allows(module: Any) -> None:
    """The module and everything of the registry it imports, transitively: the standard
    library (nothing non-deterministic) and the sandbox-safe registry modules."""
    seen, queue = set(), [module.__name__]
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        for imported in imports_of(name):
            top = imported.split(".")[0]
            assert top not in NOT_DETERMINISTIC, f"{name} imports {imported}"
            if top == "registry":
                assert imported in SANDBOX_SAFE, f"{name} imports {imported}"
                queue.append(imported)
            else:
                assert top in sys.stdlib_module_names or top == "__future__", (
                    f"{name} imports {imported}"
                )
    packages = {name.rsplit(".", 1)[0] for name in seen} | {"registry"}
    for package in packages:  # importing a module runs its packages' __init__
        assert imports_of(package) <= {"__future__"}, package
