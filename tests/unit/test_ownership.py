"""Ownership of workers and workflow types (registry.catalog): the pure rules the registry
workflow applies to every registration and unregistration, and the server to heartbeats.

P and Q are worker principals, ADMIN an admin one; an empty principal is auth off (and every
write recorded before principals existed)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from registry.catalog.rules import (
    Rejection,
    apply_change,
    check_worker_owner,
    plan_delete_workflow,
    plan_put_workflow,
    plan_register_worker,
    plan_toggle_workflow,
    plan_unregister_worker,
)
from registry.shared.model import (
    Catalog,
    CatalogChange,
    StoredWorker,
    StoredWorkflow,
    WorkerRef,
    WorkerRegistration,
    WorkflowDeletion,
    WorkflowSpec,
    WorkflowToggle,
    WorkflowWrite,
)

NOW = 1_800_000_000.0
P, Q, ADMIN = "orders-team", "sha256:0123456789ab", "ops"
ORDER = "order.v1"
SCHEMA = {"type": "object", "required": ["order_id"]}


def spec(workflow_type: str = ORDER, **changes: Any) -> WorkflowSpec:
    return replace(WorkflowSpec(workflow_type, input_schema=SCHEMA), **changes)


def registration(
    worker_id: str,
    principal: str,
    task_queue: str = "orders",
    *specs: WorkflowSpec,
    admin: bool = False,
) -> WorkerRegistration:
    return WorkerRegistration(
        worker_id,
        task_queue,
        workflows=list(specs) or [spec()],
        principal=principal,
        admin=admin,
    )


def write(catalog: Catalog, change: CatalogChange) -> CatalogChange:
    apply_change(catalog, change)
    return change


def register(catalog: Catalog, reg: WorkerRegistration) -> CatalogChange:
    return write(catalog, plan_register_worker(catalog, reg, NOW))


def refused(plan: Any) -> Rejection:
    with pytest.raises(Rejection) as raised:
        plan()
    return raised.value


def owned_by_p() -> Catalog:
    catalog = Catalog()
    register(catalog, registration("p-1", P))
    return catalog


# --- recording --------------------------------------------------------------------------------


def test_a_registration_records_its_principal_and_owns_the_new_types() -> None:
    catalog = owned_by_p()
    assert catalog.workers["p-1"].principal == P
    assert catalog.workflows[ORDER].owner == P


def test_auth_off_records_nothing_and_checks_nothing() -> None:
    catalog = Catalog()
    register(catalog, registration("w", ""))
    assert (catalog.workers["w"].principal, catalog.workflows[ORDER].owner) == ("", "")
    register(catalog, registration("w", "", "elsewhere", spec(input_schema={})))
    assert catalog.workflows[ORDER].spec.task_queue == "elsewhere"
    write(catalog, plan_unregister_worker(catalog, WorkerRef("w")))


def test_auth_off_keeps_an_owner_recorded_earlier() -> None:
    catalog = owned_by_p()
    register(catalog, registration("w", "", "orders", spec(description="new")))
    assert catalog.workflows[ORDER].owner == P


# --- workers ----------------------------------------------------------------------------------


def test_the_owner_re_registers_its_worker_others_may_not() -> None:
    catalog = owned_by_p()
    register(catalog, registration("p-1", P))  # a restart: same id, same principal
    before = Catalog(**vars(catalog))
    error = refused(lambda: plan_register_worker(catalog, registration("p-1", Q), NOW))
    assert (error.code, error.reason) == ("PERMISSION_DENIED", "NOT_OWNER")
    assert [(v.field, v.reason) for v in error.violations] == [("worker_id", "not_owner")]
    assert P in error.message
    assert catalog == before


@pytest.mark.parametrize(
    ("principal", "admin", "allowed"),
    [
        (P, False, True),  # its own
        (Q, False, False),  # another principal's
        (ADMIN, True, True),  # an admin may
        ("", False, True),  # auth off
    ],
)
def test_unregister_and_heartbeat_need_the_workers_principal(
    principal: str, admin: bool, allowed: bool
) -> None:
    catalog = owned_by_p()
    worker = catalog.workers["p-1"]
    ref = WorkerRef("p-1", principal, admin)
    if allowed:
        check_worker_owner(worker, principal, admin)
        assert plan_unregister_worker(catalog, ref).deleted_workers == ["p-1"]
    else:
        for plan in (
            lambda: check_worker_owner(worker, principal, admin),
            lambda: plan_unregister_worker(catalog, ref),
        ):
            error = refused(plan)
            assert (error.code, error.reason) == ("PERMISSION_DENIED", "NOT_OWNER")
            assert error.violations[0].field == "worker_id"


def test_an_unknown_worker_is_not_found_before_ownership_is_checked() -> None:
    error = refused(lambda: plan_unregister_worker(owned_by_p(), WorkerRef("nope", Q)))
    assert error.code == "NOT_FOUND"


def test_a_worker_registered_before_principals_existed_is_anyones() -> None:
    catalog = Catalog(workers={"old": StoredWorker("old", "orders")})
    check_worker_owner(catalog.workers["old"], Q, False)
    register(catalog, registration("old", Q))
    assert catalog.workers["old"].principal == Q


def test_an_admin_re_registering_a_worker_records_itself() -> None:
    catalog = owned_by_p()
    register(catalog, registration("p-1", ADMIN, admin=True))
    assert catalog.workers["p-1"].principal == ADMIN
    assert catalog.workflows[ORDER].owner == P  # the type keeps its owner


# --- workflow types ---------------------------------------------------------------------------


def test_another_principal_may_not_move_an_owned_type_to_its_queue() -> None:
    catalog = owned_by_p()
    before = Catalog(**vars(catalog))
    error = refused(lambda: plan_register_worker(catalog, registration("q-1", Q, "evil"), NOW))
    assert (error.code, error.reason) == ("PERMISSION_DENIED", "NOT_OWNER")
    assert [v.field for v in error.violations] == ["workflows[0].workflow_type"]
    assert "another task queue" in error.message and "'evil'" in error.message
    assert catalog == before


def test_another_principal_may_not_change_an_owned_types_schema() -> None:
    catalog = owned_by_p()
    dropped = spec(input_schema={})
    error = refused(
        lambda: plan_register_worker(catalog, registration("q-1", Q, "orders", dropped), NOW)
    )
    assert error.reason == "NOT_OWNER"
    assert "differs in input_schema" in error.violations[0].description


def test_another_principal_may_run_an_owned_type_exactly_as_declared() -> None:
    catalog = owned_by_p()
    change = register(catalog, registration("q-1", Q))
    assert change.changed_workflows == [] and change.workflows == []
    assert catalog.workflows[ORDER].owner == P
    assert catalog.workers["q-1"].principal == Q


def test_one_foreign_type_refuses_the_whole_registration_naming_each() -> None:
    catalog = owned_by_p()
    register(catalog, registration("p-2", P, "orders", spec("refund.v1")))
    specs = (spec("new.v1"), spec(input_schema={}), spec("refund.v1", description="x"))
    error = refused(
        lambda: plan_register_worker(catalog, registration("q", Q, "orders", *specs), NOW)
    )
    assert [v.field for v in error.violations] == [
        "workflows[1].workflow_type",
        "workflows[2].workflow_type",
    ]
    assert error.message.endswith("(and 1 more)")
    assert "new.v1" not in catalog.workflows and "q" not in catalog.workers


def test_the_owner_changes_and_moves_its_own_type() -> None:
    catalog = owned_by_p()
    register(catalog, registration("p-1", P, "orders-v2", spec(input_schema={})))
    assert catalog.workflows[ORDER].spec.task_queue == "orders-v2"
    assert catalog.workflows[ORDER].owner == P


def test_an_admin_changes_and_moves_any_type_and_it_keeps_its_owner() -> None:
    catalog = owned_by_p()
    register(catalog, registration("a-1", ADMIN, "orders", spec(input_schema={}), admin=True))
    assert catalog.workflows[ORDER].spec.input_schema == {}
    write(catalog, plan_unregister_worker(catalog, WorkerRef("p-1", P)))
    register(catalog, registration("a-1", ADMIN, "elsewhere", admin=True))
    stored = catalog.workflows[ORDER]
    assert (stored.spec.task_queue, stored.owner) == ("elsewhere", P)


def test_an_admins_registration_leaves_a_new_type_for_its_first_worker_principal() -> None:
    catalog = Catalog()
    register(catalog, registration("a-1", ADMIN, admin=True))  # a curl to try things out
    assert catalog.workflows[ORDER].owner == ""
    assert catalog.workers["a-1"].principal == ADMIN  # the worker is still the admin's
    register(catalog, registration("p-1", P))
    assert catalog.workflows[ORDER].owner == P


def test_ownership_outlives_the_owners_workers() -> None:
    """A batch worker that runs at night, a crash, a deploy gap: none lets another principal
    take the type over. Only an admin releases or transfers it."""
    catalog = owned_by_p()
    write(catalog, plan_unregister_worker(catalog, WorkerRef("p-1", P)))
    assert catalog.workers == {} and catalog.workflows[ORDER].owner == P
    error = refused(lambda: plan_register_worker(catalog, registration("q-1", Q, "evil"), NOW))
    assert error.reason == "NOT_OWNER"


def test_an_unowned_type_is_claimed_by_its_next_registrant_even_unchanged() -> None:
    stored = StoredWorkflow(spec(task_queue="orders"))  # stored before owners were recorded
    catalog = Catalog(workflows={ORDER: stored})
    change = register(catalog, registration("q-1", Q))
    assert change.changed_workflows == []  # the spec did not change: no schedule check
    assert catalog.workflows[ORDER] == replace(stored, owner=Q, update_time_epoch=NOW)


def test_delete_releases_a_type() -> None:
    catalog = owned_by_p()
    write(catalog, plan_delete_workflow(catalog, WorkflowDeletion(ORDER)))
    register(catalog, registration("q-1", Q, "evil"))
    assert catalog.workflows[ORDER].owner == Q


@pytest.mark.parametrize(
    ("owner", "expected"),
    [(None, P), ("", ""), (Q, Q)],
    ids=["unset-keeps", "empty-releases", "name-transfers"],
)
def test_an_operator_write_keeps_releases_or_transfers_the_owner(
    owner: str | None, expected: str
) -> None:
    catalog = owned_by_p()
    stored = catalog.workflows[ORDER]
    write(catalog, plan_put_workflow(catalog, WorkflowWrite(stored.spec, owner=owner), NOW))
    assert catalog.workflows[ORDER].owner == expected


def test_an_operator_created_type_is_unowned_unless_given_an_owner() -> None:
    catalog = Catalog()
    write(catalog, plan_put_workflow(catalog, WorkflowWrite(spec(task_queue="q")), NOW))
    assert catalog.workflows[ORDER].owner == ""
    write(
        catalog,
        plan_put_workflow(catalog, WorkflowWrite(spec("b.v1", task_queue="q"), owner=P), NOW),
    )
    assert catalog.workflows["b.v1"].owner == P


def test_toggling_keeps_the_owner() -> None:
    catalog = owned_by_p()
    write(catalog, plan_toggle_workflow(catalog, WorkflowToggle(ORDER, False, "paused"), NOW))
    assert catalog.workflows[ORDER].owner == P


# --- hostile input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plan",
    [
        lambda c: plan_register_worker(c, registration("w", "has space"), NOW),
        lambda c: plan_register_worker(c, replace(registration("w", P), principal=5), NOW),
        lambda c: plan_register_worker(c, replace(registration("w", P), admin="yes"), NOW),
        lambda c: plan_unregister_worker(c, WorkerRef("p-1", ["p"])),  # type: ignore[arg-type]
        lambda c: plan_unregister_worker(c, WorkerRef("p-1", P, 1)),  # type: ignore[arg-type]
        lambda c: plan_put_workflow(c, WorkflowWrite(spec(task_queue="q"), owner="no:such"), NOW),
        lambda c: plan_put_workflow(c, WorkflowWrite(spec(task_queue="q"), owner=7), NOW),  # type: ignore[arg-type]
    ],
)
def test_malformed_callers_and_owners_are_invalid_never_raised(plan: Any) -> None:
    catalog = owned_by_p()
    error = refused(lambda: plan(catalog))
    assert error.code == "INVALID_ARGUMENT" and error.violations


# --- stored state from before principals ------------------------------------------------------


def test_state_and_writes_recorded_before_principals_decode_with_empty_ones() -> None:
    """Continue-as-new inputs and update arguments of an earlier version have no principal
    fields: they decode with the defaults, so recorded histories replay unchanged."""
    converter = DataConverter.default.payload_converter

    def decode(value: dict[str, Any], kind: type) -> Any:
        payload = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())
        return converter.from_payloads([payload], [kind])[0]

    worker = decode({"worker_id": "w", "task_queue": "q"}, StoredWorker)
    workflow = decode({"spec": {"workflow_type": ORDER}}, StoredWorkflow)
    reg = decode({"worker_id": "w", "task_queue": "q"}, WorkerRegistration)
    ref = decode({"worker_id": "w"}, WorkerRef)
    put = decode({"spec": {"workflow_type": ORDER, "task_queue": "q"}}, WorkflowWrite)
    assert (worker.principal, workflow.owner) == ("", "")
    assert (reg.principal, reg.admin, ref.principal, ref.admin) == ("", False, "", False)
    assert put.owner is None
