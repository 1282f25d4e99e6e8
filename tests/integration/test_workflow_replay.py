"""The registry workflow stays deterministic: its real histories replay against the code.

Two sources of history:
- a live run: a registry of its own takes every kind of write (registrations, renewals,
  catalogue edits, readable ids, a hand-over) across continue-as-new, and every run of the
  chain is replayed with the workflow code as it is now;
- recorded histories in tests/fixtures/registry-histories/, written by an earlier version
  (set RECORD_REGISTRY_HISTORIES=1 to rewrite them from the live run). A change to
  registry/catalog/workflow.py that breaks them would break the registry workflow of a running
  deployment during a rolling upgrade: put new behaviour behind `workflow.patched`.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import grpc
import pytest
from temporal_registry.v1 import (
    dispatch_pb2,
    dispatch_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    resources_pb2,
)
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from integration.stack import WORKER_TOKEN, Registry, TemporalDevServer, authorized
from integration.test_registry_durability import own_registry_settings, register, running
from registry.catalog.workflow import RegistryWorkflow
from registry.search_attributes.workflow import ProvisionSearchAttributes

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "registry-histories"


def replay(histories: list[WorkflowHistory]) -> None:
    async def run() -> None:
        replayer = Replayer(workflows=[RegistryWorkflow, ProvisionSearchAttributes])
        for history in histories:
            await replayer.replay_workflow(history)  # raises on any nondeterminism

    asyncio.run(run())


def chain_histories(temporal: TemporalDevServer, workflow_id: str) -> list[WorkflowHistory]:
    """The history of every run of workflow_id, oldest first."""

    async def fetch() -> list[WorkflowHistory]:
        client = await Client.connect(temporal.address)
        runs = [
            execution async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'")
        ]
        runs.sort(key=lambda execution: execution.start_time)
        return [
            await client.get_workflow_handle(workflow_id, run_id=run.run_id).fetch_history()
            for run in runs
        ]

    return asyncio.run(fetch())


def test_a_live_chain_of_every_write_replays(workdir: Path, temporal: TemporalDevServer) -> None:
    # Heartbeats flushed every 0.5 s, so the chain holds a lease renewal too.
    settings = {
        **own_registry_settings(),
        "liveness": {"flush_interval_seconds": 0.5, "flush_margin_seconds": 0.5},
    }
    workflow_id = settings["registry"]["workflow_id"]
    registry = Registry(workdir, temporal.address, overrides=settings)
    with (
        running(registry) as stub,
        grpc.insecure_channel(registry.grpc_target) as channel,
    ):
        dispatch = dispatch_pb2_grpc.DispatchServiceStub(authorized(channel))
        as_worker = registry_pb2_grpc.RegistryServiceStub(authorized(channel, WORKER_TOKEN))
        for round_ in range(2):  # each round ends in a hand-over: a chain of three runs
            manual = f"replay.manual.{round_}"
            for n in range(3):
                worker = f"replay-worker-{round_}-{n}"
                register(stub, worker, f"replay.type.{round_}.{n}", queue="replay-q")
                stub.Heartbeat(registry_pb2.HeartbeatRequest(worker_id=worker))
            if round_ == 0:  # a 5 s lease, renewed by a flush about 4 s after it began
                short = registry_pb2.RegisterWorkerRequest(
                    worker_id="replay-short-lease",
                    task_queue="replay-q",
                    ttl_seconds=5,
                    workflows=[resources_pb2.Workflow(workflow_type="replay.short")],
                )
                stub.RegisterWorker(short)
                time.sleep(3)
                stub.Heartbeat(registry_pb2.HeartbeatRequest(worker_id="replay-short-lease"))
                time.sleep(2)
            workflow = resources_pb2.Workflow(
                workflow_type=manual, task_queue="manual", labels={"kind": "manual"}
            )
            stub.CreateWorkflow(registry_pb2.CreateWorkflowRequest(workflow=workflow))
            stub.DisableWorkflow(
                registry_pb2.DisableWorkflowRequest(workflow_type=manual, reason="replay test")
            )
            stub.EnableWorkflow(registry_pb2.EnableWorkflowRequest(workflow_type=manual))
            for _ in range(3):
                dispatch.ClaimWorkflowId(dispatch_pb2.ClaimWorkflowIdRequest(name="Replay Run"))
            dispatch.ResetWorkflowId(dispatch_pb2.ResetWorkflowIdRequest(name="Replay Run"))
            stub.DeleteWorkflow(registry_pb2.DeleteWorkflowRequest(workflow_type=manual))
            # Ownership: a worker principal's registration, an admin's release of its type.
            owned = f"replay.owned.{round_}"
            register(as_worker, f"replay-owned-{round_}", owned, queue="replay-q")
            released = resources_pb2.Workflow(workflow_type=owned, task_queue="replay-q", owner="")
            stub.ReplaceWorkflow(
                registry_pb2.ReplaceWorkflowRequest(workflow_type=owned, workflow=released)
            )
            as_worker.UnregisterWorker(
                registry_pb2.UnregisterWorkerRequest(worker_id=f"replay-owned-{round_}")
            )
            stub.UnregisterWorker(
                registry_pb2.UnregisterWorkerRequest(worker_id=f"replay-worker-{round_}-0")
            )
            stub.ShutdownRegistry(registry_pb2.ShutdownRegistryRequest(reason="replay test"))

    histories = chain_histories(temporal, workflow_id)
    assert len(histories) == 3
    replay(histories)
    if os.environ.get("RECORD_REGISTRY_HISTORIES"):
        FIXTURES.mkdir(parents=True, exist_ok=True)
        for old in FIXTURES.glob("*.json"):
            old.unlink()
        for index, history in enumerate(histories):
            (FIXTURES / f"run-{index}.json").write_text(history.to_json(), encoding="utf-8")


def test_recorded_histories_of_an_earlier_version_replay() -> None:
    recorded = sorted(FIXTURES.glob("*.json"))
    assert recorded, f"no recorded histories in {FIXTURES}"
    replay(
        [
            WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
            for path in recorded
        ]
    )
