"""The registry's connection to Temporal and the embedded worker, brought up in
the background so the gRPC server answers (and reports why it is not ready)
while Temporal is still starting or unreachable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from temporalio.client import Client, Interceptor
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from registry.catalog.engine import Limits
from registry.catalog.layout import Layout
from registry.catalog.store import RegistryStore
from registry.catalog.temporal import RegistryTemporal
from registry.catalog.transfer import LegacyRegistry, TransferError, migrate
from registry.catalog.workflow import SANDBOX_PASSTHROUGH, RegistryRoot, RegistryShard
from registry.search_attributes.temporal import SearchAttributeActivities
from registry.search_attributes.workflow import ProvisionSearchAttributes
from registry.server.config import Config, RegistrySettings
from registry.server.errors import unavailable
from registry.server.state_log import StateLog
from registry.server.temporal_connection import connect, ensure_namespace
from registry.shared.interruptible import Interrupted, run_until

log = logging.getLogger("registry.runtime")
T = TypeVar("T")

STICKY_QUEUE_TIMEOUT = timedelta(seconds=2)
# How long stopping waits for the embedded worker to finish its in-flight tasks.
WORKER_SHUTDOWN_SECONDS = 10.0
# How long stopping waits for the last lease renewals to be written.
FINAL_FLUSH_SECONDS = 5.0


@dataclass(frozen=True)
class NotReady:
    """Why the registry cannot serve yet: an ErrorInfo reason and a safe message."""

    reason: str
    message: str


class RegistryRuntime:
    def __init__(
        self,
        config: Config,
        *,
        on_readiness: Callable[[bool], Awaitable[None]] | None = None,
        retry_seconds: float = 1.0,
        temporal_interceptors: Sequence[Interceptor] = (),
    ) -> None:
        self._config = config
        self._temporal_interceptors = temporal_interceptors
        self._on_readiness = on_readiness
        self._retry_seconds = retry_seconds
        self._registry: RegistryStore | None = None
        self._not_ready = NotReady("TEMPORAL_CONNECTING", "connecting to Temporal")
        self._task: asyncio.Task[None] | None = None
        self._state = StateLog(log, "registry not ready")
        self.ready = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="registry-runtime")

    async def _set_ready(self, ready: bool) -> None:
        if ready == self.ready.is_set():
            return
        if ready:
            self.ready.set()
        else:
            self.ready.clear()
        if self._on_readiness is not None:
            await self._on_readiness(ready)

    async def stop(self) -> None:
        """Stop supervising; the worker is shut down on the way out of _run_worker."""
        await self._set_ready(False)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def store(self) -> RegistryStore | None:
        """The registry store while ready, else None."""
        return self._registry if self.ready.is_set() else None

    def registry(self) -> RegistryStore:
        """The registry as this process serves it, or UNAVAILABLE saying why it can't yet."""
        if self._registry is None or not self.ready.is_set():
            raise unavailable(self._not_ready.reason, self._not_ready.message)
        closed = self._registry.closed_shard()  # an operator terminated one of its workflows
        if closed is not None:
            raise closed
        return self._registry

    async def _supervise(self) -> None:
        """Connect, provision, run the worker; on failure report why and retry. A registry
        workflow Temporal lost (it came back without its state) is provisioned again, as a
        fresh start would."""
        temporal = self._config.temporal
        while True:
            try:
                self._not_ready = NotReady(
                    "TEMPORAL_UNAVAILABLE", f"cannot reach Temporal at {temporal.address}"
                )
                # Two connections: the worker's rides out a short outage as the SDK intends;
                # the one calls for clients go through gives up fast (FAIL_FAST_SECONDS).
                worker_client = await connect(temporal, self._temporal_interceptors)
                client = await connect(temporal, self._temporal_interceptors, fail_fast=True)
                self._not_ready = NotReady(
                    "NAMESPACE_UNAVAILABLE", f"cannot provision namespace {temporal.namespace}"
                )
                await ensure_namespace(
                    client, temporal.namespace, temporal.namespace_retention_days
                )
                await self._run_worker(worker_client, client)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._state.failed(error)
            await self._set_ready(False)
            await asyncio.sleep(self._retry_seconds)

    async def _run_worker(self, worker_client: Client, client: Client) -> None:
        """Run the embedded worker and serve through a store until the worker stops (or
        fails), or Temporal turns out to have lost the registry's workflows."""
        settings = self._config.registry
        search_attributes = SearchAttributeActivities(
            worker_client, self._config.temporal.namespace
        )
        worker = Worker(
            worker_client,
            task_queue=settings.task_queue,
            workflows=[RegistryRoot, RegistryShard, ProvisionSearchAttributes],
            activities=[search_attributes.add, search_attributes.remove],
            workflow_runner=SandboxedWorkflowRunner(
                restrictions=SandboxRestrictions.default.with_passthrough_modules(
                    *SANDBOX_PASSTHROUGH
                )
            ),
            # After a crash, Temporal holds the registry's next workflow task on the dead
            # process's sticky queue for this long before any other process can take it.
            # Temporal's default (10 s) would leave every write hanging that long.
            sticky_queue_schedule_to_start_timeout=STICKY_QUEUE_TIMEOUT,
            # Up to one batch in flight per shard: every shard's task may be running at once.
            max_concurrent_workflow_tasks=max(100, 2 * _shard_count(settings)),
        )
        worker_run = asyncio.create_task(worker.run(), name="registry-worker")
        background: asyncio.Task[None] | None = None
        lost: asyncio.Task[bool] | None = None
        replaced: asyncio.Task[bool] | None = None
        store: RegistryStore | None = None
        try:
            temporal = RegistryTemporal(
                client,
                settings.task_queue,
                timedelta(seconds=settings.query_timeout_seconds),
                long_poll_client=worker_client,
            )
            self._not_ready = NotReady(
                "REGISTRY_WORKFLOW_UNAVAILABLE",
                f"cannot start or join registry {settings.workflow_id}",
            )
            # Startup needs the embedded worker to answer: give up (and retry from scratch)
            # if it stops, or if Temporal does not complete startup within the update timeout.
            store = await _while_running(
                worker_run, self._open(temporal, client), settings.update_timeout_seconds
            )
            background = asyncio.create_task(store.run(), name="registry-store")
            lost = asyncio.create_task(temporal.lost.wait(), name="registry-lost")
            replaced = asyncio.create_task(store.root.replaced.wait(), name="registry-root")
            self._registry = store
            await self._set_ready(True)
            self._state.ok()
            log.info(
                "registry ready: %s (%s) on task queue %s",
                settings.workflow_id,
                ", ".join(f"{n} {kind} shards" for kind, n in store.layout.counts().items()),
                settings.task_queue,
            )
            await asyncio.wait(
                {worker_run, background, lost, replaced}, return_when=FIRST_COMPLETED
            )
            if replaced.done():
                self._not_ready = NotReady(
                    "REGISTRY_REPLACED",
                    f"registry {settings.workflow_id} was replaced with another layout "
                    f"({store.root.state.get('layout')}); opening it again",
                )
                log.warning("%s", self._not_ready.message)
            elif lost.done():
                self._not_ready = NotReady(
                    "REGISTRY_WORKFLOW_UNAVAILABLE",
                    f"registry {settings.workflow_id} no longer exists in namespace "
                    f"{self._config.temporal.namespace}; starting it again",
                )
                log.warning("%s (did Temporal lose its state?)", self._not_ready.message)
            else:
                self._not_ready = NotReady(
                    "REGISTRY_WORKER_STOPPED", "the embedded registry worker stopped"
                )
            await self._set_ready(False)
            if worker_run.done():
                worker_run.result()  # raises the worker's failure, if it failed
        finally:
            if store is not None:  # flush the renewals acknowledged here, briefly
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(store.stop(), FINAL_FLUSH_SECONDS)
            for task in (background, lost, replaced):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            if not worker_run.done():
                await _shut_down(worker, WORKER_SHUTDOWN_SECONDS)

    async def _open(self, temporal: RegistryTemporal, client: Client) -> RegistryStore:
        """Join the registry (or create it, with the configured layout, migrating a 0.2
        registry's state into it: registry.catalog.transfer.LegacyRegistry), start any shard
        not running yet, and read every shard: the store, ready to serve."""
        settings = self._config.registry
        namespace = self._config.temporal.namespace
        wanted = Layout(settings.workflow_id, **settings.shards.model_dump())
        limits = Limits(max_bytes=settings.shard_max_bytes)
        initial: dict[str, object] = {"format": 1, "layout": wanted.counts(), "continued": 0}
        legacy = None
        if await temporal.find(wanted.root_id()) is None:
            legacy = await LegacyRegistry.find(temporal, settings.workflow_id, namespace)
        if legacy is not None:
            self._not_ready = NotReady(
                "REGISTRY_MIGRATING", f"migrating the 0.2 registry {settings.workflow_id}"
            )
            try:
                legacy.states(wanted, limits)  # it fits: checked before anything is created
            except TransferError as error:
                self._not_ready = NotReady("REGISTRY_MIGRATION_REFUSED", str(error))
                raise
            initial.update(migrated_from=legacy.marker, created_at=legacy.created_at)
        root = await temporal.start_root(wanted.root_id(), initial, service_start(self._config))
        layout = Layout(settings.workflow_id, **root["layout"])
        if layout != wanted:
            log.warning(
                "registry %s was created with %s; registry.shards asks for %s and is ignored "
                "(a new layout needs an export and an import: see docs/operations.md)",
                settings.workflow_id,
                layout.counts(),
                wanted.counts(),
            )
        store = RegistryStore(temporal, client, self._config, layout)
        # A root that names a 0.2 run still running: the migration is due (whoever began it),
        # and its shards are filled before any is started empty below.
        await migrate(temporal, root.get("migrated_from"), layout, limits, namespace, legacy)
        await asyncio.gather(
            *(
                temporal.start_shard(layout.shard_id(kind, i), store.initial_state(kind, i))
                for kind, i in layout.shards()
            )
        )
        await store.start()
        return store


def service_start(config: Config) -> dict[str, object]:
    """This process's start record, with the run limits from its config."""
    return {
        "process_id": os.getpid(),
        "host": socket.gethostname(),
        "started_at_epoch": time.time(),
        "max_history_events": config.registry.continue_as_new_events,
        "max_updates_per_run": config.registry.max_updates_per_run,
    }


def _shard_count(settings: RegistrySettings) -> int:
    shards = settings.shards
    return shards.types + shards.workers + shards.ids


async def _while_running(worker_run: asyncio.Task[None], step: Awaitable[T], seconds: float) -> T:
    """Await step, failing if the worker stops first or if step takes longer than seconds:
    a startup call that needs the worker would otherwise wait for it forever."""
    try:
        async with asyncio.timeout(seconds):
            return await run_until(step, worker_run)
    except Interrupted:
        worker_run.result()  # raises the worker's failure, if it failed
        raise RuntimeError("the embedded registry worker stopped during startup") from None
    except TimeoutError:
        raise TimeoutError(f"registry startup did not complete within {seconds:g} s") from None


async def _shut_down(worker: Worker, seconds: float) -> None:
    """Stop the worker, waiting at most seconds for its in-flight tasks (Temporal retries
    any task it leaves behind on another worker)."""
    try:
        await asyncio.wait_for(worker.shutdown(), seconds)
    except TimeoutError:
        log.warning("the embedded worker did not stop within %g s; leaving it", seconds)
