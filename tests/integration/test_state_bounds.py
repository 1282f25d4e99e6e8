"""No registry workflow can be wedged by its size: a shard driven to its bound with the most
extreme values the configuration allows refuses the write that would pass it (RESOURCE_EXHAUSTED
SHARD_FULL, naming the shard) and still hands over, answers its snapshot query, renews leases
and takes deletes and new writes once there is room; its run input and query result stay
under the bound, measured with Temporal's real payload converter (far below Temporal's 2 MiB)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from temporal_registry.v1 import registry_pb2, resources_pb2
from temporalio.client import Client

from integration.stack import Registry, TemporalDevServer
from integration.test_registry_durability import own_registry_settings, running
from registry.shared.specs import (
    MAX_IDENTIFIER_LENGTH,
    MAX_LABEL_KEY_LENGTH,
    MAX_LABEL_VALUE_LENGTH,
    MAX_LABELS,
    MAX_SHARD_BYTES,
    MIN_SHARD_BYTES,
)

pytestmark = pytest.mark.integration

TWO_MIB = 2 * 1024 * 1024


def largest_registration(n: int) -> registry_pb2.RegisterWorkerRequest:
    """A registration at every limit that makes a worker entry large: the longest id and
    queue, the most labels with the longest keys and values, all non-ASCII (six bytes each
    once JSON escapes them)."""
    labels = {
        f"{n:03d}{i:02d}" + "k" * (MAX_LABEL_KEY_LENGTH - 5): "é" * MAX_LABEL_VALUE_LENGTH
        for i in range(MAX_LABELS)
    }
    worker_id = f"{n:04d}-" + "w" * (MAX_IDENTIFIER_LENGTH - 5)
    return registry_pb2.RegisterWorkerRequest(
        worker_id=worker_id,
        task_queue="q" * MAX_IDENTIFIER_LENGTH,
        ttl_seconds=3600,
        labels=labels,
        workflows=[resources_pb2.Workflow(workflow_type="bounded.v1")],
    )


def shard_payloads(temporal: TemporalDevServer, workflow_id: str) -> tuple[int, int, str]:
    """The shard's run input and its snapshot query's answer, in payload bytes; its run id."""

    async def measure() -> tuple[int, int, str]:
        client = await Client.connect(temporal.address)
        handle = client.get_workflow_handle(workflow_id)
        converter = client.data_converter.payload_converter
        snapshot = await handle.query("snapshot", -1)
        history = await handle.fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        run = (await handle.describe()).run_id
        answer = converter.to_payloads([snapshot])[0].ByteSize()
        return answer, started.input.payloads[0].ByteSize(), run

    return asyncio.run(measure())


@pytest.mark.parametrize(
    "bound", [MIN_SHARD_BYTES, MAX_SHARD_BYTES]
)  # registry.shard_max_bytes' range
def test_a_shard_at_its_bound_refuses_growth_and_keeps_working(
    workdir: Path, temporal: TemporalDevServer, bound: int
) -> None:
    overrides = own_registry_settings(
        shard_max_bytes=bound, shards={"types": 1, "workers": 1, "ids": 1}
    )
    overrides["liveness"] = {"flush_interval_seconds": 0.5, "flush_margin_seconds": 0.5}
    shard = f"{overrides['registry']['workflow_id']}/workers/00"
    with running(Registry(workdir, temporal.address, overrides=overrides)) as stub:
        stored: list[str] = []
        refusal = None
        for n in range(100):
            request = largest_registration(n)
            try:
                stub.RegisterWorker(request, timeout=60)
            except grpc.RpcError as error:
                refusal = error
                break
            stored.append(request.worker_id)
        assert refusal is not None, "the shard never filled"
        assert refusal.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
        status = rpc_status.from_call(refusal)  # type: ignore[arg-type]
        info = error_details_pb2.ErrorInfo()
        assert status is not None and status.details[0].Unpack(info)
        assert info.reason == "SHARD_FULL"
        assert shard in refusal.details()  # type: ignore[attr-defined]
        assert stored, "not even one worker fit"

        snapshot_bytes, input_bytes, run = shard_payloads(temporal, shard)
        assert snapshot_bytes <= bound and input_bytes <= bound < TWO_MIB

        # Full, it still renews leases...
        for worker_id in stored:
            stub.Heartbeat(registry_pb2.HeartbeatRequest(worker_id=worker_id), timeout=10)
        # ...hands over (the next run's input is the whole state)...
        stub.ShutdownRegistry(registry_pb2.ShutdownRegistryRequest(reason="full"), timeout=60)
        snapshot_bytes, input_bytes, next_run = shard_payloads(temporal, shard)
        assert next_run != run
        assert snapshot_bytes <= bound and input_bytes <= bound
        # ...keeps every worker, takes a delete, and a write again once there is room.
        listed = stub.ListWorkers(registry_pb2.ListWorkersRequest(page_size=1000), timeout=10)
        assert {w.worker_id for w in listed.workers} == set(stored)
        stub.UnregisterWorker(registry_pb2.UnregisterWorkerRequest(worker_id=stored[0]))
        stub.RegisterWorker(largest_registration(99), timeout=60)
        assert shard_payloads(temporal, shard)[0] <= bound
