"""The Temporal calls behind the registry's state: start or join the root, start the shards,
send batches of operations, hand runs over, describe runs and read their histories.

Every Temporal failure becomes a RegistryError here, so callers see one error model. A
registry workflow Temporal does not know at all (NOT_FOUND: a Temporal that came back without
its database) is *lost*: `lost` is set, and the runtime provisions the registry again as a
fresh start would. One that exists but is closed (an operator terminated it) is never
replaced: the root and the shards are started with the id reuse policy REJECT_DUPLICATE, so
Temporal itself refuses, and the registry reports the closed workflow and how to recover."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import HistoryEventFilterType, WorkflowExecutionStatus
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WithStartWorkflowOperation,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from registry.catalog.workflow import RegistryRoot, RegistryShard
from registry.server.errors import FieldViolation, RegistryError, refused, unavailable

# Update failures that mean the update was never accepted, so sending it again is safe:
# too many in flight (another replica's burst), or the run closed under it (continue-as-new).
_RETRYABLE = (RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.NOT_FOUND, RPCStatusCode.ABORTED)
_MAX_BACKOFF_SECONDS = 1.0
# Temporal closes a connection at its maximum age, cutting calls in flight on it ("transport
# error", UNKNOWN): such a call is sent again with the same update id, this many times.
_MAX_CUT_CONNECTIONS = 3
# Failures Temporal itself gives an update (source "Server"), by failure type:
# - delivered in a workflow task the worker completed without processing it (a task raced by
#   a sticky-queue timeout or a run handing over): never accepted, so the same update id may
#   be sent again;
UNPROCESSED_UPDATE = "UnprocessedUpdate"
# - accepted, then the run closed before it completed: it may or may not have been applied;
#   sent again with the same id, the next run answers its first outcome (the engine remembers
#   the outcomes of applied operations across continue-as-new).
_INTERRUPTED_UPDATES = frozenset({"AcceptedUpdateCompletedWorkflow"})


@dataclass(frozen=True)
class RunInfo:
    """The current run of a registry workflow, as Temporal describes it."""

    workflow_id: str
    run_id: str
    running: bool
    status: str
    history_length: int
    history_size_bytes: int
    workflow_type: str = ""


@dataclass(frozen=True)
class HistoryPage:
    events: list[HistoryEvent]
    next_page_token: bytes  # empty: the run is closed and this was its last page


class RegistryTemporal:
    def __init__(
        self,
        client: Client,
        task_queue: str,
        rpc_timeout: timedelta,
        *,
        long_poll_client: Client | None = None,
    ) -> None:
        self._client = client
        # History long polls wait up to ~20 s each: on a connection of their own (the
        # embedded worker's), so they never share the fail-fast one calls for clients use.
        self._long_poll_client = long_poll_client or client
        self._task_queue = task_queue
        self._timeout = rpc_timeout
        self.lost = asyncio.Event()  # Temporal has no such workflow (see the module docstring)

    @property
    def client(self) -> Client:
        return self._client

    @property
    def task_queue(self) -> str:
        return self._task_queue

    # --- starting --------------------------------------------------------------------------

    async def start_root(self, root_id: str, state: dict[str, Any], start: dict[str, Any]) -> Any:
        """Record a process start on the root, starting it (with `state`) when it does not exist
        (update-with-start: one atomic call either way). Returns the root's state."""
        operation = WithStartWorkflowOperation(
            RegistryRoot.run,
            state,
            id=root_id,
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        try:
            with self._answering(root_id):
                return await self._client.execute_update_with_start_workflow(
                    RegistryRoot.record_service_start,
                    start,
                    start_workflow_operation=operation,
                    rpc_timeout=self._timeout,
                )
        except WorkflowAlreadyStartedError:
            raise closed(await self.describe(root_id)) from None
        except WorkflowUpdateFailedError as error:
            raise _refusal(error.cause) from None

    async def start_shard(self, shard_id: str, state: dict[str, Any]) -> None:
        """Start a shard with `state` unless it runs already; a closed one is reported."""
        try:
            with self._answering(shard_id):
                await self._client.start_workflow(
                    RegistryShard.run,
                    state,
                    id=shard_id,
                    task_queue=self._task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    rpc_timeout=self._timeout,
                )
        except WorkflowAlreadyStartedError:
            raise closed(await self.describe(shard_id)) from None

    # --- writing ---------------------------------------------------------------------------

    async def apply(self, shard_id: str, batch: dict[str, Any], update_id: str) -> dict[str, Any]:
        """Send one batch, retried with the same update id while Temporal has not accepted it
        (the caller bounds the time). The result: registry.catalog.engine's outcomes."""
        result: dict[str, Any] = await self._update(shard_id, RegistryShard.apply, batch, update_id)
        return result

    async def hand_over(self, workflow_id: str, reason: str, update_id: str) -> str:
        update = (
            RegistryRoot.hand_over if workflow_id.endswith("/root") else RegistryShard.hand_over
        )
        run_id: str = await self._update(workflow_id, update, reason, update_id)
        return run_id

    async def _update(self, workflow_id: str, update: Any, arg: Any, update_id: str) -> Any:
        backoff, cuts = 0.02, 0
        handle = self._client.get_workflow_handle(workflow_id)
        while True:
            try:
                return await handle.execute_update(
                    update, arg, id=update_id, rpc_timeout=self._timeout
                )
            except WorkflowUpdateFailedError as error:
                # Never accepted, or accepted by a run that then handed over: the same update
                # id again (the next run answers the first outcome of an op it already applied).
                if not _unprocessed(error.cause) and not _interrupted(error.cause):
                    raise _refusal(error.cause) from None
            except RPCError as error:
                cut = error.status == RPCStatusCode.UNKNOWN and cuts < _MAX_CUT_CONNECTIONS
                if cut:  # a connection Temporal closed under the call: the same id again
                    cuts += 1
                elif error.status not in _RETRYABLE:
                    raise unreachable(workflow_id, error.status.name) from error
                if error.status == RPCStatusCode.NOT_FOUND:
                    run = await self.describe(workflow_id)  # raises the lost error if gone
                    if not run.running:
                        raise closed(run) from error
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                pass  # not yet accepted in time: same update id, so a retry cannot apply it twice
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    # --- reading ---------------------------------------------------------------------------

    async def describe(self, workflow_id: str) -> RunInfo:
        with self._answering(workflow_id):
            description = await self._client.get_workflow_handle(workflow_id).describe(
                rpc_timeout=self._timeout
            )
        return _run_info(workflow_id, description)

    async def find(self, workflow_id: str, run_id: str = "") -> RunInfo | None:
        """A workflow's current run (or the run `run_id`), None when Temporal has no such
        workflow: for callers asking whether one exists (startup, export, import), where a
        missing workflow is no sign that Temporal lost the registry."""
        handle = self._client.get_workflow_handle(workflow_id, run_id=run_id or None)
        try:
            description = await handle.describe(rpc_timeout=self._timeout)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return None
            raise unreachable(workflow_id, error.status.name) from error
        except RPCTimeoutOrCancelledError as error:
            raise unreachable(workflow_id, type(error).__name__) from error
        return _run_info(workflow_id, description)

    async def query(self, workflow_id: str, query: str, *args: Any) -> Any:
        with self._answering(workflow_id):
            return await self._client.get_workflow_handle(workflow_id).query(
                query, *args, rpc_timeout=self._timeout
            )

    async def history_page(
        self, workflow_id: str, run_id: str, token: bytes, *, wait: float
    ) -> HistoryPage:
        """One page of a run's history from `token` (b"" for its start). With wait > 0, a long
        poll: it answers as soon as new events exist, or empty after about `wait` seconds."""
        request = GetWorkflowExecutionHistoryRequest(
            namespace=self._client.namespace,
            execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            next_page_token=token,
            wait_new_event=wait > 0,
            history_event_filter_type=HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT,
        )
        client = self._long_poll_client if wait > 0 else self._client
        with self._answering(workflow_id):
            response = await client.workflow_service.get_workflow_execution_history(
                request, timeout=timedelta(seconds=wait) if wait > 0 else self._timeout
            )
        return HistoryPage(list(response.history.events), response.next_page_token)

    def decode(self, payloads: Any) -> Any:
        """The first value of a Payloads message, as plain JSON."""
        return self._client.data_converter.payload_converter.from_payloads(payloads.payloads)[0]

    @contextlib.contextmanager
    def _answering(self, workflow_id: str) -> Iterator[None]:
        """A registry workflow Temporal cannot reach or answer for is UNAVAILABLE to the
        caller; one it does not know is lost."""
        try:
            yield
        except (RPCError, RPCTimeoutOrCancelledError, WorkflowQueryFailedError) as error:
            if isinstance(error, RPCError) and error.status == RPCStatusCode.NOT_FOUND:
                self.lost.set()
                raise unavailable(
                    "REGISTRY_WORKFLOW_UNAVAILABLE",
                    f"registry workflow {workflow_id} does not exist in namespace "
                    f"{self._client.namespace} (did Temporal lose its state?); starting it again",
                ) from error
            cause = error.status.name if isinstance(error, RPCError) else type(error).__name__
            raise unreachable(workflow_id, cause) from error


def _run_info(workflow_id: str, description: Any) -> RunInfo:
    info = description.raw_description.workflow_execution_info
    return RunInfo(
        workflow_id=workflow_id,
        run_id=description.run_id,
        running=info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
        status=WorkflowExecutionStatus.Name(info.status),
        history_length=info.history_length,
        history_size_bytes=info.history_size_bytes,
        workflow_type=description.workflow_type,
    )


def closed(run: RunInfo) -> RegistryError:
    """UNAVAILABLE for a registry workflow whose current run is closed: it is never replaced
    by an empty one; this says how to bring the registry back."""
    return unavailable(
        "REGISTRY_WORKFLOW_CLOSED",
        f"registry workflow {run.workflow_id} is {run.status}; the registry will not replace it "
        "with an empty one. Bring it back: reset it (`temporal workflow reset --workflow-id "
        f"{run.workflow_id} --type LastWorkflowTask`), or export the registry (`temporal-registry "
        "export -o FILE` reads closed workflows from their history) and import it "
        "(`temporal-registry import --replace FILE`); see docs/operations.md, Backup and restore",
        workflow_id=run.workflow_id,
        run_id=run.run_id,
    )


def unreachable(workflow_id: str, cause: str) -> RegistryError:
    return unavailable(
        "REGISTRY_WORKFLOW_UNAVAILABLE",
        f"registry workflow {workflow_id} does not answer ({cause})",
    )


def _interrupted(cause: BaseException | None) -> bool:
    return isinstance(cause, ApplicationError) and cause.type in _INTERRUPTED_UPDATES


def _unprocessed(cause: BaseException | None) -> bool:
    """Whether Temporal rejected the update because no worker processed it (retry it)."""
    return isinstance(cause, ApplicationError) and cause.type == UNPROCESSED_UPDATE


def _refusal(cause: BaseException | None) -> RegistryError:
    """The RegistryError for an update the workflow's validator refused, or that Temporal
    failed on its own (UNAVAILABLE: a transient condition, never the caller's)."""
    if not isinstance(cause, ApplicationError):
        return RegistryError(
            grpc.StatusCode.INTERNAL, "REGISTRY_INTERNAL", "the registry workflow failed the write"
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
