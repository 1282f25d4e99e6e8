"""How writes to the registry workflow answer Temporal's own update failures
(registry.registry_client): a transient rejection is retried with the same update id, and
nothing Temporal does on its own is ever answered INTERNAL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import grpc
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from registry.catalog.temporal import UNPROCESSED_UPDATE, RegistryTemporal
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

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return self.handle


def write(script: list[Any]) -> tuple[Any, FakeHandle]:
    handle = FakeHandle(script)
    temporal = RegistryTemporal(FakeClient(handle), "q", timedelta(seconds=5))  # type: ignore[arg-type]

    async def run() -> Any:
        return await temporal.apply("registry/workers/00", {"ops": []}, "batch-1")

    try:
        return asyncio.run(run()), handle
    except RegistryError as error:
        return error, handle


UNPROCESSED = "Workflow Update is rejected because it wasn't processed by worker."


def test_an_update_no_worker_processed_is_sent_again_with_the_same_id() -> None:
    result, handle = write([server_failure(UNPROCESSED_UPDATE, UNPROCESSED)] * 2 + ["the change"])
    assert result == "the change"
    assert handle.update_ids == ["batch-1"] * 3


def test_an_update_a_run_accepted_then_handed_over_is_sent_again_with_the_same_id() -> None:
    """It may have been applied: the next run answers its first outcome (the engine remembers
    every applied operation's outcome across continue-as-new), so sending it again is safe."""
    interrupted = server_failure("AcceptedUpdateCompletedWorkflow", "the run closed")
    result, handle = write([interrupted, "the first outcome"])
    assert result == "the first outcome"
    assert handle.update_ids == ["batch-1"] * 2


def test_other_failures_temporal_gives_an_update_are_unavailable() -> None:
    error, handle = write([server_failure("SomethingTemporalAddsLater", "the server said so")])
    assert isinstance(error, RegistryError)
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "REGISTRY_WRITE_FAILED")
    assert "the server said so" in error.message
    assert len(handle.update_ids) == 1  # never sent again


def test_a_refusal_of_the_registry_workflow_keeps_its_code() -> None:
    refusal = ApplicationError(
        "a batch is 1-512 operations",
        {"reason": "INVALID_REQUEST", "violations": []},
        type="INVALID_ARGUMENT",
        non_retryable=True,
    )
    error, _ = write([WorkflowUpdateFailedError(refusal)])
    assert isinstance(error, RegistryError)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
