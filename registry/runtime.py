"""The registry's connection to Temporal and the embedded worker, brought up in
the background so the gRPC server answers (and reports why it is not ready)
while Temporal is still starting or unreachable."""

from __future__ import annotations

import asyncio
import logging
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from temporalio.client import Client, Interceptor
from temporalio.worker import Worker

from registry.catalog.store import RegistryStore
from registry.catalog.temporal import RegistryWorkflowClient
from registry.catalog.workflow import RegistryWorkflow
from registry.search_attributes.temporal import SearchAttributeActivities
from registry.search_attributes.workflow import ProvisionSearchAttributes
from registry.server.config import Config
from registry.server.errors import unavailable
from registry.server.state_log import StateLog
from registry.server.temporal_connection import connect, ensure_namespace
from registry.shared.interruptible import Interrupted, run_until

log = logging.getLogger("registry.runtime")
T = TypeVar("T")

STICKY_QUEUE_TIMEOUT = timedelta(seconds=2)
# How long stopping waits for the embedded worker to finish its in-flight tasks.
WORKER_SHUTDOWN_SECONDS = 10.0


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
        fails), or Temporal turns out to have lost the registry workflow."""
        settings = self._config.registry
        search_attributes = SearchAttributeActivities(
            worker_client, self._config.temporal.namespace
        )
        worker = Worker(
            worker_client,
            task_queue=settings.task_queue,
            workflows=[RegistryWorkflow, ProvisionSearchAttributes],
            activities=[search_attributes.add, search_attributes.remove],
            # After a crash, Temporal holds the registry's next workflow task on the dead
            # process's sticky queue for this long before any other process can take it.
            # Temporal's default (10 s) would leave every write hanging that long.
            sticky_queue_schedule_to_start_timeout=STICKY_QUEUE_TIMEOUT,
        )
        worker_run = asyncio.create_task(worker.run(), name="registry-worker")
        background: asyncio.Task[None] | None = None
        lost: asyncio.Task[bool] | None = None
        try:
            registry = RegistryWorkflowClient(client, settings)
            self._not_ready = NotReady(
                "REGISTRY_WORKFLOW_UNAVAILABLE",
                f"cannot start or join registry workflow {settings.workflow_id}",
            )
            # Startup needs the embedded worker to answer: give up (and retry from scratch)
            # if it stops, or if Temporal does not complete startup within the update timeout.
            await _while_running(
                worker_run,
                registry.start_or_join(registry.service_start()),
                settings.update_timeout_seconds,
            )
            store = RegistryStore(registry, client, self._config)
            await _while_running(worker_run, store.start(), settings.update_timeout_seconds)
            background = asyncio.create_task(store.run(), name="registry-store")
            lost = asyncio.create_task(registry.lost.wait(), name="registry-lost")
            self._registry = store
            await self._set_ready(True)
            self._state.ok()
            log.info(
                "registry ready: workflow %s on task queue %s",
                settings.workflow_id,
                settings.task_queue,
            )
            await asyncio.wait({worker_run, background, lost}, return_when=FIRST_COMPLETED)
            if lost.done():
                self._not_ready = NotReady(
                    "REGISTRY_WORKFLOW_UNAVAILABLE",
                    f"registry workflow {settings.workflow_id} no longer exists in namespace "
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
            for task in (background, lost):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            if not worker_run.done():
                await _shut_down(worker, WORKER_SHUTDOWN_SECONDS)


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
