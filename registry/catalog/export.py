"""The registry's state as one JSON file, and back: the format of `temporal-registry export`
and `temporal-registry import`, and the pure parts of both.

An export holds every entry **by kind**, not by shard, so it can be imported into a registry
with another layout (each key hashed again with registry.catalog.layout):

```json
{
  "format": "temporal-registry-export", "version": 1,
  "registry": "workflow-registry", "namespace": "default",
  "exported_at": "2026-12-03T10:54:03Z", "exported_at_epoch": 1796295243.0,
  "layout": {"types": 32, "workers": 32, "ids": 8},
  "revisions": {"types": 812, "workers": 40211, "ids": 93},
  "root": {...the root workflow's state...},
  "entries": {
    "types": {"order.v1": {...}, ...},
    "workers": {"worker-1": {...}, ...},
    "ids": [["s:orders", {...}], ["r:req-1", {...}], ...]
  },
  "blobs": {"<digest>": <schema>, ...},
  "sources": {"<workflow id>": "query" | "history" | "missing", ...}
}
```

Entries are the shards' entries as JSON objects (registry.catalog.shard_rules,
registry.dispatch.claims); `ids` is a list
because its order matters (least recently used first: eviction follows it); schemas are
blobs, stored once by content address. `revisions` is the highest revision of any shard of
each kind: imported shards start above it, so revisions never go back. `sources` says how
each workflow was read (an informative field; import ignores it).

`shard_states` builds the input state of every shard of a layout from an export with the
engine (`new_state`, then the entries), each measured exactly against its bound before
anything is written: an export that does not fit is refused with the shard and the number of
shards that would hold it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from registry.catalog.engine import Limits, Shard, dumps, new_state
from registry.catalog.layout import IDS, KINDS, ORDERED_KINDS, TYPES, WORKERS, Layout
from registry.dispatch.claims import REQUEST_PREFIX, slug_key

FORMAT: Final = "temporal-registry-export"
VERSION: Final = 1
# The most shards registry.shards allows per kind (registry.server.config.ShardCounts).
MAX_SHARDS: Final = {TYPES: 256, WORKERS: 256, IDS: 64}
KIND_NAMES: Final = {TYPES: "workflow types", WORKERS: "workers", IDS: "readable ids"}
# Root fields that belong to one incarnation of a registry, not to its state.
_ROOT_RUN_FIELDS: Final = ("generation", "continued", "last_service_start", "migrated_from")


class ExportFormatError(ValueError):
    """A file that is not an export this version can read."""


class DoesNotFit(ValueError):
    """An export (or a 0.2 catalogue) too large for a layout at a bound."""


@dataclass
class Export:
    """A registry's whole state, by kind. `entries[kind]` maps keys to entries (a JSON object
    each), in the kind's order: least recently used first for ordered kinds."""

    registry: str
    namespace: str
    exported_at: float
    layout: dict[str, int]
    root: dict[str, Any]
    entries: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    blobs: dict[str, Any] = field(default_factory=dict)
    revisions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    sources: dict[str, str] = field(default_factory=dict)

    def count(self) -> dict[str, int]:
        return {kind: len(self.entries[kind]) for kind in KINDS}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "registry": self.registry,
            "namespace": self.namespace,
            "exported_at": datetime.fromtimestamp(self.exported_at, UTC).isoformat(),
            "exported_at_epoch": self.exported_at,
            "layout": dict(self.layout),
            "revisions": dict(self.revisions),
            "root": self.root,
            "entries": {
                kind: [[key, entry] for key, entry in self.entries[kind].items()]
                if kind in ORDERED_KINDS
                else dict(sorted(self.entries[kind].items()))
                for kind in KINDS
            },
            "blobs": dict(sorted(self.blobs.items())),
            "sources": dict(sorted(self.sources.items())),
        }

    @classmethod
    def from_json(cls, data: Any) -> Export:
        """An export read from its JSON; ExportFormatError says what is wrong with it."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ExportFormatError(f'not a registry export (no "format": "{FORMAT}")')
        if data.get("version") != VERSION:
            raise ExportFormatError(
                f"export version {data.get('version')!r}; this registry reads version {VERSION}"
            )
        _expect(data, "registry", str)
        _expect(data, "namespace", str)
        _expect(data, "exported_at_epoch", (int, float))
        _expect(data, "root", dict)
        _expect(data, "blobs", dict)
        layout = _expect(data, "layout", dict)
        revisions = data.get("revisions", {})
        entries = _expect(data, "entries", dict)
        export = cls(
            registry=data["registry"],
            namespace=data["namespace"],
            exported_at=float(data["exported_at_epoch"]),
            layout={kind: _count(layout, kind) for kind in KINDS},
            root=data["root"],
            blobs=dict(data["blobs"]),
            revisions={kind: _count(revisions, kind, minimum=0) for kind in KINDS},
            sources={str(k): str(v) for k, v in data.get("sources", {}).items()},
        )
        for kind in KINDS:
            export.entries[kind] = dict(
                _entries_of(kind, entries.get(kind, [] if kind in ORDERED_KINDS else {}))
            )
        missing = sorted(
            {d for entry in _all_entries(export) for d in _refs(entry)} - export.blobs.keys()
        )
        if missing:
            raise ExportFormatError(f"entries use blobs the export lacks: {', '.join(missing[:5])}")
        return export


def _expect(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ExportFormatError(f'"{name}" is missing or not of the right type')
    return value


def _count(counts: Any, kind: str, minimum: int = 1) -> int:
    value = counts.get(kind, minimum) if isinstance(counts, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ExportFormatError(f'"{kind}" must be an integer >= {minimum}')
    return value


def _entries_of(kind: str, items: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    pairs = items.items() if isinstance(items, dict) else items
    if not isinstance(items, (dict, list)):
        raise ExportFormatError(f"entries.{kind} must be an object or a list of [key, entry]")
    for pair in pairs:
        if (
            not isinstance(pair, (list, tuple))
            or len(pair) != 2
            or not isinstance(pair[0], str)
            or not isinstance(pair[1], dict)
        ):
            raise ExportFormatError(f"entries.{kind}: every entry is a key and a JSON object")
        yield pair[0], pair[1]


def _all_entries(export: Export) -> Iterator[dict[str, Any]]:
    for kind in KINDS:
        yield from export.entries[kind].values()


def _refs(entry: Mapping[str, Any]) -> list[str]:
    refs = entry.get("_refs", [])
    return [r for r in refs if isinstance(r, str)] if isinstance(refs, list) else []


# --- from shard states ---------------------------------------------------------------------


def collect(
    registry: str,
    namespace: str,
    exported_at: float,
    root: dict[str, Any],
    states: Mapping[tuple[str, int], dict[str, Any]],
    sources: Mapping[str, str] | None = None,
) -> Export:
    """An export of every shard's state (engine states, by (kind, index)), merged by kind.
    An ordered kind's entries are listed least recently used first: by the time each was last
    written (a slug's `last`, a request record's `at`; a shard's order follows these times,
    every write stamping and moving its keys), ties by key. So the listing is the same
    whichever way the shards were read (a query, or their history)."""
    export = Export(
        registry=registry,
        namespace=namespace,
        exported_at=exported_at,
        layout=dict(root.get("layout", {})),
        root=root,
        sources=dict(sources or {}),
    )
    for kind in KINDS:
        shards = [state for (k, _), state in sorted(states.items()) if k == kind]
        for state in shards:
            export.revisions[kind] = max(export.revisions[kind], int(state.get("revision", 0)))
        if kind in ORDERED_KINDS:
            listed = [
                (key, json.loads(raw)) for state in shards for key, raw in state["entries"].items()
            ]
            listed.sort(key=lambda item: (_recency(item[1]), item[0]))
            export.entries[kind] = dict(listed)
        else:
            export.entries[kind] = {
                key: json.loads(raw) for state in shards for key, raw in state["entries"].items()
            }
        for state in shards:
            for digest, raw in state["blobs"].items():
                export.blobs[digest] = json.loads(raw)
    used = {digest for entry in _all_entries(export) for digest in _refs(entry)}
    export.blobs = {digest: export.blobs[digest] for digest in sorted(used & export.blobs.keys())}
    return export


def _recency(entry: Mapping[str, Any]) -> float:
    """When an ordered entry was last used: a slug's `last` claim, a request record's `at`."""
    value = entry.get("last", entry.get("at", 0.0))
    return float(value) if isinstance(value, (int, float)) else 0.0


def replay_outcomes(state: dict[str, Any], results: Iterable[Any]) -> dict[str, Any]:
    """A shard's state after the `apply` results of its run (from its history), applied to
    the run's input state: entries and blobs as the outcomes say, ordered keys moved to the
    end when written. (An outcome lists its keys sorted, and a `touch` without a write is not
    in it: within one operation, and for such touches, the order is that of the writes.
    `collect` lists ordered entries by their times, which both give alike.)"""
    entries, blobs, order = state["entries"], state["blobs"], state.get("order", [])
    ordered = bool(state.get("ordered"))
    for result in results:
        if not isinstance(result, dict):
            continue
        for outcome in result.get("outcomes", []):
            if not isinstance(outcome, dict) or not outcome.get("ok") or outcome.get("replayed"):
                continue
            for digest, raw in (outcome.get("blobs") or {}).items():
                if raw is None:
                    blobs.pop(digest, None)
                else:
                    blobs[digest] = raw
            for key, raw in (outcome.get("entries") or {}).items():
                if ordered and key in entries:
                    order.remove(key)
                if raw is None:
                    entries.pop(key, None)
                else:
                    entries[key] = raw
                    if ordered:
                        order.append(key)
            state["revision"] = max(int(state.get("revision", 0)), int(outcome.get("rev", 0)))
    return state


# --- to shard states -----------------------------------------------------------------------


def shard_states(
    export: Export, layout: Layout, limits: Limits
) -> dict[tuple[str, int], dict[str, Any]]:
    """The input state of every shard of `layout`, built with the engine from the export's
    entries (each key in its shard by layout's hash, in the export's order), each checked
    against the bound. DoesNotFit names the first shard over it, and how many shards of its
    kind would hold the export."""
    if Shard(new_state(TYPES, layout.root_id(), limits)).room() < 0:
        raise DoesNotFit(
            f"registry.shard_max_bytes {limits.max_bytes} leaves no room for entries: a shard "
            f"keeps {limits.reserved_bytes} bytes for remembered writes. Nothing was changed."
        )
    states: dict[tuple[str, int], dict[str, Any]] = {}
    for kind in KINDS:
        built = _kind_states(export, kind, layout, limits)
        for index, shard in enumerate(built):
            if shard.room() < 0:
                raise DoesNotFit(_too_big(export, kind, layout, limits, index, shard))
            states[kind, index] = shard.state
    return states


def _kind_states(export: Export, kind: str, layout: Layout, limits: Limits) -> list[Shard]:
    count = layout.count(kind)
    states = [
        new_state(kind, layout.shard_id(kind, i), limits, ordered=kind in ORDERED_KINDS)
        for i in range(count)
    ]
    for state in states:
        state["revision"] = export.revisions.get(kind, 0) + 1
    for key, entry in export.entries[kind].items():
        state = states[layout.shard_of(kind, home_key(kind, key, entry))]
        state["entries"][key] = dumps(entry)
        for digest in _refs(entry):
            if digest in export.blobs:
                state["blobs"][digest] = dumps(export.blobs[digest])
        if state["ordered"]:
            state["order"].append(key)
    return [Shard(state) for state in states]


def home_key(kind: str, key: str, entry: Mapping[str, Any]) -> str:
    """The key whose shard holds an entry: its own, but a request record lives with the slug
    it claimed (a claim reads and writes both in one shard)."""
    slug = entry.get("slug")
    if kind == IDS and key.startswith(REQUEST_PREFIX) and isinstance(slug, str):
        return slug_key(slug)
    return key


def _too_big(
    export: Export, kind: str, layout: Layout, limits: Limits, index: int, shard: Shard
) -> str:
    room = limits.max_bytes - limits.reserved_bytes
    needed = _shards_needed(export, kind, layout, limits)
    advice = (
        f"registry.shards.{kind}: {needed} would hold them at this bound"
        if needed is not None
        else f"not even {MAX_SHARDS[kind]} shards (the most registry.shards.{kind} allows) "
        "would hold them at this bound"
    )
    return (
        f"registry shard {layout.shard_id(kind, index)} would hold {room - shard.room()} bytes "
        f"of {KIND_NAMES[kind]}, over the {room} bytes a shard may hold "
        f"(registry.shard_max_bytes {limits.max_bytes}, less {limits.reserved_bytes} kept "
        f"for remembered writes); {len(export.entries[kind])} {KIND_NAMES[kind]} do not fit "
        f"in {layout.count(kind)} shards: {advice}, or raise registry.shard_max_bytes. "
        "Nothing was changed."
    )


def _shards_needed(export: Export, kind: str, layout: Layout, limits: Limits) -> int | None:
    """The fewest shards of `kind` that hold the export's entries at this bound (None: more
    than registry.shards allows). Starts from a proportional estimate, checked with the
    engine, then counts up."""
    room = limits.max_bytes - limits.reserved_bytes
    largest = max(room - shard.room() for shard in _kind_states(export, kind, layout, limits))
    count = max(layout.count(kind) + 1, math.ceil(layout.count(kind) * largest / room))
    while count <= MAX_SHARDS[kind]:
        trial = Layout(layout.root, **{**layout.counts(), kind: count})
        if all(shard.room() >= 0 for shard in _kind_states(export, kind, trial, limits)):
            return count
        count += 1
    return None


def root_state(export: Export, layout: Layout, imported: dict[str, Any]) -> dict[str, Any]:
    """The root's input for an import: the exported root's lasting fields (its creation time,
    run limits), the layout it is imported into, and where it came from. A new generation is
    made by the new run."""
    root = {k: v for k, v in export.root.items() if k not in (*_ROOT_RUN_FIELDS, "layout")}
    return {**root, "format": 1, "layout": layout.counts(), "continued": 0, "imported": imported}
