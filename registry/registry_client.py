"""Talking to the registry workflow: start it (or join the running one), read
its snapshot, describe its current run."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from registry.config import RegistrySettings
from registry.errors import unavailable
from registry.workflow import RegistrySnapshot, RegistryState, RegistryWorkflow, ServiceStart


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

    @property
    def workflow_id(self) -> str:
        return self._settings.workflow_id

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        """A registry workflow that Temporal cannot reach or answer for is
        UNAVAILABLE to the caller, whichever read failed."""
        try:
            yield
        except (RPCError, RPCTimeoutOrCancelledError, WorkflowQueryFailedError) as error:
            cause = error.status.name if isinstance(error, RPCError) else type(error).__name__
            raise unavailable(
                "REGISTRY_WORKFLOW_UNAVAILABLE",
                f"registry workflow {self.workflow_id} does not answer ({cause})",
            ) from error

    def _handle(self) -> WorkflowHandle[RegistryWorkflow, None]:
        return self._client.get_workflow_handle_for(RegistryWorkflow.run, self.workflow_id)

    async def start_or_join(self) -> RegistrySnapshot:
        """Record this process's start, starting the registry workflow when no
        run is open (update-with-start: one atomic call either way)."""
        start = WithStartWorkflowOperation(
            RegistryWorkflow.run,
            RegistryState(max_history_events=self._settings.continue_as_new_events),
            id=self.workflow_id,
            task_queue=self._settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        return await self._client.execute_update_with_start_workflow(
            RegistryWorkflow.record_service_start,
            ServiceStart(
                process_id=os.getpid(), host=socket.gethostname(), started_at_epoch=time.time()
            ),
            start_workflow_operation=start,
            rpc_timeout=self._timeout,
        )

    async def snapshot(self) -> RegistrySnapshot:
        with self._answering():
            return await self._handle().query(RegistryWorkflow.snapshot, rpc_timeout=self._timeout)

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
