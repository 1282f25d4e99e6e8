"""The pure rules of watching the catalogue (registry.catalog.changes), of conditional reads
and blocking queries (registry.catalog.rules), and the per-watcher queue and answer cache."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from temporal_registry.v1 import registry_pb2

from registry.catalog import changes
from registry.catalog.changes import (
    BadToken,
    Change,
    ChangeLog,
    HealthState,
    Position,
    ResumeRefused,
    ResumeToken,
    group_tokens,
    sweep_slice,
)
from registry.catalog.responses import ResponseCache, cache_key
from registry.catalog.rules import MAX_WAIT_SECONDS, etag_matches, plan_read_condition
from registry.catalog.watch import MAX_BACKLOG, Watcher
from registry.server.errors import RegistryError
from registry.shared.model import StoredWorker, StoredWorkflow, WorkflowSpec

SHIPMENT = StoredWorkflow(WorkflowSpec("shipping.dispatch.v1", task_queue="shipping"))
PACKER = StoredWorker("packer-1", "shipping", workflows=["shipping.dispatch.v1"])


# --- classifying changes ---------------------------------------------------------------------


def test_workflow_changes_are_named_by_what_a_watcher_sees() -> None:
    disabled = replace(SHIPMENT, enabled=False, disabled_reason="recall")
    described = replace(SHIPMENT, spec=replace(SHIPMENT.spec, description="ships parcels"))
    assert changes.workflow_change(None, SHIPMENT) == changes.WORKFLOW_ADDED
    assert changes.workflow_change(SHIPMENT, None) == changes.WORKFLOW_REMOVED
    assert changes.workflow_change(SHIPMENT, disabled) == changes.WORKFLOW_DISABLED
    assert changes.workflow_change(disabled, SHIPMENT) == changes.WORKFLOW_ENABLED
    assert changes.workflow_change(SHIPMENT, described) == changes.WORKFLOW_CHANGED
    assert changes.workflow_change(SHIPMENT, replace(SHIPMENT)) is None
    assert changes.workflow_change(None, None) is None


def test_a_renewal_is_no_event_and_a_removal_is_an_expiry_only_past_the_lease() -> None:
    leased = replace(PACKER, lease_expires_epoch=1_000.0)
    renewed = replace(leased, lease_expires_epoch=1_060.0)
    relabelled = replace(renewed, labels={"zone": "eu"})
    assert changes.worker_change(None, leased, now=900) == changes.WORKER_REGISTERED
    assert changes.worker_change(leased, renewed, now=900) is None
    assert changes.worker_change(leased, relabelled, now=900) == changes.WORKER_CHANGED
    assert changes.worker_change(leased, None, now=900) == changes.WORKER_UNREGISTERED
    assert changes.worker_change(leased, None, now=1_001) == changes.WORKER_EXPIRED


def test_the_health_digest_follows_every_entry_whatever_the_order() -> None:
    first, second = HealthState(), HealthState()
    assert first.set_type("a.v1", (True, ("registered",))) is False  # a new type: no flip
    first.set_type("b.v1", (False, ("no pollers",)))
    second.set_type("b.v1", (False, ("no pollers",)))
    second.set_type("a.v1", (True, ("registered",)))
    assert first.digest == second.digest
    assert first.set_type("a.v1", (False, ("0 of 1 worker healthy",))) is True
    assert first.digest != second.digest
    first.set_type("a.v1", (True, ("registered",)))
    assert first.digest == second.digest
    first.set_worker("w1", False)
    assert first.digest != second.digest and first.unhealthy_workers == {"w1"}
    first.set_worker("w1", True)
    first.drop_type("b.v1")
    second.drop_type("b.v1")
    assert first.digest == second.digest


def test_a_sweep_covers_every_entry_once_in_its_ticks() -> None:
    for size, ticks in ((0, 1), (7, 1), (1000, 4), (1001, 3), (5, 8)):
        covered = [i for t in range(ticks) for i in range(size)[sweep_slice(size, t, ticks)]]
        assert covered == list(range(size))


# --- positions and tokens --------------------------------------------------------------------

AT = {("types", 0): 7, ("types", 1): 3, ("workers", 0): 12}


def test_a_resume_token_round_trips_and_garbage_is_refused() -> None:
    token = ResumeToken(Position.of(AT), "1764000000.5", "abc123")
    assert ResumeToken.decode(token.encode()) == token
    assert token.position.revision == 22
    for garbage in ("", "not-a-token", "e30", token.encode()[:-3] + "!!!"):
        with pytest.raises(BadToken):
            ResumeToken.decode(garbage)


def test_changes_of_one_write_leave_a_watcher_just_below_it_until_the_last() -> None:
    shard, other = ("workers", 0), ("types", 0)
    before = {shard: 4, other: 9}
    moved = group_tokens([(shard, 5), (shard, 5), (other, 10), (shard, 6)])
    positions = [{**before, **m} for m in moved]
    assert [p[shard] for p in positions] == [4, 5, 5, 6]
    assert [p[other] for p in positions] == [9, 9, 10, 10]
    assert moved[0] == {shard: 4}  # only what moved is kept per change


def change(shard: tuple[str, int], revision: int) -> Change:
    return Change(changes.WORKER_CHANGED, f"w{revision}", PACKER, shard, revision, None, revision)


def test_the_log_replays_past_a_position_and_refuses_what_it_no_longer_keeps() -> None:
    shard = ("workers", 0)
    log = ChangeLog(capacity=3)
    log.reset(Position.of({shard: 10}))
    for revision in (11, 12, 13):
        log.append(change(shard, revision))
    assert [c.shard_revision for c in log.since(Position.of({shard: 11}))] == [12, 13]
    assert list(log.since(Position.of({shard: 13}))) == []
    log.append(change(shard, 14))  # 11 is dropped: a watcher at 10 missed it
    assert log.floors[shard] == 11
    with pytest.raises(ResumeRefused):
        list(log.since(Position.of({shard: 10})))
    assert [c.shard_revision for c in log.since(Position.of({shard: 11}))] == [12, 13, 14]
    with pytest.raises(ResumeRefused):
        log.since(Position.of({("workers", 1): 11}))


# --- conditional reads and blocking queries --------------------------------------------------


def test_etags_compare_weakly_in_lists_and_star() -> None:
    assert etag_matches('W/"7-ab"', 'W/"7-ab"')
    assert etag_matches('"7-ab"', 'W/"7-ab"')
    assert etag_matches('W/"1-x", W/"7-ab"', 'W/"7-ab"')
    assert etag_matches("*", 'W/"7-ab"')
    assert not etag_matches('W/"8-ab"', 'W/"7-ab"')


def blocking(wait: float | None = None, **fields: object) -> registry_pb2.ListWorkflowsRequest:
    request = registry_pb2.ListWorkflowsRequest(**fields)  # type: ignore[arg-type]
    if wait is not None:
        request.wait.CopyFrom(Duration(seconds=int(wait), nanos=int(wait % 1 * 1e9)))
    return request


def refused_fields(request: object, header: str = "", current: int = 100) -> list[str]:
    with pytest.raises(RegistryError) as refused:
        plan_read_condition(request, header, current)
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    return [v.field for v in refused.value.violations]


def test_blocking_queries_are_planned_and_bad_ones_name_the_field() -> None:
    assert plan_read_condition(blocking(), "", 100).wait is None
    planned = plan_read_condition(blocking(30, revision=99), "", 100)
    assert (planned.wait, planned.revision) == (30, 99)
    by_etag = plan_read_condition(blocking(0.5), 'W/"1-a"', 100)
    assert (by_etag.wait, by_etag.revision, by_etag.if_none_match) == (0.5, None, 'W/"1-a"')
    assert refused_fields(blocking(MAX_WAIT_SECONDS + 1, revision=1)) == ["wait"]
    assert refused_fields(blocking(5)) == ["wait"]
    assert refused_fields(blocking(revision=5)) == ["revision"]
    assert refused_fields(blocking(5, revision=101)) == ["revision"]
    get = registry_pb2.GetWorkflowRequest(workflow_type="t", if_none_match='W/"1-a"')
    assert plan_read_condition(get, "", 100).if_none_match == 'W/"1-a"'


# --- a watcher's queue, the answer cache -------------------------------------------------------


def test_a_watcher_that_falls_too_far_behind_is_told_to_resync() -> None:
    async def scenario() -> None:
        watcher = Watcher(iter([b"opening"]))
        assert await watcher.next() == b"opening"
        for n in range(MAX_BACKLOG + 1):
            watcher.push(str(n).encode())
        with pytest.raises(RegistryError) as behind:
            await watcher.next()
        assert behind.value.reason == "RESYNC_REQUIRED"
        assert behind.value.code == grpc.StatusCode.ABORTED

    asyncio.run(scenario())


def test_answers_are_cached_per_request_and_etag_without_the_conditions() -> None:
    cache = ResponseCache(capacity=2)
    plain = cache_key("ListWorkflows", blocking(view=registry_pb2.WORKFLOW_VIEW_BASIC))
    conditional = cache_key(
        "ListWorkflows",
        blocking(30, revision=4, if_none_match="x", view=registry_pb2.WORKFLOW_VIEW_BASIC),
    )
    assert plain == conditional
    cache.put(plain, 'W/"4-a"', b"answer")
    assert cache.get(plain, 'W/"4-a"') == b"answer"
    assert cache.get(plain, 'W/"5-a"') is None
    cache.put(cache_key("ListWorkflows", blocking()), "e", b"1")
    cache.put(cache_key("ListWorkers", registry_pb2.ListWorkersRequest()), "e", b"2")
    assert cache.get(plain, 'W/"4-a"') is None  # the least recently used went first
