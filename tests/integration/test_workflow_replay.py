"""The registry's workflows replay, and replaying them decides what they decided.

Replaying a history with the current code must not only issue the same commands (Temporal's
nondeterminism check) but give every update the outcome recorded in history: a rule changed
without a `workflow.patched` gate would otherwise re-decide acknowledged writes differently
(a tightened label limit silently dropping registrations on the next replay, made permanent by
the next continue-as-new). `replay` does both: it replays with Temporal's Replayer and an
interceptor that catches each update handler's result, and compares it with the outcome the
history's UpdateCompleted event holds.

Two sources of history:
- a live chain: a registry of its own takes every kind of write (registrations, renewals,
  catalogue edits, readable ids, ownership, hand-overs) across continue-as-new;
- recorded histories in tests/fixtures/registry-histories/v3/, written by this version (set
  RECORD_REGISTRY_HISTORIES=1 to rewrite them from the live chain). A change that breaks them
  would break a running deployment during a rolling upgrade.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from temporal_registry.v1 import (
    dispatch_pb2,
    dispatch_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    resources_pb2,
)
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import (
    HandleUpdateInput,
    Interceptor,
    Replayer,
    UnsandboxedWorkflowRunner,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from integration.stack import WORKER_TOKEN, Registry, TemporalDevServer, authorized
from integration.test_registry_durability import own_registry_settings, register, running
from registry.catalog import workflow as registry_workflows
from registry.catalog.engine import Refusal
from registry.catalog.workflow import RegistryRoot, RegistryShard

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "registry-histories" / "v3"
CONVERTER = DataConverter.default.payload_converter
SMALL_LAYOUT = {"types": 2, "workers": 2, "ids": 1}

_caught: dict[str, Any] = {}  # update id -> the result its handler returned on replay


class _CatchUpdateResults(Interceptor):
    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        class Catch(WorkflowInboundInterceptor):
            async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
                result = await self.next.handle_update_handler(input)
                _caught[input.id] = json.loads(json.dumps(result))  # as it was then
                return result

        return Catch


def recorded_outcomes(history: WorkflowHistory) -> dict[str, Any]:
    """update id -> the successful result its UpdateCompleted event records."""
    outcomes = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            attributes = event.workflow_execution_update_completed_event_attributes
            if attributes.outcome.HasField("success"):
                value = CONVERTER.from_payloads(attributes.outcome.success.payloads)[0]
                outcomes[attributes.meta.update_id] = value
    return outcomes


def replay(histories: list[WorkflowHistory]) -> list[str]:
    """Replay every history (raising on nondeterminism); the updates whose replayed outcome
    differs from the recorded one."""

    async def run() -> list[str]:
        replayer = Replayer(
            workflows=[RegistryRoot, RegistryShard],
            interceptors=[_CatchUpdateResults()],
            workflow_runner=UnsandboxedWorkflowRunner(),
        )
        differ = []
        for history in histories:
            _caught.clear()
            await replayer.replay_workflow(history)
            for update_id, recorded in recorded_outcomes(history).items():
                if _caught.get(update_id) != recorded:
                    differ.append(f"{history.workflow_id} update {update_id}")
        return differ

    return asyncio.run(run())


def chain_histories(temporal: TemporalDevServer, prefix: str) -> list[WorkflowHistory]:
    """The history of every run of every registry workflow whose id starts with prefix."""

    async def fetch() -> list[WorkflowHistory]:
        client = await Client.connect(temporal.address)
        runs = [
            execution
            async for execution in client.list_workflows(f"WorkflowId STARTS_WITH '{prefix}/'")
        ]
        runs.sort(key=lambda execution: (execution.id, execution.start_time))
        return [
            await client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
            for run in runs
        ]

    return asyncio.run(fetch())


def every_write(workdir: Path, temporal: TemporalDevServer) -> list[WorkflowHistory]:
    """A registry of its own (a small layout), every kind of write, two hand-overs."""
    # Heartbeats flushed every 0.5 s, so the chain holds lease renewals too.
    settings = {
        **own_registry_settings(shards=SMALL_LAYOUT),
        "liveness": {"flush_interval_seconds": 0.5, "flush_margin_seconds": 0.5},
    }
    prefix = settings["registry"]["workflow_id"]
    registry = Registry(workdir, temporal.address, overrides=settings)
    with (
        running(registry) as stub,
        grpc.insecure_channel(registry.grpc_target) as channel,
    ):
        dispatch = dispatch_pb2_grpc.DispatchServiceStub(authorized(channel))
        as_worker = registry_pb2_grpc.RegistryServiceStub(authorized(channel, WORKER_TOKEN))
        for round_ in range(2):  # each round ends in a hand-over: chains of three runs
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
                    labels={"a": "1", "b": "2", "c": "3"},
                    workflows=[resources_pb2.Workflow(workflow_type="replay.short")],
                )
                stub.RegisterWorker(short)
                time.sleep(3)
                stub.Heartbeat(registry_pb2.HeartbeatRequest(worker_id="replay-short-lease"))
                time.sleep(2)
            workflow = resources_pb2.Workflow(
                workflow_type=manual, task_queue="manual", labels={"kind": "manual"}
            )
            workflow.input_schema.update({"type": "object", "required": ["order_id"]})
            stub.CreateWorkflow(registry_pb2.CreateWorkflowRequest(workflow=workflow))
            stub.DisableWorkflow(
                registry_pb2.DisableWorkflowRequest(workflow_type=manual, reason="replay test")
            )
            stub.EnableWorkflow(registry_pb2.EnableWorkflowRequest(workflow_type=manual))
            for n in range(3):
                dispatch.ClaimWorkflowId(
                    dispatch_pb2.ClaimWorkflowIdRequest(name="Replay Run", request_id=f"r{n}")
                )
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
    return chain_histories(temporal, prefix)


@pytest.fixture(scope="module")
def live_chain(workdir: Path, temporal: TemporalDevServer) -> list[WorkflowHistory]:
    return every_write(workdir, temporal)


def test_a_live_chain_of_every_write_replays_to_the_same_outcomes(
    live_chain: list[WorkflowHistory],
) -> None:
    shards = {h.workflow_id for h in live_chain if not h.workflow_id.endswith("/root")}
    assert len(shards) == sum(SMALL_LAYOUT.values())
    assert len(live_chain) >= 3 * (len(shards) + 1)  # every workflow handed over twice
    assert sum(len(recorded_outcomes(h)) for h in live_chain) > 20
    assert replay(live_chain) == []
    if os.environ.get("RECORD_REGISTRY_HISTORIES"):
        FIXTURES.mkdir(parents=True, exist_ok=True)
        for old in FIXTURES.glob("*.json"):
            old.unlink()
        for index, history in enumerate(live_chain):
            name = history.workflow_id.split("/", 1)[1].replace("/", "-")
            (FIXTURES / f"{index:02d}-{name}.json").write_text(history.to_json(), "utf-8")


@contextmanager
def rule(kind: str, tightened: Callable[..., Any]) -> Iterator[None]:
    """The shards of `kind` decide with `tightened` wrapped around their rules."""
    original = registry_workflows._DECIDE[kind]
    registry_workflows._DECIDE[kind] = tightened(original)
    try:
        yield
    finally:
        registry_workflows._DECIDE[kind] = original


def refuse_three_labels(gate: str | None) -> Callable[..., Any]:
    """A rule tightened to refuse workers with three labels or more (the chain has one);
    with a gate, only in runs that have the patch marker (new runs), as a real change must."""

    def wrap(decide: Callable[..., Any]) -> Callable[..., Any]:
        def tightened(op: Any, view: Any, now: float) -> Any:
            labels = op.get("worker", {}).get("labels", {}) if isinstance(op, dict) else {}
            if len(labels) >= 3 and (gate is None or view.patched(gate)):
                return Refusal("INVALID_ARGUMENT", "TOO_MANY_LABELS", "at most 2 labels")
            return decide(op, view, now)

        return tightened

    return wrap


def test_a_rule_tightened_without_a_gate_is_caught_and_with_one_replays(
    live_chain: list[WorkflowHistory],
) -> None:
    with rule("workers", refuse_three_labels(gate=None)):
        differ = replay(live_chain)
    assert differ, "replaying with a changed rule must show the changed outcome"
    assert all("/workers/" in item for item in differ)
    with rule("workers", refuse_three_labels(gate="three-labels-refused")):
        assert replay(live_chain) == []


def test_recorded_histories_replay_to_their_outcomes() -> None:
    recorded = sorted(FIXTURES.glob("*.json"))
    assert recorded, f"no recorded histories in {FIXTURES}"
    histories = [
        WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8")) for path in recorded
    ]
    assert replay(histories) == []
