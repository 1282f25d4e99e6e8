"""The registry as one process serves it.

- Writes go to the registry workflow as updates (registry.registry_client) and their result,
  the CatalogChange, is applied to this process's copy of the catalogue at once.
- Reads are served from that copy, never from a Temporal round trip. A background loop
  refreshes it every `registry.snapshot_refresh_seconds` (one query, nearly free when nothing
  changed), so writes through other replicas show here within that interval.
- Heartbeats only touch memory. Every `liveness.flush_interval_seconds` one update renews the
  leases that would otherwise expire before the next flush (registry.liveness), then workers
  long past their lease are expired unless self-preservation holds.
- Task queue pollers are read from Temporal (DescribeTaskQueue) in the background too, and
  at once for the queue of a worker that registers. A start (or a read of a type's health)
  that finds a registered worker's queue without a recent poller reads that queue again
  before refusing: a worker that registered a moment ago is usually polling by then. Those
  reads are shared and spaced per queue (`_POLLER_READ_SPACING`), so a flood of them cannot
  flood Temporal.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from datetime import timedelta
from typing import Any, TypeVar

import grpc
from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.workflow import UpdateMethodMultiParam

from registry.catalog.copy import CatalogCopy
from registry.catalog.metrics import (
    HEARTBEATS,
    LEASE_RENEWAL_FLUSHES,
    LEASES_RENEWED,
    WORKERS_EXPIRED,
)
from registry.catalog.temporal import RegistryWorkflowClient
from registry.catalog.workflow import RegistrySnapshot, RegistryWorkflow
from registry.dispatch.rules import choose_task_queue
from registry.dispatch.temporal import WorkflowStarter
from registry.liveness.rules import (
    ExpiryDecision,
    Lease,
    Poller,
    expired_workers,
    lease_valid,
    poller_health,
    renewals_due,
)
from registry.liveness.views import (
    LivenessInputs,
    WorkerView,
    WorkflowView,
    effective_lease,
    worker_view,
    workers_by_type,
    workflow_view,
)
from registry.schedules.temporal import TemporalSchedules
from registry.search_attributes.temporal import SearchAttributeAdmin
from registry.server.config import Config
from registry.server.errors import RegistryError, worker_not_found, workflow_not_found
from registry.server.fresh_reads import FreshReads
from registry.server.pagination import parse_label_selector
from registry.server.state_log import StateLog
from registry.shared.model import (
    Catalog,
    CatalogChange,
    LeaseRenewals,
    StoredWorker,
    StoredWorkflow,
    WorkerExpiry,
)

log = logging.getLogger("registry.catalog.store")

A = TypeVar("A")
T = TypeVar("T")

_DESCRIBE_CONCURRENCY = 8
# Snapshot queries start at most this often (a heartbeat from an unknown worker asks for
# one: it may have registered through another replica a moment ago).
_MIN_REFRESH_SPACING = 0.05
# How long a gap in the write results may stay open before a snapshot fills it.
_GAP_GRACE_SECONDS = 0.2
# DescribeTaskQueue of one queue starts at most this often (starts and reads that find no
# recent poller ask for one).
_POLLER_READ_SPACING = 1.0
# How long a start or a read waits for those before answering with the view it has.
_POLLER_READ_WAIT = 2.0


# How a gRPC service reaches the store: the registry as this process serves it, or a
# RegistryError UNAVAILABLE saying why it can't yet (RegistryRuntime.registry).
StoreAccess = Callable[[], "RegistryStore"]


class RegistryStore:
    def __init__(self, workflow: RegistryWorkflowClient, temporal: Client, config: Config) -> None:
        self.workflow = workflow
        self.temporal = temporal
        self._config = config
        self._copy = CatalogCopy()
        self.snapshot = RegistrySnapshot()
        self._gap_check: asyncio.Task[None] | None = None
        self._refreshed_at = 0.0  # time.monotonic() of the last refresh
        self._snapshot_reads: FreshReads[None] = FreshReads(_MIN_REFRESH_SPACING)
        self._poller_reads: FreshReads[str] = FreshReads(_POLLER_READ_SPACING)
        self._describe_limit = asyncio.Semaphore(_DESCRIBE_CONCURRENCY)
        self._spawned: set[asyncio.Task[Any]] = set()
        self._heartbeats: dict[str, float] = {}
        self._pollers: dict[str, list[Poller]] | None = None
        self._started = time.time()
        self.liveness = ExpiryDecision((), False, "no leases checked yet")

    @functools.cached_property
    def starter(self) -> WorkflowStarter:
        """Workflow starts through this store's Temporal client."""
        return WorkflowStarter(self.temporal, self._config.temporal.namespace, self._rpc_timeout)

    @functools.cached_property
    def schedules(self) -> TemporalSchedules:
        """Temporal's schedule API through this store's client."""
        return TemporalSchedules(self.temporal, self._config.temporal.namespace, self._rpc_timeout)

    @functools.cached_property
    def search_attributes(self) -> SearchAttributeAdmin:
        """The namespace's custom search attributes."""
        return SearchAttributeAdmin(
            self.temporal,
            self._config.temporal.namespace,
            self._config.registry.task_queue,
            sql_visibility=self._config.search_attributes.visibility_store == "sql",
        )

    @property
    def _rpc_timeout(self) -> timedelta:
        return timedelta(seconds=self._config.registry.query_timeout_seconds)

    # --- reads --------------------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        return self._copy.catalog

    def liveness_inputs(self) -> LivenessInputs:
        return LivenessInputs(
            heartbeats=self._heartbeats,
            pollers=self._pollers,
            poller_max_age=self._config.liveness.poller_max_age_seconds,
            now=time.time(),
        )

    def enabled_workflow(self, workflow_type: str) -> StoredWorkflow:
        """A registered, enabled workflow type: NOT_FOUND, or FAILED_PRECONDITION with the
        operator's reason when it is disabled."""
        stored = self.catalog.workflows.get(workflow_type)
        if stored is None:
            raise workflow_not_found(workflow_type)
        if not stored.enabled:
            raise RegistryError(
                grpc.StatusCode.FAILED_PRECONDITION,
                "WORKFLOW_DISABLED",
                f"workflow type {workflow_type} is disabled: {stored.disabled_reason}",
                metadata={"disabled_reason": stored.disabled_reason},
            )
        return stored

    def view_of(self, stored: StoredWorkflow, inputs: LivenessInputs | None = None) -> WorkflowView:
        """One workflow type with its workers and health, as of now."""
        workers = workers_by_type(self.catalog.workers.values()).get(stored.spec.workflow_type, [])
        return workflow_view(stored, workers, inputs or self.liveness_inputs())

    async def task_queue_for(self, stored: StoredWorkflow, label_selector: str) -> str:
        """The task queue a run of the type would start on now (see choose_task_queue). Before
        refusing for want of a poller, the queues of its workers are read again."""
        selector = parse_label_selector(label_selector)
        # A queue never read (new, or Temporal did not answer) would be judged on leases alone.
        await self.refresh_stale_pollers([stored.spec.workflow_type], unread_only=True)
        inputs = self.liveness_inputs()
        try:
            return choose_task_queue(self.view_of(stored, inputs), selector, inputs)
        except RegistryError:
            if not await self.refresh_stale_pollers([stored.spec.workflow_type]):
                raise
        inputs = self.liveness_inputs()
        return choose_task_queue(self.view_of(stored, inputs), selector, inputs)

    async def refresh_for_read(self, workflow_types: Iterable[str]) -> None:
        """Before a read shows health: wait (bounded) for queues never read yet, whose health
        is unknown, and refresh queues without a recent poller in the background. A read never
        waits for the spacing of repeated reads: a type nothing polls answers at once."""
        types = list(workflow_types)
        await self.refresh_stale_pollers(types, unread_only=True)
        self._spawn(self.refresh_stale_pollers(types))

    async def refresh_stale_pollers(
        self, workflow_types: Iterable[str], *, unread_only: bool = False
    ) -> bool:
        """Read again the queues where a worker of these types holds a valid lease but no
        poller was seen recently (or, unread_only, where none was read at all), so what a
        caller is told about health is current (a worker that registered a moment ago starts
        polling just after). Waits at most _POLLER_READ_WAIT. False when no queue needed it."""
        inputs = self.liveness_inputs()
        wanted = set(workflow_types)
        read = inputs.pollers or {}
        queues = {
            worker.task_queue
            for worker in self.catalog.workers.values()
            if wanted.intersection(worker.workflows)
            and lease_valid(effective_lease(worker, inputs.heartbeats), inputs.now)
            and (
                worker.task_queue not in read
                if unread_only
                else not self._recently_polled(worker.task_queue, inputs)
            )
        }
        if not queues:
            return False
        reads = asyncio.gather(*(self._read_pollers(queue) for queue in sorted(queues)))
        try:
            await asyncio.wait_for(asyncio.shield(reads), _POLLER_READ_WAIT)
        except TimeoutError:
            log.debug("poller reads of %s still running; answering with the view at hand", queues)
        return True

    @staticmethod
    def _recently_polled(queue: str, inputs: LivenessInputs) -> bool:
        pollers = (inputs.pollers or {}).get(queue)
        return (
            pollers is not None and poller_health(pollers, inputs.now, inputs.poller_max_age).fresh
        )

    @property
    def snapshot_age_seconds(self) -> float:
        return time.monotonic() - self._refreshed_at

    # --- writes -------------------------------------------------------------------------------

    async def write(
        self, update: UpdateMethodMultiParam[[RegistryWorkflow, A], CatalogChange], arg: A
    ) -> CatalogChange:
        """Write through the registry workflow and apply the result here at once."""
        change = await self.workflow.execute(update, arg)
        self._apply(change)
        # A registering worker's queue is read at once: it may be polling already.
        if update is RegistryWorkflow.register_worker:
            self._spawn(self._refresh_pollers(sorted({w.task_queue for w in change.workers})))
        return change

    def _apply(self, change: CatalogChange) -> None:
        self._copy.apply(change)
        if self._copy.has_gap and (self._gap_check is None or self._gap_check.done()):
            self._gap_check = self._spawn(self._fill_gap())
        queues = {w.task_queue for w in change.workers} | {
            w.spec.task_queue for w in change.workflows if w.spec.task_queue
        }
        unread = sorted(queues - (self._pollers or {}).keys())
        if unread and self._pollers is not None:
            self._spawn(self._refresh_pollers(unread))

    async def heartbeat(
        self, worker_id: str, authorize: Callable[[StoredWorker], None] | None = None
    ) -> WorkerView:
        """Note a heartbeat in memory. NOT_FOUND (register again) for an unknown worker, after
        one refresh in case it registered through another replica a moment ago. `authorize`
        sees the worker first and raises to refuse the heartbeat."""
        if worker_id not in self.catalog.workers:
            await self.refresh()
        worker = self.catalog.workers.get(worker_id)
        if worker is None:
            raise worker_not_found(worker_id, "(or expired): register it again")
        if authorize is not None:
            authorize(worker)
        self._heartbeats[worker_id] = time.time()
        HEARTBEATS.inc()
        return worker_view(worker, self.liveness_inputs())

    # --- background ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the catalogue; call before serving reads."""
        await self.refresh()

    async def run(self) -> None:
        """The background loops; runs until cancelled."""
        try:
            await self._run_loops()
        finally:
            for task in self._spawned:
                task.cancel()
            await asyncio.gather(*self._spawned, return_exceptions=True)
            self._snapshot_reads.cancel()
            self._poller_reads.cancel()

    async def _run_loops(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(
                self._every(self._config.registry.snapshot_refresh_seconds, self.refresh)
            )
            group.create_task(self._every(self._config.liveness.flush_interval_seconds, self.flush))
            group.create_task(
                self._every(self._config.liveness.poller_refresh_seconds, self._refresh_pollers)
            )

    async def _every(self, seconds: float, step: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        state = StateLog(log, f"registry background step {step.__name__}")
        while True:
            try:
                await step()
                state.ok()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                state.failed(error)  # one line when it starts failing, not one per step
            await asyncio.sleep(seconds)

    async def refresh(self) -> None:
        """Bring this copy up to date with a query that starts after this call. Concurrent
        callers share one query, and queries start at most every _MIN_REFRESH_SPACING
        seconds, so a flood of reads that miss can't flood Temporal."""
        await self._snapshot_reads.read(None, self._query_snapshot)

    async def _query_snapshot(self) -> None:
        snapshot = await self.workflow.snapshot(self._copy.complete_revision)
        self._refreshed_at = time.monotonic()
        if snapshot.catalog is not None:
            self._copy.load(snapshot.catalog)
        self.snapshot = snapshot

    async def _fill_gap(self) -> None:
        """Writes we have not seen sit below ours (another replica's, or ours still in
        flight): give our own a moment to land, then fetch a snapshot if the gap is still
        open, rather than waiting for the next periodic refresh."""
        await asyncio.sleep(_GAP_GRACE_SECONDS)
        if self._copy.has_gap:
            await self.refresh()

    def _spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(work)
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)
        task.add_done_callback(_log_failure)
        return task

    async def flush(self) -> None:
        """Renew the leases that need it, in one update; then expire workers long gone."""
        liveness = self._config.liveness
        now = time.time()
        stored = {
            w.worker_id: Lease(w.worker_id, w.ttl_seconds, w.lease_expires_epoch)
            for w in self.catalog.workers.values()
        }
        for worker_id in self._heartbeats.keys() - stored.keys():
            del self._heartbeats[worker_id]
        due = renewals_due(
            stored,
            self._heartbeats,
            now,
            liveness.flush_interval_seconds,
            liveness.flush_margin_seconds,
        )
        if due:
            change = await self.write(RegistryWorkflow.renew_leases, LeaseRenewals(due))
            LEASE_RENEWAL_FLUSHES.inc()
            LEASES_RENEWED.inc(len(change.workers))
        await self._expire(now)

    async def _expire(self, now: float) -> None:
        liveness = self._config.liveness
        leases = {
            worker.worker_id: effective_lease(worker, self._heartbeats)
            for worker in self.catalog.workers.values()
        }
        decision = expired_workers(
            leases, now, liveness.expiry_grace_factor, liveness.self_preservation_threshold
        )
        self.liveness = decision
        # A worker may not have had the chance to heartbeat to this process yet.
        expire = [w for w in decision.expire if now - self._started > leases[w].ttl_seconds]
        if expire:
            log.info("expiring workers past their grace period: %s", ", ".join(expire))
            change = await self.write(
                RegistryWorkflow.expire_workers,
                WorkerExpiry(expire, liveness.expiry_grace_factor),
            )
            WORKERS_EXPIRED.inc(len(change.deleted_workers))

    async def _refresh_pollers(self, queues: list[str] | None = None) -> None:
        """Read the pollers of every task queue the catalogue mentions (or just `queues`)."""
        if queues is None:
            queues = sorted(
                {w.task_queue for w in self.catalog.workers.values()}
                | {w.spec.task_queue for w in self.catalog.workflows.values() if w.spec.task_queue}
            )
        await asyncio.gather(*(self._read_pollers(queue) for queue in queues))

    async def _read_pollers(self, queue: str) -> None:
        """A read of the queue's pollers that starts after this call (shared and spaced)."""
        await self._poller_reads.read(queue, lambda: self._describe_pollers(queue))

    async def _describe_pollers(self, queue: str) -> None:
        async with self._describe_limit:
            try:
                response = await self.temporal.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=self._config.temporal.namespace,
                        task_queue=TaskQueue(name=queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
                        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                    ),
                    timeout=self._rpc_timeout,
                )
            except Exception:
                log.debug("cannot describe task queue %s", queue, exc_info=True)
                found = None  # unknown, rather than stale
            else:
                found = [
                    Poller(
                        p.identity,
                        p.last_access_time.ToSeconds() if p.HasField("last_access_time") else 0.0,
                    )
                    for p in response.pollers
                ]
        pollers = dict(self._pollers or {})
        if found is None:
            pollers.pop(queue, None)
        else:
            pollers[queue] = found
        self._pollers = pollers


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("registry background task failed", exc_info=task.exception())
