"""registry.catalog.shards: a view replaced wholesale by a run that is no continuation of
what it holds (an import, a reset), where merging by revision would keep stale entries; a
write in flight across such a replacement is not applied to the new view."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.converter import DataConverter

from registry.catalog.engine import Limits, new_state
from registry.catalog.shards import ShardTail, ShardView, ShardWriter
from registry.catalog.temporal import HistoryPage, RunInfo
from registry.server.errors import RegistryError


def state(revision: int, entries: dict[str, Any], blobs: dict[str, Any] | None = None) -> Any:
    built = new_state("workers", "r/workers/00", Limits())
    built["revision"] = revision
    built["entries"] = {key: json.dumps(value) for key, value in entries.items()}
    built["blobs"] = {key: json.dumps(value) for key, value in (blobs or {}).items()}
    return built


def outcome(rev: int, entries: dict[str, Any]) -> dict[str, Any]:
    changes = {k: None if v is None else json.dumps(v) for k, v in entries.items()}
    return {"id": f"op-{rev}", "ok": True, "rev": rev, "result": {}, "entries": changes}


def view_with_history() -> tuple[ShardView[dict[str, Any]], list[tuple[str, Any, Any]]]:
    heard: list[tuple[str, Any, Any]] = []
    view: ShardView[dict[str, Any]] = ShardView(
        "r/workers/00",
        lambda key, raw: json.loads(raw),
        lambda k, o, n, _rev: heard.append((k, o, n)),
    )
    view.load(state(10, {"a": {"v": 1}, "b": {"v": 1}}, {"d1": {"schema": 1}}))
    view.apply(outcome(11, {"c": {"v": 11}}))
    view.apply(outcome(12, {"a": {"v": 12}}))
    return view, heard


def test_a_replacing_state_is_taken_whole_whatever_its_revisions() -> None:
    view, heard = view_with_history()
    heard.clear()
    imported = state(5, {"a": {"v": "imported"}, "z": {"v": "imported"}}, {"d2": {"schema": 2}})
    view.reset(imported)
    assert view.items == {"a": {"v": "imported"}, "z": {"v": "imported"}}
    assert view.raw == imported["entries"]
    assert view.blobs == {"d2": {"schema": 2}}
    assert view.revision == 5 and view.epoch == 1
    assert sorted(k for k, _, new in heard if new is None) == ["b", "c"]  # listeners told
    view.apply(outcome(6, {"z": None}))  # the new run's writes apply from its revisions
    assert "z" not in view.items


def test_merging_it_by_revision_instead_would_keep_stale_entries() -> None:
    view, _ = view_with_history()
    view.load(state(5, {"a": {"v": "imported"}}))
    assert view.items["a"] == {"v": 12} and "c" in view.items  # why reset exists


def test_a_continued_run_s_state_decodes_only_what_changed() -> None:
    """The next run starts with the state the view already holds (continue-as-new): nothing
    is decoded again and no listener hears of it, however large the shard."""
    decoded: list[str] = []
    heard: list[str] = []

    def decode(key: str, raw: str) -> Any:
        decoded.append(key)
        return json.loads(raw)

    view: ShardView[dict[str, Any]] = ShardView(
        "r/workers/00", decode, lambda key, old, new, _rev: heard.append(key)
    )
    entries = {f"w{n}": {"v": n} for n in range(1000)}
    view.load(state(10, entries))
    decoded.clear()
    heard.clear()
    view.apply(outcome(11, {"w1": {"v": "new"}}))
    view.load(state(11, {**entries, "w1": {"v": "new"}}))  # the next run's input
    assert decoded == ["w1"] and heard == ["w1"]  # the outcome only, not the reload
    view.apply(outcome(12, {"w2": {"v": 12}}))  # later outcomes still apply by revision
    assert view.items["w2"] == {"v": 12} and view.revision == 12


class SlowTemporal:
    """Answers one batch when told to (a real shard answers from Temporal)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.sent = asyncio.Event()

    async def apply(self, shard_id: str, batch: dict[str, Any], update_id: str) -> Any:
        self.sent.set()
        await self.release.wait()
        op = batch["ops"][0]
        return {"revision": 3, "now": 0.0, "size": 1, "outcomes": [outcome(3, {op["key"]: {}})]}


def test_a_write_in_flight_when_the_view_is_replaced_is_answered_unavailable() -> None:
    async def scenario() -> None:
        view, _ = view_with_history()
        temporal = SlowTemporal()
        writer = ShardWriter(temporal, "r/workers/00", view, timeout=5, limits={})  # type: ignore[arg-type]
        write = asyncio.create_task(writer.submit({"op": "register", "key": "late"}))
        await temporal.sent.wait()
        view.reset(state(1, {}))
        temporal.release.set()
        with pytest.raises(RegistryError) as failed:
            await write
        assert failed.value.reason == "REGISTRY_STATE_REPLACED"
        assert "late" not in view.items  # the tail brings it if the new run has it

    asyncio.run(scenario())


class ScriptedHistory:
    """A shard's runs as Temporal would serve them: r1 continues as new into r2."""

    def __init__(self, state: dict[str, Any]) -> None:
        converter = DataConverter.default.payload_converter
        payloads = Payloads(payloads=converter.to_payloads([state]))
        started = HistoryEvent(
            event_id=1, event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
        )
        started.workflow_execution_started_event_attributes.input.CopyFrom(payloads)
        continued = HistoryEvent(
            event_id=2, event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        )
        continued.workflow_execution_continued_as_new_event_attributes.new_execution_run_id = "r2"
        self.pages = {("r1", b""): ([started], b"more"), ("r1", b"more"): ([continued], b"")}
        self.pages["r2", b""] = ([started], b"next")
        self.described = RunInfo("r/workers/00", "r1", True, "RUNNING", 1, 0)
        self.r1_ends = asyncio.Event()

    async def describe(self, workflow_id: str) -> RunInfo:
        return self.described

    async def history_page(
        self, workflow_id: str, run_id: str, token: bytes, *, wait: float
    ) -> Any:
        if (run_id, token) == ("r1", b"more"):
            await self.r1_ends.wait()
        if (run_id, token) not in self.pages:
            await asyncio.sleep(3600)  # a long poll with nothing new
        events, next_token = self.pages[run_id, token]
        return HistoryPage(events, next_token)

    def decode(self, payloads: Any) -> Any:
        return DataConverter.default.payload_converter.from_payloads(payloads.payloads)[0]


def test_a_confirmation_is_reached_when_its_run_continued_as_new_meanwhile() -> None:
    """The describe saw r1 with 2 events; before the tail read the second, r1 continued as
    new and the tail moved on to r2: r1 was read to its end, so the view is current."""

    async def scenario() -> None:
        temporal = ScriptedHistory(state(1, {"a": {"v": 1}}))
        view: ShardView[dict[str, Any]] = ShardView("r/workers/00", lambda k, raw: json.loads(raw))
        tail = ShardTail(temporal, "r/workers/00", view)  # type: ignore[arg-type]
        await tail.start()
        following = asyncio.create_task(tail.run())
        await asyncio.wait_for(tail.caught_up.wait(), 5)
        temporal.described = RunInfo("r/workers/00", "r1", True, "RUNNING", 2, 0)
        confirming = asyncio.create_task(tail.confirm(0, 5))
        await asyncio.sleep(0.05)
        temporal.r1_ends.set()  # the continue-as-new event arrives; the tail moves to r2
        await asyncio.wait_for(confirming, 2)
        assert tail.run_id == "r2"
        following.cancel()

    asyncio.run(scenario())
