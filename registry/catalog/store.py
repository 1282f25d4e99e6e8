"""The registry as one process serves it: a view of every shard, the writes, liveness.

- **Reads** come from memory: every shard's view (registry.catalog.shards), kept complete by
  following the shard's history and brought up to date at once by this process's own writes.
  `catalog` merges them: workflow types, workers (with an index by type), readable-id counters.
- **Writes** are operations sent to the shard that owns the key through its writer (group
  commit); the outcome is applied here before the caller hears of it (read-your-writes).
- **Safety across replicas.** A decision that must not act on a stale view (is this type
  enabled? does it exist? is this worker registered?) first proves the view of that shard
  current (`ShardTail.confirm`): at most `SAFETY_STALENESS` old, else one DescribeWorkflowExecution
  and the tail reaching that history length. An operator's safety write (create, replace,
  enable, disable, delete) is acknowledged only after SAFETY_STALENESS has passed, so a start
  that any replica receives after the acknowledgement sees it.
- **Liveness.** Heartbeats only touch memory. Every `liveness.flush_interval_seconds`, per
  worker shard, one `renew` operation carries how long ago each due worker was seen; the shard
  sets the lease from its own clock (one clock for every lease). Workers long past their lease
  are expired unless self-preservation holds. Replicas read health with the registry
  workflows' clock (`clock_offset`, measured from every write's answer).
- **Pollers** are read from Temporal (DescribeTaskQueue) in the background, at once for the
  queue of a registering worker, and again before a start refuses for want of one.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, Final, TypeVar

import grpc
from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from registry.catalog.engine import Limits, Shard, dumps, new_state
from registry.catalog.layout import IDS, ORDERED_KINDS, TYPES, WORKERS, Layout
from registry.catalog.metrics import (
    HEARTBEATS,
    LEASE_RENEWAL_FLUSHES,
    LEASES_RENEWED,
    WORKERS_EXPIRED,
)
from registry.catalog.responses import WorkflowMessages
from registry.catalog.shard_rules import (
    approve_op,
    decide_type_op,
    declare_op,
    delete_op,
    expire_op,
    put_op,
    register_op,
    renew_op,
    schema_digest,
    set_mode_op,
    stored_worker,
    stored_workflow,
    toggle_op,
    unregister_op,
)
from registry.catalog.shards import RootView, ShardTail, ShardView, ShardWriter, TailHealth
from registry.catalog.temporal import RegistryTemporal
from registry.catalog.versions import VersionRequest
from registry.catalog.watch import ChangeFeed
from registry.dispatch.claims import SLUG_PREFIX, claim_op, reset_op, slug_counter, slug_key
from registry.dispatch.rules import choose_task_queue
from registry.dispatch.temporal import WorkflowStarter
from registry.liveness.rules import (
    ExpiryDecision,
    Lease,
    Poller,
    cadence,
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
    workflow_view,
)
from registry.schedules.temporal import TemporalSchedules
from registry.schemas.rules import (
    Verdict,
    blocks_on_schedules,
    check_candidate,
    current_digest,
    effective_mode,
    incompatible,
    serving_schemas,
    serving_versions,
)
from registry.schemas.temporal import ScheduleScan, schedules_refusing
from registry.search_attributes.temporal import SearchAttributeAdmin
from registry.server.config import Config
from registry.server.errors import (
    FieldViolation,
    RegistryError,
    refused,
    worker_not_found,
    workflow_not_found,
)
from registry.server.fresh_reads import FreshReads
from registry.server.pagination import parse_label_selector
from registry.server.state_log import StateLog
from registry.shared.model import (
    SchemaVersion,
    SlugCounter,
    StoredWorker,
    StoredWorkflow,
    WorkerRef,
    WorkerRegistration,
    WorkflowDeletion,
    WorkflowToggle,
    WorkflowWrite,
)

log = logging.getLogger("registry.catalog.store")
T = TypeVar("T")

_DESCRIBE_CONCURRENCY = 8
# DescribeTaskQueue of one queue starts at most this often (starts and reads that find no
# recent poller ask for one).
_POLLER_READ_SPACING = 1.0
# How long a start or a read waits for those before answering with the view it has.
_POLLER_READ_WAIT = 2.0
# How stale a shard's view may be for a safety decision; safety writes wait this long before
# they are acknowledged (see the module docstring). Longer costs each operator's create,
# replace, enable, disable and delete that much; shorter costs starts a DescribeWorkflowExecution
# more often (one per shard per this many seconds at most).
SAFETY_STALENESS: Final = 0.5
# How long a safety decision waits for this process's view to catch up before UNAVAILABLE.
_CATCH_UP_WAIT = 5.0
# A declaration whose schema check another write overtook (SCHEMA_CHECK_OUTDATED) is checked
# again, this many attempts in all.
_SCHEMA_CHECK_ATTEMPTS = 3
# How long the versions live workers serve, per type, are reused within one catalogue revision.
_SERVING_MAX_AGE = 1.0
# Registry workflows handed over at once by ShutdownRegistry.
_HANDOVER_CONCURRENCY = 4
# Worker ids in one renew operation: its outcome carries every renewed entry (about 300
# bytes each), and an update's result must stay well under Temporal's 2 MiB payload limit.
_MAX_RENEWALS_PER_OP = 500
_MIN_FLUSH_INTERVAL = 0.5

# How a gRPC service reaches the store: the registry as this process serves it, or a
# RegistryError UNAVAILABLE saying why it can't yet (RegistryRuntime.registry).
StoreAccess = Callable[[], "RegistryStore"]


class Catalog:
    """The registry's state as this process knows it (no copies: the store keeps it current)."""

    def __init__(self, views: Mapping[tuple[str, int], ShardView[Any]]) -> None:
        self._views = views
        self.workflows: dict[str, StoredWorkflow] = {}
        self.workers: dict[str, StoredWorker] = {}
        self.slugs: dict[str, SlugCounter] = {}
        self.workers_by_type: dict[str, dict[str, StoredWorker]] = {}
        self.workers_by_queue: dict[str, dict[str, StoredWorker]] = {}
        self._sorted_workers: list[str] | None = None  # kept until a worker comes or goes
        self._sorted_workflows: list[str] | None = None  # kept until a type comes or goes

    def worker_ids(self) -> list[str]:
        """Every worker id, sorted (pages are read by bisecting this list)."""
        if self._sorted_workers is None:
            self._sorted_workers = sorted(self.workers)
        return self._sorted_workers

    def workflow_types(self) -> list[str]:
        """Every workflow type, sorted."""
        if self._sorted_workflows is None:
            self._sorted_workflows = sorted(self.workflows)
        return self._sorted_workflows

    @property
    def revision(self) -> int:
        """The sum of the shards' revisions: grows with every write anywhere."""
        return sum(view.revision for view in self._views.values())

    def workers_of(self, workflow_type: str) -> list[StoredWorker]:
        return list(self.workers_by_type.get(workflow_type, {}).values())

    def queue_mates(
        self, workflow_type: str, workers: Sequence[StoredWorker]
    ) -> list[StoredWorker]:
        """Workers on the queues of the type's workers that do not declare the type (looked
        for only on a queue with more workers than the type has there)."""
        on_queue: dict[str, int] = {}
        for worker in workers:
            on_queue[worker.task_queue] = on_queue.get(worker.task_queue, 0) + 1
        return [
            mate
            for queue, count in on_queue.items()
            if len(self.workers_by_queue.get(queue, ())) > count
            for mate in self.workers_by_queue[queue].values()
            if workflow_type not in mate.workflows
        ]

    def on_worker(self, key: str, old: StoredWorker | None, new: StoredWorker | None) -> None:
        if (old is None) != (new is None):
            self._sorted_workers = None
        if old is not None:
            for index_key, index in (
                *((t, self.workers_by_type) for t in old.workflows),
                (old.task_queue, self.workers_by_queue),
            ):
                entries = index.get(index_key)
                if entries is not None:
                    entries.pop(key, None)
                    if not entries:
                        del index[index_key]
            self.workers.pop(key, None)
        if new is not None:
            self.workers[key] = new
            for workflow_type in new.workflows:
                self.workers_by_type.setdefault(workflow_type, {})[key] = new
            self.workers_by_queue.setdefault(new.task_queue, {})[key] = new

    def on_workflow(self, key: str, old: StoredWorkflow | None, new: StoredWorkflow | None) -> None:
        if (old is None) != (new is None):
            self._sorted_workflows = None
        if new is None:
            self.workflows.pop(key, None)
        else:
            self.workflows[key] = new

    def on_id(self, key: str, old: SlugCounter | None, new: SlugCounter | None) -> None:
        if not key.startswith(SLUG_PREFIX):
            return  # request records stay in the shard
        slug = key[len(SLUG_PREFIX) :]
        if new is None:
            self.slugs.pop(slug, None)
        else:
            self.slugs[slug] = new


class RegistryStore:
    def __init__(
        self, temporal: RegistryTemporal, client: Client, config: Config, layout: Layout
    ) -> None:
        self.temporal = temporal
        self.client = client
        self.layout = layout
        self._config = config
        settings = config.registry
        self.limits = Limits(max_bytes=settings.shard_max_bytes)
        self.views: dict[tuple[str, int], ShardView[Any]] = {}
        self.catalog = Catalog(self.views)
        self.writers: dict[tuple[str, int], ShardWriter] = {}
        self.tails: dict[tuple[str, int], ShardTail] = {}
        run_limits = {
            "max_history_events": settings.continue_as_new_events,
            "max_updates_per_run": settings.max_updates_per_run,
        }
        for kind, index in layout.shards():
            view = self._view(kind, index)
            self.views[kind, index] = view
            workflow_id = layout.shard_id(kind, index)
            self.writers[kind, index] = ShardWriter(
                temporal,
                workflow_id,
                view,
                timeout=settings.update_timeout_seconds,
                limits=run_limits,
                on_result=self._note_clock,
            )
            self.tails[kind, index] = ShardTail(temporal, workflow_id, view)
        # Workflow types as messages, the input schema as a Struct built once per stored
        # entry, for the service's answers and the feed's events alike.
        self.messages = WorkflowMessages(config.registry.schema_compatibility)
        self.feed = ChangeFeed(self)  # after the views: it reads their revisions
        self.root = RootView()
        self.root_tail = ShardTail(temporal, layout.root_id(), self.root)
        self.clock_offset = 0.0  # registry workflows' clock minus this process's
        self._poller_reads: FreshReads[str, None] = FreshReads(_POLLER_READ_SPACING)
        self._describe_limit = asyncio.Semaphore(_DESCRIBE_CONCURRENCY)
        self._spawned: set[asyncio.Task[Any]] = set()
        self._heartbeats: dict[str, float] = {}
        self._pollers: dict[str, list[Poller]] | None = None
        self._started = time.monotonic()
        self.liveness = ExpiryDecision((), False, "no leases checked yet")
        # workflow type -> (catalogue revision, when, version -> live workers)
        self._serving: dict[str, tuple[int, float, dict[int, list[str]]]] = {}
        # (workflow type, schema digest) -> the scan of its schedules under way
        self._schedule_scans: dict[tuple[str, str], asyncio.Future[ScheduleScan]] = {}

    def _view(self, kind: str, index: int) -> ShardView[Any]:
        name = self.layout.shard_id(kind, index)
        shard = (kind, index)
        if kind == WORKERS:

            def on_worker(key: str, old: Any, new: Any, revision: int) -> None:
                self.catalog.on_worker(key, old, new)
                self.feed.note_worker(shard, revision, key, old, new)

            return ShardView(name, lambda key, raw: stored_worker(key, json.loads(raw)), on_worker)
        if kind == IDS:
            return ShardView(
                name,
                lambda key, raw: slug_counter(key, json.loads(raw)),
                lambda key, old, new, _revision: self.catalog.on_id(key, old, new),
            )

        def decode(key: str, raw: str) -> StoredWorkflow:
            return stored_workflow(key, json.loads(raw), view.blobs)

        def on_workflow(key: str, old: Any, new: Any, revision: int) -> None:
            self.catalog.on_workflow(key, old, new)
            self.feed.note_workflow(shard, revision, key, old, new)

        view: ShardView[StoredWorkflow] = ShardView(name, decode, on_workflow)
        return view

    def initial_state(self, kind: str, index: int) -> dict[str, Any]:
        return new_state(
            kind, self.layout.shard_id(kind, index), self.limits, ordered=kind in ORDERED_KINDS
        )

    @functools.cached_property
    def starter(self) -> WorkflowStarter:
        """Workflow starts through this store's Temporal client."""
        return WorkflowStarter(self.client, self._config.temporal.namespace, self._rpc_timeout)

    @functools.cached_property
    def schedules(self) -> TemporalSchedules:
        """Temporal's schedule API through this store's client."""
        return TemporalSchedules(self.client, self._config.temporal.namespace, self._rpc_timeout)

    @functools.cached_property
    def search_attributes(self) -> SearchAttributeAdmin:
        """The namespace's custom search attributes."""
        return SearchAttributeAdmin(
            self.client,
            self._config.temporal.namespace,
            self._config.registry.task_queue,
            sql_visibility=self._config.search_attributes.visibility_store == "sql",
        )

    @property
    def _rpc_timeout(self) -> timedelta:
        return timedelta(seconds=self._config.registry.query_timeout_seconds)

    # --- shards --------------------------------------------------------------------------------

    def shard(self, kind: str, key: str) -> tuple[str, int]:
        return kind, self.layout.shard_of(kind, key)

    async def submit(
        self, kind: str, key: str, op: dict[str, Any], *, refuse: bool = True
    ) -> dict[str, Any]:
        """Send an operation to the shard owning key; its outcome (raising its refusal, unless
        not `refuse`)."""
        outcome = await self.writers[self.shard(kind, key)].submit(op)
        if not outcome.get("ok"):
            if refuse:
                raise refusal(outcome)
            return outcome
        if outcome.get("replayed"):  # applied before: wait until the view has it
            await self.tails[self.shard(kind, key)].confirm(0, _CATCH_UP_WAIT)
        return outcome

    async def confirm(self, kind: str, key: str, max_age: float = SAFETY_STALENESS) -> None:
        """Prove the view of key's shard current (see the module docstring)."""
        await self.tails[self.shard(kind, key)].confirm(max_age, _CATCH_UP_WAIT)

    def _note_clock(self, result: Mapping[str, Any], sent: float, received: float) -> None:
        now = result.get("now")
        if isinstance(now, (int, float)):
            self.clock_offset = float(now) - (sent + received) / 2

    def now(self) -> float:
        """The registry workflows' clock, as well as this process can tell."""
        return time.time() + self.clock_offset

    # --- reads ---------------------------------------------------------------------------------

    def liveness_inputs(self) -> LivenessInputs:
        return LivenessInputs(
            heartbeats=self._heartbeats,
            pollers=self._pollers,
            poller_max_age=self._config.liveness.poller_max_age_seconds,
            now=self.now(),
        )

    async def workflow(self, workflow_type: str) -> StoredWorkflow:
        """A registered workflow type, confirmed against its shard when this process does not
        know it (it may have been registered through another replica a moment ago)."""
        stored = self.catalog.workflows.get(workflow_type)
        if stored is None:
            await self.confirm(TYPES, workflow_type, 0)
            stored = self.catalog.workflows.get(workflow_type)
        if stored is None:
            raise workflow_not_found(workflow_type)
        return stored

    async def enabled_workflow(self, workflow_type: str) -> StoredWorkflow:
        """A registered, enabled workflow type, as a start must see it: the view of its shard
        proven current (no replica starts a type once its disable is acknowledged). NOT_FOUND,
        or FAILED_PRECONDITION with the operator's reason when it is disabled."""
        await self.confirm(TYPES, workflow_type)
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
        workflow_type = stored.spec.workflow_type
        workers = self.catalog.workers_of(workflow_type)
        mates = self.catalog.queue_mates(workflow_type, workers)
        return workflow_view(stored, workers, inputs or self.liveness_inputs(), mates)

    async def task_queue_for(self, stored: StoredWorkflow, label_selector: str) -> str:
        """The task queue a run of the type would start on now (see choose_task_queue). A
        worker that registered a moment ago may be polling already: queues never read, or
        without a recent poller, are read again before refusing."""
        selector = parse_label_selector(label_selector)
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
        caller is told about health is current. Waits at most _POLLER_READ_WAIT. False when
        no queue needed it."""
        inputs = self.liveness_inputs()
        read = inputs.pollers or {}
        queues = {
            worker.task_queue
            for workflow_type in set(workflow_types)
            for worker in self.catalog.workers_of(workflow_type)
            if lease_valid(effective_lease(worker, inputs.heartbeats), inputs.now)
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

    # --- writes --------------------------------------------------------------------------------

    async def register_worker(
        self, registration: WorkerRegistration
    ) -> tuple[StoredWorker, list[str]]:
        """Declare the worker's types (each in its shard), then store the worker with a fresh
        lease. The stored worker, and the types whose declaration changed. A type another
        principal owns is refused (PERMISSION_DENIED, one violation per type) before the
        worker is stored. `registration` carries the caller (principal, admin)."""
        worker_id = registration.worker_id
        indexes = range(len(registration.workflows))
        checks = await asyncio.gather(
            *(self._check_declaration(registration, i) for i in indexes), return_exceptions=True
        )
        failed = [check for check in checks if isinstance(check, BaseException)]
        if failed:
            raise merged_errors(failed)
        passed = [check for check in checks if isinstance(check, VersionRequest)]
        declared = await asyncio.gather(
            *(self._declare(registration, i, passed[i]) for i in indexes)
        )
        refused_types = [outcome for outcome in declared if not outcome.get("ok")]
        if refused_types:
            raise merged_refusal(refused_types)
        versions = [int(outcome.get("result", {}).get("version", 0)) for outcome in declared]
        await self.submit(WORKERS, worker_id, register_op(registration, versions))
        self.refresh_pollers_soon([registration.task_queue])  # it may be polling already
        changed = [
            spec.workflow_type
            for spec, outcome in zip(registration.workflows, declared, strict=True)
            if outcome.get("result", {}).get("changed")
        ]
        return self.catalog.workers[worker_id], changed

    async def _declare(
        self, registration: WorkerRegistration, index: int, checked: VersionRequest
    ) -> dict[str, Any]:
        """The outcome of declaring the registration's index-th type: sent to its shard,
        unless this process's view, proven current, already holds exactly that declaration
        (the common case: a fleet re-registering the same types). A declaration whose schema
        check another write overtook is checked again against the view proven current."""
        workflow_type = registration.workflows[index].workflow_type
        for attempt in range(_SCHEMA_CHECK_ATTEMPTS):
            keep_queue = self._served_elsewhere(workflow_type, registration.worker_id)
            stored = self.catalog.workflows.get(workflow_type)
            if stored is not None and self._declared_as(stored, registration, index, keep_queue):
                await self.confirm(TYPES, workflow_type)
                stored = self.catalog.workflows.get(workflow_type)
                if stored is not None and self._declared_as(
                    stored, registration, index, keep_queue
                ):
                    unchanged = {"changed": False, "version": stored.schema_version}
                    return {"ok": True, "result": unchanged}
            if attempt:
                checked = await self._check_declaration(registration, index)
            op = declare_op(registration, index, keep_queue=keep_queue, checked=checked)
            outcome = await self.submit(TYPES, workflow_type, op, refuse=False)
            if outcome.get("reason") != "SCHEMA_CHECK_OUTDATED":
                break
            await self.confirm(TYPES, workflow_type, 0)
        return outcome

    async def _check_declaration(
        self, registration: WorkerRegistration, index: int
    ) -> VersionRequest:
        spec = registration.workflows[index]
        return await self.checked_schema(
            spec.workflow_type,
            spec.input_schema,
            f"workflows[{index}].input_schema",
            worker_id=registration.worker_id,
            principal=registration.principal,
        )

    @staticmethod
    def _declared_as(
        stored: StoredWorkflow, registration: WorkerRegistration, index: int, keep_queue: bool
    ) -> bool:
        """Whether declaring would change nothing: the same declaration on the same queue,
        and an owner already settled (a non-admin registrant claims an unowned type)."""
        principal, admin = registration.principal, registration.admin
        may_change = admin or not principal or not stored.owner or stored.owner == principal
        # Another principal's worker runs an owned type only on its stored queue, as declared:
        # its own queue is what must match (the shard refuses anything else).
        queue = stored.spec.task_queue if keep_queue and may_change else registration.task_queue
        declared = replace(registration.workflows[index], task_queue=queue)
        settled = bool(stored.owner) or admin or not principal
        return settled and stored.spec == declared

    def _served_elsewhere(self, workflow_type: str, worker_id: str) -> bool:
        """Whether another worker with a valid lease serves the type on its stored queue
        (a registration from another queue then keeps the stored one: no flip-flopping)."""
        stored = self.catalog.workflows.get(workflow_type)
        if stored is None:
            return False
        inputs = self.liveness_inputs()
        return any(
            worker.worker_id != worker_id
            and worker.task_queue == stored.spec.task_queue
            and lease_valid(effective_lease(worker, inputs.heartbeats), inputs.now)
            for worker in self.catalog.workers_of(workflow_type)
        )

    async def unregister_worker(self, worker_id: str, principal: str, admin: bool) -> None:
        await self.submit(WORKERS, worker_id, unregister_op(WorkerRef(worker_id, principal, admin)))
        self._heartbeats.pop(worker_id, None)

    async def put_workflow(
        self, write: WorkflowWrite, *, principal: str, override: str
    ) -> tuple[StoredWorkflow, bool]:
        """An operator's create or replace; the stored type and whether its spec changed. A
        new schema must meet the type's compatibility mode unless `override` says why not."""
        key = write.spec.workflow_type
        checked = await self._checked_put(write, principal, override)
        outcome = await self.submit(TYPES, key, put_op(write, checked))
        await self._safety_acknowledged()
        return self.catalog.workflows[key], bool(outcome.get("result", {}).get("changed"))

    async def try_put(
        self, write: WorkflowWrite, *, principal: str, override: str
    ) -> StoredWorkflow:
        """What put_workflow would store, decided here against this process's view without
        writing (validate_only); raises the refusal the shard would give."""
        checked = await self._checked_put(write, principal, override)
        key = write.spec.workflow_type
        outcome = self._dry_run(key, put_op(write, checked))
        blobs = {
            **self.views[self.shard(TYPES, key)].blobs,
            schema_digest(write.spec.input_schema): write.spec.input_schema,
        }
        stored: StoredWorkflow = stored_workflow(key, json.loads(outcome["entries"][key]), blobs)
        return stored

    def _dry_run(self, key: str, op: dict[str, Any]) -> dict[str, Any]:
        """The outcome of a types operation decided against this process's view of key's
        entry and its schemas, without writing; raises its refusal."""
        kind, index = self.shard(TYPES, key)
        view = self.views[kind, index]
        state = self.initial_state(kind, index)
        raw = view.raw.get(key)
        if raw is not None:
            state["entries"][key] = raw
            for digest in json.loads(raw).get("_refs", []):
                if digest in view.blobs:
                    state["blobs"][digest] = dumps(view.blobs[digest])
        outcome: dict[str, Any] = Shard(state).apply(
            {"ops": [{"id": "dry-run", **op}]}, decide_type_op, self.now()
        )["outcomes"][0]
        if not outcome.get("ok"):
            raise refusal(outcome)
        return outcome

    async def _checked_put(
        self, write: WorkflowWrite, principal: str, override: str
    ) -> VersionRequest:
        return await self.checked_schema(
            write.spec.workflow_type,
            write.spec.input_schema,
            "workflow.input_schema",
            principal=principal,
            override=override,
        )

    # --- schema versions (docs/schemas.md) ----------------------------------------------------

    @property
    def default_compatibility(self) -> str:
        return self._config.registry.schema_compatibility

    async def verdict(
        self,
        workflow_type: str,
        candidate: dict[str, Any],
        mode: str = "",
        *,
        schedules: bool = True,
    ) -> tuple[Verdict, ScheduleScan]:
        """A candidate schema checked against the type as this process knows it, under its
        mode unless `mode` names one: the verdict and, for a new schema when `schedules`, the
        schedules whose stored input it refuses. The analysis runs off the event loop."""
        stored = self.catalog.workflows.get(workflow_type)
        mode = mode or effective_mode(stored, self.default_compatibility)
        verdict = await asyncio.to_thread(check_candidate, stored, candidate, mode)
        if verdict.identical_version or stored is None or not schedules:
            return verdict, ScheduleScan((), "")
        return verdict, await self._schedules_refusing(workflow_type, candidate)

    async def checked_schema(
        self,
        workflow_type: str,
        candidate: dict[str, Any],
        field: str,
        *,
        worker_id: str = "",
        principal: str = "",
        override: str = "",
    ) -> VersionRequest:
        """What a write bringing `candidate` tells the shard once the schema passed the type's
        mode, or an operator's `override` says why it is accepted anyway; FAILED_PRECONDITION
        (SCHEMA_INCOMPATIBLE) naming every finding and broken schedule otherwise. The current
        schema (a fleet re-registering) and a kept version (a rollback) need no check."""
        stored = self.catalog.workflows.get(workflow_type)
        if stored is None:  # a new type here: the shard refuses the base if it is not
            return VersionRequest(base="", mode="", worker=worker_id, principal=principal)
        request = VersionRequest(
            base=current_digest(stored),
            mode=stored.compatibility,
            worker=worker_id,
            principal=principal,
        )
        if candidate == stored.spec.input_schema:
            return request
        mode = effective_mode(stored, self.default_compatibility)
        verdict, scan = await self.verdict(
            workflow_type, candidate, mode, schedules=blocks_on_schedules(mode)
        )
        if verdict.identical_version:
            return request
        blocked = bool(verdict.findings or scan.broken)
        if blocked and not override:
            raise incompatible(workflow_type, verdict, scan.broken, field)
        # A new version: the versions live workers serve are kept whatever else goes.
        serving = frozenset(self.serving(stored))
        return replace(request, serving=serving, override=override if blocked else "")

    async def _schedules_refusing(
        self, workflow_type: str, candidate: dict[str, Any]
    ) -> ScheduleScan:
        """schedules_refusing, one scan at a time per type and schema (a fleet deploying a
        new schema registers it many times before the first registration lands)."""
        key = (workflow_type, schema_digest(candidate))
        scan = self._schedule_scans.get(key)
        if scan is None:
            scan = asyncio.ensure_future(
                schedules_refusing(self.schedules, workflow_type, candidate)
            )
            self._schedule_scans[key] = scan
            scan.add_done_callback(lambda _: self._schedule_scans.pop(key, None))
        return await asyncio.shield(scan)

    def serving(self, stored: StoredWorkflow) -> dict[int, list[str]]:
        """Schema version -> the live workers of the type that declared it (reused for
        _SERVING_MAX_AGE within one catalogue revision: every start reads it)."""
        workflow_type = stored.spec.workflow_type
        revision, now = self.catalog.revision, time.monotonic()
        cached = self._serving.get(workflow_type)
        if cached is not None and cached[0] == revision and now - cached[1] < _SERVING_MAX_AGE:
            return cached[2]
        inputs = self.liveness_inputs()
        serving = serving_versions(
            stored,
            self.catalog.workers_of(workflow_type),
            lambda worker: lease_valid(effective_lease(worker, inputs.heartbeats), inputs.now),
        )
        if workflow_type not in self._serving and len(self._serving) >= len(self.catalog.workflows):
            self._serving.clear()  # bounded by the catalogue: types deleted leave no trace
        self._serving[workflow_type] = (revision, now, serving)
        return serving

    def serving_schemas(self, stored: StoredWorkflow) -> tuple[SchemaVersion, ...]:
        """The kept versions live workers serve: a start's input must be valid for each."""
        return serving_schemas(stored, self.serving(stored))

    async def approve_schema(
        self,
        workflow_type: str,
        schema: dict[str, Any],
        *,
        principal: str,
        override: str,
        validate_only: bool,
    ) -> tuple[int, bool]:
        """Store a schema as a version of a registered type, its current schema unchanged:
        its number, and whether it is new. validate_only decides without writing."""
        await self.confirm(TYPES, workflow_type, 0)
        await self.workflow(workflow_type)
        checked = await self.checked_schema(
            workflow_type, schema, "input_schema", principal=principal, override=override
        )
        op = approve_op(workflow_type, schema, checked)
        if validate_only:
            result = self._dry_run(workflow_type, op)["result"]
        else:
            result = (await self.submit(TYPES, workflow_type, op))["result"]
        return int(result["version"]), bool(result["created"])

    async def set_compatibility(self, workflow_type: str, mode: str) -> StoredWorkflow:
        """Set a type's own compatibility mode ("": the registry's default)."""
        await self.submit(TYPES, workflow_type, set_mode_op(workflow_type, mode))
        return self.catalog.workflows[workflow_type]

    async def delete_workflow(self, workflow_type: str, allow_missing: bool) -> None:
        await self.submit(
            TYPES, workflow_type, delete_op(WorkflowDeletion(workflow_type, allow_missing))
        )
        await self._safety_acknowledged()

    async def toggle_workflow(
        self, workflow_type: str, enabled: bool, reason: str = ""
    ) -> StoredWorkflow:
        await self.submit(
            TYPES, workflow_type, toggle_op(WorkflowToggle(workflow_type, enabled, reason))
        )
        await self._safety_acknowledged()
        return self.catalog.workflows[workflow_type]

    async def hand_over(self, reason: str, within: float) -> tuple[str, str]:
        """Hand every registry workflow's run (root and shards) over to a new run, carrying its
        state, a few at a time (a handover re-encodes and decodes a whole shard: all of them at
        once would stall every write for seconds at full size); returns once each new run is
        open: (the root's previous run, its new run)."""
        layout = self.layout
        ids = [layout.root_id(), *(layout.shard_id(k, i) for k, i in layout.shards())]
        deadline = time.monotonic() + within
        slots = asyncio.Semaphore(_HANDOVER_CONCURRENCY)

        async def hand_over_one(workflow_id: str) -> tuple[str, str]:
            async with slots:
                if time.monotonic() >= deadline:
                    return "", ""
                previous = await self.temporal.hand_over(workflow_id, reason, str(uuid.uuid4()))
                while time.monotonic() < deadline:
                    run = await self.temporal.describe(workflow_id)
                    if run.running and run.run_id != previous:
                        return previous, run.run_id
                    await asyncio.sleep(0.05)
                return previous, ""

        runs = await asyncio.gather(*(hand_over_one(wid) for wid in ids))
        pending = sorted(wid for wid, (_, new) in zip(ids, runs, strict=True) if not new)
        if pending:
            raise RegistryError(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "HANDOVER_PENDING",
                f"{len(pending)} of {len(ids)} registry workflows have no next run open after "
                f"{within:g} s ({', '.join(pending[:5])}); nothing is lost (a draining run "
                "carries its state to the next, one not yet asked runs on): ask again",
            )
        # Answer once this process follows every new run: reads after the answer see them.
        await asyncio.gather(
            *(tail.confirm(0, _CATCH_UP_WAIT) for tail in [self.root_tail, *self.tails.values()])
        )
        return runs[0]

    async def _safety_acknowledged(self) -> None:
        """Hold a safety write's acknowledgement until every replica's next safety decision is
        sure to see it (their views are at most SAFETY_STALENESS old for those)."""
        await asyncio.sleep(SAFETY_STALENESS)

    async def claim_slug(self, slug: str, request_id: str, at_least: int) -> tuple[int, bool]:
        """The slug's next counter (at least at_least), or the one this request id got
        before: (counter, whether it is a retry)."""
        dispatch, shards = self._config.dispatch, self.layout.ids
        outcome = await self.submit(
            IDS,
            slug_key(slug),
            claim_op(
                slug,
                request_id,
                at_least,
                ttl=dispatch.slug_ttl_days * 86_400,
                max_slugs=-(-dispatch.max_slug_counters // shards),
                request_ttl=dispatch.request_id_ttl_hours * 3_600,
                max_requests=-(-dispatch.max_request_ids // shards),
            ),
        )
        result = outcome.get("result", {})
        return int(result["counter"]), bool(result.get("retry"))

    async def reset_slug(self, slug: str) -> int:
        outcome = await self.submit(IDS, slug_key(slug), reset_op(slug))
        return int(outcome.get("result", {}).get("previous", 0))

    # --- heartbeats ------------------------------------------------------------------------------

    async def heartbeat(
        self, worker_id: str, authorize: Callable[[StoredWorker], None] | None = None
    ) -> WorkerView:
        """Note a heartbeat in memory. NOT_FOUND (register again) for an unknown worker, once
        its shard's view is proven current (it may have registered through another replica a
        moment ago). `authorize` sees the worker first and raises to refuse the heartbeat."""
        if worker_id not in self.catalog.workers:
            await self.confirm(WORKERS, worker_id, 0)
        worker = self.catalog.workers.get(worker_id)
        if worker is None:
            raise worker_not_found(worker_id, "(or expired): register it again")
        if authorize is not None:
            authorize(worker)
        self._heartbeats[worker_id] = self.now()  # every time here is the workflows' clock
        HEARTBEATS.inc()
        return worker_view(worker, self.liveness_inputs())

    # --- background ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Find every shard's current run and read it to the end; call before serving."""
        tails = [self.root_tail, *self.tails.values()]
        await asyncio.gather(*(tail.start() for tail in tails))
        health = TailHealth()
        for tail in tails:
            self._spawn(tail.run(health))
        await asyncio.gather(*(tail.caught_up.wait() for tail in tails))
        self.feed.start()

    def closed_shard(self) -> RegistryError | None:
        """The root or a shard whose run closed under us (an operator terminated it)."""
        tails = [self.root_tail, *self.tails.values()]
        return next((t.closed for t in tails if t.closed is not None), None)

    async def run(self) -> None:
        """The background loops; runs until cancelled."""
        try:
            async with asyncio.TaskGroup() as group:
                liveness = self._config.liveness
                group.create_task(self._every(self._flush_interval, self.flush))
                group.create_task(
                    self._every(liveness.poller_refresh_seconds, self._refresh_pollers)
                )
                group.create_task(self.feed.run())
        finally:
            for task in self._spawned:
                task.cancel()
            await asyncio.gather(*self._spawned, return_exceptions=True)
            self._poller_reads.cancel()

    async def stop(self) -> None:
        """On the way out: renewals due for heartbeats this process acknowledged are flushed,
        so a worker never loses a lease it renewed here."""
        try:
            await self._renew(self.now(), final=True)
        except RegistryError as error:
            log.warning("final lease flush failed: %s", error.message)

    def _flush_interval(self) -> float:
        """How long until the next lease flush: the configured interval, shorter while a
        worker heartbeating here holds a lease too short for it (liveness.rules.cadence)."""
        liveness = self._config.liveness
        workers = self.catalog.workers
        shortest = min(
            (workers[w].ttl_seconds for w in self._heartbeats if w in workers), default=None
        )
        if shortest is None:
            return liveness.flush_interval_seconds
        interval, _ = cadence(shortest, liveness.flush_interval_seconds, 0)
        return max(interval, _MIN_FLUSH_INTERVAL)

    async def _every(
        self, seconds: float | Callable[[], float], step: Callable[[], Coroutine[Any, Any, Any]]
    ) -> None:
        state = StateLog(log, f"registry background step {step.__name__}")
        while True:
            try:
                await step()
                state.ok()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                state.failed(error)  # one line when it starts failing, not one per step
            await asyncio.sleep(seconds() if callable(seconds) else seconds)

    def _spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(work)
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)
        task.add_done_callback(_log_failure)
        return task

    async def flush(self) -> None:
        """Renew the leases that need it, one operation per worker shard; then expire workers
        long gone."""
        now = self.now()
        await self._renew(now)
        await self._expire(now)

    async def _renew(self, now: float, *, final: bool = False) -> None:
        liveness = self._config.liveness
        workers = self.catalog.workers
        for worker_id in self._heartbeats.keys() - workers.keys():
            del self._heartbeats[worker_id]
        stored = {  # only workers heard from here can be due (not all 50,000 each flush)
            w.worker_id: Lease(w.worker_id, w.ttl_seconds, w.lease_expires_epoch)
            for w in (workers[worker_id] for worker_id in self._heartbeats)
        }
        due = renewals_due(
            stored,
            self._heartbeats,
            now,
            # at shutdown every lease a heartbeat here vouches for is due
            1e9 if final else liveness.flush_interval_seconds,
            liveness.flush_margin_seconds,
        )
        by_shard: dict[tuple[str, int], dict[str, float]] = {}
        for worker_id in due:
            seen = max(0.0, now - self._heartbeats[worker_id])
            by_shard.setdefault(self.shard(WORKERS, worker_id), {})[worker_id] = round(seen, 3)
        results = await asyncio.gather(
            *(
                self.writers[shard].submit(renew_op(chunk))
                for shard, seen in by_shard.items()
                for chunk in _chunks(seen, _MAX_RENEWALS_PER_OP)
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
            if result.get("ok"):
                LEASE_RENEWAL_FLUSHES.inc()
                LEASES_RENEWED.inc(int(result.get("result", {}).get("renewed", 0)))

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
        running = time.monotonic() - self._started
        expire = [w for w in decision.expire if running > leases[w].ttl_seconds]
        if not expire:
            return
        log.info("expiring workers past their grace period: %s", ", ".join(expire))
        by_shard: dict[tuple[str, int], list[str]] = {}
        for worker_id in expire:
            by_shard.setdefault(self.shard(WORKERS, worker_id), []).append(worker_id)
        for shard, ids in by_shard.items():
            outcome = await self.writers[shard].submit(expire_op(ids, liveness.expiry_grace_factor))
            WORKERS_EXPIRED.inc(len(outcome.get("result", {}).get("expired", [])))

    async def _refresh_pollers(self, queues: list[str] | None = None) -> None:
        """Read the pollers of every task queue the catalogue mentions (or just `queues`)."""
        if queues is None:
            queues = sorted(
                {w.task_queue for w in self.catalog.workers.values()}
                | {w.spec.task_queue for w in self.catalog.workflows.values() if w.spec.task_queue}
            )
        await asyncio.gather(*(self._read_pollers(queue) for queue in queues))

    def refresh_pollers_soon(self, queues: Iterable[str]) -> None:
        """Read these queues' pollers in the background (a worker registering may poll now)."""
        self._spawn(self._refresh_pollers(sorted(set(queues))))

    async def _read_pollers(self, queue: str) -> None:
        """A read of the queue's pollers that starts after this call (shared and spaced)."""
        await self._poller_reads.read(queue, lambda: self._describe_pollers(queue))

    async def _describe_pollers(self, queue: str) -> None:
        async with self._describe_limit:
            try:
                response = await self.client.workflow_service.describe_task_queue(
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


def refusal(outcome: Mapping[str, Any]) -> RegistryError:
    """The RegistryError of a refused operation."""
    violations = [
        FieldViolation(
            str(v.get("field", "")), str(v.get("description", "")), str(v.get("reason", ""))
        )
        for v in outcome.get("violations", [])
        if isinstance(v, Mapping)
    ]
    return refused(
        str(outcome.get("code", "")),
        str(outcome.get("reason", "REGISTRY_REFUSED")),
        str(outcome.get("message", "")),
        violations,
    )


def merged_refusal(outcomes: Sequence[Mapping[str, Any]]) -> BaseException:
    """One error for several refused operations of one request (merged_errors)."""
    return merged_errors([refusal(outcome) for outcome in outcomes])


def merged_errors(errors: Sequence[BaseException]) -> BaseException:
    """One error for several refusals of one request: the first one's code, reason, message
    and metadata, with every refusal's violations (an error that is not a RegistryError is
    raised as it is)."""
    unexpected = next((e for e in errors if not isinstance(e, RegistryError)), None)
    if unexpected is not None or len(errors) == 1:
        return unexpected or errors[0]
    first = errors[0]
    assert isinstance(first, RegistryError)
    violations = [
        v for error in errors if isinstance(error, RegistryError) for v in error.violations
    ]
    return RegistryError(
        first.code, first.reason, first.message, violations, metadata=first.metadata
    )


def _chunks(items: dict[str, float], size: int) -> list[dict[str, float]]:
    keys = list(items)
    return [{k: items[k] for k in keys[i : i + size]} for i in range(0, len(keys), size)]


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("registry background task failed", exc_info=task.exception())
