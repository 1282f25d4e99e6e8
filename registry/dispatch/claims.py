"""The rules of the `ids` shards: readable workflow id counters (`<slug>-r<N>`) and the
request records that make a retried start get the counter it got the first time.

`decide_id_op` is the shards' decide function (registry.catalog.engine; docs/architecture.md,
"Entries and operations"). A shard is ordered: its keys are kept least recently used first (a
JSON list, which survives continue-as-new in order), and every put moves a key to the most
recent end.

- slug, key `s:<slug>`: {"counter": int, "last": when it was last claimed or reset}
- request record, key `r:<request_id>`: {"slug", "counter", "at"}. A record lives in the shard
  of its slug: route a claim (and a reset) by slug_key(slug), never by the request id.
Every key of an ids shard is one of these two (eviction counts them by prefix).

A `claim` whose request id has a live record for the same slug, with a counter of at least
`at_least`, gets that counter again (`retry`), however many other claims came in between,
within the records' bound (`max_requests` per shard) and age (`request_ttl`), across
continue-as-new. Otherwise the counter is one more than the slug's (at least `at_least`; a
slug unclaimed for `ttl` starts again), capped at 2**31-1 (the API's int32), and the request
recorded. The same decision evicts, least recently used first, the slugs unclaimed for `ttl`
and those beyond `max_slugs`, and the records older than `request_ttl` and those beyond
`max_requests`; never the slug or record it writes. A retry changes and evicts nothing.

Syntax (what a slug, a request id and the limits may be) is the server's; here an operation is
only checked for the shape the rules rely on (registry.catalog.op_fields). Standard library and
registry.shared only, deterministic: it runs in the workflow sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import repeat
from typing import Any, Final

from registry.catalog.engine import Decision, Refusal, View
from registry.catalog.op_fields import Fields, Rule, decide_op, shown
from registry.shared.model import SlugCounter

MAX_COUNTER: Final = 2**31 - 1  # the API's counters are int32
MAX_LIMIT: Final = 2**31 - 1  # the shape bound of max_slugs and max_requests
SLUG_PREFIX: Final = "s:"
REQUEST_PREFIX: Final = "r:"


def slug_key(slug: str) -> str:
    """The key of a slug's counter; a claim or reset of the slug goes to this key's shard."""
    return SLUG_PREFIX + slug


def request_key(request_id: str) -> str:
    return REQUEST_PREFIX + request_id


def slug_counter(key: str, entry: Mapping[str, Any]) -> SlugCounter | None:
    """A slug entry as the registry's model has it (None for a request record's key). The
    model's per-slug `claims` stay empty: request records are entries of their own."""
    if not key.startswith(SLUG_PREFIX):
        return None
    return SlugCounter(key[len(SLUG_PREFIX) :], entry.get("counter", 0), entry.get("last", 0.0))


# --- operations (what the server sends; the writer adds each one's "id") ------------------


def claim_op(
    slug: str,
    request_id: str,
    at_least: int,
    *,
    ttl: float,
    max_slugs: int,
    request_ttl: float,
    max_requests: int,
) -> dict[str, Any]:
    """Claim the slug's next counter. ttl: seconds a slug lives unclaimed; max_slugs and
    max_requests: per shard; request_ttl: seconds a request id is remembered."""
    return {
        "op": "claim",
        "slug": slug,
        "request_id": request_id,
        "at_least": at_least,
        "ttl": ttl,
        "max_slugs": max_slugs,
        "request_ttl": request_ttl,
        "max_requests": max_requests,
    }


def reset_op(slug: str) -> dict[str, Any]:
    return {"op": "reset", "slug": slug}


# --- decisions --------------------------------------------------------------------------------


def decide_id_op(op: Mapping[str, Any], view: View, now: float) -> Decision | Refusal:
    """claim, reset (see the module's docstring)."""
    return decide_op(op, view, now, _ID_OPS)


def _claim(fields: Fields, view: View, now: float) -> Decision | Refusal:
    slug = fields.text("slug", nonempty=True)
    request_id = fields.text("request_id")
    at_least = fields.whole("at_least", 0, MAX_COUNTER)
    ttl = fields.number("ttl", positive=True)
    max_slugs = fields.whole("max_slugs", 1, MAX_LIMIT)
    request_ttl = fields.number("request_ttl", positive=True)
    max_requests = fields.whole("max_requests", 1, MAX_LIMIT)
    if refusal := fields.refusal():
        return refusal
    skey = slug_key(slug)
    rkey = request_key(request_id) if request_id else ""
    if rkey:
        record = view.get(rkey)
        if (
            record is not None
            and record.get("slug") == slug
            and now - record.get("at", 0.0) <= request_ttl
            and record.get("counter", 0) >= at_least
        ):
            return Decision(result={"counter": record["counter"], "retry": True})
    stored = view.get(skey)
    if stored is not None and now - stored.get("last", 0.0) > ttl:
        stored = None  # expired: starts again
    counter = max((stored.get("counter", 0) if stored is not None else 0) + 1, at_least)
    if counter > MAX_COUNTER:
        message = f"slug {shown(slug)} has used every counter up to {MAX_COUNTER}; reset it"
        return Refusal("RESOURCE_EXHAUSTED", "SLUG_EXHAUSTED", message)
    put = {skey: {"counter": counter, "last": now}}
    if rkey:
        put[rkey] = {"slug": slug, "counter": counter, "at": now}
    evicted = _evictions(
        view,
        now,
        keep=put,
        slugs=(ttl, max_slugs),
        requests=(request_ttl, max_requests),
    )
    return Decision(put=put, delete=evicted, result={"counter": counter, "retry": False})


def _evictions(
    view: View,
    now: float,
    *,
    keep: Mapping[str, Any],
    slugs: tuple[float, int],
    requests: tuple[float, int],
) -> list[str]:
    """Keys to evict, least recently used first: of each kind (by prefix), every entry
    older than its ttl and the oldest beyond its bound, counting the ones `keep` adds. Both
    kinds are in use order (a put touches its key, and stamps it with now), so the walk stops
    at the first entry of each kind that stays."""
    stamp = {SLUG_PREFIX: "last", REQUEST_PREFIX: "at"}
    limits = {SLUG_PREFIX: slugs, REQUEST_PREFIX: requests}
    # Entries of each kind once the decision is applied (every key of the shard is a slug's
    # or a request's: counted in C, this is the one walk over all keys).
    slug_count = sum(map(str.startswith, view.keys(), repeat(SLUG_PREFIX)))
    count = {SLUG_PREFIX: slug_count, REQUEST_PREFIX: len(view) - slug_count}
    left = dict(count)  # entries of each kind the walk has still to see, `keep` aside
    for key in keep:
        if view.get(key) is None:
            count[key[:2]] += 1
        else:
            left[key[:2]] -= 1
    walking = {prefix for prefix in limits if left[prefix] > 0}
    evicted = []
    for key in view.oldest():
        if not walking:
            break
        prefix = key[:2]
        if prefix not in walking or key in keep:
            continue
        left[prefix] -= 1
        ttl, bound = limits[prefix]
        entry = view.get(key) or {}
        if count[prefix] > bound or now - entry.get(stamp[prefix], 0.0) > ttl:
            evicted.append(key)
            count[prefix] -= 1
        else:
            walking.discard(prefix)
        if not left[prefix]:
            walking.discard(prefix)
    return evicted


def _reset(fields: Fields, view: View, now: float) -> Decision | Refusal:
    """Counter 0 (the next claim gets 1); the slug's request records are dropped, so a retry
    of a claim from before the reset is a new claim."""
    slug = fields.text("slug", nonempty=True)
    if refusal := fields.refusal():
        return refusal
    skey = slug_key(slug)
    stored = view.get(skey)
    if stored is None:
        return Refusal("NOT_FOUND", "SLUG_NOT_FOUND", f"slug {shown(slug)} has no counter to reset")
    records = [
        key
        for key in view.keys()  # noqa: SIM118 (a View is not iterable)
        if key.startswith(REQUEST_PREFIX) and (view.get(key) or {}).get("slug") == slug
    ]
    return Decision(
        put={skey: {"counter": 0, "last": now}},
        delete=records,
        result={"previous": stored.get("counter", 0)},
    )


_ID_OPS: Final[dict[str, Rule]] = {"claim": _claim, "reset": _reset}
