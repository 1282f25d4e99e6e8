"""registry.dispatch.claims: readable-id counters and request records in an ordered `ids`
shard, driven through a real shard engine: counting, retries by request id (after any number
of other claims, across continue-as-new, within one batch), expiry, eviction in use order,
reset, the int32 cap, and operations that must be refused, never raised."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

import pytest
from temporalio.converter import DataConverter

from registry.catalog.engine import Decision, Limits, Refusal, Shard, View, new_state
from registry.dispatch.claims import (
    MAX_COUNTER,
    claim_op,
    decide_id_op,
    request_key,
    reset_op,
    slug_counter,
    slug_key,
)
from registry.shared.model import SlugCounter

CONVERTER = DataConverter.default.payload_converter
NOW = 1_800_000_000.0
DAY = 86_400.0
LIMITS: dict[str, Any] = {
    "ttl": 30 * DAY,
    "max_slugs": 2_000,
    "request_ttl": DAY,
    "max_requests": 2_000,
}
_op_ids = itertools.count()


def new_shard() -> Shard:
    return Shard(new_state("ids", "workflow-registry/ids/00", Limits(), ordered=True))


def through_temporal(shard: Shard) -> Shard:
    """The shard as its next run sees it: its state through the payload converter and back."""
    payload = CONVERTER.to_payloads([shard.state])[0]
    return Shard(CONVERTER.from_payloads([payload], [dict])[0])


def apply(shard: Shard, *ops: Mapping[str, Any], now: float = NOW) -> list[dict[str, Any]]:
    batch = {"ops": [{"id": f"op-{next(_op_ids)}", **op} for op in ops]}
    outcomes: list[dict[str, Any]] = shard.apply(batch, decide_id_op, now)["outcomes"]
    return outcomes


def claim_of(
    slug: str = "orders", request_id: str = "", at_least: int = 0, **limits: Any
) -> dict[str, Any]:
    return claim_op(slug, request_id, at_least, **{**LIMITS, **limits})


def claim(
    shard: Shard,
    slug: str = "orders",
    now: float = NOW,
    request_id: str = "",
    at_least: int = 0,
    **limits: Any,
) -> dict[str, Any]:
    """Apply one claim; its outcome (checked to be accepted)."""
    (outcome,) = apply(shard, claim_of(slug, request_id, at_least, **limits), now=now)
    assert outcome["ok"], outcome
    return outcome


def counter(outcome: Mapping[str, Any]) -> int:
    value: int = outcome["result"]["counter"]
    return value


def evicted(outcome: Mapping[str, Any]) -> list[str]:
    return [key for key, raw in outcome["entries"].items() if raw is None]


def slugs(shard: Shard) -> list[str]:
    """The slugs, least recently claimed first."""
    return [key[2:] for key in View(shard, lambda _: True).oldest() if key.startswith("s:")]


def records(shard: Shard) -> list[str]:
    """The remembered request ids, oldest first."""
    return [key[2:] for key in View(shard, lambda _: True).oldest() if key.startswith("r:")]


def claimed(*names: str, now: float = NOW, step: float = 1.0) -> Shard:
    """A shard where each slug was claimed once, in order, `step` seconds apart."""
    shard = new_shard()
    for i, name in enumerate(names):
        claim(shard, name, now + i * step)
    return shard


def entry(shard: Shard, key: str) -> Any:
    return json.loads(shard.state["entries"][key])


# --- counting ---------------------------------------------------------------------------------


def test_the_first_claim_gets_1_and_later_claims_count_up() -> None:
    shard = new_shard()
    first = claim(shard)
    assert first["result"] == {"counter": 1, "retry": False}
    assert first["entries"] == {"s:orders": '{"counter":1,"last":1800000000.0}'}
    assert [counter(claim(shard, now=NOW + i)) for i in range(1, 4)] == [2, 3, 4]
    assert counter(claim(shard, "refunds")) == 1  # each slug has its own counter
    assert slug_counter("s:orders", entry(shard, "s:orders")) == SlugCounter("orders", 4, NOW + 3)
    assert slug_counter("r:x", {"slug": "orders", "counter": 1, "at": NOW}) is None
    assert (slug_key("orders"), request_key("req-1")) == ("s:orders", "r:req-1")


@pytest.mark.parametrize(
    ("claims", "at_least", "expected"),
    [(0, 0, 1), (0, 1, 1), (0, 7, 7), (3, 2, 4), (3, 4, 4), (3, 9, 9)],
)
def test_at_least_jumps_the_counter_forward(claims: int, at_least: int, expected: int) -> None:
    shard = new_shard()
    for _ in range(claims):
        claim(shard)
    assert counter(claim(shard, at_least=at_least)) == expected
    assert entry(shard, "s:orders")["counter"] == expected
    assert counter(claim(shard)) == expected + 1  # counts on from the jump


def test_counters_stop_at_the_largest_the_api_can_return() -> None:
    shard = new_shard()
    assert counter(claim(shard, at_least=MAX_COUNTER)) == MAX_COUNTER
    before = json.dumps(shard.state["entries"])
    (outcome,) = apply(shard, claim_of())
    assert (outcome["ok"], outcome["code"], outcome["reason"], outcome["violations"]) == (
        False,
        "RESOURCE_EXHAUSTED",
        "SLUG_EXHAUSTED",
        [],
    )
    assert (
        outcome["message"] == f"slug 'orders' has used every counter up to {MAX_COUNTER}; reset it"
    )
    assert json.dumps(shard.state["entries"]) == before
    apply(shard, reset_op("orders"), now=NOW + 1)
    assert counter(claim(shard, now=NOW + 2)) == 1


# --- request ids ------------------------------------------------------------------------------


def test_a_retried_request_id_gets_its_counter_again_and_changes_nothing() -> None:
    shard = new_shard()
    first = claim(shard, request_id="req-1")
    assert entry(shard, "r:req-1") == {"slug": "orders", "counter": 1, "at": NOW}
    claim(shard, request_id="req-2")
    order = list(shard.state["order"])
    retry = claim(shard, request_id="req-1", now=NOW + 5)
    assert retry["result"] == {"counter": counter(first), "retry": True}
    assert retry["entries"] == {} and shard.state["order"] == order  # nothing written or touched
    other = claim(shard, "refunds", request_id="req-1")  # another slug's claim: a new one
    assert other["result"] == {"counter": 1, "retry": False}


def test_one_request_id_gets_one_counter_after_any_number_of_other_claims() -> None:
    shard = new_shard()
    mine = counter(claim(shard, request_id="mine"))
    for i in range(100):  # other requests on the same slug and on others, with ids and without
        claim(shard, "orders", NOW + i, request_id=f"other-{i}" if i % 2 else "")
        claim(shard, f"slug-{i % 7}", NOW + i, request_id=f"elsewhere-{i}")
    retry = claim(shard, request_id="mine", now=NOW + 200)
    assert retry["result"] == {"counter": mine, "retry": True}
    assert counter(claim(shard, now=NOW + 201)) == 102


def test_a_retry_after_continue_as_new_gets_the_same_counter() -> None:
    shard = new_shard()
    first = counter(claim(shard, request_id="req-1"))
    claim(shard, "other", request_id="req-2")
    shard = through_temporal(shard)
    assert claim(shard, request_id="req-1", now=NOW + 60)["result"] == {
        "counter": first,
        "retry": True,
    }


def test_two_attempts_of_one_request_in_one_batch_get_one_counter() -> None:
    shard = new_shard()
    claim(shard)
    outcomes = apply(shard, claim_of(request_id="req-1"), claim_of(request_id="req-1"))
    assert [o["result"] for o in outcomes] == [
        {"counter": 2, "retry": False},
        {"counter": 2, "retry": True},
    ]


def test_a_retry_asking_for_more_than_it_got_gets_a_new_counter() -> None:
    shard = new_shard()
    claim(shard, request_id="req-1")
    assert claim(shard, request_id="req-1", at_least=5)["result"] == {"counter": 5, "retry": False}
    assert entry(shard, "r:req-1")["counter"] == 5
    assert claim(shard, request_id="req-1", at_least=5)["result"]["retry"] is True
    assert counter(claim(shard, request_id="req-1", at_least=2)) == 5


def test_claims_without_a_request_id_are_not_recorded() -> None:
    shard = new_shard()
    claim(shard, request_id="keep")
    claim(shard)
    claim(shard)
    assert records(shard) == ["keep"]
    assert claim(shard, request_id="keep")["result"] == {"counter": 1, "retry": True}


def test_a_request_record_expires_after_request_ttl() -> None:
    shard = new_shard()
    claim(shard, request_id="req-1", request_ttl=60)
    assert claim(shard, request_id="req-1", now=NOW + 60, request_ttl=60)["result"]["retry"]
    late = claim(shard, request_id="req-1", now=NOW + 60.5, request_ttl=60)
    assert late["result"] == {"counter": 2, "retry": False}
    assert entry(shard, "r:req-1") == {"slug": "orders", "counter": 2, "at": NOW + 60.5}


def test_request_records_are_evicted_oldest_first_beyond_max_requests_and_when_expired() -> None:
    shard = new_shard()
    for i in range(4):
        claim(shard, f"s{i}", NOW + i, request_id=f"req-{i}")
    outcome = claim(shard, "s9", NOW + 4, request_id="req-4", max_requests=3)
    assert evicted(outcome) == ["r:req-0", "r:req-1"]
    assert records(shard) == ["req-2", "req-3", "req-4"]
    assert slugs(shard) == ["s0", "s1", "s2", "s3", "s9"]  # slugs have their own bound
    # Beyond the bound a request id is forgotten: its retry is a new claim.
    assert claim(shard, "s0", NOW + 5, request_id="req-0")["result"] == {
        "counter": 2,
        "retry": False,
    }
    # Records older than request_ttl go with any claim; a live one stops the walk.
    outcome = claim(shard, "s8", NOW + 62.5, request_ttl=60)
    assert evicted(outcome) == ["r:req-2"]  # req-3 was written 59.5 s ago
    assert records(shard) == ["req-3", "req-4", "req-0"]


def test_a_record_survives_its_slugs_eviction() -> None:
    shard = new_shard()
    mine = counter(claim(shard, "a", request_id="req-1"))
    claim(shard, "b", NOW + 1, max_slugs=1)  # evicts slug a
    assert slugs(shard) == ["b"]
    assert claim(shard, "a", NOW + 2, request_id="req-1", max_slugs=1)["result"] == {
        "counter": mine,
        "retry": True,
    }


# --- expiry and eviction ----------------------------------------------------------------------


def test_an_expired_slug_starts_again() -> None:
    shard = new_shard()
    claim(shard, ttl=DAY)
    claim(shard, ttl=DAY)
    assert counter(claim(shard, now=NOW + DAY, ttl=DAY)) == 3  # claimed exactly a day ago
    assert counter(claim(shard, now=NOW + 2 * DAY + 0.5, ttl=DAY)) == 1
    assert counter(claim(shard, now=NOW + 10 * DAY, ttl=DAY, at_least=4)) == 4


def test_claiming_beyond_max_slugs_evicts_the_least_recently_claimed() -> None:
    shard = claimed("a", "b", "c")
    assert evicted(claim(shard, "d", NOW + 10, max_slugs=3)) == ["s:a"]
    assert slugs(shard) == ["b", "c", "d"]

    outcome = claim(shard, "b", NOW + 11, max_slugs=3)  # re-claimed: now the most recent
    assert (counter(outcome), evicted(outcome)) == (2, [])
    assert slugs(shard) == ["c", "d", "b"]

    assert evicted(claim(shard, "e", NOW + 12, max_slugs=3)) == ["s:c"]
    assert slugs(shard) == ["d", "b", "e"]
    assert entry(shard, "s:b")["counter"] == 2  # kept its counter

    outcome = claim(shard, "c", NOW + 13, max_slugs=3)
    assert (counter(outcome), evicted(outcome)) == (1, ["s:d"])  # an evicted slug starts again


def test_lowering_max_slugs_evicts_several_at_once_but_never_the_claimed_slug() -> None:
    shard = claimed("a", "b", "c", "d", "e")
    assert evicted(claim(shard, "a", NOW + 10, max_slugs=2)) == ["s:b", "s:c", "s:d"]
    assert slugs(shard) == ["e", "a"]
    assert evicted(claim(shard, "z", NOW + 11, max_slugs=1)) == ["s:e", "s:a"]
    assert slugs(shard) == ["z"]


def test_expired_slugs_are_evicted_by_any_claim() -> None:
    shard = new_shard()
    claim(shard, "a", NOW)
    claim(shard, "b", NOW + 1)
    claim(shard, "c", NOW + 50)
    assert evicted(claim(shard, "d", NOW + 101.5, ttl=100)) == ["s:a", "s:b"]  # c: 51.5 s ago
    assert slugs(shard) == ["c", "d"]
    # The claimed slug itself is replaced, not evicted, even when expired.
    outcome = claim(shard, "c", NOW + 500, ttl=100)
    assert (counter(outcome), evicted(outcome)) == (1, ["s:d"])
    assert slugs(shard) == ["c"]


def test_a_retry_evicts_nothing() -> None:
    shard = claimed("a", "b")
    claim(shard, "b", request_id="req-1")
    outcome = claim(shard, "b", NOW + 10, request_id="req-1", max_slugs=1, ttl=1)
    assert outcome["result"]["retry"] and outcome["entries"] == {}
    assert slugs(shard) == ["a", "b"]


# --- reset ------------------------------------------------------------------------------------


def test_reset_returns_the_previous_counter_and_drops_the_slugs_request_records() -> None:
    shard = new_shard()
    claim(shard, request_id="req-1")
    claim(shard, request_id="req-2")
    claim(shard, "other", request_id="req-3")
    (outcome,) = apply(shard, reset_op("orders"), now=NOW + 5)
    assert outcome["result"] == {"previous": 2}
    assert outcome["entries"] == {
        "r:req-1": None,
        "r:req-2": None,
        "s:orders": '{"counter":0,"last":1800000005.0}',
    }
    assert entry(shard, "s:other")["counter"] == 1 and records(shard) == ["req-3"]
    # A retry of a claim from before the reset is a new claim now.
    assert claim(shard, request_id="req-1", now=NOW + 6)["result"] == {"counter": 1, "retry": False}
    apply(shard, reset_op("orders"), now=NOW + 7)
    assert apply(shard, reset_op("orders"), now=NOW + 8)[0]["result"] == {"previous": 0}


def test_resetting_an_unknown_slug_is_not_found() -> None:
    (outcome,) = apply(claimed("orders"), reset_op("refunds"))
    assert (outcome["ok"], outcome["code"], outcome["reason"], outcome["violations"]) == (
        False,
        "NOT_FOUND",
        "SLUG_NOT_FOUND",
        [],
    )
    assert outcome["message"] == "slug 'refunds' has no counter to reset"


# --- continue-as-new --------------------------------------------------------------------------


def test_order_and_outcomes_survive_the_payload_converter() -> None:
    shard = new_shard()
    for i, name in enumerate(["zeta", "alpha", "mid", "zeta"]):
        claim(shard, name, NOW + i, request_id=f"{name}-{i}")
    batch = {"ops": [{"id": "the-claim", **claim_of("beta", request_id="beta-1")}]}
    (first,) = shard.apply(batch, decide_id_op, NOW + 4)["outcomes"]
    payload = CONVERTER.to_payloads([shard.state])[0]
    assert shard.size == payload.ByteSize()
    shard = through_temporal(shard)
    assert list(shard.state["entries"]) == sorted(shard.state["entries"])  # why order is a list
    assert slugs(shard) == ["alpha", "mid", "zeta", "beta"]
    assert records(shard) == ["zeta-0", "alpha-1", "mid-2", "zeta-3", "beta-1"]
    # The same operation retried on the next run: its first outcome, nothing applied again.
    (again,) = shard.apply(batch, decide_id_op, NOW + 5)["outcomes"]
    assert (again["replayed"], again["result"], again["rev"]) == (
        True,
        first["result"],
        first["rev"],
    )
    # A new attempt of the same request: the same counter.
    assert claim(shard, "beta", NOW + 6, request_id="beta-1")["result"] == {
        "counter": 1,
        "retry": True,
    }
    # Eviction follows use, not the alphabet: alpha goes first, then mid.
    assert evicted(claim(shard, "new", NOW + 7, max_slugs=3, max_requests=3)) == [
        "r:zeta-0",
        "s:alpha",
        "r:alpha-1",
        "s:mid",
    ]
    assert slugs(shard) == ["zeta", "beta", "new"]
    assert shard.size == CONVERTER.to_payloads([shard.state])[0].ByteSize()


# --- hostile operations -----------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")
HUGE = 10**400
DEEP: Any = []
for _ in range(5_000):
    DEEP = [DEEP]

CLAIM = claim_of()


def claim_with(**changes: Any) -> dict[str, Any]:
    out = dict(CLAIM)
    for name, value in changes.items():
        if value is ...:
            del out[name]
        else:
            out[name] = value
    return out


HOSTILE: list[tuple[str, Any, str]] = [
    ("none", None, "op"),
    ("list", [CLAIM], "op"),
    ("int-key", {**CLAIM, 1: 2}, "op"),
    ("no-op-name", claim_with(op=...), "op"),
    ("unknown-op", claim_with(op="claim-all"), "op"),
    ("op-name-int", claim_with(op=5), "op"),
    ("slug-missing", claim_with(slug=...), "slug"),
    ("slug-none", claim_with(slug=None), "slug"),
    ("slug-int", claim_with(slug=5), "slug"),
    ("slug-list", claim_with(slug=["orders"]), "slug"),
    ("slug-empty", claim_with(slug=""), "slug"),
    ("slug-huge", claim_with(slug=HUGE), "slug"),
    ("slug-surrogate", claim_with(slug="a\ud800"), "slug"),
    ("slug-deep", claim_with(slug=DEEP), "slug"),
    ("request-id-missing", claim_with(request_id=...), "request_id"),
    ("request-id-none", claim_with(request_id=None), "request_id"),
    ("request-id-int", claim_with(request_id=5), "request_id"),
    ("request-id-dict", claim_with(request_id={"a": "b"}), "request_id"),
    ("at-least-missing", claim_with(at_least=...), "at_least"),
    ("at-least-none", claim_with(at_least=None), "at_least"),
    ("at-least-negative", claim_with(at_least=-1), "at_least"),
    ("at-least-float", claim_with(at_least=2.0), "at_least"),
    ("at-least-bool", claim_with(at_least=True), "at_least"),
    ("at-least-str", claim_with(at_least="3"), "at_least"),
    ("at-least-nan", claim_with(at_least=NAN), "at_least"),
    ("at-least-over-int32", claim_with(at_least=MAX_COUNTER + 1), "at_least"),
    ("at-least-2-63", claim_with(at_least=2**63), "at_least"),
    ("at-least-huge", claim_with(at_least=HUGE), "at_least"),
    ("ttl-zero", claim_with(ttl=0), "ttl"),
    ("ttl-negative", claim_with(ttl=-1.5), "ttl"),
    ("ttl-none", claim_with(ttl=None), "ttl"),
    ("ttl-str", claim_with(ttl="60"), "ttl"),
    ("ttl-bool", claim_with(ttl=True), "ttl"),
    ("ttl-nan", claim_with(ttl=NAN), "ttl"),
    ("ttl-inf", claim_with(ttl=INF), "ttl"),
    ("ttl-huge", claim_with(ttl=HUGE), "ttl"),
    ("max-slugs-zero", claim_with(max_slugs=0), "max_slugs"),
    ("max-slugs-negative", claim_with(max_slugs=-1), "max_slugs"),
    ("max-slugs-none", claim_with(max_slugs=None), "max_slugs"),
    ("max-slugs-float", claim_with(max_slugs=3.0), "max_slugs"),
    ("max-slugs-bool", claim_with(max_slugs=True), "max_slugs"),
    ("max-slugs-huge", claim_with(max_slugs=HUGE), "max_slugs"),
    ("request-ttl-zero", claim_with(request_ttl=0), "request_ttl"),
    ("request-ttl-nan", claim_with(request_ttl=NAN), "request_ttl"),
    ("request-ttl-missing", claim_with(request_ttl=...), "request_ttl"),
    ("max-requests-zero", claim_with(max_requests=0), "max_requests"),
    ("max-requests-list", claim_with(max_requests=[1]), "max_requests"),
    ("max-requests-missing", claim_with(max_requests=...), "max_requests"),
    ("reset-slug-missing", {"op": "reset"}, "slug"),
    ("reset-slug-none", {"op": "reset", "slug": None}, "slug"),
    ("reset-slug-int", {"op": "reset", "slug": 5}, "slug"),
    ("reset-slug-huge", {"op": "reset", "slug": HUGE}, "slug"),
    ("reset-slug-empty", {"op": "reset", "slug": ""}, "slug"),
]


@pytest.mark.parametrize(
    ("op", "field"), [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE]
)
def test_a_malformed_operation_is_refused_never_raised(op: Any, field: str) -> None:
    shard = claimed("orders")
    claim(shard, request_id="req-1")
    before = json.dumps(shard.state)
    decided: Decision | Refusal = decide_id_op(op, View(shard, lambda _: True), NOW)
    assert isinstance(decided, Refusal)
    assert (decided.code, decided.reason) == ("INVALID_ARGUMENT", "INVALID_OPERATION")
    assert [v["field"].split("/")[0] for v in decided.violations] == [field]
    decided.message.encode("utf-8")
    if isinstance(op, Mapping) and all(isinstance(key, str) for key in op):
        (outcome,) = apply(shard, op)  # through the engine: refused, not INTERNAL
        assert (outcome["code"], outcome["reason"]) == ("INVALID_ARGUMENT", "INVALID_OPERATION")
    assert json.dumps(shard.state) == before


def test_a_claim_reports_every_bad_field() -> None:
    bad = claim_op("", None, -1, ttl=0, max_slugs=0, request_ttl=-1, max_requests=0)  # type: ignore[arg-type]
    decided = decide_id_op(bad, View(new_shard(), lambda _: True), NOW)
    assert isinstance(decided, Refusal)
    assert [v["field"] for v in decided.violations] == [
        "slug",
        "request_id",
        "at_least",
        "ttl",
        "max_slugs",
        "request_ttl",
        "max_requests",
    ]
