"""Worker liveness: leases, coalesced lease renewals, expiry with
self-preservation, and the health of a workflow type.

Pure functions over small frozen dataclasses: no I/O, no clocks (every function
takes `now`, Unix seconds), standard library only, so the registry workflow's
sandbox can import this module unchanged.

Leases and heartbeats
---------------------
A worker registers with a TTL and gets a stored lease `expires_at = now + ttl`
in its worker shard, one of the durable registry workflows. Its heartbeats stay
in the registry server's memory; once per flush interval F the server takes the
workers from `renewals_due`: those that heartbeated since their lease was last
renewed and whose stored lease would expire before the next flush can land
(`expires_at < now + F + margin`, margin = how long an update may take to land),
and sends one renewal per worker shard holding any of them, which that shard's
group commit writes as one update. A renewal sets `expires_at = last_heartbeat + ttl`.

A heartbeating worker's stored lease never lapses if `ttl > F + margin + h`
(h = heartbeat interval): when it is due, its last heartbeat is at most h old,
so the renewal moves the lease past the next flush plus the margin.

History growth
--------------
With N workers heartbeating every h seconds, spread over S worker shards, TTL T,
flush interval F and margin m (each update adds about 5 history events):

* at most one update per worker shard per flush interval, and only shards
  holding a due worker get one: at most min(S, N) / F updates per second,
  whatever the heartbeat frequency;
* each worker is renewed at most about once per P = T - F - m - h seconds
  (its renewal period; between P and P + F in practice);
* so updates per second <= min(min(S, N) / F, N / P), heartbeats per second =
  N / h, and

      events per 1,000 heartbeats = 5000 * h * min(min(S, N) / (N * F), 1 / P)

  (`history_events_per_1000_heartbeats`; `shards` = S, 1 for a single registry
  workflow). The events land in the shards' histories, S workflows each
  continuing as new on its own, so one shard's history grows by at most
  5 / F events per second however many workers heartbeat.

  Example, the default S = 32 with N = 1000, h = 1 s, T = 30 s, F = 5 s,
  m = 5 s: P = 19 s; the shards allow 32 / 5 = 6.4 updates per second, the
  leases 1000 / 19 = 53, so 6.4 updates (32 events) per second against 1,000
  heartbeats per second: 32 events per 1,000 heartbeats (1 with one shard).
  With N >= S * P / F workers registered at staggered times, almost every
  shard renews at every flush, close to the bound (31.96 simulated over an
  hour in tests/unit/test_liveness.py). With a few workers per shard each
  renewal is nearly an update of its own and both terms are close: N = 100,
  h = 5 s, T = 30 s, F = 5 s, m = 5 s gives 5000 * 5 * min(32 / 500, 1 / 15)
  = 1,600 (50 with one shard); with a long TTL the lease term wins: N = 100,
  h = 5 s, T = 300 s, F = 60 s, m = 10 s gives 5000 * 5 / 225 = 111
  (4.2 with one shard). Writing every heartbeat would cost 5,000.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

# Below this many workers a fraction says nothing about the registry: with two
# workers one crash is already half the fleet, and real losses must still expire.
SELF_PRESERVATION_MIN_WORKERS = 3

# History events one Temporal update adds (accepted, completed, workflow task).
EVENTS_PER_UPDATE = 5


@dataclass(frozen=True)
class Lease:
    """A worker's lease as stored in the registry workflow."""

    worker_id: str
    ttl_seconds: int
    expires_at: float

    @classmethod
    def grant(cls, worker_id: str, ttl_seconds: int, now: float) -> Lease:
        return cls(worker_id, ttl_seconds, now + ttl_seconds)

    @property
    def renewed_at(self) -> float:
        """The heartbeat (or registration) time the lease was last renewed from."""
        return self.expires_at - self.ttl_seconds


def lease_valid(lease: Lease, now: float) -> bool:
    return now < lease.expires_at


def cadence(ttl: float, flush_interval: float, margin: float) -> tuple[float, float]:
    """The flush interval and margin a lease of `ttl` seconds needs: the configured ones,
    shortened for a short lease to a quarter of it each. A worker heartbeats every ttl/3 (the
    keeper's cadence); its renewal is sent within one interval of the heartbeat and lands
    within the margin, so interval + margin <= ttl/2 < 2 ttl/3 keeps the lease from lapsing."""
    cap = ttl / 4
    return min(flush_interval, cap), min(margin, cap)


def renewals_due(
    stored: Mapping[str, Lease],
    last_heartbeat: Mapping[str, float],
    now: float,
    flush_interval: float,
    margin: float,
) -> dict[str, float]:
    """worker_id -> new expires_at for the workers to renew in this flush.

    Renewed: workers with a heartbeat newer than their lease's renewal point
    whose stored lease expires before `now + interval + margin` (their `cadence`), and
    whose heartbeat still vouches for them now (`heartbeat + ttl > now`). Heartbeats
    from workers without a stored lease are ignored: they must register first.
    """
    due: dict[str, float] = {}
    for worker_id, lease in stored.items():
        heartbeat = last_heartbeat.get(worker_id)
        interval, lands = cadence(lease.ttl_seconds, flush_interval, margin)
        horizon = now + interval + lands
        if heartbeat is None or heartbeat <= lease.renewed_at or lease.expires_at >= horizon:
            continue
        expires_at = heartbeat + lease.ttl_seconds
        if expires_at > now:
            due[worker_id] = expires_at
    return due


def apply_renewals(leases: Mapping[str, Lease], renewals: Mapping[str, float]) -> dict[str, Lease]:
    """The leases after a renewal update. Unknown workers (deregistered since the
    flush) are skipped and a lease is never shortened, so a retried or
    out-of-order update is harmless."""
    renewed = dict(leases)
    for worker_id, expires_at in renewals.items():
        lease = renewed.get(worker_id)
        if lease is not None and expires_at > lease.expires_at:
            renewed[worker_id] = replace(lease, expires_at=expires_at)
    return renewed


def history_events_per_1000_heartbeats(
    workers: int,
    heartbeat_interval: float,
    ttl: float,
    flush_interval: float,
    margin: float,
    *,
    shards: int = 1,
) -> float:
    """The upper bound on history growth from the module docstring, summed over every worker
    shard: `shards` is how many worker shards the workers are spread over."""
    renewal_period = max(flush_interval, ttl - flush_interval - margin - heartbeat_interval)
    updating = min(shards, workers)  # shards that can hold a due worker
    updates_per_worker_second = min(updating / (workers * flush_interval), 1 / renewal_period)
    return EVENTS_PER_UPDATE * 1000 * heartbeat_interval * updates_per_worker_second


@dataclass(frozen=True)
class ExpiryDecision:
    expire: tuple[str, ...]
    self_preservation: bool
    reason: str


def expired_workers(
    leases: Mapping[str, Lease],
    now: float,
    grace_factor: float,
    self_preservation_threshold: float,
    *,
    min_workers: int = SELF_PRESERVATION_MIN_WORKERS,
) -> ExpiryDecision:
    """Which workers to remove: those whose lease ended more than
    `grace_factor * ttl` ago.

    Self-preservation: when at least `min_workers` are registered and the
    fraction with lapsed leases exceeds `self_preservation_threshold` (strictly),
    the registry is more likely cut off than the workers dead (restart,
    partition), so nothing is expired and the condition is reported.
    """
    total = len(leases)
    lapsed = sum(not lease_valid(lease, now) for lease in leases.values())
    if total >= min_workers and lapsed / total > self_preservation_threshold:
        return ExpiryDecision(
            (),
            True,
            f"{lapsed} of {_count(total, 'worker')} missed their leases at once; "
            "not expiring (self-preservation)",
        )
    expire = tuple(
        sorted(
            worker_id
            for worker_id, lease in leases.items()
            if now - lease.expires_at > grace_factor * lease.ttl_seconds
        )
    )
    if expire:
        reason = f"{len(expire)} of {_count(total, 'worker')} past the grace period; expiring"
    elif lapsed:
        reason = f"{lapsed} of {_count(total, 'lease')} lapsed, within the grace period"
    else:
        reason = f"{_count(total, 'lease')} valid"
    return ExpiryDecision(expire, False, reason)


@dataclass(frozen=True)
class Poller:
    """A poller as DescribeTaskQueue lists it."""

    identity: str
    last_access_time: float


@dataclass(frozen=True)
class PollerHealth:
    fresh: bool
    active_pollers: int
    reason: str


def poller_health(pollers: Sequence[Poller], now: float, max_poller_age: float) -> PollerHealth:
    """Whether a task queue has a recently active poller.

    Temporal keeps stopped workers in the poller list for minutes, so a poller
    counts only if its last access is at most `max_poller_age` old. An idle
    worker re-polls about once per long-poll timeout (about a minute), so use a
    few minutes, not seconds.
    """
    if not pollers:
        return PollerHealth(False, 0, "no pollers")
    ages = [max(0.0, now - poller.last_access_time) for poller in pollers]
    active = sum(age <= max_poller_age for age in ages)
    if not active:
        return PollerHealth(False, 0, f"no pollers for {humanize_seconds(min(ages))}")
    return PollerHealth(True, active, _count(active, "active poller"))


@dataclass(frozen=True)
class WorkflowHealth:
    healthy: bool
    reasons: tuple[str, ...]


def workflow_health(
    worker_leases: Sequence[Lease],
    pollers_by_queue: Mapping[str, PollerHealth] | None,
    task_queues: Sequence[str],
    now: float,
) -> WorkflowHealth:
    """A workflow type is healthy iff at least one of its workers holds a valid
    lease and at least one of its task queues has a fresh poller.

    `pollers_by_queue` is None when Temporal could not be asked; queues missing
    from it are unknown too. With no queue known, health is decided on leases
    alone and the reasons say so.
    """
    total = len(worker_leases)
    valid = sum(lease_valid(lease, now) for lease in worker_leases)
    if not total:
        lease_reason = "no registered workers"
    elif valid == total:
        lease_reason = "registered"
    else:
        lease_reason = f"{valid} of {_count(total, 'worker')} healthy"

    known = [
        (queue, pollers_by_queue[queue])
        for queue in task_queues
        if pollers_by_queue is not None and queue in pollers_by_queue
    ]
    if not known:
        return WorkflowHealth(
            valid > 0, (lease_reason, "poller status unknown; judged on leases alone")
        )
    poller_reasons = (
        [health.reason for _, health in known]
        if len(task_queues) == 1
        else [f"{queue}: {health.reason}" for queue, health in known]
    )
    polled = any(health.fresh for _, health in known)
    return WorkflowHealth(valid > 0 and polled, (lease_reason, *poller_reasons))


def humanize_seconds(seconds: float) -> str:
    """45 s, 7 min, 3 h (rounded down; negative ages read as 0 s)."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    return f"{whole // 3600} h"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
