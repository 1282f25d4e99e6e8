"""The catalogue as it changes, for this process's watchers and conditional reads.

The store's shard views tell `ChangeFeed.note_*` of every entry that changes, whichever
replica wrote it (a view follows its shard's history). Changes noted in one pass of the event
loop become watch events together (registry.catalog.changes): each is built and serialised
once, kept in the change log for resumes, and handed to every watcher's queue.

Health changes with time too (a lease lapses, a poller goes quiet): a sweep compares every
type's health, and every worker's, with the last, a slice every `HEALTH_TICK` so that no
tick holds the event loop long (all of it once a second up to `TYPES_PER_TICK` x 4 types and
`WORKERS_PER_TICK` x 4 workers, proportionally slower beyond); the types a change touches are
looked at again at once. The health digest and the catalogue revision make the weak ETag of
every catalogue answer.

Waiting (blocking queries, resumes from a position this replica has not reached) is on one
condition notified by every change.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

import grpc
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
    Shard,
    Where,
    group_tokens,
)
from registry.catalog.layout import TYPES, WORKERS
from registry.catalog.metrics import WATCH_EVENTS, WATCH_RESYNCS
from registry.catalog.responses import worker_to_proto
from registry.liveness.views import worker_view
from registry.server.errors import FieldViolation, RegistryError, invalid_argument
from registry.server.state_log import StateLog
from registry.shared.model import StoredWorker, StoredWorkflow

if TYPE_CHECKING:
    from registry.catalog.store import RegistryStore

log = logging.getLogger("registry.catalog.watch")

# Changes kept for resumes (per process; about 1 KB each).
LOG_CAPACITY: Final = 20_000
# Events a watcher may have waiting before it is told to resync (it reads too slowly).
MAX_BACKLOG: Final = 10_000
# The health sweep: a tick every HEALTH_TICK looks at a slice of the types and workers (at
# most about TYPES_PER_TICK and WORKERS_PER_TICK: about 8 ms and 2 ms on a 2-core machine,
# so at most about 4% of a core at fleet size, where a sweep takes 10 s); a sweep starts at
# most every SWEEP_EVERY.
HEALTH_TICK: Final = 0.25
TYPES_PER_TICK: Final = 125
WORKERS_PER_TICK: Final = 1_250
SWEEP_EVERY: Final = 1.0
# How long a position or revision ahead of this replica's view may wait for it.
CATCH_UP_WAIT: Final = 2.0
RESYNC_REQUIRED: Final = "RESYNC_REQUIRED"


def resync(message: str) -> RegistryError:
    return RegistryError(
        grpc.StatusCode.ABORTED,
        RESYNC_REQUIRED,
        f"{message}: list the catalogue again, or watch without a resume token",
    )


class Watcher:
    """One WatchCatalog stream: the events that open it (built as they are sent, from what was
    captured when it began, so a large catalogue never holds the event loop), then the
    changes since, queued."""

    def __init__(self, opening: Iterator[bytes]) -> None:
        self._opening: Iterator[bytes] | None = opening
        self._queue: collections.deque[bytes] = collections.deque()
        self._ready = asyncio.Event()
        self._ready.set()
        self.overflowed = False

    def push(self, event: bytes) -> None:
        if self.overflowed:
            return
        if len(self._queue) >= MAX_BACKLOG:
            self.overflowed = True
            self._queue.clear()
        else:
            self._queue.append(event)
        self._ready.set()

    async def next(self) -> bytes:
        """The next event, serialised; ABORTED RESYNC_REQUIRED once the watcher fell behind."""
        if self._opening is not None:
            event = next(self._opening, None)
            if event is not None:
                return event
            self._opening = None
        while not self._queue:
            if self.overflowed:
                WATCH_RESYNCS.labels("behind").inc()
                raise resync(f"this watcher fell {MAX_BACKLOG} events behind")
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()


class ChangeFeed:
    """The catalogue's changes, as this process learns of them, for its watchers and its
    conditional reads (see the module docstring)."""

    def __init__(self, store: RegistryStore) -> None:
        self._store = store
        self._shards: list[Shard] = [s for s in store.views if s[0] in (TYPES, WORKERS)]
        self.log = ChangeLog(LOG_CAPACITY)
        self._pending: list[tuple[int, str, Any, Shard, int]] = []
        self._flush_scheduled = False
        self._watchers: set[Watcher] = set()
        self._changed = asyncio.Condition()
        self.health = HealthState()
        self._sweep_tick = 0  # the next tick of the sweep under way
        self._sweep_started = -1e18  # time.monotonic()
        self._recheck: set[str] = set()
        self._started = False
        self._epochs: dict[Shard, int] = {}  # each view's epoch: a new one was replaced whole

    # --- what the catalogue is now ------------------------------------------------------------

    def _revisions(self) -> dict[Shard, int]:
        """Each catalogue shard's revision in this process's view."""
        views = self._store.views
        return {shard: views[shard].revision for shard in self._shards}

    def position(self) -> Position:
        return Position.of(self._revisions())

    @property
    def revision(self) -> int:
        """The catalogue's revision: the sum of the types' and workers' shard revisions
        (readable-id claims are no catalogue change)."""
        views = self._store.views
        return sum(views[shard].revision for shard in self._shards)

    def etag(self) -> str:
        """The weak validator of every catalogue answer as of now."""
        return f'W/"{self.revision}-{self.health.digest}"'

    def _resume(self, before: Mapping[Shard, int], moved: Mapping[Shard, int]) -> Where:
        return Where(before, moved, self._lineage(), self.health.digest)

    def _lineage(self) -> str:
        imported = self._store.root.state.get("imported") or {}
        return str(imported.get("imported_at", ""))

    # --- what the store tells ------------------------------------------------------------------

    def start(self) -> None:
        """Begin keeping changes: call once the store has read every shard."""
        self.log.reset(self.position())
        self._epochs = self._view_epochs()
        self._check_types(self._store.catalog.workflow_types())
        self._check_workers(self._store.catalog.worker_ids())
        self._started = True

    def _view_epochs(self) -> dict[Shard, int]:
        return {shard: self._store.views[shard].epoch for shard in self._shards}

    def note_workflow(
        self, shard: Shard, revision: int, key: str, old: Any, new: StoredWorkflow | None
    ) -> None:
        if not self._started:
            return  # the first load: nobody watches yet, and start() looks at everything
        if new is None:
            self.health.drop_type(key)
            self._store.messages.forget(key)
        event = changes.workflow_change(old, new)
        if event is not None:
            self._note(event, [key], key, new if new is not None else old, shard, revision)

    def note_worker(
        self, shard: Shard, revision: int, key: str, old: Any, new: StoredWorker | None
    ) -> None:
        if not self._started:
            return
        if new is None:
            self.health.set_worker(key, True)  # gone: no longer unhealthy
        event = changes.worker_change(old, new, self._store.now())
        if event is None:
            return  # a renewal: what it does to health, the sweep sees
        types = {t for worker in (old, new) if worker is not None for t in worker.workflows}
        self._note(event, types, key, new if new is not None else old, shard, revision)

    def _note(
        self, event: int, recheck: Iterable[str], key: str, value: Any, shard: Shard, revision: int
    ) -> None:
        """A change to publish, and the types whose health to look at again with it."""
        self._recheck.update(recheck)
        self._pending.append((event, key, value, shard, revision))
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Make the changes noted in this pass of the loop into events, and tell everyone."""
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        epochs = self._view_epochs()
        if epochs != self._epochs:  # a shard's state was replaced whole (an import)
            self._epochs = epochs
            self.log.reset(self.position())
        if pending:
            before = self._revisions()
            for _, _, _, shard, revision in reversed(pending):
                before[shard] = revision - 1  # ends at the first change of each shard here
            base = sum(before.values())
            moves = group_tokens([(p[3], p[4]) for p in pending])
            for (event, key, value, shard, revision), moved in zip(pending, moves, strict=True):
                at = base + sum(r - before[s] for s, r in moved.items())
                self._publish(
                    Change(event, key, value, shard, revision, self._resume(before, moved), at)
                )
        recheck, self._recheck = self._recheck, set()
        self._check_types(sorted(recheck))
        self._notify()

    def _publish(self, change: Change) -> None:
        if change.shard is not None:
            self.log.append(change)
        WATCH_EVENTS.inc()
        if self._watchers:  # else built only if a resume replays it
            encoded = self._encode(change)
            for watcher in self._watchers:
                watcher.push(encoded)

    def _encode(self, change: Change) -> bytes:
        message = registry_pb2.CatalogEvent(
            type=change.type,  # type: ignore[arg-type]
            revision=change.revision,
            resume_token=change.resume.token() if change.resume is not None else "",
        )
        if isinstance(change.value, StoredWorkflow):
            if change.type == changes.WORKFLOW_REMOVED:
                message.workflow.workflow_type = change.key
            else:
                self._fill_workflow(message.workflow, change.value)
        elif isinstance(change.value, StoredWorker):
            message.worker.CopyFrom(
                worker_to_proto(worker_view(change.value, self._store.liveness_inputs()))
            )
        return message.SerializeToString()

    def _fill_workflow(self, message: Any, stored: StoredWorkflow) -> None:
        message.CopyFrom(self._store.messages.stored_part(stored, full=False))
        healthy, reasons = self.health.types.get(stored.spec.workflow_type, (False, ()))
        message.healthy = healthy
        message.health_reasons.extend(reasons)

    def _notify(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(notify())

    # --- health ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """The health sweep, a slice every HEALTH_TICK, for as long as the process serves."""
        state = StateLog(log, "comparing health for watchers")
        while True:
            await asyncio.sleep(HEALTH_TICK)
            if not self._started:
                continue
            try:
                if self._sweep(time.monotonic()):
                    self._notify()
                state.ok()
            except Exception as error:  # the next tick may do better; never stop
                state.failed(error)

    def _sweep(self, now: float) -> bool:
        """One tick of the sweep; whether it looked at anything."""
        if self._sweep_tick == 0:
            if now - self._sweep_started < SWEEP_EVERY:
                return False
            self._sweep_started = now
        catalog = self._store.catalog
        types, workers = catalog.workflow_types(), catalog.worker_ids()
        ticks = max(1, -(-len(types) // TYPES_PER_TICK), -(-len(workers) // WORKERS_PER_TICK))
        tick = min(self._sweep_tick, ticks - 1)
        self._check_types(types[changes.sweep_slice(len(types), tick, ticks)])
        self._check_workers(workers[changes.sweep_slice(len(workers), tick, ticks)])
        self._sweep_tick = 0 if tick + 1 >= ticks else tick + 1
        return True

    def _check_types(self, types: Iterable[str]) -> None:
        """Compare these types' health with the last; a type whose health changed is an event."""
        store = self._store
        catalog = store.catalog
        inputs = store.liveness_inputs()
        flipped: list[StoredWorkflow] = []
        for workflow_type in types:
            stored = catalog.workflows.get(workflow_type)
            if stored is None:
                self.health.drop_type(workflow_type)
                continue
            view = store.view_of(stored, inputs)
            if self.health.set_type(workflow_type, (view.healthy, view.health_reasons)):
                flipped.append(stored)
        if flipped and self._started:
            resume, revision = self._resume(self._revisions(), {}), self.revision
            for stored in flipped:
                key = stored.spec.workflow_type
                self._publish(
                    Change(changes.WORKFLOW_HEALTH_CHANGED, key, stored, None, 0, resume, revision)
                )

    def _check_workers(self, worker_ids: Iterable[str]) -> None:
        workers = self._store.catalog.workers
        inputs = self._store.liveness_inputs()
        for worker_id in worker_ids:
            worker = workers.get(worker_id)
            self.health.set_worker(worker_id, worker is None or worker_view(worker, inputs).healthy)

    # --- waiting --------------------------------------------------------------------------------

    async def wait_until(self, reached: Callable[[], bool], seconds: float) -> bool:
        """Wait at most `seconds` for `reached()`; whether it was."""
        if reached():
            return True
        try:
            async with asyncio.timeout(seconds), self._changed:
                await self._changed.wait_for(reached)
        except TimeoutError:
            return reached()
        return True

    # --- watchers ---------------------------------------------------------------------------------

    async def watch(self, resume_token: str) -> Watcher:
        """A new watcher: from the current state, or from a resume token's position."""
        if not resume_token:
            return self._subscribe(self._snapshot())
        try:
            return self._subscribe(await self._replay(resume_token))
        except RegistryError as error:
            if error.reason == RESYNC_REQUIRED:
                WATCH_RESYNCS.labels("resume").inc()
            raise

    async def _replay(self, resume_token: str) -> Iterator[bytes]:
        """What a watcher resuming at a token is sent first: what it missed, then SYNCED."""
        try:
            token = ResumeToken.decode(resume_token)
        except BadToken as error:
            raise invalid_argument(
                "INVALID_RESUME_TOKEN",
                str(error),
                [FieldViolation("resume_token", str(error), "INVALID_RESUME_TOKEN")],
            ) from None
        if token.lineage != self._lineage():
            raise resync("the token is from before the registry was restored (an import)")
        wanted = token.position.as_dict()
        if wanted.keys() != set(self._shards):
            raise resync("the token is from another shard layout")

        def caught_up() -> bool:
            now = self._revisions()
            return all(now[s] >= r for s, r in wanted.items())

        if not await self.wait_until(caught_up, CATCH_UP_WAIT):
            raise resync("the token is ahead of this replica's view of the registry")
        try:
            missed = list(self.log.since(token.position))
        except ResumeRefused as error:
            raise resync(str(error)) from None
        health: list[Change] = []
        if token.health != self.health.digest:  # health changed meanwhile: tell it all again
            health = self._current(changes.WORKFLOW_HEALTH_CHANGED, with_token=True)
        return self._opening([*missed, *health])

    def _subscribe(self, opening: Iterator[bytes]) -> Watcher:
        watcher = Watcher(opening)
        self._watchers.add(watcher)
        return watcher

    def forget(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    @property
    def watchers(self) -> int:
        return len(self._watchers)

    def _snapshot(self) -> Iterator[bytes]:
        """The current state as events (no resume token: resume from SYNCED), then SYNCED."""
        catalog = self._store.catalog
        revision = self.revision
        workers = [
            Change(changes.WORKER_REGISTERED, w, catalog.workers[w], None, 0, None, revision)
            for w in catalog.worker_ids()
        ]
        return self._opening([*self._current(changes.WORKFLOW_ADDED), *workers])

    def _current(self, event: int, *, with_token: bool = False) -> list[Change]:
        """Every workflow type as it is now, as `event`s."""
        catalog = self._store.catalog
        resume = self._resume(self._revisions(), {}) if with_token else None
        revision = self.revision
        return [
            Change(event, t, catalog.workflows[t], None, 0, resume, revision)
            for t in catalog.workflow_types()
        ]

    def _opening(self, changes_first: list[Change]) -> Iterator[bytes]:
        """These changes, encoded one by one as they are sent, then SYNCED (at where the
        watcher is now: what comes after reaches it through its queue)."""
        synced = self._synced()
        return itertools.chain((self._encode(c) for c in changes_first), (synced,))

    def _synced(self) -> bytes:
        return registry_pb2.CatalogEvent(
            type=changes.SYNCED,  # type: ignore[arg-type]
            revision=self.revision,
            resume_token=self._resume(self._revisions(), {}).token(),
        ).SerializeToString()
