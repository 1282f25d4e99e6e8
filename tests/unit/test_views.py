"""registry.liveness.views: the catalogue as this process sees it now, composed from stored leases,
local heartbeats and task queue pollers. The liveness rules themselves are tested in
test_liveness.py; these tests check how views feed them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from registry.liveness.rules import Lease, Poller
from registry.liveness.views import (
    LivenessInputs,
    WorkerView,
    effective_lease,
    worker_view,
    workers_by_type,
    workflow_view,
)
from registry.shared.model import StoredWorker, StoredWorkflow, WorkflowSpec

NOW = 1_800_000_000.0
ORDERS = "orders.process.v1"
UNKNOWN = "poller status unknown; judged on leases alone"

# --- helpers ---------------------------------------------------------------------------------


def worker(
    worker_id: str = "w1",
    task_queue: str = "orders",
    *,
    ttl: int = 30,
    lease: float = NOW + 10,
    workflows: Sequence[str] = (ORDERS,),
    registered: float = NOW - 3600,
) -> StoredWorker:
    return StoredWorker(
        worker_id=worker_id,
        task_queue=task_queue,
        ttl_seconds=ttl,
        workflows=list(workflows),
        registered_epoch=registered,
        lease_expires_epoch=lease,
    )


def stored(workflow_type: str = ORDERS, task_queue: str = "orders") -> StoredWorkflow:
    return StoredWorkflow(WorkflowSpec(workflow_type, task_queue=task_queue))


def inputs(
    pollers: Mapping[str, Sequence[Poller]] | None = None,
    heartbeats: Mapping[str, float] | None = None,
    **changes: Any,
) -> LivenessInputs:
    values: dict[str, Any] = {
        "heartbeats": heartbeats or {},
        "pollers": pollers,
        "poller_max_age": 300.0,
        "now": NOW,
    }
    return LivenessInputs(**{**values, **changes})


def fresh(queue: str = "orders", age: float = 5) -> dict[str, list[Poller]]:
    return {queue: [Poller(f"{queue}-poller", NOW - age)]}


# --- leases and workers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heartbeats", "expected"),
    [
        ({}, NOW + 10),
        ({"w1": NOW - 30}, NOW + 10),  # heartbeat + ttl == NOW: the stored lease is later
        ({"w1": NOW - 2}, NOW + 28),  # a heartbeat not yet flushed to the registry
        ({"w2": NOW}, NOW + 10),  # another worker's heartbeat
    ],
    ids=["no-heartbeat", "older-heartbeat", "newer-heartbeat", "other-worker"],
)
def test_effective_lease_is_the_later_of_stored_lease_and_heartbeat(
    heartbeats: dict[str, float], expected: float
) -> None:
    assert effective_lease(worker(), heartbeats) == Lease("w1", 30, expected)


def test_a_local_heartbeat_keeps_a_lapsed_stored_lease_healthy() -> None:
    lapsed = worker(lease=NOW - 1)
    assert worker_view(lapsed, inputs()).healthy is False
    view = worker_view(lapsed, inputs(heartbeats={"w1": NOW - 4}))
    assert view == WorkerView(
        stored=lapsed, lease=Lease("w1", 30, NOW + 26), last_seen_epoch=NOW - 4, healthy=True
    )


def test_worker_is_healthy_until_its_effective_lease_ends() -> None:
    w = worker(lease=NOW + 10)
    assert worker_view(w, inputs(now=NOW + 9.999)).healthy is True
    assert worker_view(w, inputs(now=NOW + 10)).healthy is False


def test_last_seen_is_the_renewal_point_but_never_before_registration() -> None:
    assert worker_view(worker(lease=NOW + 10), inputs()).last_seen_epoch == NOW - 20
    never_renewed = worker(lease=0.0, registered=NOW - 50)  # a lease that says nothing
    assert worker_view(never_renewed, inputs()).last_seen_epoch == NOW - 50


def test_workers_by_type_indexes_each_type_in_worker_id_order() -> None:
    c = worker("c", workflows=["a", "b"])
    a = worker("a", workflows=["b"])
    b = worker("b", workflows=["a", "z"])
    idle = worker("d", workflows=[])
    index = workers_by_type([c, idle, a, b])
    assert index == {"a": [b, c], "b": [a, c], "z": [b]}
    assert [w.worker_id for w in index["a"]] == ["b", "c"]
    assert workers_by_type([]) == {}


# --- workflow health -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lease", "pollers", "healthy", "reasons"),
    [
        (NOW + 10, fresh(), True, ("registered", "1 active poller")),
        (NOW + 10, fresh(age=7 * 60 + 5), False, ("registered", "no pollers for 7 min")),
        (NOW + 10, {"orders": []}, False, ("registered", "no pollers")),
        (NOW - 1, fresh(), False, ("0 of 1 worker healthy", "1 active poller")),
        (NOW + 10, None, True, ("registered", UNKNOWN)),
        (NOW - 1, None, False, ("0 of 1 worker healthy", UNKNOWN)),
        (NOW + 10, fresh("elsewhere"), True, ("registered", UNKNOWN)),
    ],
    ids=[
        "lease-and-poller",
        "stale-poller",
        "no-pollers",
        "lapsed-lease",
        "pollers-unknown",
        "pollers-unknown-lapsed",
        "queue-not-read",
    ],
)
def test_healthy_needs_a_valid_lease_and_a_fresh_poller(
    lease: float,
    pollers: dict[str, list[Poller]] | None,
    healthy: bool,
    reasons: tuple[str, ...],
) -> None:
    view = workflow_view(stored(), [worker(lease=lease)], inputs(pollers))
    assert (view.healthy, view.health_reasons) == (healthy, reasons)


def test_a_heartbeat_counts_towards_workflow_health() -> None:
    lapsed = [worker(lease=NOW - 1)]
    assert not workflow_view(stored(), lapsed, inputs(fresh())).healthy
    view = workflow_view(stored(), lapsed, inputs(fresh(), heartbeats={"w1": NOW - 1}))
    assert (view.healthy, view.health_reasons) == (True, ("registered", "1 active poller"))


def test_poller_max_age_decides_freshness() -> None:
    pollers = fresh(age=100)
    assert workflow_view(stored(), [worker()], inputs(pollers, poller_max_age=120)).healthy
    view = workflow_view(stored(), [worker()], inputs(pollers, poller_max_age=60))
    assert view.health_reasons == ("registered", "no pollers for 1 min")


def test_workers_on_several_queues_are_judged_per_queue() -> None:
    workers = [
        worker("w1", "queue-b", lease=NOW + 10),
        worker("w2", "queue-a", lease=NOW - 100),
    ]
    pollers = {"queue-a": [Poller("p", NOW - 1)], "queue-b": []}
    view = workflow_view(stored(), workers, inputs(pollers))
    # A valid lease (w1, queue-b) and a fresh poller (queue-a), but not on the same queue:
    # nothing can run the type right now.
    assert view.healthy is False
    assert view.health_reasons == (
        "queue-a: 0 of 1 worker healthy, 1 active poller",
        "queue-b: registered, no pollers",
    )
    assert [(v.stored.worker_id, v.healthy) for v in view.workers] == [("w1", True), ("w2", False)]

    pollers["queue-b"] = [Poller("p2", NOW - 2)]
    view = workflow_view(stored(), workers, inputs(pollers))
    assert view.healthy is True
    assert view.health_reasons[1] == "queue-b: registered, 1 active poller"


def test_the_spec_task_queue_is_used_only_without_workers() -> None:
    pollers = {"orders": [Poller("p", NOW)], "other": []}
    view = workflow_view(stored(task_queue="orders"), [], inputs(pollers))
    assert (view.healthy, view.health_reasons) == (
        False,
        ("no registered workers", "1 active poller"),
    )
    assert view.workers == ()

    view = workflow_view(stored(task_queue=""), [], inputs(pollers))
    assert view.health_reasons == ("no registered workers", UNKNOWN)

    # With workers, their queues are looked at, not the spec's.
    view = workflow_view(stored(task_queue="orders"), [worker(task_queue="other")], inputs(pollers))
    assert view.health_reasons == ("registered", "no pollers")


def test_workflow_view_keeps_the_stored_entry_and_the_workers_in_order() -> None:
    entry = stored()
    workers = [worker("w2"), worker("w1", lease=NOW - 5)]
    view = workflow_view(entry, workers, inputs(fresh()))
    assert view.stored is entry
    assert [v.stored for v in view.workers] == workers
    assert view.workers[1] == worker_view(workers[1], inputs(fresh()))


def test_workers_by_type_indexes_workers_in_worker_id_order() -> None:
    workers = [
        worker("w2", workflows=["zeta.v1", "alpha.v1"]),
        worker("w1", workflows=["zeta.v1"]),
        worker("w3", workflows=["gone.v1"]),
    ]
    index = workers_by_type(workers)
    assert {name: [w.worker_id for w in found] for name, found in index.items()} == {
        "alpha.v1": ["w2"],
        "zeta.v1": ["w1", "w2"],
        "gone.v1": ["w3"],
    }
