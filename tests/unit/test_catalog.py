"""registry.catalog.rules: the rules of every registry write, as pure functions over a Catalog.

Plans never mutate the catalogue and never raise anything but Rejection, whatever Python
values a JSON payload turns into; apply_change and the size ledger must stay in step.
"""

from __future__ import annotations

import ast
import copy
import random
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from registry.catalog import rules as catalog_module
from registry.catalog.rules import (
    MAX_BATCH,
    MAX_COUNTER,
    MAX_DISABLED_REASON_LENGTH,
    MAX_HANDOVER_REASON_LENGTH,
    MAX_REMEMBERED_CLAIMS,
    Rejection,
    SizeLedger,
    apply_change,
    check_budget,
    check_handover,
    entry_bytes,
    plan_claim_slug,
    plan_delete_workflow,
    plan_expire_workers,
    plan_put_workflow,
    plan_register_worker,
    plan_renew_leases,
    plan_reset_slug,
    plan_toggle_workflow,
    plan_unregister_worker,
)
from registry.shared.model import (
    SOURCE_OPERATOR,
    SOURCE_WORKER,
    Catalog,
    CatalogChange,
    FieldViolation,
    Handover,
    InputWarningSpec,
    LeaseRenewals,
    SearchAttributeSpec,
    SlugClaim,
    SlugCounter,
    SlugReset,
    StoredWorker,
    StoredWorkflow,
    WorkerExpiry,
    WorkerRef,
    WorkerRegistration,
    WorkflowDeletion,
    WorkflowSpec,
    WorkflowToggle,
    WorkflowWrite,
)
from registry.shared.specs import DEFAULT_TTL_SECONDS

NOW = 1_800_000_000.0
ORDERS = "orders.process.v1"
REFUND = "orders.refund.v1"

# --- helpers ---------------------------------------------------------------------------------


def spec(workflow_type: str = ORDERS, **changes: Any) -> WorkflowSpec:
    base = WorkflowSpec(
        workflow_type=workflow_type,
        version="1.0.0",
        description="Processes an order.",
        input_schema={"type": "object", "properties": {"id": {"type": "string"}}},
        labels={"team": "orders"},
    )
    return replace(base, **changes)


def registration(
    worker_id: str = "w1", task_queue: str = "orders", **changes: Any
) -> WorkerRegistration:
    base = WorkerRegistration(
        worker_id=worker_id,
        task_queue=task_queue,
        environment="prod",
        labels={"zone": "a"},
        ttl_seconds=30,
        workflows=[spec(ORDERS), spec(REFUND, task_queue=task_queue)],
    )
    return replace(base, **changes)


def apply(catalog: Catalog, change: CatalogChange) -> CatalogChange:
    apply_change(catalog, change)
    return change


def registered(*registrations: WorkerRegistration, now: float = NOW) -> Catalog:
    catalog = Catalog()
    for r in registrations or (registration(),):
        apply(catalog, plan_register_worker(catalog, r, now))
    return catalog


def rejection(plan: Callable[[], object]) -> Rejection:
    with pytest.raises(Rejection) as info:
        plan()
    return info.value


def violated_fields(error: Rejection) -> dict[str, str]:
    return {v.field: v.reason for v in error.violations}


def test_catalog_imports_only_the_standard_library_and_sandbox_safe_modules() -> None:
    tree = ast.parse(Path(catalog_module.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    outside = {name for name in imported if name.split(".")[0] not in sys.stdlib_module_names}
    assert outside <= {
        "__future__",
        "registry.shared.model",
        "registry.server.principals",
        "registry.shared.slugs",
        "registry.shared.specs",
    }
    assert not {name.split(".")[0] for name in imported} & {"time", "os", "random", "datetime"}


# --- registration ----------------------------------------------------------------------------


def test_registration_stores_the_worker_and_its_specs_on_its_task_queue() -> None:
    catalog = Catalog(revision=4)
    change = apply(catalog, plan_register_worker(catalog, registration(), NOW))

    worker = StoredWorker(
        worker_id="w1",
        task_queue="orders",
        environment="prod",
        labels={"zone": "a"},
        ttl_seconds=30,
        workflows=[ORDERS, REFUND],
        registered_epoch=NOW,
        lease_expires_epoch=NOW + 30,
    )
    assert change.revision == 5 == catalog.revision
    assert change.workers == [worker]
    assert catalog.workers == {"w1": worker}
    assert change.changed_workflows == [ORDERS, REFUND]
    assert change.deleted_workers == change.deleted_workflows == []
    stored = catalog.workflows[ORDERS]
    assert stored == StoredWorkflow(
        spec=spec(ORDERS, task_queue="orders"),  # declared with no task queue
        enabled=True,
        disabled_reason="",
        source=SOURCE_WORKER,
        update_time_epoch=NOW,
    )
    assert catalog.workflows[REFUND].spec.task_queue == "orders"


def test_registration_copies_the_labels_it_was_given() -> None:
    r = registration()
    catalog = registered(r)
    r.labels["zone"] = "b"
    assert catalog.workers["w1"].labels == {"zone": "a"}


def test_reregistration_with_a_changed_spec_replaces_it_and_reports_it() -> None:
    catalog = registered()
    changed = spec(ORDERS, version="2.0.0", input_schema={"type": "object"})
    r = registration(workflows=[changed, spec(REFUND)])
    change = apply(catalog, plan_register_worker(catalog, r, NOW + 10))

    assert change.changed_workflows == [ORDERS]
    assert [w.spec.workflow_type for w in change.workflows] == [ORDERS]
    assert catalog.workflows[ORDERS].spec == replace(changed, task_queue="orders")
    assert catalog.workflows[ORDERS].update_time_epoch == NOW + 10
    assert catalog.workflows[REFUND].update_time_epoch == NOW  # untouched


def test_reregistration_with_unchanged_specs_reports_nothing_and_keeps_the_stored_entries() -> None:
    catalog = registered()
    before = dict(catalog.workflows)
    change = apply(catalog, plan_register_worker(catalog, registration(), NOW + 10))

    assert change.changed_workflows == []
    assert change.workflows == []
    assert change.revision == 2  # the lease still changed
    assert catalog.workers["w1"].lease_expires_epoch == NOW + 40
    # Same objects, so caches keyed by identity (convert.WorkflowMessages) stay valid.
    assert all(catalog.workflows[key] is before[key] for key in before)


def test_reregistration_keeps_registered_epoch_and_renews_the_lease() -> None:
    catalog = registered()
    r = registration(environment="staging", labels={}, ttl_seconds=120)
    apply(catalog, plan_register_worker(catalog, r, NOW + 500))

    worker = catalog.workers["w1"]
    assert worker.registered_epoch == NOW
    assert worker.lease_expires_epoch == NOW + 620
    assert (worker.environment, worker.labels, worker.ttl_seconds) == ("staging", {}, 120)


def test_enabled_state_and_disabled_reason_survive_reregistration() -> None:
    catalog = registered()
    apply(catalog, plan_toggle_workflow(catalog, WorkflowToggle(ORDERS, False, "bad"), NOW + 1))
    r = registration(workflows=[spec(ORDERS, version="9"), spec(REFUND)])
    change = apply(catalog, plan_register_worker(catalog, r, NOW + 2))

    assert change.changed_workflows == [ORDERS]
    stored = catalog.workflows[ORDERS]
    assert (stored.enabled, stored.disabled_reason, stored.spec.version) == (False, "bad", "9")
    assert catalog.workflows[REFUND].enabled is True


def test_reregistration_replaces_the_workers_list_but_keeps_dropped_types() -> None:
    catalog = registered()
    apply(catalog, plan_register_worker(catalog, registration(workflows=[spec(REFUND)]), NOW))
    assert catalog.workers["w1"].workflows == [REFUND]
    assert set(catalog.workflows) == {ORDERS, REFUND}


def test_a_worker_spec_replaces_an_operator_spec_and_becomes_the_source() -> None:
    catalog = Catalog()
    write = WorkflowWrite(spec(ORDERS, task_queue="orders", version="op"))
    apply(catalog, plan_put_workflow(catalog, write, NOW))
    assert catalog.workflows[ORDERS].source == SOURCE_OPERATOR
    change = apply(catalog, plan_register_worker(catalog, registration(), NOW + 1))
    assert ORDERS in change.changed_workflows
    assert catalog.workflows[ORDERS].source == SOURCE_WORKER
    assert catalog.workflows[ORDERS].spec.version == "1.0.0"


def test_ttl_zero_means_the_default() -> None:
    catalog = registered(registration(ttl_seconds=0))
    worker = catalog.workers["w1"]
    assert worker.ttl_seconds == DEFAULT_TTL_SECONDS
    assert worker.lease_expires_epoch == NOW + DEFAULT_TTL_SECONDS


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"workflows": [spec(task_queue="other")]}, "workflows[0].task_queue", "not_allowed"),
        ({"workflows": [spec(), spec()]}, "workflows[1].workflow_type", "duplicate"),
        ({"workflows": [spec(workflow_type="")]}, "workflows[0].workflow_type", "required"),
        ({"workflows": []}, "workflows", "required"),
        ({"worker_id": ""}, "worker_id", "required"),
        ({"task_queue": "a b", "workflows": [spec()]}, "task_queue", "invalid_characters"),
        ({"ttl_seconds": 3}, "ttl_seconds", "out_of_range"),
        ({"environment": "pr od"}, "environment", "invalid_characters"),
        ({"labels": {"-bad": "x"}}, 'labels["-bad"]', "invalid_characters"),
    ],
    ids=[
        "foreign-task-queue",
        "duplicate-type",
        "blank-type",
        "no-workflows",
        "blank-worker-id",
        "task-queue-space",
        "ttl-too-short",
        "environment",
        "label-key",
    ],
)
def test_invalid_registration_is_rejected_with_field_violations(
    changes: dict[str, Any], field: str, reason: str
) -> None:
    catalog = Catalog(revision=3)
    error = rejection(lambda: plan_register_worker(catalog, registration(**changes), NOW))
    assert (error.code, error.reason) == ("INVALID_ARGUMENT", "INVALID_REGISTRATION")
    assert violated_fields(error) == {field: reason}
    assert error.message.startswith(f"{field}: ")
    assert str(error) == error.message
    assert catalog == Catalog(revision=3)


def test_rejection_message_counts_the_other_violations() -> None:
    bad = registration(worker_id="", task_queue="", ttl_seconds=1)
    error = rejection(lambda: plan_register_worker(Catalog(), bad, NOW))
    assert len(error.violations) == 3
    assert error.message == "worker_id: is required and must not be blank (and 2 more)"


# --- hostile input: every plan returns a change or raises Rejection, nothing else ------------

NAN, INF = float("nan"), float("inf")
HUGE = 10**400  # parses from JSON as an int; too large for a float
ENORMOUS = 10**5000  # str() of it raises ValueError


def reg(**changes: Any) -> Callable[[Catalog], object]:
    return lambda c: plan_register_worker(c, replace(registration(), **changes), NOW)


def reg_spec(**changes: Any) -> Callable[[Catalog], object]:
    return reg(workflows=[replace(spec(), **changes)])


def put(**changes: Any) -> Callable[[Catalog], object]:
    write = WorkflowWrite(spec(task_queue="orders"))
    return lambda c: plan_put_workflow(c, replace(write, **changes), NOW)


def put_spec(**changes: Any) -> Callable[[Catalog], object]:
    return put(spec=replace(spec(task_queue="orders"), **changes))


def renew(expires_at: object) -> Callable[[Catalog], object]:
    return lambda c: plan_renew_leases(c, LeaseRenewals(expires_at))  # type: ignore[arg-type]


def expire(ids: object, factor: object = 2.0) -> Callable[[Catalog], object]:
    return lambda c: plan_expire_workers(c, WorkerExpiry(ids, factor), NOW + 10_000)  # type: ignore[arg-type]


def toggle(
    workflow_type: object, enabled: object, reason: object = ""
) -> Callable[[Catalog], object]:
    return lambda c: plan_toggle_workflow(c, WorkflowToggle(workflow_type, enabled, reason), NOW)  # type: ignore[arg-type]


def delete(workflow_type: object, allow_missing: object = False) -> Callable[[Catalog], object]:
    return lambda c: plan_delete_workflow(c, WorkflowDeletion(workflow_type, allow_missing))  # type: ignore[arg-type]


def unregister(worker_id: object) -> Callable[[Catalog], object]:
    return lambda c: plan_unregister_worker(c, WorkerRef(worker_id))  # type: ignore[arg-type]


INVALID, NOT_FOUND, NO_OP = "INVALID_ARGUMENT", "NOT_FOUND", None

HOSTILE: list[tuple[str, Callable[[Catalog], object], str | None]] = [
    # plan_register_worker
    ("register-none", lambda c: plan_register_worker(c, None, NOW), INVALID),  # type: ignore[arg-type]
    ("register-dict", lambda c: plan_register_worker(c, {"worker_id": "w"}, NOW), INVALID),  # type: ignore[arg-type]
    ("register-worker-id-none", reg(worker_id=None), INVALID),
    ("register-worker-id-int", reg(worker_id=5), INVALID),
    ("register-worker-id-list", reg(worker_id=["w1"]), INVALID),
    ("register-worker-id-enormous", reg(worker_id=ENORMOUS), INVALID),
    ("register-task-queue-none", reg(task_queue=None), INVALID),
    ("register-environment-int", reg(environment=1), INVALID),
    ("register-labels-none", reg(labels=None), INVALID),
    ("register-labels-list", reg(labels=[("a", "b")]), INVALID),
    ("register-labels-int-key", reg(labels={1: "x"}), INVALID),
    ("register-labels-int-value", reg(labels={"a": 1}), INVALID),
    ("register-ttl-bool", reg(ttl_seconds=True), INVALID),
    ("register-ttl-float", reg(ttl_seconds=30.0), INVALID),
    ("register-ttl-nan", reg(ttl_seconds=NAN), INVALID),
    ("register-ttl-str", reg(ttl_seconds="30"), INVALID),
    ("register-ttl-none", reg(ttl_seconds=None), INVALID),
    ("register-ttl-huge", reg(ttl_seconds=HUGE), INVALID),
    ("register-workflows-none", reg(workflows=None), INVALID),
    ("register-workflows-one-spec", reg(workflows=spec()), INVALID),
    ("register-workflows-dict", reg(workflows=[{"workflow_type": "x"}]), INVALID),
    ("register-workflows-str", reg(workflows=["x"]), INVALID),
    ("register-workflows-item-none", reg(workflows=[None]), INVALID),
    ("register-spec-type-list", reg_spec(workflow_type=["x"]), INVALID),
    ("register-spec-type-none", reg_spec(workflow_type=None), INVALID),
    ("register-spec-task-queue-int", reg_spec(task_queue=7), INVALID),
    ("register-spec-schema-none", reg_spec(input_schema=None), INVALID),
    ("register-spec-schema-list", reg_spec(input_schema=[]), INVALID),
    ("register-spec-schema-nan", reg_spec(input_schema={"maximum": NAN}), INVALID),
    ("register-spec-schema-inf", reg_spec(input_schema={"maximum": INF}), INVALID),
    ("register-spec-schema-huge", reg_spec(input_schema={"maximum": HUGE}), INVALID),
    ("register-spec-schema-set", reg_spec(input_schema={"enum": {1, 2}}), INVALID),
    ("register-spec-warnings-none", reg_spec(schedule_input_warnings=None), INVALID),
    ("register-spec-warnings-dict", reg_spec(schedule_input_warnings=[{"field": "x"}]), INVALID),
    ("register-spec-attributes-dict", reg_spec(search_attributes=[{"name": "X"}]), INVALID),
    (
        "register-spec-attribute-name-int",
        reg_spec(search_attributes=[SearchAttributeSpec(1, "Int")]),  # type: ignore[arg-type]
        INVALID,
    ),
    (
        "register-spec-warning-field-none",
        reg_spec(schedule_input_warnings=[InputWarningSpec(None, "m")]),  # type: ignore[arg-type]
        INVALID,
    ),
    ("register-spec-labels-list", reg_spec(labels=["a"]), INVALID),
    # plan_unregister_worker
    ("unregister-none", lambda c: plan_unregister_worker(c, None), INVALID),  # type: ignore[arg-type]
    ("unregister-str", lambda c: plan_unregister_worker(c, "w1"), INVALID),  # type: ignore[arg-type]
    ("unregister-id-none", unregister(None), NOT_FOUND),
    ("unregister-id-int", unregister(5), NOT_FOUND),
    ("unregister-id-list", unregister(["w1"]), NOT_FOUND),
    ("unregister-id-dict", unregister({"w1": 1}), NOT_FOUND),
    ("unregister-id-enormous", unregister(ENORMOUS), NOT_FOUND),
    ("unregister-id-surrogate", unregister("\ud800"), NOT_FOUND),
    # plan_renew_leases
    ("renew-none", lambda c: plan_renew_leases(c, None), INVALID),  # type: ignore[arg-type]
    ("renew-dict", lambda c: plan_renew_leases(c, {"w1": NOW + 99}), INVALID),  # type: ignore[arg-type]
    ("renew-map-none", renew(None), INVALID),
    ("renew-map-list", renew([("w1", NOW + 99)]), INVALID),
    ("renew-map-empty", renew({}), INVALID),
    ("renew-map-too-big", renew({str(i): NOW for i in range(MAX_BATCH + 1)}), INVALID),
    ("renew-expiry-none", renew({"w1": None}), INVALID),
    ("renew-expiry-str", renew({"w1": "1e20"}), INVALID),
    ("renew-expiry-bool", renew({"w1": True}), INVALID),
    ("renew-expiry-nan", renew({"w1": NAN}), INVALID),
    ("renew-expiry-inf", renew({"w1": INF}), INVALID),
    ("renew-expiry-huge", renew({"w1": HUGE}), INVALID),
    ("renew-expiry-minus-huge", renew({"w1": -HUGE}), INVALID),
    ("renew-expiry-list", renew({"w1": [NOW + 99]}), INVALID),
    ("renew-unknown-worker-bad-expiry", renew({"gone": NAN}), INVALID),
    ("renew-key-none", renew({None: NOW + 99}), INVALID),
    ("renew-key-tuple", renew({("w1",): NOW + 99}), INVALID),
    ("renew-key-enormous", renew({ENORMOUS: NOW + 99}), INVALID),
    ("renew-only-unknown-workers", renew({"gone": NOW + 99, "w9": NOW + 99}), NO_OP),
    # plan_expire_workers
    ("expire-none", lambda c: plan_expire_workers(c, None, NOW), INVALID),  # type: ignore[arg-type]
    ("expire-ids-none", expire(None), INVALID),
    ("expire-ids-str", expire("w1"), INVALID),
    ("expire-ids-dict", expire({"w1": 1}), INVALID),
    ("expire-ids-empty", expire([]), INVALID),
    ("expire-ids-too-many", expire(["w1"] * (MAX_BATCH + 1)), INVALID),
    ("expire-factor-none", expire(["w1"], None), INVALID),
    ("expire-factor-bool", expire(["w1"], True), INVALID),
    ("expire-factor-str", expire(["w1"], "2"), INVALID),
    ("expire-factor-nan", expire(["w1"], NAN), INVALID),
    ("expire-factor-inf", expire(["w1"], INF), INVALID),
    ("expire-factor-negative", expire(["w1"], -1), INVALID),
    ("expire-factor-huge", expire(["w1"], HUGE), INVALID),
    ("expire-ids-of-wrong-types", expire([None, 5, ["w1"], {"w1": 1}, ENORMOUS]), NO_OP),
    # plan_put_workflow
    ("put-none", lambda c: plan_put_workflow(c, None, NOW), INVALID),  # type: ignore[arg-type]
    ("put-spec-none", put(spec=None), INVALID),
    ("put-spec-dict", put(spec={"workflow_type": "x", "task_queue": "q"}), INVALID),
    ("put-enabled-str", put(enabled="yes"), INVALID),
    ("put-enabled-int", put(enabled=1), INVALID),
    ("put-enabled-nan", put(enabled=NAN), INVALID),
    ("put-create-none", put(create=None), INVALID),
    ("put-create-str", put(create="true"), INVALID),
    ("put-type-int", put_spec(workflow_type=5), INVALID),
    ("put-type-enormous", put_spec(workflow_type=ENORMOUS), INVALID),
    ("put-task-queue-none", put_spec(task_queue=None), INVALID),
    ("put-task-queue-blank", put_spec(task_queue=""), INVALID),
    ("put-labels-none", put_spec(labels=None), INVALID),
    ("put-schema-list", put_spec(input_schema=[]), INVALID),
    ("put-schema-inf", put_spec(input_schema={"x": INF}), INVALID),
    ("put-version-bytes", put_spec(version=b"1"), INVALID),
    # plan_delete_workflow
    ("delete-none", lambda c: plan_delete_workflow(c, None), INVALID),  # type: ignore[arg-type]
    ("delete-type-none", delete(None), INVALID),
    ("delete-type-int", delete(5), INVALID),
    ("delete-type-list", delete([ORDERS]), INVALID),
    ("delete-type-dict", delete({ORDERS: 1}), INVALID),
    ("delete-type-blank", delete("  "), INVALID),
    ("delete-type-too-long", delete("x" * 201), INVALID),
    ("delete-allow-missing-str", delete("missing", "yes"), NOT_FOUND),
    ("delete-allow-missing-int", delete("missing", 1), NOT_FOUND),
    # plan_toggle_workflow
    ("toggle-none", lambda c: plan_toggle_workflow(c, None, NOW), INVALID),  # type: ignore[arg-type]
    ("toggle-type-none", toggle(None, True), INVALID),
    ("toggle-type-list", toggle([ORDERS], True), INVALID),
    ("toggle-type-enormous", toggle(ENORMOUS, False, "x"), INVALID),
    ("toggle-enabled-none", toggle(ORDERS, None), INVALID),
    ("toggle-enabled-str", toggle(ORDERS, "false"), INVALID),
    ("toggle-enabled-zero", toggle(ORDERS, 0, "x"), INVALID),
    ("toggle-enabled-nan", toggle(ORDERS, NAN), INVALID),
    ("toggle-reason-none", toggle(ORDERS, False, None), INVALID),
    ("toggle-reason-int", toggle(ORDERS, False, 5), INVALID),
    ("toggle-reason-list", toggle(ORDERS, False, ["why"]), INVALID),
    ("toggle-reason-huge", toggle(ORDERS, False, HUGE), INVALID),
]


@pytest.mark.parametrize(
    ("plan", "expected"), [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE]
)
def test_hostile_input_is_rejected_or_ignored_never_raised(
    plan: Callable[[Catalog], object], expected: str | None
) -> None:
    catalog = registered()
    before = copy.deepcopy(catalog)
    if expected is NO_OP:
        change = plan(catalog)
        assert isinstance(change, CatalogChange)
        assert change.revision == catalog.revision
        assert (change.workers, change.workflows, change.deleted_workers) == ([], [], [])
    else:
        try:
            plan(catalog)
        except Rejection as error:
            assert error.code == expected
            assert error.reason and error.message
            assert all(isinstance(v, FieldViolation) for v in error.violations)
            assert bool(error.violations) == (expected == INVALID)
            error.message.encode("utf-8")  # goes into a gRPC status
        else:
            pytest.fail("the plan was accepted")
    assert catalog == before  # planning never mutates


# --- unregistering ---------------------------------------------------------------------------


def test_unregister_removes_only_the_worker() -> None:
    catalog = registered(registration("w1"), registration("w2"))
    change = apply(catalog, plan_unregister_worker(catalog, WorkerRef("w1")))
    assert change == CatalogChange(revision=3, deleted_workers=["w1"])
    assert set(catalog.workers) == {"w2"}
    assert set(catalog.workflows) == {ORDERS, REFUND}
    assert catalog.revision == 3


def test_unregistering_an_unknown_worker_is_not_found() -> None:
    catalog = registered()
    error = rejection(lambda: plan_unregister_worker(catalog, WorkerRef("w9")))
    assert (error.code, error.reason, error.violations) == ("NOT_FOUND", "WORKER_NOT_FOUND", [])
    assert "'w9'" in error.message


def test_not_found_message_shortens_a_long_worker_id() -> None:
    error = rejection(lambda: plan_unregister_worker(Catalog(), WorkerRef("x" * 10_000)))
    assert len(error.message) < 300


# --- lease renewals --------------------------------------------------------------------------


def test_renewal_extends_leases_skipping_unknown_workers() -> None:
    catalog = registered(registration("w1"), registration("w2"))  # leases end at NOW + 30
    renewals = LeaseRenewals({"w1": NOW + 100, "gone": NOW + 100})
    change = apply(catalog, plan_renew_leases(catalog, renewals))
    assert change.revision == 3
    assert [(w.worker_id, w.lease_expires_epoch) for w in change.workers] == [("w1", NOW + 100)]
    assert catalog.workers["w1"] == replace(
        catalog.workers["w2"], worker_id="w1", lease_expires_epoch=NOW + 100
    )
    assert catalog.workers["w2"].lease_expires_epoch == NOW + 30
    assert "gone" not in catalog.workers


def test_renewal_never_shortens_a_lease() -> None:
    catalog = registered()
    for expiry in (NOW + 30, NOW + 29.5, NOW, 0):
        change = plan_renew_leases(catalog, LeaseRenewals({"w1": expiry}))
        assert change == CatalogChange(revision=1, no_op=True)


def test_a_no_op_renewal_keeps_the_revision() -> None:
    catalog = registered()
    for expires_at in ({"gone": NOW + 99}, {"w1": NOW + 30}, {"w1": NOW + 1, "gone": NOW + 99}):
        change = apply(catalog, plan_renew_leases(catalog, LeaseRenewals(expires_at)))
        assert change == CatalogChange(revision=1, no_op=True)
    assert catalog.revision == 1


def test_a_malformed_renewal_is_rejected_whole_with_the_bad_entries() -> None:
    catalog = registered()
    renewals = LeaseRenewals({"w1": NOW + 99, "w2": "soon", "w3": NAN})  # type: ignore[dict-item]
    error = rejection(lambda: plan_renew_leases(catalog, renewals))
    assert (error.code, error.reason) == ("INVALID_ARGUMENT", "INVALID_REQUEST")
    assert [v.field for v in error.violations] == ["expires_at['w2']", "expires_at['w3']"]


def test_an_integer_expiry_is_stored_as_a_float() -> None:
    catalog = registered()
    apply(catalog, plan_renew_leases(catalog, LeaseRenewals({"w1": int(NOW) + 100})))
    expiry = catalog.workers["w1"].lease_expires_epoch
    assert type(expiry) is float and expiry == NOW + 100


# --- expiry ----------------------------------------------------------------------------------


def test_expiry_rechecks_the_grace_period_against_now() -> None:
    catalog = registered(registration("w1"), registration("w2"))  # ttl 30, lease NOW + 30
    apply(catalog, plan_renew_leases(catalog, LeaseRenewals({"w2": NOW + 1000})))
    end_of_grace = NOW + 30 + 2 * 30
    expiry = WorkerExpiry(["w1", "w2", "gone"], grace_factor=2.0)

    assert plan_expire_workers(catalog, expiry, end_of_grace) == CatalogChange(
        revision=3, no_op=True
    )
    change = apply(catalog, plan_expire_workers(catalog, expiry, end_of_grace + 0.5))
    assert change == CatalogChange(revision=4, deleted_workers=["w1"])  # w2 was renewed since
    assert set(catalog.workers) == {"w2"}


def test_expiry_with_grace_factor_zero_removes_a_lease_as_soon_as_it_ends() -> None:
    catalog = registered()
    expiry = WorkerExpiry(["w1"], grace_factor=0)
    assert plan_expire_workers(catalog, expiry, NOW + 30).deleted_workers == []
    assert plan_expire_workers(catalog, expiry, NOW + 30.001).deleted_workers == ["w1"]


def test_expiry_reports_each_worker_once_in_order() -> None:
    catalog = registered(registration("b"), registration("a"))
    expiry = WorkerExpiry(["b", "a", "b", "a"], grace_factor=1)
    change = plan_expire_workers(catalog, expiry, NOW + 1000)
    assert change == CatalogChange(revision=3, deleted_workers=["a", "b"])


def test_a_no_op_expiry_keeps_the_revision() -> None:
    catalog = registered()
    for ids in (["gone"], ["w1"], ["w1", "gone", "w1"]):  # w1 still within its lease
        change = apply(catalog, plan_expire_workers(catalog, WorkerExpiry(ids), NOW + 1))
        assert change == CatalogChange(revision=1, no_op=True)
    assert catalog.revision == 1 and "w1" in catalog.workers


# --- operator writes -------------------------------------------------------------------------


def test_put_creates_an_enabled_operator_type() -> None:
    catalog = Catalog()
    operator_spec = spec(task_queue="billing")
    change = apply(catalog, plan_put_workflow(catalog, WorkflowWrite(operator_spec), NOW))
    assert change.revision == 1 and change.changed_workflows == [ORDERS]
    assert catalog.workflows[ORDERS] == StoredWorkflow(
        spec=operator_spec, enabled=True, source=SOURCE_OPERATOR, update_time_epoch=NOW
    )


def test_put_create_fails_if_the_type_exists() -> None:
    catalog = registered()
    write = WorkflowWrite(spec(task_queue="orders"), create=True)
    error = rejection(lambda: plan_put_workflow(catalog, write, NOW))
    assert (error.code, error.reason) == ("ALREADY_EXISTS", "WORKFLOW_ALREADY_EXISTS")
    assert ORDERS in error.message
    assert plan_put_workflow(Catalog(), write, NOW).revision == 1  # fine when it is new


def test_put_replace_keeps_the_enabled_state_when_enabled_is_none() -> None:
    catalog = registered()
    apply(catalog, plan_toggle_workflow(catalog, WorkflowToggle(ORDERS, False, "paused"), NOW))
    new_spec = spec(task_queue="orders", version="2")
    change = apply(catalog, plan_put_workflow(catalog, WorkflowWrite(new_spec), NOW + 5))
    stored = catalog.workflows[ORDERS]
    assert change.changed_workflows == [ORDERS]
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
    catalog = registered()
    if not stored_enabled:
        toggle_ = WorkflowToggle(ORDERS, False, "paused")
        apply(catalog, plan_toggle_workflow(catalog, toggle_, NOW))
    write = WorkflowWrite(catalog.workflows[ORDERS].spec, enabled=enabled)
    change = apply(catalog, plan_put_workflow(catalog, write, NOW))
    stored = catalog.workflows[ORDERS]
    assert (stored.enabled, stored.disabled_reason) == expected
    assert change.changed_workflows == []  # same spec


def test_put_with_an_unchanged_spec_still_takes_over_the_source() -> None:
    catalog = registered()
    write = WorkflowWrite(catalog.workflows[ORDERS].spec)
    change = apply(catalog, plan_put_workflow(catalog, write, NOW + 1))
    assert change.revision == 2 and change.changed_workflows == []
    assert catalog.workflows[ORDERS].source == SOURCE_OPERATOR


def test_an_operator_spec_needs_a_task_queue() -> None:
    error = rejection(lambda: plan_put_workflow(Catalog(), WorkflowWrite(spec()), NOW))
    assert (error.code, error.reason) == ("INVALID_ARGUMENT", "INVALID_WORKFLOW")
    assert violated_fields(error) == {"workflow.task_queue": "required"}


def test_put_reports_every_bad_field_with_its_path() -> None:
    write = WorkflowWrite(spec(task_queue="q", version=1), enabled="no", create=None)  # type: ignore[arg-type]
    error = rejection(lambda: plan_put_workflow(Catalog(), write, NOW))
    assert violated_fields(error) == {
        "workflow.version": "invalid_type",
        "workflow.enabled": "invalid_type",
        "create": "invalid_type",
    }
    assert error.message.endswith("(and 2 more)")


# --- deleting --------------------------------------------------------------------------------


def test_delete_forgets_the_type_and_takes_it_off_its_workers() -> None:
    catalog = registered(
        registration("w1"),
        registration("w2", workflows=[spec(REFUND)]),
        registration("w3", workflows=[spec(ORDERS), spec("other.v1")]),
    )
    change = apply(catalog, plan_delete_workflow(catalog, WorkflowDeletion(ORDERS)))

    assert change.revision == 4
    assert change.deleted_workflows == [ORDERS]
    assert sorted(w.worker_id for w in change.workers) == ["w1", "w3"]  # w2 never listed it
    assert set(catalog.workflows) == {REFUND, "other.v1"}
    assert catalog.workers["w1"].workflows == [REFUND]
    assert catalog.workers["w2"].workflows == [REFUND]
    assert catalog.workers["w3"].workflows == ["other.v1"]
    assert catalog.workers["w1"].lease_expires_epoch == NOW + 30  # nothing else changed


def test_deleting_an_unknown_type_is_not_found_unless_allowed() -> None:
    catalog = registered()
    error = rejection(lambda: plan_delete_workflow(catalog, WorkflowDeletion("missing.v1")))
    assert (error.code, error.reason) == ("NOT_FOUND", "WORKFLOW_NOT_FOUND")
    assert "missing.v1" in error.message
    change = plan_delete_workflow(catalog, WorkflowDeletion("missing.v1", allow_missing=True))
    assert change == CatalogChange(revision=catalog.revision, no_op=True)


# --- enabling and disabling ------------------------------------------------------------------


def test_disabling_stores_the_stripped_reason_and_enabling_clears_it() -> None:
    catalog = registered()
    change = apply(
        catalog,
        plan_toggle_workflow(catalog, WorkflowToggle(ORDERS, False, "  bad input  "), NOW + 1),
    )
    assert change.revision == 2
    stored = catalog.workflows[ORDERS]
    assert (stored.enabled, stored.disabled_reason, stored.update_time_epoch) == (
        False,
        "bad input",
        NOW + 1,
    )
    assert stored.spec == spec(ORDERS, task_queue="orders") and stored.source == SOURCE_WORKER

    apply(catalog, plan_toggle_workflow(catalog, WorkflowToggle(ORDERS, True, "ignored"), NOW + 2))
    stored = catalog.workflows[ORDERS]
    assert (stored.enabled, stored.disabled_reason, catalog.revision) == (True, "", 3)


def test_disabling_again_with_a_new_reason_replaces_it() -> None:
    catalog = registered()
    apply(catalog, plan_toggle_workflow(catalog, WorkflowToggle(ORDERS, False, "one"), NOW))
    change = apply(
        catalog, plan_toggle_workflow(catalog, WorkflowToggle(ORDERS, False, "two"), NOW)
    )
    assert change.revision == 3
    assert catalog.workflows[ORDERS].disabled_reason == "two"


def test_a_no_op_toggle_keeps_the_revision_and_the_stored_entry() -> None:
    catalog = registered()
    stored = catalog.workflows[ORDERS]
    change = apply(catalog, plan_toggle_workflow(catalog, WorkflowToggle(ORDERS, True), NOW + 9))
    assert change == CatalogChange(revision=1, workflows=[stored], no_op=True)
    assert catalog.workflows[ORDERS] is stored and stored.update_time_epoch == NOW


@pytest.mark.parametrize(
    ("reason", "accepted"),
    [
        ("x", True),
        ("x" * MAX_DISABLED_REASON_LENGTH, True),
        ("caf\u00e9: see INC-42", True),
        ("", False),
        ("   ", False),
        ("x" * (MAX_DISABLED_REASON_LENGTH + 1), False),
        ("line\nbreak", False),
        ("tab\there", False),
        ("nul\x00", False),
        ("zero\u200bwidth", False),
        ("lone\ud800surrogate", False),
    ],
    ids=[
        "one-char",
        "max-length",
        "unicode",
        "empty",
        "blank",
        "too-long",
        "newline",
        "tab",
        "nul",
        "zero-width-space",
        "surrogate",
    ],
)
def test_disabling_requires_a_printable_reason(reason: str, accepted: bool) -> None:
    catalog = registered()

    def plan() -> CatalogChange:
        return plan_toggle_workflow(catalog, WorkflowToggle(ORDERS, False, reason), NOW)

    if accepted:
        assert plan().workflows[0].disabled_reason == reason.strip()
    else:
        error = rejection(plan)
        assert (error.code, error.reason) == ("INVALID_ARGUMENT", "INVALID_REQUEST")
        assert violated_fields(error) == {"reason": "required"}


def test_toggling_an_unknown_type_is_not_found() -> None:
    catalog = registered()
    for enabled, reason in ((True, ""), (False, "why")):
        toggle_ = WorkflowToggle("missing.v1", enabled, reason)
        error = rejection(lambda t=toggle_: plan_toggle_workflow(catalog, t, NOW))  # type: ignore[misc]
        assert (error.code, error.reason) == ("NOT_FOUND", "WORKFLOW_NOT_FOUND")


# --- handover --------------------------------------------------------------------------------


def test_a_handover_with_a_reason_is_accepted() -> None:
    check_handover(Handover("rolling upgrade"))
    check_handover(Handover("x" * MAX_HANDOVER_REASON_LENGTH))


@pytest.mark.parametrize(
    "handover",
    [
        None,
        "rolling upgrade",
        Handover(""),
        Handover("   "),
        Handover("x" * (MAX_HANDOVER_REASON_LENGTH + 1)),
        Handover("two\nlines"),
        Handover(None),  # type: ignore[arg-type]
        Handover(5),  # type: ignore[arg-type]
    ],
    ids=["none", "str", "empty", "blank", "too-long", "newline", "reason-none", "reason-int"],
)
def test_a_handover_needs_a_printable_reason(handover: object) -> None:
    error = rejection(lambda: check_handover(handover))  # type: ignore[arg-type]
    assert (error.code, error.reason) == ("INVALID_ARGUMENT", "INVALID_REQUEST")
    assert len(error.violations) == 1


# --- revisions -------------------------------------------------------------------------------


def test_revisions_increase_by_exactly_one_per_changing_write() -> None:
    catalog = Catalog()
    writes: list[tuple[Callable[[], CatalogChange], int]] = [
        (lambda: plan_register_worker(catalog, registration("w1"), NOW), 1),
        (lambda: plan_register_worker(catalog, registration("w2"), NOW), 2),
        (lambda: plan_renew_leases(catalog, LeaseRenewals({"w1": NOW + 50})), 3),
        (lambda: plan_renew_leases(catalog, LeaseRenewals({"w1": NOW + 50})), 3),
        (lambda: plan_toggle_workflow(catalog, WorkflowToggle(ORDERS, False, "x"), NOW), 4),
        (lambda: plan_toggle_workflow(catalog, WorkflowToggle(ORDERS, False, "x"), NOW), 4),
        (lambda: plan_put_workflow(catalog, WorkflowWrite(spec("new.v1", task_queue="q")), NOW), 5),
        (lambda: plan_delete_workflow(catalog, WorkflowDeletion("new.v1")), 6),
        (lambda: plan_delete_workflow(catalog, WorkflowDeletion("new.v1", True)), 6),
        (lambda: plan_expire_workers(catalog, WorkerExpiry(["w2"]), NOW + 1), 6),
        (lambda: plan_expire_workers(catalog, WorkerExpiry(["w2"]), NOW + 1000), 7),
        (lambda: plan_unregister_worker(catalog, WorkerRef("w1")), 8),
    ]
    for plan, expected in writes:
        change = apply(catalog, plan())
        assert change.revision == catalog.revision == expected


def test_apply_change_never_moves_the_revision_back() -> None:
    catalog = registered()
    catalog.revision = 10
    apply_change(catalog, CatalogChange(revision=4, deleted_workers=["w1"]))
    assert catalog.revision == 10 and catalog.workers == {}


# --- the size ledger and the state budget ----------------------------------------------------


def random_write(rng: random.Random, catalog: Catalog, now: float) -> CatalogChange:
    """One random write, valid or not (most are valid)."""
    worker_id = rng.choice(["w1", "w2", "w3", "w4", "w5"])
    workflow_type = rng.choice([f"type.{i}" for i in range(6)])
    kind = rng.randrange(8)
    if kind <= 1:
        types = rng.sample([f"type.{i}" for i in range(6)], rng.randint(1, 3))
        specs_ = [
            spec(t, description="d" * rng.randrange(50), version=str(rng.randrange(3)))
            for t in types
        ]
        labels = {f"k{i}": "v" * rng.randrange(20) for i in range(rng.randrange(4))}
        r = registration(worker_id, f"q{rng.randrange(2)}", workflows=specs_, labels=labels)
        return plan_register_worker(catalog, r, now)
    if kind == 2:
        return plan_unregister_worker(catalog, WorkerRef(worker_id))
    if kind == 3:
        expiry = now + rng.choice([-10, 5, 60.25, 1234.5])
        return plan_renew_leases(catalog, LeaseRenewals({worker_id: expiry, "w3": expiry}))
    if kind == 4:
        return plan_expire_workers(catalog, WorkerExpiry([worker_id, "w1"], 1.0), now)
    if kind == 5:
        s = spec(workflow_type, task_queue="ops", description="o" * rng.randrange(80))
        write = WorkflowWrite(s, enabled=rng.choice([None, True, False]))
        return plan_put_workflow(catalog, write, now)
    if kind == 6:
        deletion = WorkflowDeletion(workflow_type, allow_missing=rng.random() < 0.5)
        return plan_delete_workflow(catalog, deletion)
    toggle_ = WorkflowToggle(workflow_type, rng.random() < 0.5, "r" * rng.randrange(1, 30))
    return plan_toggle_workflow(catalog, toggle_, now)


def test_the_ledger_stays_equal_to_a_fresh_count_over_random_writes() -> None:
    rng = random.Random(20240611)
    catalog = Catalog()
    ledger = SizeLedger(catalog)
    assert ledger.total == 0
    applied = rejected = 0
    now = NOW
    for _ in range(400):
        now += rng.choice([0, 1, 7.5, 45, 200])
        before = copy.deepcopy(catalog)
        try:
            change = random_write(rng, catalog, now)
        except Rejection:
            rejected += 1
            assert catalog == before
            continue
        assert catalog == before  # planning never mutates
        assert change.revision in (catalog.revision, catalog.revision + 1)
        projected = ledger.projected(change)
        assert ledger.total == SizeLedger(catalog).total  # projected() records nothing
        apply_change(catalog, change)
        ledger.record(change)
        applied += 1
        assert ledger.total == projected == SizeLedger(catalog).total
        assert change.no_op == (change.revision == before.revision)
        if change.no_op:
            assert catalog == before  # a write that keeps the revision changes nothing
    assert applied > 250 and rejected > 10  # the loop exercised both paths
    assert catalog.workers and catalog.workflows


def test_entry_bytes_is_the_compact_json_size() -> None:
    catalog = registered()
    worker = catalog.workers["w1"]
    bigger = replace(worker, labels={"zone": "a" * 100})
    assert entry_bytes(bigger) - entry_bytes(worker) == 99
    expected = (
        '{"worker_id":"w1","task_queue":"orders","environment":"prod","labels":{"zone":"a"},'
        f'"ttl_seconds":30,"workflows":["{ORDERS}","{REFUND}"],'
        f'"registered_epoch":{NOW!r},"lease_expires_epoch":{NOW + 30!r},"principal":""}}'
    )
    assert entry_bytes(worker) == len(expected)
    assert SizeLedger(catalog).total == entry_bytes(worker) + sum(
        entry_bytes(w) for w in catalog.workflows.values()
    )


def test_check_budget_refuses_growth_past_the_budget() -> None:
    catalog = registered()
    ledger = SizeLedger(catalog)
    change = plan_register_worker(catalog, registration("w2"), NOW)
    projected = ledger.projected(change)
    assert projected > ledger.total

    check_budget(ledger, change, projected)  # exactly at the budget is fine
    error = rejection(lambda: check_budget(ledger, change, projected - 1))
    assert (error.code, error.reason) == ("RESOURCE_EXHAUSTED", "REGISTRY_STATE_FULL")
    assert str(projected) in error.message and str(projected - 1) in error.message
    assert ledger.total == SizeLedger(catalog).total  # checking records nothing


def test_check_budget_allows_shrinking_and_same_size_writes_when_over_budget() -> None:
    catalog = registered(registration("w1"), registration("w2"))
    ledger = SizeLedger(catalog)
    budget = ledger.total // 2  # already over budget, e.g. after lowering max_state_bytes

    check_budget(ledger, plan_unregister_worker(catalog, WorkerRef("w2")), budget)
    check_budget(ledger, plan_delete_workflow(catalog, WorkflowDeletion(REFUND)), budget)
    same_size = plan_renew_leases(catalog, LeaseRenewals({"w1": NOW + 31}))
    assert ledger.projected(same_size) == ledger.total
    check_budget(ledger, same_size, budget)

    grows = plan_toggle_workflow(catalog, WorkflowToggle(ORDERS, False, "a reason"), NOW)
    assert ledger.projected(grows) > ledger.total
    error = rejection(lambda: check_budget(ledger, grows, budget))
    assert error.code == "RESOURCE_EXHAUSTED"


def test_workers_on_two_queues_do_not_flip_the_stored_task_queue() -> None:
    catalog = Catalog()
    first = WorkerRegistration("w1", "queue-a", workflows=[WorkflowSpec(ORDERS)])
    second = WorkerRegistration("w2", "queue-b", workflows=[WorkflowSpec(ORDERS)])
    apply_change(catalog, plan_register_worker(catalog, first, NOW))
    change = plan_register_worker(catalog, second, NOW + 1)
    assert change.changed_workflows == []
    apply_change(catalog, change)
    assert catalog.workflows[ORDERS].spec.task_queue == "queue-a"
    # Re-registering either worker changes nothing.
    assert plan_register_worker(catalog, first, NOW + 2).changed_workflows == []
    assert plan_register_worker(catalog, second, NOW + 2).changed_workflows == []
    # Once queue-a's worker is gone, the next registration moves the type to its queue.
    apply_change(catalog, plan_unregister_worker(catalog, WorkerRef("w1")))
    change = plan_register_worker(catalog, second, NOW + 3)
    assert change.changed_workflows == [ORDERS]
    apply_change(catalog, change)
    assert catalog.workflows[ORDERS].spec.task_queue == "queue-b"


# --- slug counters ---------------------------------------------------------------------------

DAY = 86_400.0


def claim(
    catalog: Catalog, slug: str = "orders", now: float = NOW, **changes: Any
) -> CatalogChange:
    """Plan and apply one claim."""
    return apply(catalog, plan_claim_slug(catalog, SlugClaim(slug, **changes), now))


def claimed(*slugs: str, now: float = NOW, step: float = 1.0) -> Catalog:
    """A catalogue where each slug was claimed once, in order, `step` seconds apart."""
    catalog = Catalog()
    for i, slug in enumerate(slugs):
        claim(catalog, slug, now + i * step)
    return catalog


def test_the_first_claim_gets_1_and_later_claims_count_up() -> None:
    catalog = Catalog(revision=7)
    change = claim(catalog, "orders")
    assert change == CatalogChange(revision=8, slugs=[SlugCounter("orders", 1, NOW, {})], counter=1)
    assert catalog.slugs == {"orders": SlugCounter("orders", 1, NOW, {})}
    assert [claim(catalog, "orders", NOW + i).counter for i in range(1, 4)] == [2, 3, 4]
    assert claim(catalog, "refunds").counter == 1  # each slug has its own counter
    assert catalog.revision == 12
    assert catalog.slugs["orders"] == SlugCounter("orders", 4, NOW + 3, {})


@pytest.mark.parametrize(
    ("counter", "at_least", "expected"),
    [
        (0, 0, 1),
        (0, 1, 1),
        (0, 10, 10),
        (2, 3, 3),
        (2, 10, 10),
        (5, 3, 6),
        (5, 6, 6),
        (5, 7, 7),
    ],
    ids=[
        "fresh",
        "fresh-at-least-1",
        "fresh-jump",
        "next-anyway",
        "jump",
        "at-least-behind",
        "at-least-is-next",
        "at-least-ahead",
    ],
)
def test_at_least_jumps_the_counter_forward(counter: int, at_least: int, expected: int) -> None:
    catalog = Catalog()
    for _ in range(counter):
        claim(catalog)
    assert claim(catalog, at_least=at_least).counter == expected
    assert catalog.slugs["orders"].counter == expected
    assert claim(catalog).counter == expected + 1  # counts on from the jump


def test_a_retried_request_id_gets_its_counter_again_as_a_no_op() -> None:
    catalog = Catalog()
    first = claim(catalog, request_id="req-1")
    claim(catalog, request_id="req-2")
    before = copy.deepcopy(catalog)
    retry = claim(catalog, request_id="req-1", now=NOW + 60)
    assert retry == CatalogChange(revision=2, no_op=True, counter=first.counter)
    assert catalog == before and list(catalog.slugs) == list(before.slugs)
    assert catalog.slugs["orders"].claims == {"req-1": 1, "req-2": 2}
    # The same request id on another slug is another claim.
    assert claim(catalog, "refunds", request_id="req-1").counter == 1


def test_a_request_id_is_remembered_for_the_last_few_claims_only() -> None:
    catalog = Catalog()
    claim(catalog, request_id="old")
    for i in range(MAX_REMEMBERED_CLAIMS - 1):
        claim(catalog, request_id=f"r{i}")
    assert len(catalog.slugs["orders"].claims) == MAX_REMEMBERED_CLAIMS
    assert claim(catalog, request_id="old").counter == 1  # still within the window

    claim(catalog, request_id="pushes-old-out")
    claims = catalog.slugs["orders"].claims
    assert "old" not in claims and len(claims) == MAX_REMEMBERED_CLAIMS
    assert list(claims)[-1] == "pushes-old-out"  # oldest first
    counter = catalog.slugs["orders"].counter
    change = claim(catalog, request_id="old")
    assert (change.no_op, change.counter) == (False, counter + 1)


def test_claims_without_a_request_id_are_not_remembered() -> None:
    catalog = Catalog()
    claim(catalog, request_id="keep")
    for _ in range(MAX_REMEMBERED_CLAIMS + 2):
        claim(catalog)
    assert catalog.slugs["orders"].claims == {"keep": 1}
    assert claim(catalog, request_id="keep").no_op


def test_a_retry_asking_for_more_than_it_got_gets_a_new_counter() -> None:
    catalog = Catalog()
    claim(catalog, request_id="req-1")  # 1
    change = claim(catalog, request_id="req-1", at_least=5)
    assert (change.no_op, change.counter) == (False, 5)
    assert catalog.slugs["orders"].claims == {"req-1": 5}
    assert claim(catalog, request_id="req-1", at_least=5).no_op
    assert claim(catalog, request_id="req-1", at_least=2).counter == 5


def test_planning_a_claim_never_mutates_the_catalog() -> None:
    catalog = claimed("a", "b", "c")
    claim(catalog, "a", request_id="req-1")
    before = copy.deepcopy(catalog)
    for slug, request_id in (("a", "req-2"), ("d", "req-1"), ("a", "req-1")):
        plan_claim_slug(catalog, SlugClaim(slug, request_id, max_slugs=2), NOW + 10)
    assert catalog == before and list(catalog.slugs) == list(before.slugs)


def test_an_expired_entry_starts_again_at_1_and_forgets_its_claims() -> None:
    catalog = Catalog()
    claim(catalog, request_id="req-1", ttl_seconds=DAY)
    claim(catalog, request_id="req-2", ttl_seconds=DAY)
    # Exactly ttl_seconds after the last claim is still alive.
    assert claim(catalog, now=NOW + DAY, ttl_seconds=DAY).counter == 3
    change = claim(catalog, request_id="req-1", now=NOW + 2 * DAY + 0.5, ttl_seconds=DAY)
    assert (change.no_op, change.counter) == (False, 1)
    assert catalog.slugs["orders"] == SlugCounter("orders", 1, NOW + 2 * DAY + 0.5, {"req-1": 1})
    assert claim(catalog, at_least=4, now=NOW + 10 * DAY, ttl_seconds=DAY).counter == 4


def test_claiming_beyond_max_slugs_evicts_the_least_recently_claimed() -> None:
    catalog = claimed("a", "b", "c")
    change = claim(catalog, "d", NOW + 10, max_slugs=3)
    assert change.deleted_slugs == ["a"]
    assert list(catalog.slugs) == ["b", "c", "d"]

    change = claim(catalog, "b", NOW + 11, max_slugs=3)  # re-claimed: now the most recent
    assert (change.counter, change.deleted_slugs) == (2, [])
    assert list(catalog.slugs) == ["c", "d", "b"]

    change = claim(catalog, "e", NOW + 12, max_slugs=3)
    assert change.deleted_slugs == ["c"]
    assert list(catalog.slugs) == ["d", "b", "e"]
    assert catalog.slugs["b"].counter == 2  # kept its counter

    change = claim(catalog, "c", NOW + 13, max_slugs=3)
    assert (change.counter, change.deleted_slugs) == (1, ["d"])  # an evicted slug starts again


def test_lowering_max_slugs_evicts_several_at_once_but_never_the_claimed_slug() -> None:
    catalog = claimed("a", "b", "c", "d", "e")
    change = claim(catalog, "a", NOW + 10, max_slugs=2)
    assert change.deleted_slugs == ["b", "c", "d"]
    assert list(catalog.slugs) == ["e", "a"]
    change = claim(catalog, "z", NOW + 11, max_slugs=1)
    assert change.deleted_slugs == ["e", "a"]
    assert list(catalog.slugs) == ["z"]


def test_expired_entries_are_evicted_by_any_claim() -> None:
    catalog = Catalog()
    claim(catalog, "a", NOW)
    claim(catalog, "b", NOW + 1)
    claim(catalog, "c", NOW + 50)
    change = claim(catalog, "d", NOW + 101.5, ttl_seconds=100)
    assert change.deleted_slugs == ["a", "b"]  # c was claimed 51.5 s ago
    assert list(catalog.slugs) == ["c", "d"]
    # The claimed slug itself is replaced, not evicted, even when expired.
    change = claim(catalog, "c", NOW + 500, ttl_seconds=100)
    assert (change.counter, change.deleted_slugs) == (1, ["d"])
    assert list(catalog.slugs) == ["c"]


def test_a_retry_evicts_nothing() -> None:
    catalog = claimed("a", "b")
    claim(catalog, "b", request_id="req-1")
    change = plan_claim_slug(catalog, SlugClaim("b", "req-1", max_slugs=1), NOW + 10 * DAY)
    assert change.no_op and change.deleted_slugs == []


def test_reset_returns_the_previous_counter_and_clears_the_claims() -> None:
    catalog = Catalog()
    claim(catalog, request_id="req-1")
    claim(catalog, request_id="req-2")
    claim(catalog, "other")
    change = apply(catalog, plan_reset_slug(catalog, SlugReset("orders"), NOW + 5))
    assert change == CatalogChange(
        revision=4, slugs=[SlugCounter("orders", 0, NOW + 5, {})], counter=2
    )
    assert catalog.slugs["orders"] == SlugCounter("orders", 0, NOW + 5, {})
    assert catalog.slugs["other"].counter == 1
    # A retry of a claim from before the reset is a new claim now.
    assert claim(catalog, request_id="req-1", now=NOW + 6).counter == 1
    apply(catalog, plan_reset_slug(catalog, SlugReset("orders"), NOW + 7))
    assert plan_reset_slug(catalog, SlugReset("orders"), NOW + 8).counter == 0


def test_counters_stop_at_the_largest_the_api_can_return() -> None:
    catalog = Catalog()
    assert claim(catalog, at_least=MAX_COUNTER).counter == MAX_COUNTER
    error = rejection(lambda: plan_claim_slug(catalog, SlugClaim("orders"), NOW))
    assert (error.code, error.reason, error.violations) == (
        "RESOURCE_EXHAUSTED",
        "SLUG_EXHAUSTED",
        [],
    )
    assert "reset" in error.message
    apply(catalog, plan_reset_slug(catalog, SlugReset("orders"), NOW + 1))
    assert claim(catalog, now=NOW + 2).counter == 1
    error = rejection(
        lambda: plan_claim_slug(catalog, SlugClaim("x", at_least=MAX_COUNTER + 1), NOW)
    )
    assert violated_fields(error) == {"at_least": "invalid"}


def test_resetting_an_unknown_slug_is_not_found() -> None:
    catalog = claimed("orders")
    error = rejection(lambda: plan_reset_slug(catalog, SlugReset("refunds"), NOW))
    assert (error.code, error.reason, error.violations) == ("NOT_FOUND", "SLUG_NOT_FOUND", [])
    assert "'refunds'" in error.message


def claim_with(**changes: Any) -> Callable[[Catalog], object]:
    return lambda c: plan_claim_slug(c, replace(SlugClaim("orders"), **changes), NOW)


def reset_of(slug: object) -> Callable[[Catalog], object]:
    return lambda c: plan_reset_slug(c, SlugReset(slug), NOW)  # type: ignore[arg-type]


SLUG_HOSTILE: list[tuple[str, Callable[[Catalog], object], str]] = [
    ("claim-none", lambda c: plan_claim_slug(c, None, NOW), "claim"),  # type: ignore[arg-type]
    ("claim-dict", lambda c: plan_claim_slug(c, {"slug": "orders"}, NOW), "claim"),  # type: ignore[arg-type]
    ("claim-slug-none", claim_with(slug=None), "slug"),
    ("claim-slug-int", claim_with(slug=5), "slug"),
    ("claim-slug-list", claim_with(slug=["orders"]), "slug"),
    ("claim-slug-enormous", claim_with(slug=ENORMOUS), "slug"),
    ("claim-slug-empty", claim_with(slug=""), "slug"),
    ("claim-slug-upper", claim_with(slug="Orders"), "slug"),
    ("claim-slug-double-dash", claim_with(slug="a--b"), "slug"),
    ("claim-slug-trailing-dash", claim_with(slug="a-"), "slug"),
    ("claim-slug-too-long", claim_with(slug="a" * 101), "slug"),
    ("claim-request-id-none", claim_with(request_id=None), "request_id"),
    ("claim-request-id-int", claim_with(request_id=5), "request_id"),
    ("claim-request-id-enormous", claim_with(request_id=ENORMOUS), "request_id"),
    ("claim-request-id-too-long", claim_with(request_id="x" * 201), "request_id"),
    ("claim-request-id-newline", claim_with(request_id="a\nb"), "request_id"),
    ("claim-at-least-none", claim_with(at_least=None), "at_least"),
    ("claim-at-least-negative", claim_with(at_least=-1), "at_least"),
    ("claim-at-least-float", claim_with(at_least=2.0), "at_least"),
    ("claim-at-least-bool", claim_with(at_least=True), "at_least"),
    ("claim-at-least-str", claim_with(at_least="3"), "at_least"),
    ("claim-at-least-nan", claim_with(at_least=NAN), "at_least"),
    ("claim-at-least-over-int32", claim_with(at_least=MAX_COUNTER + 1), "at_least"),
    ("claim-at-least-2-63", claim_with(at_least=2**63), "at_least"),
    ("claim-at-least-huge", claim_with(at_least=HUGE), "at_least"),
    ("claim-at-least-enormous", claim_with(at_least=ENORMOUS), "at_least"),
    ("claim-ttl-zero", claim_with(ttl_seconds=0), "ttl_seconds"),
    ("claim-ttl-negative", claim_with(ttl_seconds=-1.5), "ttl_seconds"),
    ("claim-ttl-none", claim_with(ttl_seconds=None), "ttl_seconds"),
    ("claim-ttl-str", claim_with(ttl_seconds="60"), "ttl_seconds"),
    ("claim-ttl-bool", claim_with(ttl_seconds=True), "ttl_seconds"),
    ("claim-ttl-nan", claim_with(ttl_seconds=NAN), "ttl_seconds"),
    ("claim-ttl-inf", claim_with(ttl_seconds=INF), "ttl_seconds"),
    ("claim-ttl-huge", claim_with(ttl_seconds=HUGE), "ttl_seconds"),
    ("claim-max-slugs-zero", claim_with(max_slugs=0), "max_slugs"),
    ("claim-max-slugs-negative", claim_with(max_slugs=-1), "max_slugs"),
    ("claim-max-slugs-none", claim_with(max_slugs=None), "max_slugs"),
    ("claim-max-slugs-float", claim_with(max_slugs=3.0), "max_slugs"),
    ("claim-max-slugs-bool", claim_with(max_slugs=True), "max_slugs"),
    ("claim-max-slugs-nan", claim_with(max_slugs=NAN), "max_slugs"),
    ("reset-none", lambda c: plan_reset_slug(c, None, NOW), "reset"),  # type: ignore[arg-type]
    ("reset-str", lambda c: plan_reset_slug(c, "orders", NOW), "reset"),  # type: ignore[arg-type]
    ("reset-slug-none", reset_of(None), "slug"),
    ("reset-slug-int", reset_of(5), "slug"),
    ("reset-slug-enormous", reset_of(ENORMOUS), "slug"),
    ("reset-slug-name-not-slug", reset_of("Orders #1"), "slug"),
]


@pytest.mark.parametrize(
    ("plan", "field"), [case[1:] for case in SLUG_HOSTILE], ids=[case[0] for case in SLUG_HOSTILE]
)
def test_hostile_slug_writes_are_rejected_never_raised(
    plan: Callable[[Catalog], object], field: str
) -> None:
    catalog = claimed("orders")
    before = copy.deepcopy(catalog)
    error = rejection(lambda: plan(catalog))
    assert (error.code, error.reason) == ("INVALID_ARGUMENT", "INVALID_REQUEST")
    assert [v.field for v in error.violations] == [field]
    error.message.encode("utf-8")
    assert catalog == before


def test_a_claim_reports_every_bad_field() -> None:
    bad = SlugClaim("Bad", None, -1, 0, 0)  # type: ignore[arg-type]
    error = rejection(lambda: plan_claim_slug(Catalog(), bad, NOW))
    assert set(violated_fields(error)) == {
        "slug",
        "request_id",
        "at_least",
        "ttl_seconds",
        "max_slugs",
    }


def test_the_ledger_accounts_for_slug_entries_over_claims_resets_and_evictions() -> None:
    rng = random.Random(7)
    catalog = registered()
    ledger = SizeLedger(catalog)
    now = NOW
    evicted = no_ops = 0
    for _ in range(300):
        now += rng.choice([0, 1, 30, 400])
        slug = rng.choice(["a", "b", "c", "d", "e", "f", "orders-" + "x" * rng.randrange(1, 40)])
        if rng.random() < 0.15:
            try:
                change = plan_reset_slug(catalog, SlugReset(slug), now)
            except Rejection as error:
                assert error.reason == "SLUG_NOT_FOUND"
                continue
        else:
            request_id = rng.choice(["", "", "r1", "r2", "r" * rng.randrange(1, 50)])
            at_least = rng.choice([0, 0, 0, rng.randrange(1, 10**6)])
            change = plan_claim_slug(
                catalog, SlugClaim(slug, request_id, at_least, 1000.0, max_slugs=4), now
            )
        projected = ledger.projected(change)
        apply_change(catalog, change)
        ledger.record(change)
        evicted += len(change.deleted_slugs)
        no_ops += change.no_op
        assert ledger.total == projected == SizeLedger(catalog).total
        assert len(catalog.slugs) <= 4
    assert evicted > 20 and no_ops > 5  # the loop exercised evictions and retries
    assert ledger.total == SizeLedger(catalog).total > SizeLedger(registered()).total
