"""registry.catalog.store.Catalog: the sorted ids that list pages bisect stay true to the
catalogue as workers and types come, change and go."""

from __future__ import annotations

from registry.catalog.store import Catalog
from registry.shared.model import StoredWorker, StoredWorkflow, WorkflowSpec


def worker(worker_id: str, queue: str = "q") -> StoredWorker:
    return StoredWorker(worker_id=worker_id, task_queue=queue, workflows=["order.v1"])


def workflow(workflow_type: str, queue: str = "q") -> StoredWorkflow:
    return StoredWorkflow(spec=WorkflowSpec(workflow_type=workflow_type, task_queue=queue))


def test_sorted_worker_ids_follow_arrivals_and_departures() -> None:
    catalog = Catalog({})
    for worker_id in ("w3", "w1", "w2"):
        catalog.on_worker(worker_id, None, worker(worker_id))
    assert catalog.worker_ids() == ["w1", "w2", "w3"]
    catalog.on_worker("w2", catalog.workers["w2"], worker("w2", "other"))  # changed in place
    assert catalog.worker_ids() == ["w1", "w2", "w3"]
    assert catalog.workers["w2"].task_queue == "other"
    catalog.on_worker("w1", catalog.workers["w1"], None)
    catalog.on_worker("w0", None, worker("w0"))
    assert catalog.worker_ids() == ["w0", "w2", "w3"]
    assert sorted(catalog.workers_by_type["order.v1"]) == ["w0", "w2", "w3"]


def test_sorted_workflow_types_follow_arrivals_and_departures() -> None:
    catalog = Catalog({})
    for name in ("b.v1", "a.v1"):
        catalog.on_workflow(name, None, workflow(name))
    assert catalog.workflow_types() == ["a.v1", "b.v1"]
    catalog.on_workflow("a.v1", catalog.workflows["a.v1"], None)
    catalog.on_workflow("c.v1", None, workflow("c.v1"))
    assert catalog.workflow_types() == ["b.v1", "c.v1"]
