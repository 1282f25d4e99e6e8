"""Where each piece of registry state lives: the root workflow and the shards of each kind.

The root (`<workflow_id>/root`) holds the layout, fixed when the registry is created: how many
shards each kind has. A key's shard is a stable hash of the key, the same in every process and
every version, so replicas agree on it without asking anyone. Changing the counts means a new
registry: export, then import into a registry created with the new layout."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

TYPES: Final = "types"
WORKERS: Final = "workers"
IDS: Final = "ids"
KINDS: Final = (TYPES, WORKERS, IDS)
ORDERED_KINDS: Final = frozenset({IDS})  # kinds whose least recently used entries go first


@dataclass(frozen=True)
class Layout:
    """The registry's workflows: `root` and, per kind, `counts[kind]` shards."""

    root: str
    types: int = 16
    workers: int = 32
    ids: int = 8

    def count(self, kind: str) -> int:
        counts: dict[str, int] = {TYPES: self.types, WORKERS: self.workers, IDS: self.ids}
        return counts[kind]

    def shard_of(self, kind: str, key: str) -> int:
        return shard_index(key, self.count(kind))

    def shard_id(self, kind: str, index: int) -> str:
        return f"{self.root}/{kind}/{index:02d}"

    def root_id(self) -> str:
        return f"{self.root}/root"

    def shards(self) -> list[tuple[str, int]]:
        """Every (kind, index), in a stable order."""
        return [(kind, i) for kind in KINDS for i in range(self.count(kind))]

    def counts(self) -> dict[str, int]:
        return {kind: self.count(kind) for kind in KINDS}


def shard_index(key: str, count: int) -> int:
    """A key's shard among `count`: the first 8 bytes of its SHA-256, modulo count."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % count
