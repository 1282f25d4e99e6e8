"""What changed in the catalogue, for watchers (registry.catalog.watch): pure rules.

- **Classifying** a change of one stored entry (old, new) into a watch event: a workflow type
  added, changed, removed, enabled or disabled; a worker registered, changed, expired or
  unregistered. A lease renewal alone is no event (its effect on health is one).
- **Positions.** A watcher's position is the revision of every catalogue shard (types and
  workers) it has seen, a vector: each shard applies its writes in one order on every replica,
  so a position means the same on any replica, whichever order the shards' writes reached it.
  The catalogue's `revision` is the vector's sum. A resume token is the position, the lineage
  of the registry (an import starts a new one) and a digest of the health the watcher knows.
- **The change log** keeps the newest changes, so a watcher can resume from a position on any
  replica; below a shard's `floor` its changes are gone and a resume must start over.
"""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from registry.shared.model import StoredWorker, StoredWorkflow

Shard = tuple[str, int]  # (kind, index)

# Event types (temporal_registry.v1.CatalogEvent.Type values).
SYNCED = 1
WORKFLOW_ADDED = 2
WORKFLOW_CHANGED = 3
WORKFLOW_REMOVED = 4
WORKFLOW_ENABLED = 5
WORKFLOW_DISABLED = 6
WORKFLOW_HEALTH_CHANGED = 7
WORKER_REGISTERED = 8
WORKER_CHANGED = 9
WORKER_EXPIRED = 10
WORKER_UNREGISTERED = 11


def workflow_change(old: StoredWorkflow | None, new: StoredWorkflow | None) -> int | None:
    """The event a change of a stored workflow type is, or None (nothing a watcher sees)."""
    if new is None:
        return None if old is None else WORKFLOW_REMOVED
    if old is None:
        return WORKFLOW_ADDED
    if old.enabled != new.enabled:
        return WORKFLOW_ENABLED if new.enabled else WORKFLOW_DISABLED
    if old == new:
        return None
    return WORKFLOW_CHANGED


def worker_change(old: StoredWorker | None, new: StoredWorker | None, now: float) -> int | None:
    """The event a change of a stored worker is, or None. A removed worker whose stored lease
    had lapsed (by the registry workflows' clock, `now`) was expired; otherwise it
    unregistered. A renewal (only the lease moved) is no event."""
    if new is None:
        if old is None:
            return None
        return WORKER_EXPIRED if old.lease_expires_epoch < now else WORKER_UNREGISTERED
    if old is None:
        return WORKER_REGISTERED
    if replace(new, lease_expires_epoch=old.lease_expires_epoch) == old:
        return None
    return WORKER_CHANGED


class HealthState:
    """Every workflow type's health and the unhealthy workers, as last compared, with a digest
    of them kept current entry by entry (the XOR of a hash of each entry: no order, and no
    pass over everything to update it). The same health gives the same digest on any replica."""

    def __init__(self) -> None:
        self.types: dict[str, tuple[bool, tuple[str, ...]]] = {}
        self.unhealthy_workers: set[str] = set()
        self._hash = 0

    @property
    def digest(self) -> str:
        return f"{self._hash:016x}"

    def set_type(self, workflow_type: str, health: tuple[bool, tuple[str, ...]]) -> bool:
        """Record a type's health; whether it differs from what was recorded (a new type's
        first health counts as no change)."""
        old = self.types.get(workflow_type)
        if old == health:
            return False
        if old is not None:
            self._hash ^= _entry_hash("t", workflow_type, old)
        self._hash ^= _entry_hash("t", workflow_type, health)
        self.types[workflow_type] = health
        return old is not None

    def drop_type(self, workflow_type: str) -> None:
        old = self.types.pop(workflow_type, None)
        if old is not None:
            self._hash ^= _entry_hash("t", workflow_type, old)

    def set_worker(self, worker_id: str, healthy: bool) -> None:
        if healthy == (worker_id not in self.unhealthy_workers):
            return
        self._hash ^= _entry_hash("w", worker_id, False)
        if healthy:
            self.unhealthy_workers.discard(worker_id)
        else:
            self.unhealthy_workers.add(worker_id)


def _entry_hash(kind: str, key: str, value: object) -> int:
    encoded = json.dumps([kind, key, value]).encode()
    return int.from_bytes(hashlib.blake2b(encoded, digest_size=8).digest(), "big")


def sweep_slice(size: int, tick: int, ticks: int) -> slice:
    """The part of a list of `size` that tick `tick` of a sweep in `ticks` ticks looks at."""
    return slice(size * tick // ticks, size * (tick + 1) // ticks)


# --- positions and resume tokens -----------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where a watcher is: the revision of each catalogue shard it has seen."""

    revisions: tuple[tuple[Shard, int], ...]  # sorted by shard

    @classmethod
    def of(cls, revisions: Mapping[Shard, int]) -> Position:
        return cls(tuple(sorted(revisions.items())))

    def as_dict(self) -> dict[Shard, int]:
        return dict(self.revisions)

    @property
    def revision(self) -> int:
        return sum(revision for _, revision in self.revisions)


class BadToken(ValueError):
    """A resume token that is no token this registry wrote."""


@dataclass(frozen=True)
class ResumeToken:
    position: Position
    lineage: str  # which registry (an import starts a new lineage)
    health: str  # HealthState.digest of what the watcher was last told

    def encode(self) -> str:
        """URL-safe base64 of compact JSON: each kind's revisions in shard order."""
        kinds: dict[str, list[int]] = {}
        for (kind, _), revision in self.position.revisions:  # sorted: index order per kind
            kinds.setdefault(kind, []).append(revision)
        body = json.dumps({"p": kinds, "l": self.lineage, "h": self.health}, separators=(",", ":"))
        return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> ResumeToken:
        try:
            body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            revisions = {
                (str(kind), index): int(revision)
                for kind, shards in body["p"].items()
                for index, revision in enumerate(shards)
            }
            if any(r < 0 for r in revisions.values()):
                raise ValueError("negative revision")
            return cls(Position.of(revisions), str(body["l"]), str(body["h"]))
        except (
            binascii.Error,
            UnicodeDecodeError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
        ) as error:
            raise BadToken(f"not a resume token of this registry ({error})") from None


# --- the change log --------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One catalogue change: its event type, the entry (`key`, and the stored value, the old
    one for a removal) and where it leaves a watcher. Health changes have no shard."""

    type: int
    key: str
    value: Any
    shard: Shard | None
    shard_revision: int
    resume: Where | None  # encoded only when sent (None: not resumable from here)
    revision: int


@dataclass(frozen=True)
class Where:
    """Where a change leaves a watcher, kept cheaply (the change log holds 20,000): the
    position before its batch, shared by the batch, and the shards the batch moved up to it;
    the lineage and health digest of then. `token()` is its resume token."""

    before: Mapping[Shard, int]
    moved: Mapping[Shard, int]
    lineage: str
    health: str

    def token(self) -> str:
        position = Position.of({**self.before, **self.moved})
        return ResumeToken(position, self.lineage, self.health).encode()


class ResumeRefused(Exception):
    """The log cannot bring a watcher from its position to now: it must start over."""


class ChangeLog:
    """The newest `capacity` changes, in the order this process learned of them."""

    def __init__(self, capacity: int) -> None:
        self._changes: collections.deque[Change] = collections.deque()
        self._capacity = capacity
        self.floors: dict[Shard, int] = {}  # changes of a shard at or below this are gone

    def reset(self, position: Position) -> None:
        """Start over at `position` (the process's view when it begins to keep changes, or
        after a shard's state was replaced wholesale)."""
        self._changes.clear()
        self.floors = position.as_dict()

    def append(self, change: Change) -> None:
        self._changes.append(change)
        while len(self._changes) > self._capacity:
            gone = self._changes.popleft()
            if gone.shard is not None:
                self.floors[gone.shard] = max(self.floors.get(gone.shard, 0), gone.shard_revision)

    def __len__(self) -> int:
        return len(self._changes)

    def since(self, position: Position) -> Iterator[Change]:
        """Every kept change of a shard past `position` (health changes are not replayed: the
        caller compares health digests). ResumeRefused when changes past it are gone."""
        at = position.as_dict()
        if at.keys() != self.floors.keys():
            raise ResumeRefused("the token is from another shard layout")
        behind = [shard for shard, floor in self.floors.items() if at[shard] < floor]
        if behind:
            kind, index = behind[0]
            raise ResumeRefused(
                f"changes of {kind} shard {index} after revision {at[behind[0]]} are no "
                f"longer kept here (kept from {self.floors[behind[0]]})"
            )
        return (c for c in self._changes if c.shard is not None and c.shard_revision > at[c.shard])


def group_tokens(changes: Sequence[tuple[Shard, int]]) -> list[dict[Shard, int]]:
    """Where each of a batch of changes ((shard, revision), in order) leaves a watcher: the
    shards the batch moved so far and their revisions (the rest are where they were before
    the batch). Several changes of one write share its revision: a change that is not the
    last of its write leaves its shard just below it, so a watch resumed there receives the
    whole write again (a repeat, never a gap)."""
    positions: list[dict[Shard, int]] = []
    moved: dict[Shard, int] = {}
    for i, (shard, revision) in enumerate(changes):
        last_of_write = i + 1 == len(changes) or changes[i + 1] != (shard, revision)
        moved = {**moved, shard: revision if last_of_write else revision - 1}
        positions.append(moved)
    return positions
