"""Watching the catalogue (RegistryService.WatchCatalog) from Python: a stream that
survives disconnections, and a local copy of the catalogue kept by it.

    async with open_channel(ClientSettings.from_env()) as channel:
        async for item in watch(channel):
            if isinstance(item, Resync):      # what came before is void: forget it
                ...
            else:                             # a CatalogEvent
                ...

`watch` reconnects by itself: when the stream ends or the registry is unreachable it
resumes from the last event's resume_token, after a jittered backoff, so no change is lost
(one of several changes a write made may come twice: apply events idempotently). When the
registry can no longer resume (ABORTED, reason RESYNC_REQUIRED: the token is older than
what it keeps, or the watcher fell too far behind), `watch` yields a `Resync` and starts
over without a token: the catalogue's whole state follows again (a TYPE_WORKFLOW_ADDED per
type, a TYPE_WORKER_REGISTERED per worker), then TYPE_SYNCED. A consumer that keeps state
clears it at a `Resync`. A TYPE_SYNCED also follows the events replayed after each
reconnection: from there on, the events are live.

`CatalogState` applies those items to a dict of workflow types and one of workers (pure,
no I/O); `CatalogMirror` keeps one up to date in the background:

    async with CatalogMirror(settings=ClientSettings.from_env()) as catalog:
        await catalog.synced()
        healthy = [t for t, w in catalog.workflows.items() if w.healthy]
        await catalog.wait_for(lambda c: "order.v1" in c.workflows)
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, TypeAlias

import grpc
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, resources_pb2

from registry.client.connection import ClientSettings, RegistryCallError, open_channel
from registry.client.registration import backoff_delay, is_retryable

log = logging.getLogger(__name__)

RESYNC_REQUIRED: Final = "RESYNC_REQUIRED"

CatalogEvent: TypeAlias = registry_pb2.CatalogEvent
_T = registry_pb2.CatalogEvent  # the event types, e.g. _T.TYPE_SYNCED

# Events that carry a workflow type (BASIC view) to store, or a worker.
_WORKFLOW_PUT: Final = frozenset(
    {
        _T.TYPE_WORKFLOW_ADDED,
        _T.TYPE_WORKFLOW_CHANGED,
        _T.TYPE_WORKFLOW_ENABLED,
        _T.TYPE_WORKFLOW_DISABLED,
        _T.TYPE_WORKFLOW_HEALTH_CHANGED,
    }
)
_WORKER_PUT: Final = frozenset({_T.TYPE_WORKER_REGISTERED, _T.TYPE_WORKER_CHANGED})
_WORKER_GONE: Final = frozenset({_T.TYPE_WORKER_EXPIRED, _T.TYPE_WORKER_UNREGISTERED})


@dataclass(frozen=True)
class Resync:
    """What `watch` yields when it starts over without a resume token: every event before
    it is void. The catalogue's whole state follows, then a TYPE_SYNCED."""

    reason: str
    """Why: the registry's message, or that the stream broke before the state was whole."""


WatchItem: TypeAlias = registry_pb2.CatalogEvent | Resync
"""What `watch` yields."""


@dataclass(frozen=True)
class WatchPolicy:
    """Timings of a watch (seconds): the delay before reconnecting grows from backoff_base,
    doubling, up to backoff_cap, jittered; it starts over once an event arrives."""

    backoff_base: float = 0.5
    backoff_cap: float = 30.0


# --- where to resume (pure) ----------------------------------------------------------------


class WatchCursor:
    """Where a watch resumes, and what a stream's end means; pure, fed by CatalogWatch.

    `token` is what the next stream starts from. A stream that starts without a token opens
    with a snapshot (the state, then TYPE_SYNCED): its events' tokens are only trusted once
    the TYPE_SYNCED arrives, so a stream broken inside the snapshot starts over without a
    token (and, if part of it was delivered, with a Resync first) instead of resuming past
    the part that never came."""

    def __init__(self, token: str = "") -> None:
        self.token = token
        self._in_snapshot = False  # the current stream opened without a token, not synced yet
        self._snapshot_token = ""  # the last token seen inside that snapshot
        self._delivered = False  # some of the snapshot was delivered

    def request(self) -> registry_pb2.WatchCatalogRequest:
        """The request of the next stream."""
        self._in_snapshot = not self.token
        self._snapshot_token = ""
        self._delivered = False
        return registry_pb2.WatchCatalogRequest(resume_token=self.token)

    def received(self, event: registry_pb2.CatalogEvent) -> None:
        """An event of the current stream is being delivered."""
        if not self._in_snapshot:
            self.token = event.resume_token or self.token
        elif event.type == _T.TYPE_SYNCED:
            self._in_snapshot = False
            self.token = event.resume_token or self._snapshot_token
        else:
            self._delivered = True
            self._snapshot_token = event.resume_token or self._snapshot_token

    def ended(self, error: RegistryCallError | None) -> Resync | None:
        """The current stream ended, closed by the server (`error` None) or failed. Raises
        `error` when watching again cannot help (a refusal: a bad token, no scope, a bad
        resume_token); else the Resync to deliver before the next stream, if any."""
        if error is not None and error.reason == RESYNC_REQUIRED:
            self.token = ""
            return Resync(error.message)
        if error is not None and not is_retryable(error.code):
            raise error
        if self._in_snapshot and self._delivered:
            return Resync("the stream ended before the catalogue's state was complete")
        return None


# --- the stream ------------------------------------------------------------------------------

Target: TypeAlias = grpc.aio.Channel | registry_pb2_grpc.RegistryServiceStub
OnRetry: TypeAlias = Callable[[RegistryCallError | None, float], None]


def _stub(target: Target) -> registry_pb2_grpc.RegistryServiceStub:
    if isinstance(target, grpc.aio.Channel):
        return registry_pb2_grpc.RegistryServiceStub(target)
    return target


class CatalogWatch:
    """`async for item in CatalogWatch(channel)`: the catalogue's events, across
    reconnections (see the module's docstring); `watch(...)` makes one.

    `resume_token`: start after the event of that token instead of with the state (the
    `resume_token` property says where it would resume now). `on_retry(error, delay)` is
    called before each reconnection (`error` None when the server closed the stream).
    Raises RegistryCallError when the registry refuses the watch. Iterate it once."""

    def __init__(
        self,
        target: Target,
        *,
        resume_token: str = "",
        policy: WatchPolicy = WatchPolicy(),
        on_retry: OnRetry | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._stub = _stub(target)
        self._cursor = WatchCursor(resume_token)
        self._rng = rng
        self.policy = policy
        self.on_retry = on_retry
        self.reconnections = 0
        """Streams opened after the first."""
        self.resyncs = 0
        """Resync items delivered."""
        self.last_error: RegistryCallError | None = None
        """Why the last stream ended (None: closed by the server, or still open)."""

    @property
    def resume_token(self) -> str:
        """Where a watch would resume now: after the last event delivered (before the
        first TYPE_SYNCED of a snapshot: the token given, or none)."""
        return self._cursor.token

    def __aiter__(self) -> AsyncGenerator[WatchItem, None]:
        return self._items()

    async def _items(self) -> AsyncGenerator[WatchItem, None]:
        attempt = 0
        while True:
            call = self._stub.WatchCatalog(self._cursor.request())
            error: RegistryCallError | None = None
            try:
                async for event in call:
                    self._cursor.received(event)
                    attempt = 0
                    yield event
            except grpc.aio.AioRpcError as rpc_error:
                error = RegistryCallError.from_rpc_error(rpc_error)
            finally:
                call.cancel()
            self.last_error = error
            resync = self._cursor.ended(error)
            if resync is not None:
                self.resyncs += 1
                log.info("catalogue watch starts over: %s", resync.reason)
                yield resync
            delay = backoff_delay(attempt, self.policy, rng=self._rng)
            attempt += 1
            log.info(
                "catalogue watch %s; reconnecting in %.1f s",
                error.describe() if error else "closed by the registry",
                delay,
            )
            if self.on_retry is not None:
                self.on_retry(error, delay)
            await asyncio.sleep(delay)
            self.reconnections += 1


def watch(
    target: Target,
    *,
    resume_token: str = "",
    policy: WatchPolicy = WatchPolicy(),
    on_retry: OnRetry | None = None,
) -> CatalogWatch:
    """The catalogue's events, from a channel (see open_channel) or a RegistryServiceStub:
    `async for item in watch(channel)` yields CatalogEvents and, when the registry could
    not resume, a Resync (see the module's docstring). Runs until the consumer stops
    iterating; raises RegistryCallError when the registry refuses the watch."""
    return CatalogWatch(target, resume_token=resume_token, policy=policy, on_retry=on_retry)


# --- a local copy ------------------------------------------------------------------------------


class CatalogState:
    """The catalogue as the watch items applied so far: `workflows` (workflow type ->
    Workflow, BASIC view: no input schema, no workers) and `workers` (worker id -> Worker,
    as last registered). Pure.

    It never shows part of a catalogue: the events of a snapshot (the first one, and the
    one after each Resync) are gathered aside and replace the copy at its TYPE_SYNCED;
    until then the copy stays as it was (empty at first, the last whole catalogue after a
    Resync) and `synced` is False. Later events apply as they come."""

    def __init__(self) -> None:
        self.workflows: dict[str, resources_pb2.Workflow] = {}
        self.workers: dict[str, resources_pb2.Worker] = {}
        self.revision = 0
        """The revision of the last event applied to the copy."""
        self.synced = False
        """The copy is live: its snapshot is whole and no Resync came since."""
        self._pending: (
            tuple[dict[str, resources_pb2.Workflow], dict[str, resources_pb2.Worker]] | None
        ) = ({}, {})

    def apply(self, item: WatchItem) -> bool:
        """Apply one watch item; whether the copy (or `synced`) changed."""
        if isinstance(item, Resync):
            self._pending = ({}, {})
            changed, self.synced = self.synced, False
            return changed
        if item.type == _T.TYPE_SYNCED:
            if self._pending is not None:
                self.workflows, self.workers = self._pending
                self._pending = None
            changed = not self.synced or item.revision != self.revision
            self.synced = True
            self.revision = item.revision or self.revision
            return changed
        workflows, workers = self._pending or (self.workflows, self.workers)
        if item.type in _WORKFLOW_PUT:
            workflows[item.workflow.workflow_type] = item.workflow
        elif item.type == _T.TYPE_WORKFLOW_REMOVED:
            workflows.pop(item.workflow.workflow_type, None)
        elif item.type in _WORKER_PUT:
            workers[item.worker.worker_id] = item.worker
        elif item.type in _WORKER_GONE:
            workers.pop(item.worker.worker_id, None)
        else:  # an event type newer than this client: nothing it knows to apply
            return False
        if self._pending is not None:
            return False
        self.revision = item.revision or self.revision
        return True


class CatalogMirror:
    """A copy of the catalogue kept current by a watch in the background.

    Give it the registry (`settings`, default ClientSettings.from_env(), or an open
    `channel`, or a RegistryServiceStub on one, that it will not close); `start()` (or
    `async with`) starts watching, `stop()` stops. `workflows`, `workers`, `revision` and
    `is_synced` are CatalogState's: the copy is empty until the first TYPE_SYNCED and
    never shows part of a catalogue. Waiting:
    `await synced()`, `await changed()` (the next change), `await wait_for(predicate)`
    (bound them with asyncio.timeout; begun before start(), they wait for it). When the
    registry refuses the watch (the token lacks the scope, say) the mirror stops: `error`
    says why, and the waits raise it.
    Unavailability is retried for ever, resuming where the stream broke."""

    def __init__(
        self,
        *,
        settings: ClientSettings | None = None,
        channel: Target | None = None,
        policy: WatchPolicy = WatchPolicy(),
    ) -> None:
        if settings is not None and channel is not None:
            raise ValueError("give settings or channel, not both")
        self.policy = policy
        self._settings = settings
        self._given_channel = channel
        self._channel: grpc.aio.Channel | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = False  # start() was called: waits end when the watch does
        self._changed = asyncio.Event()
        self.state = CatalogState()
        self.watch: CatalogWatch | None = None
        """The running watch (its resume_token, reconnections, resyncs, last_error)."""
        self.error: Exception | None = None
        """Why the mirror stopped by itself (a refusal), None while it runs."""

    @property
    def workflows(self) -> Mapping[str, resources_pb2.Workflow]:
        return self.state.workflows

    @property
    def workers(self) -> Mapping[str, resources_pb2.Worker]:
        return self.state.workers

    @property
    def revision(self) -> int:
        return self.state.revision

    @property
    def is_synced(self) -> bool:
        return self.state.synced

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def __aenter__(self) -> CatalogMirror:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start watching, from an empty copy; returns at once (see synced())."""
        if self._task is not None:
            raise RuntimeError("already started")
        target = self._given_channel
        if target is None:
            target = self._channel = open_channel(self._settings or ClientSettings.from_env())
        self.state, self.error = CatalogState(), None
        self.watch = CatalogWatch(target, policy=self.policy)
        self._task = asyncio.create_task(self._run(self.watch), name="registry-catalog-mirror")
        self._started = True
        self._notify()

    async def stop(self) -> None:
        """Stop watching (the copy stays as it was). Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close(None)

    async def changed(self) -> None:
        """Wait for the next change of the copy (or of is_synced; a wait begun before
        start() waits for it). Raises `error` when the mirror stopped by itself,
        RuntimeError when it was stopped."""
        if self._ended:
            self._raise_stopped()
        await self._changed.wait()
        if self._ended:
            self._raise_stopped()

    @property
    def _ended(self) -> bool:
        return self._started and not self.running

    async def wait_for(self, predicate: Callable[[CatalogMirror], Any]) -> None:
        """Wait until `predicate(mirror)` is true, checked now and after each change."""
        while not predicate(self):
            await self.changed()

    async def synced(self) -> None:
        """Wait until the copy is live: its snapshot whole, no Resync pending."""
        await self.wait_for(lambda mirror: mirror.is_synced)

    def _raise_stopped(self) -> None:
        if self.error is not None:
            raise self.error
        raise RuntimeError("the catalogue mirror is not running")

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _run(self, watching: CatalogWatch) -> None:
        try:
            async for item in watching:
                if self.state.apply(item):
                    self._notify()
        except RegistryCallError as error:
            self.error = error
            log.error("catalogue mirror stopped: the registry refused: %s", error.describe())
        except Exception as error:  # a bug: stop, say so, and let the waits raise it
            self.error = error
            log.exception("catalogue mirror stopped")
        finally:
            self._notify()
