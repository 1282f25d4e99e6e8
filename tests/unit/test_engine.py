"""registry.catalog.engine: exact sizes through the real payload converter, the bound, exactly
once across a continue-as-new, order that survives it, and no input that raises."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

import pytest
from temporalio.converter import DataConverter

from registry.catalog.engine import (
    Decision,
    Limits,
    Refusal,
    Shard,
    View,
    new_state,
)

CONVERTER = DataConverter.default.payload_converter


def real_size(shard: Shard) -> int:
    return CONVERTER.to_payloads([shard.state])[0].ByteSize()


def through_temporal(shard: Shard) -> Shard:
    """The shard as the next run sees it: its state through the payload converter and back."""
    payload = CONVERTER.to_payloads([shard.state])[0]
    return Shard(CONVERTER.from_payloads([payload], [dict])[0])


def toy(op: Mapping[str, Any], view: View, now: float) -> Decision | Refusal:
    """put/delete/touch/blob/explode: enough to exercise every part of the engine."""
    kind = op.get("op")
    if kind == "put":
        entry = {"v": op["value"], "at": now}
        if "blob" in op:
            entry["_refs"] = [op["blob"]]
            return Decision(
                put={op["key"]: entry},
                blobs={op["blob"]: op["content"]},
                result={"n": len(view) + 1},
            )
        return Decision(put={op["key"]: entry}, result={"had": view.get(op["key"]) is not None})
    if kind == "delete":
        if view.get(op["key"]) is None:
            return Refusal("NOT_FOUND", "NO_SUCH_KEY", f"no {op['key']}")
        return Decision(delete=[op["key"]])
    if kind == "touch":
        return Decision(touch=[op["key"]])
    if kind == "explode":
        raise ZeroDivisionError
    if kind == "garbage":
        return Decision(put={op["key"]: {"bad": object()}})
    return Refusal("INVALID_ARGUMENT", "UNKNOWN_OP", f"unknown op {kind!r}")


def ops(*items: dict[str, Any]) -> dict[str, Any]:
    return {"ops": [{"id": f"op-{random.random()}", **item} for item in items]}


def shard(max_bytes: int = 200_000, remembered: int = 32, ordered: bool = True) -> Shard:
    return Shard(
        new_state("toy", "registry/toy/00", Limits(max_bytes, remembered), ordered=ordered)
    )


def test_the_size_is_the_real_payload_size_whatever_the_state_holds() -> None:
    rng = random.Random(7)
    s = shard()
    assert s.size == real_size(s)
    for step in range(400):
        key = f'k{rng.randrange(60)}-{"é" * rng.randrange(3)}"\\'
        choice = rng.random()
        if choice < 0.6:
            item: dict[str, Any] = {"op": "put", "key": key, "value": "x" * rng.randrange(200)}
            if rng.random() < 0.3:
                item.update(
                    blob=f"h{rng.randrange(5)}", content={"schema": "s" * rng.randrange(50)}
                )
        elif choice < 0.85:
            item = {"op": "delete", "key": key}
        else:
            item = {"op": "touch", "key": key}
        s.apply(ops(item), toy, 1_700_000_000.0 + step)
        assert s.size == real_size(s), step
    again = through_temporal(s)
    assert again.size == s.size == real_size(again)


def test_a_write_past_the_bound_is_refused_and_changes_nothing() -> None:
    s = shard(max_bytes=40_000, remembered=8)
    n = 0
    while True:
        out = s.apply(ops({"op": "put", "key": f"k{n}", "value": "v" * 500}), toy, 1.0)
        (outcome,) = out["outcomes"]
        if not outcome["ok"]:
            break
        n += 1
    assert (outcome["code"], outcome["reason"]) == ("RESOURCE_EXHAUSTED", "SHARD_FULL")
    assert "registry/toy/00" in outcome["message"] and "40000" in outcome["message"]
    assert len(s.state["entries"]) == n
    # Full, it still takes what it must: deletes, remembered outcomes, a handover.
    for i in range(20):
        (deleted,) = s.apply(ops({"op": "delete", "key": f"k{i}"}), toy, 2.0)["outcomes"]
        assert deleted["ok"]
    assert real_size(s) <= 40_000
    assert real_size(through_temporal(s)) <= 40_000


def test_a_retry_after_continue_as_new_gets_the_first_outcome() -> None:
    s = shard()
    first = s.apply({"ops": [{"id": "a", "op": "put", "key": "k", "value": 1}]}, toy, 1.0)
    s = through_temporal(s)  # the next run
    retried = s.apply({"ops": [{"id": "a", "op": "put", "key": "k", "value": 2}]}, toy, 2.0)
    (was,), (now,) = first["outcomes"], retried["outcomes"]
    assert now["replayed"] and now["rev"] == was["rev"] and now["result"] == was["result"]
    assert json.loads(s.state["entries"]["k"])["v"] == 1
    assert s.revision == 1


def test_outcomes_are_remembered_for_the_last_n_operations_only() -> None:
    s = shard(remembered=4)
    for i in range(6):
        s.apply({"ops": [{"id": f"op{i}", "op": "put", "key": "k", "value": i}]}, toy, 1.0)
    (again,) = s.apply({"ops": [{"id": "op0", "op": "put", "key": "k", "value": 9}]}, toy, 1.0)[
        "outcomes"
    ]
    assert "replayed" not in again  # forgotten: applied as new
    assert len(s.state["applied"]) == 4


def test_order_survives_the_payload_converter() -> None:
    s = shard()
    for key in ["zeta", "alpha", "mid"]:
        s.apply(ops({"op": "put", "key": key, "value": 1}), toy, 1.0)
    s.apply(ops({"op": "touch", "key": "zeta"}), toy, 1.0)
    again = through_temporal(s)
    assert list(View(again, lambda _: True).oldest()) == ["alpha", "mid", "zeta"]
    assert list(again.state["entries"]) == ["alpha", "mid", "zeta"]  # sorted: why order is a list


def test_blobs_are_stored_once_and_dropped_with_their_last_user() -> None:
    s = shard()
    schema = {"type": "object"}
    for key in ("a", "b"):
        s.apply(ops({"op": "put", "key": key, "value": 1, "blob": "h1", "content": schema}), toy, 1)
    assert list(s.state["blobs"]) == ["h1"]
    s.apply(ops({"op": "delete", "key": "a"}), toy, 1.0)
    assert list(s.state["blobs"]) == ["h1"]
    (gone,) = s.apply(ops({"op": "delete", "key": "b"}), toy, 1.0)["outcomes"]
    assert s.state["blobs"] == {} and gone["blobs"] == {"h1": None}
    assert s.size == real_size(s)


@pytest.mark.parametrize(
    "batch",
    [
        None,
        [],
        {"ops": "nope"},
        {"ops": [None, 3, "x", {}, {"id": 5}, {"id": "x" * 65}]},
        {"ops": [{"id": "e", "op": "explode"}, {"id": "g", "op": "garbage", "key": "k"}]},
    ],
)
def test_no_batch_raises_and_bad_operations_are_refused_one_by_one(batch: Any) -> None:
    s = shard()
    before = dict(s.state)
    out = s.apply(batch, toy, 1.0)
    assert all(not outcome["ok"] for outcome in out["outcomes"])
    assert s.state["entries"] == before["entries"] and s.revision == 0
    codes = {o["code"] for o in out["outcomes"]}
    assert codes <= {"INVALID_ARGUMENT", "INTERNAL"}


def test_the_engine_imports_only_the_standard_library() -> None:
    import ast
    from pathlib import Path

    from registry.catalog import engine

    tree = ast.parse(Path(engine.__file__).read_text())
    modules = {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    } | {
        a.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for a in node.names
    }
    assert modules <= {"__future__", "json", "collections", "dataclasses", "typing"}
