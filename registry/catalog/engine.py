"""The engine of one registry shard: a bounded, exactly sized key-value state that a registry
workflow carries from run to run, and the batched writes it applies.

The registry's state is split over shard workflows (registry.catalog.layout): workflow types,
workers and readable-id counters, each kind hashed over its own shards. Every shard runs this
engine; what an operation means is the kind's *rules* (a `decide` function, pure), and this
module only keeps the state, applies decisions and keeps its promises:

- **Cheap to load.** The state is plain JSON (the run input): each entry is one canonical JSON
  string, parsed only when an operation touches it, so a new run's first activation decodes
  one flat dict (a few ms for a full shard) instead of a tree of dataclasses.
- **Bounded, exactly.** `size` is the byte size of the run input as Temporal's payload
  converter writes it (sorted keys, compact separators, ASCII escapes, the payload's metadata),
  kept up to date entry by entry. A write that would take it past `max_bytes` is refused with
  RESOURCE_EXHAUSTED before anything changes; room is always kept for what writes themselves
  add (the remembered outcomes below), so a full shard still accepts deletes, renewals and
  continue-as-new, and its snapshot query answers. The workflow checks the ledger against the
  real converter at every handover.
- **Exactly once.** Every operation carries an id (kept by the caller across retries). The
  outcomes of the last `remembered_ops` applied operations travel with the state across
  continue-as-new, so a retry that lands on the next run gets the first outcome, never a
  second application.
- **Order survives.** Order that matters (least recently used first) is kept in a JSON list,
  which the payload converter does not sort, unlike a dict's keys.
- **Never raises.** A malformed operation, or a bug in a decide function, is one refused
  outcome; the workflow task never fails, so no input can wedge the shard.

Standard library only, deterministic: it runs in the workflow sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

FORMAT: Final = 1
# Room kept for the remembered outcomes: each is at most this long as JSON (the engine clips
# what it keeps), times remembered_ops. Entries may use what is left of max_bytes.
MAX_REMEMBERED_OUTCOME_BYTES: Final = 160
MAX_OP_ID_LENGTH: Final = 64
# The payload metadata the JSON converter adds: {"encoding": b"json/plain"}.
_METADATA_BYTES: Final = 24  # tag + length + map entry ("encoding", "json/plain")
_COLLECTIONS: Final = ("entries", "blobs", "order", "applied")


def dumps(value: Any) -> str:
    """JSON exactly as Temporal's payload converter writes it."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def payload_bytes(data_bytes: int) -> int:
    """The byte size of a JSON payload whose data is data_bytes long (Payload.ByteSize())."""
    return _METADATA_BYTES + 1 + _varint_bytes(data_bytes) + data_bytes


def _varint_bytes(value: int) -> int:
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


# --- what rules decide ---------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """An operation the rules refuse: a gRPC code name, an ErrorInfo reason, a message and
    field violations ({"field", "description", "reason"})."""

    code: str
    reason: str
    message: str
    violations: tuple[Mapping[str, str], ...] = ()


@dataclass
class Decision:
    """What an operation changes. `put`: entries to write (key -> entry); `delete`: keys to
    remove; `touch`: keys to move to the most recently used end of the order (ordered kinds;
    a put key is touched too); `blobs`: content to store by hash (an entry lists the hashes it
    uses under "_refs"; blobs no entry uses are dropped); `result`: what the caller gets (small
    JSON: it is remembered)."""

    put: dict[str, dict[str, Any]] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)
    touch: list[str] = field(default_factory=list)
    blobs: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)


class View:
    """What a decide function may read: the shard's entries (parsed on demand), its blobs, the
    least recently used keys, and a fresh sequence number."""

    def __init__(self, shard: Shard, patched: Callable[[str], bool]) -> None:
        self._shard = shard
        self.patched = patched  # workflow.patched in the workflow: gates a changed rule

    @property
    def kind(self) -> str:
        return str(self._shard.state["kind"])

    def get(self, key: str) -> dict[str, Any] | None:
        return self._shard.entry(key)

    def blob(self, digest: str) -> Any:
        raw = self._shard.state["blobs"].get(digest)
        return None if raw is None else json.loads(raw)

    def has_blob(self, digest: str) -> bool:
        return digest in self._shard.state["blobs"]

    def __len__(self) -> int:
        return len(self._shard.state["entries"])

    def keys(self) -> Iterator[str]:
        return iter(self._shard.state["entries"])

    def oldest(self) -> Iterator[str]:
        """Keys from the least to the most recently used (ordered kinds)."""
        return iter(self._shard.state["order"])

    def room(self) -> int:
        """Bytes entries may still grow by."""
        return self._shard.room()


Decide = Callable[[Mapping[str, Any], View, float], "Decision | Refusal"]


# --- the shard -----------------------------------------------------------------------------


def _always(_rule: str) -> bool:
    """Outside a workflow (tests, tools) every rule is the current one."""
    return True


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 1_000_000
    remembered_ops: int = 1024

    @property
    def reserved_bytes(self) -> int:
        """Room kept for the remembered outcomes (and the ledger's small counters)."""
        return self.remembered_ops * (MAX_REMEMBERED_OUTCOME_BYTES + 1) + 256


def new_state(kind: str, name: str, limits: Limits, *, ordered: bool = False) -> dict[str, Any]:
    """The first run's input of a shard."""
    return {
        "format": FORMAT,
        "kind": kind,
        "name": name,
        "ordered": ordered,
        "revision": 0,
        "max_bytes": limits.max_bytes,
        "remembered_ops": limits.remembered_ops,
        "continued": 0,
        "entries": {},
        "blobs": {},
        "order": [],
        "applied": [],
    }


class Shard:
    """A shard's state (the run input, a plain JSON dict) and its exact size."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self._parsed: dict[str, dict[str, Any]] = {}
        self._refs: dict[str, int] = {}
        self._costs = {name: 0 for name in _COLLECTIONS}
        for key, raw in state["entries"].items():
            self._costs["entries"] += _item_cost(key, raw)
            for digest in _refs_of(raw):
                self._refs[digest] = self._refs.get(digest, 0) + 1
        for digest, raw in state["blobs"].items():
            self._costs["blobs"] += _item_cost(digest, raw)
        for key in state["order"]:
            self._costs["order"] += len(dumps(key)) + 1
        for item in state["applied"]:
            self._costs["applied"] += len(dumps(item)) + 1
        self._applied_ids = {item[0] for item in state["applied"]}

    @property
    def limits(self) -> Limits:
        return Limits(self.state["max_bytes"], self.state["remembered_ops"])

    @property
    def revision(self) -> int:
        return int(self.state["revision"])

    @property
    def size(self) -> int:
        """The run input's byte size as Temporal's JSON payload converter makes it."""
        frame = {key: value for key, value in self.state.items() if key not in _COLLECTIONS}
        data = len(dumps(frame))  # "{...}" with the frame's own fields
        for name in _COLLECTIONS:  # ,"name":{} / [] plus the items and their commas
            items = self._costs[name]
            data += len(dumps(name)) + 1 + 2 + 1 + (items - 1 if items else 0)
        return payload_bytes(data)

    def room(self) -> int:
        """Bytes entries and blobs may still take (the remembered outcomes' room aside)."""
        return self.limits.max_bytes - self.limits.reserved_bytes - self._entry_bytes()

    def empty_room(self) -> int:
        """Bytes entries and blobs could take were the shard empty."""
        held = self._costs["entries"] + self._costs["blobs"] + self._costs["order"]
        return self.room() + held

    def _entry_bytes(self) -> int:
        return self.size - self._costs["applied"]

    def entry(self, key: str) -> dict[str, Any] | None:
        if key not in self._parsed:
            raw = self.state["entries"].get(key)
            if raw is None:
                return None
            self._parsed[key] = json.loads(raw)
        return self._parsed[key]

    # --- applying ----------------------------------------------------------------------

    def apply(
        self,
        batch: Mapping[str, Any],
        decide: Decide,
        now: float,
        patched: Callable[[str], bool] = _always,
    ) -> dict[str, Any]:
        """Apply a batch of operations in order: one outcome each, never an exception. An
        operation seen before (its id is remembered) gets its first outcome again, marked
        `replayed`, and changes nothing. `patched` gates changed rules (workflow.patched)."""
        ops = batch.get("ops") if isinstance(batch, Mapping) else None
        view = View(self, patched)
        outcomes = []
        for op in ops if isinstance(ops, list) else []:
            outcomes.append(self._apply_one(op, decide, view, now))
        return {"revision": self.revision, "now": now, "size": self.size, "outcomes": outcomes}

    def _apply_one(self, op: Any, decide: Decide, view: View, now: float) -> dict[str, Any]:
        op_id = op.get("id") if isinstance(op, Mapping) else None
        if not isinstance(op_id, str) or not 0 < len(op_id) <= MAX_OP_ID_LENGTH:
            return _refused(
                "", Refusal("INVALID_ARGUMENT", "INVALID_OPERATION", "an operation needs an id")
            )
        if op_id in self._applied_ids:
            return self._remembered(op_id)
        try:
            decided = decide(op, view, now)
            if isinstance(decided, Refusal):
                return _refused(op_id, decided)
            prepared = _Prepared.of(decided)
            over = self._over_budget(prepared)
        except Exception as error:  # a bug fails one operation, never the workflow task
            return _refused(
                op_id,
                Refusal(
                    "INTERNAL",
                    "REGISTRY_INTERNAL",
                    f"the registry could not decide this operation ({type(error).__name__})",
                ),
            )
        if over is not None:
            return _refused(op_id, over)
        changes = self._commit(prepared)
        self.state["revision"] += 1
        self._remember(op_id, prepared.result, now)
        return {"id": op_id, "ok": True, "rev": self.revision, "result": prepared.result, **changes}

    def _over_budget(self, prepared: _Prepared) -> Refusal | None:
        """RESOURCE_EXHAUSTED when the decision grows entries and blobs past their room:
        ENTRY_TOO_LARGE when what it writes would not fit even an empty shard (more shards
        would not help), SHARD_FULL otherwise."""
        growth = self._growth(prepared)
        if growth <= 0 or growth <= self.room():
            return None
        written = sum(_item_cost(key, raw) for key, raw in prepared.put.items())
        written += sum(_item_cost(digest, raw) for digest, raw in prepared.blobs.items())
        if written > self.empty_room():
            return Refusal(
                "RESOURCE_EXHAUSTED",
                "ENTRY_TOO_LARGE",
                f"this write stores {written} bytes in registry shard {self.state['name']}, "
                f"more than a shard may hold ({self.empty_room()} bytes: registry."
                f"shard_max_bytes {self.limits.max_bytes}, less {self.limits.reserved_bytes} "
                "kept for remembered writes); make it smaller (its schema, labels, "
                "descriptions and warnings as JSON, non-ASCII characters escaped), or raise "
                "registry.shard_max_bytes",
            )
        return Refusal(
            "RESOURCE_EXHAUSTED",
            "SHARD_FULL",
            f"registry shard {self.state['name']} would grow past its bound of "
            f"{self.limits.max_bytes} bytes (this write adds {growth}, {max(self.room(), 0)} "
            "left); delete unused entries, or give the registry more shards "
            "(registry.shards, then export and import: see docs/operations.md)",
        )

    def _growth(self, prepared: _Prepared) -> int:
        growth = 0
        entries, ordered = self.state["entries"], self.state["ordered"]
        for key, raw in prepared.put.items():
            old = entries.get(key)
            growth += _item_cost(key, raw) - (_item_cost(key, old) if old is not None else 0)
            if ordered and old is None:
                growth += len(dumps(key)) + 1
        for key in prepared.delete:
            old = entries.get(key)
            if old is not None and key not in prepared.put:
                growth -= _item_cost(key, old) + (len(dumps(key)) + 1 if ordered else 0)
        for digest, raw in prepared.blobs.items():
            if digest not in self.state["blobs"]:
                growth += _item_cost(digest, raw)
        return growth

    def _commit(self, prepared: _Prepared) -> dict[str, Any]:
        """Apply a decision; the changes as an outcome carries them to every replica."""
        entries, blobs = self.state["entries"], self.state["blobs"]
        put_blobs = {}
        for digest, raw in prepared.blobs.items():
            if digest not in blobs:
                blobs[digest] = raw
                self._costs["blobs"] += _item_cost(digest, raw)
                put_blobs[digest] = raw
        changed: dict[str, str | None] = {}
        for key in prepared.delete:
            if key in prepared.put or key not in entries:
                continue
            self._drop(key)
            changed[key] = None
        for key, raw in prepared.put.items():
            old = entries.get(key)
            if old is not None:
                self._costs["entries"] -= _item_cost(key, old)
                self._count_refs(old, -1)
            entries[key] = raw
            self._parsed.pop(key, None)
            self._costs["entries"] += _item_cost(key, raw)
            self._count_refs(raw, +1)
            changed[key] = raw
        if self.state["ordered"]:
            for key in [*prepared.touch, *prepared.put]:
                if key in entries:
                    self._to_end(key)
        dropped = [digest for digest in list(blobs) if self._refs.get(digest, 0) <= 0]
        for digest in dropped:
            self._costs["blobs"] -= _item_cost(digest, blobs.pop(digest))
            self._refs.pop(digest, None)
        out: dict[str, Any] = {"entries": changed}
        if put_blobs or dropped:
            out["blobs"] = {**put_blobs, **dict.fromkeys(dropped)}
        return out

    def _drop(self, key: str) -> None:
        raw = self.state["entries"].pop(key)
        self._parsed.pop(key, None)
        self._costs["entries"] -= _item_cost(key, raw)
        self._count_refs(raw, -1)
        if self.state["ordered"] and key in self.state["order"]:
            self.state["order"].remove(key)
            self._costs["order"] -= len(dumps(key)) + 1

    def _to_end(self, key: str) -> None:
        order = self.state["order"]
        if order and order[-1] == key:
            return
        if key in order:
            order.remove(key)
        else:
            self._costs["order"] += len(dumps(key)) + 1
        order.append(key)

    def _count_refs(self, raw: str, delta: int) -> None:
        for digest in _refs_of(raw):
            self._refs[digest] = self._refs.get(digest, 0) + delta

    # --- remembered outcomes -----------------------------------------------------------

    def _remember(self, op_id: str, result: Mapping[str, Any], now: float) -> None:
        item = [op_id, self.revision, round(now, 3), result]
        if len(dumps(item)) > MAX_REMEMBERED_OUTCOME_BYTES:
            item = [op_id, self.revision, round(now, 3), {"clipped": True}]
        applied = self.state["applied"]
        applied.append(item)
        self._applied_ids.add(op_id)
        self._costs["applied"] += len(dumps(item)) + 1
        while len(applied) > self.limits.remembered_ops:
            oldest = applied.pop(0)
            self._applied_ids.discard(oldest[0])
            self._costs["applied"] -= len(dumps(oldest)) + 1

    def _remembered(self, op_id: str) -> dict[str, Any]:
        for item in reversed(self.state["applied"]):
            if item[0] == op_id:
                return {
                    "id": op_id,
                    "ok": True,
                    "rev": item[1],
                    "result": item[3],
                    "replayed": True,
                    "entries": {},
                }
        raise AssertionError(op_id)  # pragma: no cover: _applied_ids mirrors the list


@dataclass(frozen=True)
class _Prepared:
    """A decision encoded, checked to be plain JSON with string keys, before anything changes."""

    put: dict[str, str]
    delete: list[str]
    touch: list[str]
    blobs: dict[str, str]
    result: dict[str, Any]

    @classmethod
    def of(cls, decision: Decision) -> _Prepared:
        if not isinstance(decision, Decision):
            raise TypeError(f"a decide function returned {type(decision).__name__}")
        keys = [*decision.put, *decision.delete, *decision.touch, *decision.blobs]
        if not all(isinstance(key, str) for key in keys):
            raise TypeError("keys must be strings")
        result = json.loads(dumps(decision.result))  # plain JSON, or a TypeError here
        return cls(
            put={key: _encode(entry) for key, entry in decision.put.items()},
            delete=list(decision.delete),
            touch=list(decision.touch),
            blobs={digest: _encode(content) for digest, content in decision.blobs.items()},
            result=result,
        )


def _refused(op_id: str, refusal: Refusal) -> dict[str, Any]:
    return {
        "id": op_id,
        "ok": False,
        "code": refusal.code,
        "reason": refusal.reason,
        "message": refusal.message,
        "violations": [dict(v) for v in refusal.violations],
    }


def _encode(entry: Any) -> str:
    return dumps(entry)


def _item_cost(key: str, raw: str) -> int:
    """What one `"key":"raw"` item adds to its object as JSON, its comma included."""
    return len(dumps(key)) + 1 + len(dumps(raw)) + 1


def _refs_of(raw: str) -> list[str]:
    if '"_refs"' not in raw:
        return []
    refs = json.loads(raw).get("_refs", [])
    return [r for r in refs if isinstance(r, str)] if isinstance(refs, list) else []
