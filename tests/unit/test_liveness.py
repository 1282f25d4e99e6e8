"""Leases, coalesced renewals, expiry with self-preservation, poller and
workflow health: pure functions, so plain values and no clocks."""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry.catalog.layout import shard_index
from registry.liveness import rules as liveness
from registry.liveness.rules import (
    EVENTS_PER_UPDATE,
    Lease,
    Poller,
    PollerHealth,
    apply_renewals,
    cadence,
    expired_workers,
    history_events_per_1000_heartbeats,
    humanize_seconds,
    lease_valid,
    poller_health,
    renewals_due,
    workflow_health,
)

NOW = 1_800_000_000.0


def test_liveness_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(liveness.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    roots = {name.split(".")[0] for name in imported}
    assert roots <= set(sys.stdlib_module_names) | {"__future__"}
    assert not roots & {"time", "os", "random", "datetime"}  # no clocks, no environment


# --- leases ----------------------------------------------------------------------------


def test_lease_is_valid_until_it_expires() -> None:
    lease = Lease.grant("w1", 30, NOW)
    assert lease == Lease("w1", 30, NOW + 30)
    assert lease.renewed_at == NOW
    assert lease_valid(lease, NOW + 29.999)
    assert not lease_valid(lease, NOW + 30)


# --- renewals --------------------------------------------------------------------------


def test_renews_only_due_workers_from_their_last_heartbeat() -> None:
    stored = {
        "due": Lease("due", 30, NOW + 8),  # expires before now + 5 + 5
        "later": Lease("later", 30, NOW + 25),
    }
    heartbeats = {"due": NOW - 1, "later": NOW - 1}
    assert renewals_due(stored, heartbeats, NOW, flush_interval=5, margin=5) == {"due": NOW + 29}


def test_a_lease_expiring_exactly_at_the_horizon_waits_for_the_next_flush() -> None:
    stored = {"w": Lease("w", 30, NOW + 10)}
    assert renewals_due(stored, {"w": NOW}, NOW, flush_interval=5, margin=5) == {}


def test_no_renewal_without_a_newer_heartbeat() -> None:
    lease = Lease("w", 30, NOW + 2)  # renewed from a heartbeat at NOW - 28
    stored = {"w": lease}
    for heartbeat in (lease.renewed_at, lease.renewed_at - 10):
        assert renewals_due(stored, {"w": heartbeat}, NOW, 5, 5) == {}
    assert renewals_due(stored, {}, NOW, 5, 5) == {}
    assert renewals_due(stored, {"w": lease.renewed_at + 1}, NOW, 5, 5) == {"w": NOW + 3}


def test_a_heartbeat_that_no_longer_vouches_for_the_worker_is_not_written() -> None:
    stored = {"w": Lease("w", 30, NOW - 20)}  # lapsed; renewed from NOW - 50
    assert renewals_due(stored, {"w": NOW - 31}, NOW, 5, 5) == {}
    assert renewals_due(stored, {"w": NOW - 29}, NOW, 5, 5) == {"w": NOW + 1}


def test_heartbeats_of_unregistered_workers_are_ignored() -> None:
    assert renewals_due({}, {"ghost": NOW}, NOW, 5, 5) == {}


def test_apply_renewals_never_shortens_and_skips_deregistered_workers() -> None:
    stored = {"a": Lease("a", 30, NOW + 10), "b": Lease("b", 30, NOW + 10)}
    renewed = apply_renewals(stored, {"a": NOW + 30, "b": NOW + 5, "gone": NOW + 30})
    assert renewed == {"a": Lease("a", 30, NOW + 30), "b": stored["b"]}
    assert stored["a"].expires_at == NOW + 10  # input untouched


@dataclass
class Simulation:
    updates: int
    heartbeats: int
    shortest_renewal_gap: float

    @property
    def events_per_1000_heartbeats(self) -> float:
        return EVENTS_PER_UPDATE * self.updates * 1000 / self.heartbeats


def simulate(
    *,
    workers: int,
    heartbeat: float,
    ttl: int,
    flush: float,
    margin: float,
    duration: float = 3600.0,
    latency: float = 1.0,
    shards: int = 1,
) -> Simulation:
    """Workers register at staggered times over one TTL (a rolling deploy) and
    heartbeat every `heartbeat` seconds; the server flushes every `flush`
    seconds and each update lands `latency` later. Workers are spread over
    `shards` worker shards as the registry spreads them (a hash of the id), and a
    flush costs one update per shard holding a due worker. Checks that no stored
    lease of a heartbeating worker ever lapses: leases only change when an update
    lands, so checking at every flush and every landing covers all times."""
    registered_at = {f"w{i:04d}": i * ttl / workers for i in range(workers)}
    shard_of = {worker_id: shard_index(worker_id, shards) for worker_id in registered_at}
    stored: dict[str, Lease] = {}
    last_renewal: dict[str, float] = {}
    updates, shortest_gap = 0, float("inf")
    for step in range(1, int(duration / flush) + 1):
        now = step * flush
        for worker_id, at in registered_at.items():
            if at <= now and worker_id not in stored:
                stored[worker_id] = Lease.grant(worker_id, ttl, at)
        assert all(lease_valid(lease, now) for lease in stored.values()), now
        last_heartbeat = {
            worker_id: at + heartbeat * ((now - at) // heartbeat)
            for worker_id, at in registered_at.items()
            if at <= now
        }
        due = renewals_due(stored, last_heartbeat, now, flush, margin)
        if not due:
            continue
        updates += len({shard_of[worker_id] for worker_id in due})
        assert all(lease_valid(lease, now + latency) for lease in stored.values()), now
        stored = apply_renewals(stored, due)
        for worker_id in due:
            if worker_id in last_renewal:
                shortest_gap = min(shortest_gap, now - last_renewal[worker_id])
            last_renewal[worker_id] = now
    heartbeats = sum(int((duration - at) // heartbeat) for at in registered_at.values())
    return Simulation(updates, heartbeats, shortest_gap)


@pytest.mark.parametrize(
    ("workers", "heartbeat", "ttl", "flush", "margin", "shards", "expected"),
    [
        # One update per 5 s flush carries 100 heartbeats' worth.
        (100, 5.0, 30, 5.0, 5.0, 1, 50.0),
        # Flushing once a minute with a 5 min TTL brings it under 5.
        (100, 5.0, 300, 60.0, 10.0, 1, 25 / 6),
        # Few workers: each is renewed at most once per ttl - flush - margin - heartbeat.
        (2, 5.0, 30, 5.0, 5.0, 1, 5000 * 5 / 15),
        # The default 32 worker shards (1,000 workers: below). About 3 workers per shard: the
        # lease term bounds it, nearly one update per renewal.
        (100, 5.0, 30, 5.0, 5.0, 32, 1600.0),
        (100, 5.0, 300, 60.0, 10.0, 32, 5000 * 5 / 225),
        # Fewer workers than shards: at most one shard per worker can need an update.
        (10, 5.0, 30, 5.0, 5.0, 32, 5000 * 5 / 15),
        (2, 5.0, 30, 5.0, 5.0, 32, 5000 * 5 / 15),
    ],
)
def test_history_growth_over_an_hour_matches_the_formula(
    workers: int,
    heartbeat: float,
    ttl: int,
    flush: float,
    margin: float,
    shards: int,
    expected: float,
) -> None:
    result = simulate(
        workers=workers, heartbeat=heartbeat, ttl=ttl, flush=flush, margin=margin, shards=shards
    )
    bound = history_events_per_1000_heartbeats(
        workers, heartbeat, ttl, flush, margin, shards=shards
    )
    assert bound == pytest.approx(expected)
    assert result.events_per_1000_heartbeats <= bound
    assert result.updates <= min(shards, workers) * 3600 / flush
    assert result.shortest_renewal_gap >= ttl - flush - margin - heartbeat
    assert result.events_per_1000_heartbeats < EVENTS_PER_UPDATE * 1000  # one update per beat


def test_one_shard_is_the_default() -> None:
    assert history_events_per_1000_heartbeats(100, 5.0, 30, 5.0, 5.0) == pytest.approx(50.0)
    assert history_events_per_1000_heartbeats(
        100, 5.0, 30, 5.0, 5.0, shards=1
    ) == history_events_per_1000_heartbeats(100, 5.0, 30, 5.0, 5.0)


@pytest.mark.parametrize("workers", [1, 10, 100, 1000, 50_000])
def test_shards_multiply_the_bound_at_most_by_their_number(workers: int) -> None:
    one = history_events_per_1000_heartbeats(workers, 1.0, 30, 5.0, 5.0)
    for shards in (2, 8, 32, 256):
        many = history_events_per_1000_heartbeats(workers, 1.0, 30, 5.0, 5.0, shards=shards)
        assert one <= many <= shards * one + 1e-9
        # never above renewing each worker once per renewal period
        assert many <= 5000 * 1.0 / (30 - 5 - 5 - 1) + 1e-9


def test_a_thousand_workers_over_32_shards_nearly_reach_the_bound() -> None:
    # Up to one update per shard per flush: 32 / 5 updates per second for 1,000 heartbeats
    # per second. Staggered over one TTL, each shard holds about 31 workers, so nearly every
    # shard has a due worker at every flush and the simulation comes close to the bound.
    bound = history_events_per_1000_heartbeats(1000, 1.0, 30, 5.0, 5.0, shards=32)
    assert bound == pytest.approx(32.0)
    result = simulate(workers=1000, heartbeat=1.0, ttl=30, flush=5.0, margin=5.0, shards=32)
    assert 0.95 * bound <= result.events_per_1000_heartbeats <= bound
    assert result.updates <= 32 * 3600 / 5.0
    assert result.shortest_renewal_gap >= 30 - 5 - 5 - 1


def test_a_hundred_workers_cost_one_update_per_flush_not_per_heartbeat() -> None:
    result = simulate(workers=100, heartbeat=5.0, ttl=30, flush=5.0, margin=5.0)
    assert result.heartbeats == pytest.approx(72_000, rel=0.01)
    assert result.updates == pytest.approx(720, abs=5)  # every flush, once all are registered
    assert result.events_per_1000_heartbeats == pytest.approx(50, rel=0.01)


def test_history_growth_under_five_events_per_1000_heartbeats_with_a_one_minute_flush() -> None:
    result = simulate(workers=100, heartbeat=5.0, ttl=300, flush=60.0, margin=10.0)
    assert result.events_per_1000_heartbeats < 5


def test_heartbeat_frequency_does_not_change_the_number_of_updates() -> None:
    slow = simulate(workers=50, heartbeat=10.0, ttl=60, flush=5.0, margin=5.0)
    fast = simulate(workers=50, heartbeat=1.0, ttl=60, flush=5.0, margin=5.0)
    assert fast.heartbeats == pytest.approx(10 * slow.heartbeats, rel=0.01)
    assert fast.updates == pytest.approx(slow.updates, abs=2)


# --- expiry and self-preservation ------------------------------------------------------


def fleet(valid: int, lapsed: int, lapsed_for: float = 100.0, ttl: int = 30) -> dict[str, Lease]:
    leases = [Lease(f"ok{i}", ttl, NOW + 10) for i in range(valid)]
    leases += [Lease(f"gone{i}", ttl, NOW - lapsed_for) for i in range(lapsed)]
    return {lease.worker_id: lease for lease in leases}


def test_grace_period_is_a_factor_of_each_workers_ttl() -> None:
    leases = {
        "lapsed-within-grace": Lease("lapsed-within-grace", 30, NOW - 60),  # exactly 2 x ttl
        "lapsed-past-grace": Lease("lapsed-past-grace", 30, NOW - 61),
        "long-ttl": Lease("long-ttl", 300, NOW - 500),
        "valid": Lease("valid", 30, NOW + 1),
        **fleet(valid=4, lapsed=0),
    }
    decision = expired_workers(leases, NOW, grace_factor=2.0, self_preservation_threshold=0.5)
    assert decision.expire == ("lapsed-past-grace",)
    assert not decision.self_preservation
    assert decision.reason == "1 of 8 workers past the grace period; expiring"


def test_lapsed_leases_within_grace_are_kept_and_reported() -> None:
    decision = expired_workers(fleet(9, 1, lapsed_for=10), NOW, 2.0, 0.5)
    assert decision.expire == ()
    assert decision.reason == "1 of 10 leases lapsed, within the grace period"
    assert expired_workers(fleet(3, 0), NOW, 2.0, 0.5).reason == "3 leases valid"


def test_self_preservation_kicks_in_above_the_threshold_and_not_at_or_below() -> None:
    at_threshold = expired_workers(
        fleet(5, 5), NOW, grace_factor=2.0, self_preservation_threshold=0.5
    )
    assert not at_threshold.self_preservation
    assert len(at_threshold.expire) == 5

    above = expired_workers(fleet(3, 7), NOW, grace_factor=2.0, self_preservation_threshold=0.5)
    assert above.self_preservation
    assert above.expire == ()
    assert above.reason == (
        "7 of 10 workers missed their leases at once; not expiring (self-preservation)"
    )


def test_all_workers_lapsed_after_a_registry_outage_are_preserved() -> None:
    decision = expired_workers(fleet(0, 10, lapsed_for=3600), NOW, 2.0, 0.5)
    assert decision.self_preservation
    assert decision.expire == ()


def test_small_fleets_expire_normally() -> None:
    pair = expired_workers(fleet(0, 2), NOW, 2.0, 0.5)
    assert not pair.self_preservation
    assert pair.expire == ("gone0", "gone1")

    trio = expired_workers(fleet(1, 2), NOW, 2.0, 0.5)
    assert trio.self_preservation
    assert trio.expire == ()

    assert not expired_workers(fleet(1, 2), NOW, 2.0, 0.5, min_workers=4).self_preservation
    assert expired_workers({}, NOW, 2.0, 0.5) == liveness.ExpiryDecision(
        (), False, "0 leases valid"
    )


# --- pollers ---------------------------------------------------------------------------


def test_no_pollers() -> None:
    assert poller_health([], NOW, 120) == PollerHealth(False, 0, "no pollers")


def test_stale_pollers_report_the_age_of_the_most_recent() -> None:
    pollers = [Poller("a@host", NOW - 900), Poller("b@host", NOW - 420)]
    assert poller_health(pollers, NOW, 120) == PollerHealth(False, 0, "no pollers for 7 min")


def test_only_fresh_pollers_count() -> None:
    pollers = [
        Poller("a", NOW - 5),
        Poller("b", NOW - 120),  # exactly max age: still fresh
        Poller("c", NOW - 121),
        Poller("d", NOW + 3),  # clock skew: fresh
    ]
    assert poller_health(pollers, NOW, 120) == PollerHealth(True, 3, "3 active pollers")
    assert poller_health(pollers[:1], NOW, 120).reason == "1 active poller"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "0 s"),
        (0, "0 s"),
        (59.9, "59 s"),
        (60, "1 min"),
        (420, "7 min"),
        (3599, "59 min"),
        (3600, "1 h"),
        (7300, "2 h"),
        (200_000, "55 h"),
    ],
)
def test_humanize_seconds(seconds: float, text: str) -> None:
    assert humanize_seconds(seconds) == text


# --- workflow health -------------------------------------------------------------------

FRESH = PollerHealth(True, 2, "2 active pollers")
STALE = PollerHealth(False, 0, "no pollers for 7 min")
VALID = Lease("w1", 30, NOW + 10)
LAPSED = Lease("w2", 30, NOW - 10)


def test_healthy_with_a_valid_lease_and_fresh_pollers() -> None:
    health = workflow_health([VALID], {"orders": FRESH}, ["orders"], NOW)
    assert health == liveness.WorkflowHealth(True, ("registered", "2 active pollers"))


def test_registered_but_nobody_polls() -> None:
    health = workflow_health([VALID], {"orders": STALE}, ["orders"], NOW)
    assert not health.healthy
    assert ", ".join(health.reasons) == "registered, no pollers for 7 min"


def test_no_registered_workers_is_unhealthy_even_with_pollers() -> None:
    health = workflow_health([], {"orders": FRESH}, ["orders"], NOW)
    assert health == liveness.WorkflowHealth(False, ("no registered workers", "2 active pollers"))


def test_some_workers_lapsed() -> None:
    leases = [VALID, LAPSED, Lease("w3", 30, NOW + 1)]
    health = workflow_health(leases, {"orders": FRESH}, ["orders"], NOW)
    assert health.healthy
    assert health.reasons[0] == "2 of 3 workers healthy"
    assert workflow_health([LAPSED], {"orders": FRESH}, ["orders"], NOW) == (
        liveness.WorkflowHealth(False, ("0 of 1 worker healthy", "2 active pollers"))
    )


def test_unknown_poller_status_decides_on_leases_alone() -> None:
    unknown = "poller status unknown; judged on leases alone"
    assert workflow_health([VALID], None, ["orders"], NOW) == (
        liveness.WorkflowHealth(True, ("registered", unknown))
    )
    assert not workflow_health([LAPSED], None, ["orders"], NOW).healthy
    # A queue missing from the mapping is unknown as well.
    assert workflow_health([VALID], {"other": STALE}, ["orders"], NOW).reasons[1] == unknown


def test_any_polled_queue_is_enough_and_each_queue_is_named() -> None:
    pollers = {"orders": STALE, "orders-v2": FRESH}
    health = workflow_health([VALID], pollers, ["orders", "orders-v2", "not-described"], NOW)
    assert health.healthy
    assert health.reasons == (
        "registered",
        "orders: no pollers for 7 min",
        "orders-v2: 2 active pollers",
    )
    assert not workflow_health([VALID], {"a": STALE, "b": STALE}, ["a", "b"], NOW).healthy


def test_a_short_lease_gets_a_shorter_cadence_and_never_lapses() -> None:
    """A 6 s lease with the default 5 s flush and 5 s margin: renewed in time anyway."""
    assert cadence(60, 5.0, 5.0) == (5.0, 5.0)
    assert cadence(6, 5.0, 5.0) == (1.5, 1.5)
    lease = Lease("w", 6, expires_at=106.0)  # granted at 100
    # A heartbeat at 102 (every ttl/3), flushes every 1.5 s from 100.
    assert renewals_due({"w": lease}, {"w": 102.0}, 103.0, 5.0, 5.0) == {}  # not yet due
    # The next flush (1.5 s later) renews it; the renewal lands within 1.5 s, before 106.
    assert renewals_due({"w": lease}, {"w": 102.0}, 104.5, 5.0, 5.0) == {"w": 108.0}
