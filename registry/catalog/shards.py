"""One shard as a registry process sees it: its view, its writer, its tail.

- **ShardView**: the shard's entries as this process knows them, each with the revision of its
  last change. Outcomes apply per key by revision, in whatever order they arrive (this
  process's own writes come back before the tail delivers other replicas' earlier ones), so a
  newer value is never overwritten by an older one; a deletion leaves a tombstone.
- **ShardWriter**: group commit. Operations queue per shard; one `apply` update per shard is
  in flight per process, carrying every operation queued while the previous one ran (up to
  MAX_BATCH_OPS operations or MAX_BATCH_BYTES bytes). Throughput then follows the arrival
  rate, not the per-update cost of Temporal. Each operation gets its own outcome; a batch is
  retried with the same update id, and each operation keeps its id, so nothing applies twice.
- **ShardTail**: follows the shard's history with long polls (GetWorkflowExecutionHistory,
  wait_new_event) and applies every completed batch, whoever wrote it; it follows
  continue-as-new to the next run. Replicas converge as fast as Temporal delivers events, and
  an idle registry costs Temporal only these waiting reads. `confirm` proves the view current
  (the run's history length, one DescribeWorkflowExecution) when a safety decision needs it.
  A run that closes otherwise (terminated: an import --replace, an operator, a reset) is
  followed to the workflow's next run, which is no continuation of the view: the view is
  replaced whole (`ShardView.reset`), never merged by revision, and writes in flight across
  it are answered REGISTRY_STATE_REPLACED. The root is followed the same way (RootView):
  a new root with another layout tells the process to open the registry again.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Generic, Protocol, TypeVar

import grpc
from temporalio.api.enums.v1 import EventType

from registry.catalog.engine import dumps
from registry.catalog.metrics import REGISTRY_WRITES
from registry.catalog.temporal import RegistryTemporal, RunInfo, closed
from registry.server.errors import RegistryError, unavailable
from registry.server.fresh_reads import FreshReads
from registry.server.state_log import summary

log = logging.getLogger("registry.catalog.shards")
T = TypeVar("T")

MAX_BATCH_OPS: Final = 256
MAX_BATCH_BYTES: Final = 256 * 1024
LONG_POLL_SECONDS: Final = 25.0  # Temporal answers an idle long poll after about 20 s
# How soon a tail looks again for a new run of a closed shard (doubling up to the max).
_REOPEN_WAIT: Final = 0.2
_REOPEN_WAIT_MAX: Final = 0.5  # a closed run is looked at this often until replaced
_CLOSED_EVENTS: Final = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    }
)


# --- the view -------------------------------------------------------------------------------

Decoder = Callable[[str, str], T]  # (key, entry JSON) -> what the process keeps
Listener = Callable[[str, "T | None", "T | None", int], None]  # (key, old, new, revision)


class ShardView(Generic[T]):
    def __init__(self, name: str, decode: Decoder[T], listener: Listener[T] | None = None) -> None:
        self.name = name
        self._decode = decode
        self._listener = listener
        self.items: dict[str, T] = {}
        self.raw: dict[str, str] = {}  # key -> entry JSON, as the shard holds it
        self.blobs: dict[str, Any] = {}  # digest -> content (content-addressed: never stale)
        self._revs: dict[str, int] = {}  # key -> revision of its last change (tombstones too)
        self.revision = 0  # the newest revision applied, from any source
        self.size = 0  # the shard's exact size as of the newest batch seen (engine.Shard.size)
        self.continued = 0  # continue-as-new count as of the newest run start seen
        self.loaded = False
        self.epoch = 0  # how many times the view was replaced wholesale (reset)

    def load(self, state: dict[str, Any]) -> None:
        """A whole shard state (a run's input, or a snapshot): keys this process changed at a
        newer revision keep their value."""
        revision = int(state["revision"])
        for digest, raw in state["blobs"].items():  # first: entries may use them
            self.blobs.setdefault(digest, json.loads(raw))
        for key in [k for k, rev in self._revs.items() if rev <= revision]:
            if key not in state["entries"]:
                self._set(key, None, revision)
        for key, raw in state["entries"].items():
            if self._revs.get(key, -1) > revision:
                continue  # changed here since
            if self.raw.get(key) == raw:  # the common case after continue-as-new: no change,
                self._revs[key] = revision  # so nothing to decode or tell listeners
            else:
                self._set(key, raw, revision)
        self.revision = max(self.revision, revision)
        self.continued = int(state.get("continued", 0))
        self.loaded = True

    def reset(self, state: dict[str, Any]) -> None:
        """Replace the whole view with a state that is not a continuation of what it holds
        (a new run started by an import, a `temporal workflow reset`): its revisions start
        over, so nothing is merged by revision. Listeners hear of every key that changes."""
        self.epoch += 1
        for key in [k for k in self.items if k not in state["entries"]]:
            self._set(key, None, 0)
        self._revs.clear()
        self.blobs.clear()
        self.revision = 0
        self.load(state)

    def apply_batch(self, result: dict[str, Any]) -> None:
        """Every outcome of one applied batch (an `apply` update's result)."""
        for outcome in result.get("outcomes", []):
            self.apply(outcome)
        if isinstance(result.get("size"), int):
            self.size = result["size"]

    def apply(self, outcome: dict[str, Any]) -> None:
        """One applied operation's outcome (its changes, at its revision)."""
        if not outcome.get("ok") or outcome.get("replayed"):
            return
        revision = int(outcome["rev"])
        for digest, raw in (outcome.get("blobs") or {}).items():
            if raw is not None:
                self.blobs.setdefault(digest, json.loads(raw))
        for key, raw in outcome.get("entries", {}).items():
            if revision > self._revs.get(key, -1):
                self._set(key, raw, revision)
        self.revision = max(self.revision, revision)

    def _set(self, key: str, raw: str | None, revision: int) -> None:
        old = self.items.get(key)
        new = None if raw is None else self._decode(key, raw)
        if raw is None:
            self.raw.pop(key, None)
        else:
            self.raw[key] = raw
        if new is None:
            self.items.pop(key, None)
        else:
            self.items[key] = new
        self._revs[key] = revision
        if self._listener is not None and (old is not None or new is not None):
            self._listener(key, old, new, revision)


class TailHealth:
    """Whether every tail of a process follows its history: one log line when the first one
    starts failing, one when the last one recovers (58 tails fail together when Temporal
    goes away)."""

    def __init__(self) -> None:
        self._failing: set[str] = set()

    def failed(self, workflow_id: str, error: BaseException) -> None:
        if not self._failing:
            log.warning("following the registry's workflow histories: %s", summary(error))
        log.debug("following %s failed", workflow_id, exc_info=error)
        self._failing.add(workflow_id)

    def ok(self, workflow_id: str) -> None:
        if workflow_id in self._failing:
            self._failing.discard(workflow_id)
            if not self._failing:
                log.info("following the registry's workflow histories: recovered")


class RootView:
    """The root workflow's state as its history tells it (ShardTail follows it too).
    `replaced` is set when a run replacing the root holds another layout (an import into
    another layout): the process must open the registry again."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}
        self.replaced = asyncio.Event()

    def load(self, state: dict[str, Any]) -> None:
        if self.state and state.get("layout") != self.state.get("layout"):
            self.replaced.set()
        self.state = state

    def reset(self, state: dict[str, Any]) -> None:
        self.load(state)

    def apply_batch(self, result: dict[str, Any]) -> None:
        if "layout" in result:  # record_service_start answers the root's whole state
            self.state = result


class _Followed(Protocol):
    def load(self, state: dict[str, Any]) -> None: ...

    def reset(self, state: dict[str, Any]) -> None: ...

    def apply_batch(self, result: dict[str, Any]) -> None: ...


# --- the writer -----------------------------------------------------------------------------


@dataclass
class _Pending:
    op: dict[str, Any]
    size: int
    future: asyncio.Future[dict[str, Any]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ShardWriter:
    def __init__(
        self,
        temporal: RegistryTemporal,
        workflow_id: str,
        view: ShardView[Any],
        *,
        timeout: float,
        limits: dict[str, int],
        on_result: Callable[[dict[str, Any], float, float], None] | None = None,
    ) -> None:
        self._temporal = temporal
        self._workflow_id = workflow_id
        self._view = view
        self._timeout = timeout
        self._limits = limits
        self._on_result = on_result
        self._queue: list[_Pending] = []
        self._flushing: asyncio.Task[None] | None = None

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def submit(self, op: dict[str, Any]) -> dict[str, Any]:
        """Apply one operation (it gets an id here); its outcome, once applied to the view.
        Raises RegistryError when the shard cannot be reached or does not answer in time (the
        operation may or may not have been applied: a retry with the same id is safe)."""
        op = {"id": op.get("id") or str(uuid.uuid4()), **op}
        pending = _Pending(op, len(dumps(op)))
        self._queue.append(pending)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(), name=f"flush {self._workflow_id}")
        try:
            async with asyncio.timeout(self._timeout):
                return await asyncio.shield(pending.future)
        except TimeoutError:
            raise RegistryError(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "REGISTRY_WRITE_TIMEOUT",
                f"the registry did not complete this write within {self._timeout:g} s; it may "
                "or may not have been applied, and retrying it is safe",
            ) from None

    async def _flush(self) -> None:
        while self._queue:
            batch = self._take()
            name = batch[0].op.get("op", "op")
            sent = time.time()
            epoch = self._view.epoch
            try:
                result = await self._temporal.apply(
                    self._workflow_id,
                    {"ops": [p.op for p in batch], "limits": self._limits},
                    str(uuid.uuid4()),
                )
            except RegistryError as error:
                for pending in batch:
                    _settle(pending.future, error=error)
                REGISTRY_WRITES.labels(name, "failed").inc(len(batch))
                continue
            except Exception as error:  # a bug: fail these callers, keep the writer alive
                log.exception("batch to %s failed", self._workflow_id)
                for pending in batch:
                    _settle(pending.future, error=error)
                continue
            if self._view.epoch != epoch:  # replaced meanwhile: which state has it is unknown
                for pending in batch:
                    _settle(pending.future, error=state_replaced(self._workflow_id))
                REGISTRY_WRITES.labels(name, "failed").inc(len(batch))
                continue
            if self._on_result is not None:
                self._on_result(result, sent, time.time())
            if isinstance(result.get("size"), int):
                self._view.size = result["size"]
            outcomes = {o.get("id"): o for o in result.get("outcomes", [])}
            for pending in batch:
                outcome = outcomes.get(pending.op["id"])
                if outcome is None:
                    _settle(
                        pending.future,
                        error=unavailable(
                            "REGISTRY_WRITE_FAILED", "the registry returned no outcome for a write"
                        ),
                    )
                    continue
                self._view.apply(outcome)
                REGISTRY_WRITES.labels(
                    str(pending.op.get("op")), "ok" if outcome.get("ok") else "refused"
                ).inc()
                _settle(pending.future, outcome)

    def _take(self) -> list[_Pending]:
        batch: list[_Pending] = []
        size = 0
        while self._queue and len(batch) < MAX_BATCH_OPS:
            pending = self._queue[0]
            if batch and size + pending.size > MAX_BATCH_BYTES:
                break
            batch.append(self._queue.pop(0))
            size += pending.size
        return batch


def state_replaced(workflow_id: str) -> RegistryError:
    return unavailable(
        "REGISTRY_STATE_REPLACED",
        f"the state of registry workflow {workflow_id} was replaced (an import, or a reset) "
        "while this write ran; it may or may not be in the new state: read it, and retry "
        "the write if need be",
    )


def _settle(
    future: asyncio.Future[dict[str, Any]],
    outcome: dict[str, Any] | None = None,
    *,
    error: BaseException | None = None,
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
        future.exception()  # a caller that timed out may never look: no "never retrieved"
    else:
        future.set_result(outcome or {})


# --- the tail -------------------------------------------------------------------------------


class ShardTail:
    """Follows one shard's history and keeps its view complete."""

    def __init__(self, temporal: RegistryTemporal, workflow_id: str, view: _Followed) -> None:
        self._temporal = temporal
        self.workflow_id = workflow_id
        self._view = view
        self.run_id = ""
        self._token = b""
        self.last_event_id = 0
        self._progress = asyncio.Condition()
        self._confirmed_at = -1e18  # time.monotonic() the view was last proven current
        # Concurrent confirmations share one DescribeWorkflowExecution that began after each
        # of them asked.
        self._describes: FreshReads[str, RunInfo] = FreshReads(0.0)
        self.closed: RegistryError | None = None
        self.caught_up = asyncio.Event()
        self._catch_up_to = 0
        # The highest revision this tail has read in the shard's history: a run that starts
        # lower is no continuation of what the view holds.
        self._history_revision = 0
        self._replaced = False  # the run being read replaced a closed one: reset the view
        self._reopen_wait = _REOPEN_WAIT
        # Runs this tail has read to their end: a confirmation that saw one of them running is
        # reached, although the tail now reads a later run.
        self._left: collections.deque[str] = collections.deque(maxlen=16)

    async def start(self) -> None:
        """Find the current run and how long its history is: `caught_up` is set once the
        tail has read that far."""
        run = await self._temporal.describe(self.workflow_id)
        self.run_id, self._catch_up_to = run.run_id, run.history_length

    async def run(self, health: TailHealth | None = None) -> None:
        """Follow the history until cancelled. A failed read (Temporal unreachable, a long
        poll cut by a connection closing) is retried at once, then after growing pauses; the
        failure is logged once for all tails (`health`), not once per shard and retry."""
        pause = 0.0
        while True:
            try:
                await self._follow()
                pause = 0.0
                if health is not None:
                    health.ok(self.workflow_id)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if health is not None:
                    health.failed(self.workflow_id, error)
                else:
                    log.warning("following %s: %s", self.workflow_id, error)
                await asyncio.sleep(pause)
                pause = min(max(pause * 2, 0.05), 2.0)

    async def _follow(self) -> None:
        if self.closed is not None:  # nothing more will come on this run: wait for the next
            await self._after_close()
            return
        page = await self._temporal.history_page(
            self.workflow_id, self.run_id, self._token, wait=LONG_POLL_SECONDS
        )
        next_run = ""
        for event in page.events:
            next_run = self._event(event) or next_run
            self.last_event_id = event.event_id
        if page.events or not page.next_page_token:
            async with self._progress:
                self._progress.notify_all()
        if self.last_event_id >= self._catch_up_to:
            self.caught_up.set()
        if next_run:  # continued as new: follow the next run from its start
            self._left.append(self.run_id)
            self.run_id, self._token, self.last_event_id = next_run, b"", 0
            self._catch_up_to = 0
        elif self.closed is not None:  # closed otherwise: nothing more will come on this run
            await self._after_close()
        elif page.next_page_token:
            self._token = page.next_page_token

    async def _after_close(self) -> None:
        """The run closed without continuing as new (terminated or reset, by an operator or
        an import): follow the workflow's next run once there is one. It is no continuation
        of this one, so its start replaces the view wholesale (ShardView.reset)."""
        run = await self._temporal.describe(self.workflow_id)
        if run.run_id == self.run_id:  # closed for good, so far: look again later
            await asyncio.sleep(self._reopen_wait)
            self._reopen_wait = min(self._reopen_wait * 2, _REOPEN_WAIT_MAX)
            return
        log.warning(
            "%s: run %s closed; following its replacement, run %s",
            self.workflow_id,
            self.run_id,
            run.run_id,
        )
        self._left.append(self.run_id)
        self.run_id, self._token, self.last_event_id = run.run_id, b"", 0
        self.closed, self._replaced, self._reopen_wait = None, True, _REOPEN_WAIT

    def _event(self, event: Any) -> str:
        """Apply one event; the next run's id when the run continued as new."""
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            attributes = event.workflow_execution_started_event_attributes
            state = self._temporal.decode(attributes.input)
            revision = int(state.get("revision", 0))
            if self._replaced or revision < self._history_revision:
                log.warning(
                    "%s: run %s is no continuation of the state this replica holds "
                    "(revision %d, had %d): reloading it whole",
                    self.workflow_id,
                    self.run_id,
                    revision,
                    self._history_revision,
                )
                self._view.reset(state)
                self._history_revision = 0
            else:
                self._view.load(state)
            self._replaced = False
            self._history_revision = max(self._history_revision, revision)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            outcome = event.workflow_execution_update_completed_event_attributes.outcome
            if outcome.HasField("success"):
                result = self._temporal.decode(outcome.success)
                if isinstance(result, dict):
                    self._view.apply_batch(result)
                    self._history_revision = max(
                        self._history_revision, int(result.get("revision", 0))
                    )
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            attributes = event.workflow_execution_continued_as_new_event_attributes
            return str(attributes.new_execution_run_id)
        elif kind in _CLOSED_EVENTS:
            status = EventType.Name(kind).removeprefix("EVENT_TYPE_WORKFLOW_EXECUTION_")
            self.closed = closed(RunInfo(self.workflow_id, self.run_id, False, status, 0, 0))
        return ""

    async def confirm(self, max_age: float, wait: float) -> None:
        """Return once the view is known to hold every write acknowledged before this call
        (or before max_age ago): the run's history length, read now, is reached by the tail.
        UNAVAILABLE if the tail cannot get there within `wait` seconds."""
        if time.monotonic() - self._confirmed_at <= max_age:
            return
        asked = time.monotonic()
        run = await self._describes.read(
            self.workflow_id, lambda: self._temporal.describe(self.workflow_id)
        )
        if not run.running:
            raise closed(run)

        def reached() -> bool:
            if run.run_id in self._left:  # that run ended since, and was read to its end
                return True
            return self.run_id == run.run_id and self.last_event_id >= run.history_length

        try:
            async with asyncio.timeout(wait), self._progress:
                await self._progress.wait_for(reached)
        except TimeoutError:
            raise unavailable(
                "REGISTRY_VIEW_BEHIND",
                f"this replica's view of {self.workflow_id} is behind its history; retry",
            ) from None
        self._confirmed_at = max(self._confirmed_at, asked)
