"""What clients read: workflow types and workers as this process sees them right now.

Pure functions over the stored catalogue, the heartbeats this process holds in memory and the
task queue pollers it last read from Temporal. A worker's effective lease is the later of its
stored lease and its last heartbeat here plus its TTL, so a heartbeat shows at once, before the
coalesced renewal reaches the registry workflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from registry.catalog.versions import served_version
from registry.liveness.rules import (
    Lease,
    Poller,
    PollerHealth,
    WorkflowHealth,
    lease_valid,
    poller_health,
    workflow_health,
)
from registry.shared.model import StoredWorker, StoredWorkflow

MAX_NAMED_MATES = 3  # workers named in a mixed-queue reason


@dataclass(frozen=True)
class WorkerView:
    stored: StoredWorker
    lease: Lease
    last_seen_epoch: float
    healthy: bool


@dataclass(frozen=True)
class WorkflowView:
    stored: StoredWorkflow
    workers: tuple[WorkerView, ...]
    healthy: bool
    health_reasons: tuple[str, ...]
    serving_versions: tuple[int, ...] = ()  # schema versions its live workers declared


@dataclass(frozen=True)
class LivenessInputs:
    """Everything besides the catalogue that health depends on."""

    heartbeats: Mapping[str, float]  # worker_id -> last heartbeat seen here (Unix seconds)
    pollers: Mapping[str, Sequence[Poller]] | None  # task queue -> pollers; None: not read yet
    poller_max_age: float
    now: float


def effective_lease(worker: StoredWorker, heartbeats: Mapping[str, float]) -> Lease:
    expires_at = worker.lease_expires_epoch
    heartbeat = heartbeats.get(worker.worker_id)
    if heartbeat is not None:
        expires_at = max(expires_at, heartbeat + worker.ttl_seconds)
    return Lease(worker.worker_id, worker.ttl_seconds, expires_at)


def worker_view(worker: StoredWorker, inputs: LivenessInputs) -> WorkerView:
    lease = effective_lease(worker, inputs.heartbeats)
    return WorkerView(
        stored=worker,
        lease=lease,
        last_seen_epoch=max(lease.renewed_at, worker.registered_epoch),
        healthy=lease_valid(lease, inputs.now),
    )


def workers_by_type(workers: Iterable[StoredWorker]) -> dict[str, list[StoredWorker]]:
    index: dict[str, list[StoredWorker]] = {}
    for worker in sorted(workers, key=lambda w: w.worker_id):
        for workflow_type in worker.workflows:
            index.setdefault(workflow_type, []).append(worker)
    return index


def workflow_view(
    stored: StoredWorkflow,
    workers: Sequence[StoredWorker],
    inputs: LivenessInputs,
    queue_mates: Sequence[StoredWorker] = (),
) -> WorkflowView:
    """A workflow type is healthy iff one of its workers holds a valid lease on a task queue
    with a recently active poller (registry.liveness.workflow_health, per queue). Without
    workers, the spec's own task queue is reported on. `queue_mates`: workers on its workers'
    queues that do not declare it; live ones are named in the reasons (a run they pick up
    fails with "not registered on this worker" until another worker takes it), without
    making the type unhealthy."""
    views = tuple(worker_view(worker, inputs) for worker in workers)
    workflow_type = stored.spec.workflow_type
    serving = tuple(
        sorted(
            {
                served_version(v.stored, workflow_type, stored.schema_version)
                for v in views
                if v.healthy
            }
        )
    )
    mixed = _mixed_queue_reasons(queue_mates, inputs)
    queues = sorted({worker.task_queue for worker in workers})
    if len(queues) <= 1:
        queues = queues or [q for q in [stored.spec.task_queue] if q]
        health = _queue_health([v.lease for v in views], queues, inputs)
        return WorkflowView(stored, views, health.healthy, health.reasons + mixed, serving)
    per_queue = [
        (
            queue,
            _queue_health(
                [v.lease for v in views if v.stored.task_queue == queue], [queue], inputs
            ),
        )
        for queue in queues
    ]
    return WorkflowView(
        stored,
        views,
        any(health.healthy for _, health in per_queue),
        tuple(f"{queue}: {', '.join(health.reasons)}" for queue, health in per_queue) + mixed,
        serving,
    )


def _mixed_queue_reasons(
    queue_mates: Sequence[StoredWorker], inputs: LivenessInputs
) -> tuple[str, ...]:
    live: dict[str, list[str]] = {}
    for worker in queue_mates:
        if lease_valid(effective_lease(worker, inputs.heartbeats), inputs.now):
            live.setdefault(worker.task_queue, []).append(worker.worker_id)
    return tuple(
        f"task queue {queue} mixes type sets: live worker{'s' if len(ids) > 1 else ''} "
        f"{_names(sorted(ids))} poll{'' if len(ids) > 1 else 's'} it without declaring this "
        "type; a run one of them picks up fails with 'not registered on this worker' until "
        "another worker takes it"
        for queue, ids in sorted(live.items())
    )


def _names(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:MAX_NAMED_MATES])
    return f"{shown} and {len(ids) - MAX_NAMED_MATES} more" if len(ids) > MAX_NAMED_MATES else shown


def _queue_health(
    leases: Sequence[Lease], queues: Sequence[str], inputs: LivenessInputs
) -> WorkflowHealth:
    by_queue: dict[str, PollerHealth] | None = None
    if inputs.pollers is not None:
        by_queue = {
            queue: poller_health(inputs.pollers[queue], inputs.now, inputs.poller_max_age)
            for queue in queues
            if queue in inputs.pollers
        }
    return workflow_health(leases, by_queue, queues, inputs.now)
