"""Talking to the registry workflow: start it (or join the running one), write to it through
bounded, queued updates, read its snapshot, describe its current run.

Every Temporal failure is turned into a RegistryError here, so callers see one error model:
a write the workflow refuses keeps the code, reason and field violations its validator gave;
a registry workflow Temporal cannot reach is UNAVAILABLE.

A registry workflow Temporal does not know at all (NOT_FOUND: no execution with its id, or
no namespace: a Temporal that came back without its database) is *lost*: `lost` is set, and
the runtime provisions it again as a fresh start would. One that exists but is closed (an
operator terminated it) is not lost: it is reported, never silently replaced."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import grpc
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import RawValue, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from registry.catalog.metrics import REGISTRY_WRITES
from registry.catalog.workflow import (
    RegistrySnapshot,
    RegistryState,
    RegistryWorkflow,
    ServiceStart,
)
from registry.server.config import RegistrySettings
from registry.server.errors import FieldViolation, RegistryError, refused, unavailable

A = TypeVar("A")
R = TypeVar("R")

# Update failures that mean the update was never accepted, so sending it again is safe:
# too many in flight (another replica's burst), or the run closed under it (continue-as-new).
_RETRYABLE = (RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.NOT_FOUND, RPCStatusCode.ABORTED)
_MAX_BACKOFF_SECONDS = 1.0
# Failures Temporal itself gives an update (source "Server"), by failure type:
# - delivered in a workflow task the worker completed without processing it (a task raced
#   by a sticky-queue timeout or a run handing over): never accepted, so the same update id
#   may be sent again;
UNPROCESSED_UPDATE = "UnprocessedUpdate"
# - accepted, then the run closed before it completed: it may or may not have been applied.
_INTERRUPTED_UPDATES = frozenset({"AcceptedUpdateCompletedWorkflow"})


@dataclass(frozen=True)
class RunInfo:
    """The current run of the registry workflow, as Temporal describes it."""

    run_id: str
    running: bool
    status: str
    history_length: int
    history_size_bytes: int


class RegistryWorkflowClient:
    def __init__(self, client: Client, settings: RegistrySettings) -> None:
        self._client = client
        self._settings = settings
        self._timeout = timedelta(seconds=settings.query_timeout_seconds)
        # Temporal fails updates beyond 10 in flight per workflow: the rest wait here.
        self._in_flight = asyncio.Semaphore(settings.max_concurrent_updates)
        self.queued_updates = 0
        self.lost = asyncio.Event()  # Temporal has no such workflow (see the module docstring)

    @property
    def workflow_id(self) -> str:
        return self._settings.workflow_id

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        """A registry workflow that Temporal cannot reach or answer for is
        UNAVAILABLE to the caller, whichever read failed; one it does not know is lost."""
        try:
            yield
        except (RPCError, RPCTimeoutOrCancelledError, WorkflowQueryFailedError) as error:
            if isinstance(error, RPCError) and error.status == RPCStatusCode.NOT_FOUND:
                raise self._lose() from error
            cause = error.status.name if isinstance(error, RPCError) else type(error).__name__
            raise _unreachable(self.workflow_id, cause) from error

    def _lose(self) -> RegistryError:
        """Note that Temporal does not know the registry workflow; the error for the caller."""
        self.lost.set()
        return unavailable(
            "REGISTRY_WORKFLOW_UNAVAILABLE",
            f"registry workflow {self.workflow_id} does not exist in namespace "
            f"{self._client.namespace} (did Temporal lose its state?); starting it again",
        )

    async def _not_found(self) -> RegistryError | None:
        """After NOT_FOUND on an update: the error to answer, or None to retry (the run was
        closed by a continue-as-new, and the next one is open)."""
        run = await self.describe_run()  # raises the lost error when there is no workflow
        if run.running:
            return None
        return closed(self.workflow_id, run)

    def _handle(self) -> WorkflowHandle[RegistryWorkflow, None]:
        return self._client.get_workflow_handle_for(RegistryWorkflow.run, self.workflow_id)

    async def execute(self, update: UpdateMethodMultiParam[[RegistryWorkflow, A], R], arg: A) -> R:
        """Run one update: queued behind at most max_concurrent_updates others, retried (with
        the same update id) while Temporal has not accepted it, bounded by
        update_timeout_seconds."""
        update_id = str(uuid.uuid4())
        outcome = "failed"
        try:
            async with asyncio.timeout(self._settings.update_timeout_seconds):
                self.queued_updates += 1
                try:
                    await self._in_flight.acquire()
                finally:
                    self.queued_updates -= 1
                try:
                    result = await self._execute_with_retries(update, arg, update_id)
                    outcome = "ok"
                    return result
                except RegistryError as error:
                    outcome = (
                        "failed" if error.reason == "REGISTRY_WORKFLOW_UNAVAILABLE" else "refused"
                    )
                    raise
                finally:
                    self._in_flight.release()
        except TimeoutError:
            raise RegistryError(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "REGISTRY_WRITE_TIMEOUT",
                f"the registry workflow did not complete this write within "
                f"{self._settings.update_timeout_seconds:g} s; it may or may not have been applied",
            ) from None
        finally:
            REGISTRY_WRITES.labels(getattr(update, "__name__", "update"), outcome).inc()

    async def _execute_with_retries(
        self, update: UpdateMethodMultiParam[[RegistryWorkflow, A], R], arg: A, update_id: str
    ) -> R:
        backoff = 0.02
        while True:
            try:
                result: R = await self._handle().execute_update(
                    update, arg, id=update_id, rpc_timeout=self._timeout
                )
                return result
            except WorkflowUpdateFailedError as error:
                if not _unprocessed(error.cause):
                    raise _refusal(error.cause) from None
            except RPCError as error:
                if error.status not in _RETRYABLE:
                    raise _unreachable(self.workflow_id, error.status.name) from error
                if error.status == RPCStatusCode.NOT_FOUND:
                    answer = await self._not_found()
                    if answer is not None:
                        raise answer from error
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                pass  # not yet accepted in time: same update id, so a retry cannot apply it twice
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    async def start_or_join(self, service_start: ServiceStart) -> int:
        """Record this process's start, starting the registry workflow when no
        run is open (update-with-start: one atomic call either way)."""
        start = WithStartWorkflowOperation(
            RegistryWorkflow.run,
            RegistryState(
                max_history_events=service_start.max_history_events,
                max_updates_per_run=service_start.max_updates_per_run,
                max_state_bytes=service_start.max_state_bytes,
            ),
            id=self.workflow_id,
            task_queue=self._settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        return await self._client.execute_update_with_start_workflow(
            RegistryWorkflow.record_service_start,
            service_start,
            start_workflow_operation=start,
            rpc_timeout=self._timeout,
        )

    def service_start(self) -> ServiceStart:
        """This process's start record, with the limits from its config."""
        return ServiceStart(
            process_id=os.getpid(),
            host=socket.gethostname(),
            started_at_epoch=time.time(),
            max_history_events=self._settings.continue_as_new_events,
            max_updates_per_run=self._settings.max_updates_per_run,
            max_state_bytes=self._settings.max_state_bytes,
        )

    async def snapshot(self, known_revision: int = -1) -> RegistrySnapshot:
        """The registry's snapshot; its catalog is None if it is still at known_revision.

        Decoded in a worker thread: turning a whole catalogue into dataclasses takes tens of
        milliseconds, which would otherwise stall every request on the event loop."""
        with self._answering():
            raw: RawValue = await self._handle().query(
                RegistryWorkflow.snapshot.__name__,
                known_revision,
                result_type=RawValue,
                rpc_timeout=self._timeout,
            )
        converter = self._client.data_converter.payload_converter
        snapshot: RegistrySnapshot = await asyncio.to_thread(
            converter.from_payload, raw.payload, RegistrySnapshot
        )
        return snapshot

    async def describe_run(self) -> RunInfo:
        with self._answering():
            description = await self._handle().describe(rpc_timeout=self._timeout)
        info = description.raw_description.workflow_execution_info
        return RunInfo(
            run_id=description.run_id,
            running=info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
            status=WorkflowExecutionStatus.Name(info.status),
            history_length=info.history_length,
            history_size_bytes=info.history_size_bytes,
        )


def closed(workflow_id: str, run: RunInfo) -> RegistryError:
    """UNAVAILABLE for a registry workflow whose current run is closed."""
    return unavailable(
        "REGISTRY_WORKFLOW_CLOSED",
        f"registry workflow {workflow_id} is {run.status}",
        run_id=run.run_id,
    )


def _unreachable(workflow_id: str, cause: str) -> RegistryError:
    return unavailable(
        "REGISTRY_WORKFLOW_UNAVAILABLE",
        f"registry workflow {workflow_id} does not answer ({cause})",
    )


def _unprocessed(cause: BaseException | None) -> bool:
    """Whether Temporal rejected the update because no worker processed it (retry it)."""
    return isinstance(cause, ApplicationError) and cause.type == UNPROCESSED_UPDATE


def _refusal(cause: BaseException | None) -> RegistryError:
    """The RegistryError for an update the workflow refused (see registry.workflow), or that
    Temporal failed on its own (UNAVAILABLE: a transient condition, never the caller's)."""
    if not isinstance(cause, ApplicationError):
        return RegistryError(
            grpc.StatusCode.INTERNAL, "REGISTRY_INTERNAL", "the registry workflow failed the write"
        )
    if cause.type in _INTERRUPTED_UPDATES:
        return unavailable(
            "REGISTRY_WRITE_INTERRUPTED",
            f"the registry workflow's run closed during this write ({cause.message}); it may "
            "or may not have been applied: retry it",
        )
    if cause.type not in grpc.StatusCode.__members__:  # not one of the workflow's refusals
        return unavailable(
            "REGISTRY_WRITE_FAILED", f"Temporal failed this write: {cause.message}; retry it"
        )
    details: Any = cause.details[0] if cause.details else {}
    if not isinstance(details, dict):
        details = {}
    violations = [
        FieldViolation(
            str(v.get("field", "")), str(v.get("description", "")), str(v.get("reason", ""))
        )
        for v in details.get("violations", [])
        if isinstance(v, dict)
    ]
    reason = str(details.get("reason", "REGISTRY_REFUSED"))
    return refused(cause.type or "", reason, cause.message, violations)
