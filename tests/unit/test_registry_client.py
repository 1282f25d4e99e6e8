"""How writes to the registry workflow answer Temporal's own update failures
(registry.registry_client): a transient rejection is retried with the same update id, and
nothing Temporal does on its own is ever answered INTERNAL."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from registry.catalog.temporal import UNPROCESSED_UPDATE, RegistryWorkflowClient
from registry.catalog.workflow import RegistryWorkflow
from registry.server.config import RegistrySettings
from registry.server.errors import RegistryError


def server_failure(kind: str, message: str) -> WorkflowUpdateFailedError:
    """An update outcome Temporal itself failed (source "Server"), as the SDK raises it."""
    return WorkflowUpdateFailedError(ApplicationError(message, type=kind, non_retryable=True))


class FakeHandle:
    """Answers execute_update from a script: an exception to raise, or a result."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.update_ids: list[str] = []

    async def execute_update(self, update: Any, arg: Any, *, id: str, rpc_timeout: Any) -> Any:
        self.update_ids.append(id)
        outcome = self.script.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class FakeClient:
    namespace = "default"

    def __init__(self, handle: FakeHandle) -> None:
        self.handle = handle

    def get_workflow_handle_for(self, run: Any, workflow_id: str) -> FakeHandle:
        return self.handle


def write(script: list[Any], timeout: float = 5.0) -> tuple[Any, FakeHandle]:
    handle = FakeHandle(script)
    settings = RegistrySettings(update_timeout_seconds=timeout)
    registry = RegistryWorkflowClient(FakeClient(handle), settings)  # type: ignore[arg-type]

    async def run() -> Any:
        return await registry.execute(RegistryWorkflow.register_worker, object())  # type: ignore[arg-type]

    try:
        return asyncio.run(run()), handle
    except RegistryError as error:
        return error, handle


UNPROCESSED = "Workflow Update is rejected because it wasn't processed by worker."


def test_an_update_no_worker_processed_is_sent_again_with_the_same_id() -> None:
    result, handle = write([server_failure(UNPROCESSED_UPDATE, UNPROCESSED)] * 2 + ["the change"])
    assert result == "the change"
    assert len(handle.update_ids) == 3
    assert len(set(handle.update_ids)) == 1


def test_an_update_never_processed_within_the_deadline_is_not_internal() -> None:
    error, _ = write([server_failure(UNPROCESSED_UPDATE, UNPROCESSED)] * 1000, timeout=0.3)
    assert isinstance(error, RegistryError)
    assert error.code == grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("AcceptedUpdateCompletedWorkflow", "REGISTRY_WRITE_INTERRUPTED"),
        ("SomethingTemporalAddsLater", "REGISTRY_WRITE_FAILED"),
    ],
)
def test_other_failures_temporal_gives_an_update_are_unavailable(kind: str, reason: str) -> None:
    error, handle = write([server_failure(kind, "the server said so")])
    assert isinstance(error, RegistryError)
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, reason)
    assert "the server said so" in error.message
    assert len(handle.update_ids) == 1  # may have been applied: never sent again


def test_a_refusal_of_the_registry_workflow_keeps_its_code() -> None:
    refusal = ApplicationError(
        "no such worker",
        {"reason": "WORKER_NOT_FOUND", "violations": []},
        type="NOT_FOUND",
        non_retryable=True,
    )
    error, _ = write([WorkflowUpdateFailedError(refusal)])
    assert isinstance(error, RegistryError)
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "WORKER_NOT_FOUND")
