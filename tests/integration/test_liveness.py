"""Liveness end to end: heartbeats cost no history event each (they are flushed as coalesced
lease renewals), lapsed workers are expired after the grace period, a mass lapse triggers
self-preservation instead, and workflow health follows Temporal's own pollers."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, resources_pb2
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from integration.stack import Registry, TemporalDevServer, wait_until
from integration.test_registry_durability import own_registry_settings, running
from registry.catalog.layout import WORKERS, Layout

pytestmark = pytest.mark.integration

FAST_LIVENESS = {
    "flush_interval_seconds": 0.5,
    "flush_margin_seconds": 0.5,
    "poller_refresh_seconds": 0.5,
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def fast(
    workdir: Path, temporal: TemporalDevServer
) -> Iterator[tuple[registry_pb2_grpc.RegistryServiceStub, str]]:
    """A registry with its own registry workflow and fast liveness loops."""
    overrides = {**own_registry_settings(), "liveness": FAST_LIVENESS}
    with running(Registry(workdir, temporal.address, overrides=overrides)) as stub:
        yield stub, overrides["registry"]["workflow_id"]


def register(
    stub: registry_pb2_grpc.RegistryServiceStub, worker_id: str, workflow_type: str, **kw: Any
) -> None:
    stub.RegisterWorker(
        registry_pb2.RegisterWorkerRequest(
            worker_id=worker_id,
            workflows=[resources_pb2.Workflow(workflow_type=workflow_type)],
            **{"task_queue": "liveness-q", "ttl_seconds": 5, **kw},
        ),
        timeout=10,
    )


def get_worker(stub: registry_pb2_grpc.RegistryServiceStub, worker_id: str) -> resources_pb2.Worker:
    worker: resources_pb2.Worker = stub.GetWorker(
        registry_pb2.GetWorkerRequest(worker_id=worker_id), timeout=10
    )
    return worker


def is_gone(stub: registry_pb2_grpc.RegistryServiceStub, worker_id: str) -> bool:
    try:
        get_worker(stub, worker_id)
    except grpc.RpcError as error:
        return error.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined,no-any-return]
    return False


async def stored_lease_and_history(
    temporal: TemporalDevServer, workflow_id: str, worker_id: str
) -> tuple[float, int]:
    """The lease the worker's shard itself holds, and the shard's history length (one run)."""
    client = await Client.connect(temporal.address)
    layout = Layout(workflow_id)
    shard = layout.shard_id(WORKERS, layout.shard_of(WORKERS, worker_id))
    handle = client.get_workflow_handle(shard)
    snapshot = await handle.query("snapshot", -1)
    description = await handle.describe()
    lease = json.loads(snapshot["entries"][worker_id])["expires"]
    return lease, description.raw_description.workflow_execution_info.history_length


def test_heartbeats_are_flushed_as_a_few_coalesced_renewals(
    fast: tuple[registry_pb2_grpc.RegistryServiceStub, str], temporal: TemporalDevServer
) -> None:
    stub, workflow_id = fast
    worker = unique("steady")
    register(stub, worker, unique("steady-type"))
    registered_lease, history_before = asyncio.run(
        stored_lease_and_history(temporal, workflow_id, worker)
    )

    heartbeats = 0
    deadline = time.monotonic() + 8  # longer than the 5 s TTL
    while time.monotonic() < deadline:
        stub.Heartbeat(registry_pb2.HeartbeatRequest(worker_id=worker), timeout=10)
        heartbeats += 1
        assert get_worker(stub, worker).healthy
        time.sleep(0.1)
    last_heartbeat = time.time()

    stored_lease, history_after = asyncio.run(
        stored_lease_and_history(temporal, workflow_id, worker)
    )
    # The registry workflow holds a renewed lease, so the worker outlived its first lease...
    assert stored_lease > registered_lease
    assert stored_lease > last_heartbeat - 1
    # ...at a cost of a few renewals (about one per TTL - flush - margin), not one per beat.
    assert heartbeats >= 40
    renewals = (history_after - history_before) / 5  # about 5 events per update
    assert renewals <= 4, (heartbeats, history_after - history_before)


def test_a_silent_worker_is_expired_after_its_grace_period(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    overrides = {
        **own_registry_settings(),
        "liveness": {**FAST_LIVENESS, "expiry_grace_factor": 0.4},
    }
    with running(Registry(workdir, temporal.address, overrides=overrides)) as stub:
        time.sleep(5)  # a fresh process gives workers one TTL to heartbeat before expiring any
        silent = unique("silent")
        register(stub, silent, unique("silent-type"))
        registered = time.time()
        wait_until(lambda: not get_worker(stub, silent).healthy, 8, "lease lapses")
        assert time.time() - registered >= 4.5
        # Lapsed but within the grace period (0.4 x 5 s): still listed, as unhealthy.
        assert not is_gone(stub, silent)
        wait_until(lambda: is_gone(stub, silent), 8, "expired")
        assert time.time() - registered >= 5 + 2
        with pytest.raises(grpc.RpcError) as raised:
            stub.Heartbeat(registry_pb2.HeartbeatRequest(worker_id=silent), timeout=10)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]


def test_a_mass_lapse_triggers_self_preservation_instead_of_expiry(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    overrides = {
        **own_registry_settings(),
        "liveness": {**FAST_LIVENESS, "expiry_grace_factor": 0.2},
    }
    with running(Registry(workdir, temporal.address, overrides=overrides)) as stub:
        time.sleep(5)  # past the fresh-process warm-up
        alive, *silent = [unique("fleet") for _ in range(4)]
        for worker in (alive, *silent):
            register(stub, worker, "fleet-type")
        deadline = time.monotonic() + 9  # past TTL + grace for the silent three
        while time.monotonic() < deadline:
            stub.Heartbeat(registry_pb2.HeartbeatRequest(worker_id=alive), timeout=10)
            time.sleep(0.5)
        status = stub.GetRegistryStatus(registry_pb2.GetRegistryStatusRequest(), timeout=10)
        assert status.self_preservation
        assert "self-preservation" in status.liveness
        assert "3 of 4 workers" in status.liveness
        assert not any(is_gone(stub, worker) for worker in silent)
        assert [get_worker(stub, w).healthy for w in (alive, *silent)] == [
            True,
            False,
            False,
            False,
        ]


@workflow.defn(name="LivenessProbe")
class LivenessProbe:
    @workflow.run
    async def run(self) -> None:
        return None


def test_health_follows_temporal_pollers(
    fast: tuple[registry_pb2_grpc.RegistryServiceStub, str], temporal: TemporalDevServer
) -> None:
    """Healthy = a registered worker with a valid lease AND a recently active poller on
    its task queue, as Temporal's DescribeTaskQueue reports it."""
    stub, _ = fast
    polled_queue, idle_queue = unique("polled"), unique("idle")
    polled_type, idle_type = unique("polled-type"), unique("idle-type")

    def health(workflow_type: str) -> tuple[bool, list[str]]:
        found = stub.GetWorkflow(registry_pb2.GetWorkflowRequest(workflow_type=workflow_type))
        return found.healthy, list(found.health_reasons)

    async def scenario() -> None:
        client = await Client.connect(temporal.address)
        # Unsandboxed: the sandbox would re-import this whole test module.
        probe_worker = Worker(
            client,
            task_queue=polled_queue,
            workflows=[LivenessProbe],
            workflow_runner=UnsandboxedWorkflowRunner(),
        )
        async with probe_worker:
            register(stub, unique("poller"), polled_type, task_queue=polled_queue, ttl_seconds=60)
            register(stub, unique("idle"), idle_type, task_queue=idle_queue, ttl_seconds=60)
            await asyncio.to_thread(
                wait_until, lambda: health(polled_type)[0], 10, "polled type healthy"
            )
            assert health(polled_type) == (True, ["registered", "1 active poller"])
            assert health(idle_type) == (False, ["registered", "no pollers"])

    asyncio.run(scenario())
