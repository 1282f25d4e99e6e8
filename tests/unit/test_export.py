"""registry.catalog.export: the export format, re-sharding into another layout (each shard's
state built with the engine and measured with the real payload converter), the refusal of an
export that does not fit, and a shard's state rebuilt from its history's outcomes."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Mapping
from typing import Any

import pytest
from temporalio.converter import DataConverter

from registry.catalog.engine import Decision, Limits, Refusal, Shard, View, dumps, new_state
from registry.catalog.export import (
    FORMAT,
    DoesNotFit,
    Export,
    ExportFormatError,
    collect,
    home_key,
    replay_outcomes,
    root_state,
    shard_states,
)
from registry.catalog.layout import IDS, KINDS, TYPES, WORKERS, Layout
from registry.catalog.shard_rules import schema_digest
from registry.dispatch.claims import REQUEST_PREFIX, SLUG_PREFIX

CONVERTER = DataConverter.default.payload_converter
LIMITS = Limits(max_bytes=200_000, remembered_ops=64)


def real_size(state: dict[str, Any]) -> int:
    return CONVERTER.to_payloads([state])[0].ByteSize()


def schema(n: int) -> dict[str, Any]:
    return {"type": "object", "properties": {f"field{n}": {"type": "string"}}}


def sample(types: int = 40, workers: int = 120, slugs: int = 30) -> Export:
    """An export with every kind of entry: types sharing a few schemas, workers, slugs with
    request records, in least-recently-used order."""
    export = Export("workflow-registry", "default", 1_800_000_000.0, {}, {"created_at": 1.0})
    for i in range(types):
        body = schema(i % 5)
        digest = schema_digest(body)
        export.entries[TYPES][f"type.{i}"] = {
            "spec": {"task_queue": f"q{i % 3}", "version": "", "description": "", "labels": {}},
            "schema": digest,
            "_refs": [digest],
            "enabled": i % 7 != 0,
            "disabled_reason": "" if i % 7 else "maintenance",
            "source": "worker",
            "owner": "",
            "updated": 1000.0 + i,
        }
        export.blobs[digest] = body
    for i in range(workers):
        export.entries[WORKERS][f"worker-{i}"] = {
            "task_queue": f"q{i % 3}",
            "environment": "",
            "labels": {"zone": f"z{i % 2}"},
            "ttl": 60,
            "workflows": [f"type.{i % types}"],
            "registered": 1000.0,
            "expires": 2000.0 + i,
            "principal": "",
        }
    for i in range(slugs):
        at = 5000.0 + i
        export.entries[IDS][f"{REQUEST_PREFIX}req-{i}"] = {"slug": f"s{i}", "counter": i, "at": at}
        export.entries[IDS][f"{SLUG_PREFIX}s{i}"] = {"counter": i, "last": at}
    export.revisions = {TYPES: 7, WORKERS: 900, IDS: 31}
    return export


def through_file(export: Export) -> Export:
    return Export.from_json(json.loads(json.dumps(export.to_json())))


def test_every_entry_survives_export_import_export_into_another_layout() -> None:
    original = sample()
    small = Layout("workflow-registry", types=3, workers=5, ids=2)
    large = Layout("other-registry", types=7, workers=11, ids=5)
    states = shard_states(through_file(original), small, LIMITS)
    assert len(states) == 3 + 5 + 2
    again = collect("workflow-registry", "default", 1.0, {"layout": small.counts()}, states)
    moved = shard_states(through_file(again), large, LIMITS)
    final = collect("other-registry", "ns2", 2.0, {"layout": large.counts()}, moved)
    for kind in KINDS:
        assert final.entries[kind] == original.entries[kind]
    assert final.blobs == original.blobs
    assert list(final.entries[IDS]) == list(original.entries[IDS])  # order: LRU first
    assert final.layout == large.counts()


def test_each_shard_holds_exactly_its_keys_with_the_blobs_they_use_and_exact_size() -> None:
    export = sample()
    layout = Layout("r", types=4, workers=6, ids=3)
    states = shard_states(export, layout, LIMITS)
    for (kind, index), state in states.items():
        assert state["kind"] == kind and state["name"] == layout.shard_id(kind, index)
        for key, raw in state["entries"].items():
            entry = json.loads(raw)
            assert layout.shard_of(kind, home_key(kind, key, entry)) == index
            assert raw == dumps(export.entries[kind][key])
        used = {d for raw in state["entries"].values() for d in json.loads(raw).get("_refs", [])}
        assert set(state["blobs"]) == used
        shard = Shard(state)
        assert shard.size == real_size(state) <= LIMITS.max_bytes
        assert shard.room() >= 0
        assert state["revision"] == export.revisions[kind] + 1  # revisions never go back
    placed = {key for (kind, _), s in states.items() for key in s["entries"] if kind == IDS}
    assert placed == set(export.entries[IDS])


def test_a_request_record_lives_in_the_shard_of_its_slug() -> None:
    layout = Layout("r", ids=8)
    states = shard_states(sample(slugs=60), layout, LIMITS)
    for (kind, index), state in states.items():
        if kind != IDS:
            continue
        for key, raw in state["entries"].items():
            if key.startswith(REQUEST_PREFIX):
                slug = SLUG_PREFIX + json.loads(raw)["slug"]
                assert slug in state["entries"]
                assert layout.shard_of(IDS, slug) == index


def test_ordered_shards_keep_the_export_order_and_merge_back_by_recency() -> None:
    export = sample(slugs=50)
    keys = list(export.entries[IDS])
    states = shard_states(export, Layout("r", ids=4), LIMITS)
    for (kind, _), state in states.items():
        if kind == IDS:
            assert state["order"] == [k for k in keys if k in state["entries"]]
    merged = collect("r", "default", 1.0, {"layout": {}}, states)
    assert list(merged.entries[IDS]) == keys


def test_an_export_that_does_not_fit_is_refused_naming_the_shard_and_what_would_fit() -> None:
    export = sample(types=10, workers=3000, slugs=5)
    layout = Layout("r", types=2, workers=2, ids=1)
    with pytest.raises(DoesNotFit) as refused:
        shard_states(export, layout, LIMITS)
    message = str(refused.value)
    assert "registry shard r/workers/0" in message
    assert "3000 workers do not fit in 2 shards" in message
    assert "Nothing was changed" in message
    needed = int(message.split("registry.shards.workers: ")[1].split()[0])
    assert needed > 2
    fits = Layout("r", types=2, workers=needed, ids=1)
    states = shard_states(export, fits, LIMITS)
    assert all(real_size(state) <= LIMITS.max_bytes for state in states.values())


def test_a_kind_no_allowed_count_can_hold_says_so() -> None:
    export = sample(types=1, workers=0, slugs=0)
    export.blobs = {d: {"description": "x" * 195_000} for d in export.blobs}
    with pytest.raises(DoesNotFit, match="not even 256 shards"):
        shard_states(export, Layout("r", types=1), LIMITS)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.update(format="something-else"), "not a registry export"),
        (lambda d: d.update(version=99), "export version 99"),
        (lambda d: d.pop("root"), '"root"'),
        (lambda d: d["entries"].update(types=[["a", "not an object"]]), "entries.types"),
        (lambda d: d["layout"].update(workers=0), '"workers" must be an integer >= 1'),
        (lambda d: d.update(blobs={}), "entries use blobs the export lacks"),
    ],
)
def test_a_file_that_is_not_an_export_is_refused_with_what_is_wrong(
    change: Any, complaint: str
) -> None:
    data = sample(types=3, workers=2, slugs=1).to_json()
    data["layout"] = {"types": 1, "workers": 1, "ids": 1}
    change(data)
    with pytest.raises(ExportFormatError, match=complaint):
        Export.from_json(data)


def test_the_file_is_tagged_and_keeps_order_for_ordered_kinds_only() -> None:
    data = sample(types=2, workers=2, slugs=2).to_json()
    assert data["format"] == FORMAT and data["version"] == 1
    assert isinstance(data["entries"][TYPES], dict)
    assert isinstance(data["entries"][IDS], list)
    assert data["exported_at"].startswith("2027-01-15T")


def test_the_imported_root_keeps_what_lasts_and_takes_the_new_layout() -> None:
    export = sample(types=1, workers=1, slugs=1)
    export.root = {
        "format": 1,
        "layout": {"types": 16, "workers": 32, "ids": 8},
        "created_at": 123.0,
        "generation": "old",
        "continued": 40,
        "last_service_start": {"process_id": 1},
        "max_history_events": 3000,
    }
    layout = Layout("r", types=2, workers=3, ids=1)
    root = root_state(export, layout, {"from_registry": "workflow-registry"})
    assert root == {
        "format": 1,
        "layout": {"types": 2, "workers": 3, "ids": 1},
        "created_at": 123.0,
        "continued": 0,
        "max_history_events": 3000,
        "imported": {"from_registry": "workflow-registry"},
    }


# --- a shard's state from its history ------------------------------------------------------


def kv(op: Mapping[str, Any], view: View, now: float) -> Decision | Refusal:
    key = op["key"]
    if op["op"] == "put":
        entry: dict[str, Any] = {"v": op["v"], "last": now}
        blobs = {}
        if "blob" in op:
            entry["_refs"] = [op["blob"]]
            blobs = {op["blob"]: {"content": op["blob"]}}
        return Decision(put={key: entry}, blobs=blobs)
    if op["op"] == "delete":
        if view.get(key) is None:
            return Refusal("NOT_FOUND", "NO_SUCH_KEY", key)
        return Decision(delete=[key])
    return Refusal("INVALID_ARGUMENT", "UNKNOWN_OP", str(op["op"]))


@pytest.mark.parametrize("ordered", [False, True])
def test_replaying_the_outcomes_of_a_run_gives_its_state(ordered: bool) -> None:
    rng = random.Random(7)
    shard = Shard(new_state("ids" if ordered else "types", "r/x/00", LIMITS, ordered=ordered))
    start = copy.deepcopy(shard.state)
    results = []
    for n in range(60):
        ops = []
        for m in range(rng.randint(1, 4)):
            key = f"k{rng.randint(0, 12)}"
            op: dict[str, Any] = {"id": f"{n}-{m}", "op": rng.choice(["put", "put", "delete"])}
            op.update(key=key, v=n)
            if rng.random() < 0.3:
                op["blob"] = f"b{rng.randint(0, 3)}"
            ops.append(op)
        if n % 10 == 9:
            ops.append(dict(ops[0]))  # a retried op: answered again, changes nothing
        result = shard.apply({"ops": ops}, kv, 100.0 + n)
        payload = CONVERTER.to_payloads([result])[0]  # as history holds it: keys sorted
        results.append(CONVERTER.from_payloads([payload])[0])
    rebuilt = replay_outcomes(start, results)
    assert rebuilt["entries"] == shard.state["entries"]
    assert rebuilt["blobs"] == shard.state["blobs"]
    assert rebuilt["revision"] == shard.revision
    assert rebuilt["order"] == shard.state["order"]


def test_a_bound_below_the_room_kept_for_remembered_writes_is_named() -> None:
    with pytest.raises(DoesNotFit, match=r"registry\.shard_max_bytes 65536 leaves no room"):
        shard_states(sample(types=0, workers=0, slugs=0), Layout("r"), Limits(max_bytes=65_536))
