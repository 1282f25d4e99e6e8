#!/usr/bin/env python3
"""Scale capacity: a fleet-sized registry on one namespace, on this machine.

Starts a real stack (Temporal dev server, the registry, Envoy; default configuration: the
default shard layout and bound) and, through the registry's own gRPC port:

0. measures the ceiling the writes sit on: plain Temporal updates to as many workflows as the
   registry has worker shards, --in-flight at a time, on the same server (one update each);
1. registers --workers workers (3 workflow types each, over --queues task queues) declaring
   --types workflow types with --schema-bytes input schemas, --in-flight at a time, and
   reports registrations/s (overall and the slowest 10 s window) and every refusal;
2. measures, with Temporal's real payload converter, the largest state of any registry
   workflow (every shard's snapshot and the root's);
3. hands the largest shard over and reads, from its new run's history, how long the first
   workflow task took (the new run decoding its state: target under 200 ms);
4. times reads at that size: GetWorkflow, ListWorkflows (a page of 100, BASIC and FULL) and
   ListWorkers (a page of 100), p50/p99;
5. under write load (re-registrations, --load-in-flight at a time), hands every registry
   workflow over --handovers times (POST /registry/shutdown and direct hand_overs of the
   busiest shards, alternately) and reports the longest gap between acknowledged writes
   (target under 1 s) and failed writes (target 0).

    .venv/bin/python bench/scale_capacity.py            # the issue's size (a few minutes)
    .venv/bin/python bench/scale_capacity.py --workers 5000 --types 500   # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import time
import uuid
from typing import Any

import grpc
from benchlib import LatencySummary, Stack, aio_channel, running_stack
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, resources_pb2
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

TARGET_RATE = 500.0
TARGET_ACTIVATION_MS = 200.0
TARGET_GAP_SECONDS = 1.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=50_000)
    parser.add_argument("--types", type=int, default=5_000)
    parser.add_argument("--queues", type=int, default=200)
    parser.add_argument("--schema-bytes", type=int, default=2048)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--handovers", type=int, default=20)
    parser.add_argument("--load-in-flight", type=int, default=16)
    parser.add_argument("--reads", type=int, default=200)
    return parser.parse_args(argv)


def schema(index: int, size: int) -> dict[str, Any]:
    """A distinct input schema of about `size` bytes as JSON."""
    properties: dict[str, Any] = {"order_id": {"type": "string", "minLength": 1}}
    n = 0
    while len(json.dumps(properties)) < size - 120:
        properties[f"field_{index}_{n}"] = {"type": "string", "maxLength": 64 + n}
        n += 1
    return {"type": "object", "properties": properties, "required": ["order_id"]}


def registration(i: int, args: argparse.Namespace, schemas: list[dict[str, Any]]) -> Any:
    types = [(3 * i + k) % args.types for k in range(3)]
    request = registry_pb2.RegisterWorkerRequest(
        worker_id=f"worker-{i:06d}",
        task_queue=f"queue-{i % args.queues:03d}",
        ttl_seconds=86_400,  # no heartbeats here: leases outlive the bench
        labels={"zone": f"z{i % 3}"},
        workflows=[
            resources_pb2.Workflow(workflow_type=f"type-{t:05d}.v1", description=f"type {t}")
            for t in types
        ],
    )
    for message, t in zip(request.workflows, types, strict=True):
        message.input_schema.update(schemas[t])
    return request


@workflow.defn(sandboxed=False)
class DirectUpdates:
    """The baseline: a workflow whose update does nothing but count."""

    def __init__(self) -> None:
        self.count = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def apply(self, op: dict[str, Any]) -> int:
        self.count += 1
        return self.count


async def direct_update_rate(
    client: Client, workflows: int, in_flight: int, seconds: float = 15.0
) -> tuple[float, LatencySummary]:
    """Plain Temporal updates on the same server, as many workflows and in flight as the
    registrations: the per-update ceiling a registry write sits on (one update each)."""
    queue = f"direct-updates-{uuid.uuid4().hex[:8]}"
    latencies: list[float] = []
    async with Worker(
        client,
        task_queue=queue,
        workflows=[DirectUpdates],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handles = [
            await client.start_workflow(DirectUpdates.run, id=f"{queue}-{n}", task_queue=queue)
            for n in range(workflows)
        ]
        stop = time.monotonic() + seconds

        async def caller(n: int) -> None:
            while time.monotonic() < stop:
                began = time.perf_counter()
                await handles[n % workflows].execute_update(DirectUpdates.apply, {"n": n})
                latencies.append(time.perf_counter() - began)
                n += in_flight

        started = time.monotonic()
        await asyncio.gather(*(caller(n) for n in range(in_flight)))
        elapsed = time.monotonic() - started
        for handle in handles:
            await handle.terminate("scale bench: baseline done")
    return len(latencies) / elapsed, LatencySummary.of(latencies)


async def register_all(
    stub: Any, args: argparse.Namespace, schemas: list[dict[str, Any]]
) -> dict[str, Any]:
    done: list[float] = []
    refused: dict[str, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(args.workers):
        queue.put_nowait(i)
    started = time.monotonic()

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            try:
                await stub.RegisterWorker(registration(i, args, schemas), timeout=120)
                done.append(time.monotonic())
            except grpc.aio.AioRpcError as error:
                key = f"{error.code().name}: {error.details()[:120]}"
                refused[key] = refused.get(key, 0) + 1

    async def progress() -> None:
        while True:
            await asyncio.sleep(10)
            rate = len(done) / (time.monotonic() - started)
            print(f"  {len(done)} registered, {rate:.0f}/s", flush=True)

    ticker = asyncio.create_task(progress())
    await asyncio.gather(*(worker() for _ in range(args.in_flight)))
    ticker.cancel()
    elapsed = time.monotonic() - started
    windows = [
        sum(1 for t in done if started + w <= t < started + w + 10) / 10
        for w in range(0, max(int(elapsed) - 10, 1), 10)
    ]
    return {
        "registered": len(done),
        "seconds": elapsed,
        "rate": len(done) / elapsed,
        "slowest_window_rate": min(windows) if windows else len(done) / elapsed,
        "refused": refused,
    }


async def largest_state(client: Client, status: Any) -> tuple[str, int]:
    """The largest registry workflow state, measured with the real payload converter."""
    converter = client.data_converter.payload_converter
    largest = ("", 0)
    for shard in status.shards:
        state = await client.get_workflow_handle(shard.workflow_id).query("snapshot", -1)
        size = converter.to_payloads([state])[0].ByteSize()
        largest = max(largest, (shard.workflow_id, size), key=lambda pair: pair[1])
    root = await client.get_workflow_handle(status.registry_workflow_id).query("describe")
    size = converter.to_payloads([root])[0].ByteSize()
    return max(largest, (status.registry_workflow_id, size), key=lambda pair: pair[1])


async def first_activation_ms(client: Client, workflow_id: str) -> float:
    """Hand the workflow over, then read how long its new run's first workflow task took."""
    handle = client.get_workflow_handle(workflow_id)
    previous = await handle.execute_update("hand_over", "scale bench: first activation")
    for _ in range(200):
        described = await handle.describe()
        if described.run_id != previous and described.status is not None:
            break
        await asyncio.sleep(0.05)
    started = completed = None
    for _ in range(200):
        events = [e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()]
        for event in events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED and started is None:
                started = event.event_time.ToDatetime()
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                completed = event.event_time.ToDatetime()
                break
        if started and completed:
            return (completed - started).total_seconds() * 1000
        await asyncio.sleep(0.05)
    raise RuntimeError(f"no first workflow task completed in {workflow_id}'s new run")


async def read_latencies(stub: Any, args: argparse.Namespace) -> dict[str, LatencySummary]:
    rng = random.Random(1)
    out: dict[str, list[float]] = {"get": [], "list BASIC": [], "list FULL": [], "workers": []}
    calls = {
        "get": lambda: stub.GetWorkflow(
            registry_pb2.GetWorkflowRequest(
                workflow_type=f"type-{rng.randrange(args.types):05d}.v1"
            )
        ),
        "list BASIC": lambda: stub.ListWorkflows(
            registry_pb2.ListWorkflowsRequest(page_size=100, view=registry_pb2.WORKFLOW_VIEW_BASIC)
        ),
        "list FULL": lambda: stub.ListWorkflows(registry_pb2.ListWorkflowsRequest(page_size=100)),
        "workers": lambda: stub.ListWorkers(registry_pb2.ListWorkersRequest(page_size=100)),
    }
    for _ in range(args.reads):
        for name, call in calls.items():
            began = time.perf_counter()
            await call()
            out[name].append(time.perf_counter() - began)
    return {name: LatencySummary.of(values) for name, values in out.items()}


async def handovers_under_load(
    stack: Stack, client: Client, stub: Any, args: argparse.Namespace, schemas: list[dict[str, Any]]
) -> dict[str, Any]:
    acks: list[float] = []
    failures: list[str] = []
    stop = asyncio.Event()

    async def writer(n: int) -> None:
        rng = random.Random(n)
        while not stop.is_set():
            try:
                await stub.RegisterWorker(
                    registration(rng.randrange(args.workers), args, schemas), timeout=60
                )
                acks.append(time.monotonic())
            except grpc.aio.AioRpcError as error:
                failures.append(f"{error.code().name}: {error.details()[:120]}")

    status = await stub.GetRegistryStatus(registry_pb2.GetRegistryStatusRequest())
    busiest = [s.workflow_id for s in sorted(status.shards, key=lambda s: -s.revision)][:4]
    writers = [asyncio.create_task(writer(n)) for n in range(args.load_in_flight)]
    await asyncio.sleep(3)
    began = time.monotonic()
    for n in range(args.handovers):
        if n % 2 == 0:
            await stub.ShutdownRegistry(
                registry_pb2.ShutdownRegistryRequest(reason=f"scale bench {n}"), timeout=120
            )
        else:
            await asyncio.gather(
                *(
                    client.get_workflow_handle(wid).execute_update(
                        "hand_over", f"scale bench {n}", id=str(uuid.uuid4())
                    )
                    for wid in busiest
                )
            )
        await asyncio.sleep(1)
    ended = time.monotonic()
    await asyncio.sleep(2)
    stop.set()
    await asyncio.gather(*writers)
    during = sorted(t for t in acks if began - 1 <= t <= ended + 1)
    gaps = [b - a for a, b in itertools.pairwise(during)]
    return {
        "writes": len(during),
        "longest_gap": max(gaps, default=float("inf")),
        "failed": failures,
    }


async def measure(stack: Stack, args: argparse.Namespace) -> None:
    schemas = [schema(t, args.schema_bytes) for t in range(args.types)]
    client = await Client.connect(stack.temporal.address)
    async with aio_channel(stack.registry.grpc_target) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        status = await stub.GetRegistryStatus(registry_pb2.GetRegistryStatusRequest())
        worker_shards = sum(1 for s in status.shards if "/workers/" in s.workflow_id)
        direct_rate, direct_latency = await direct_update_rate(
            client, worker_shards, args.in_flight
        )
        print(
            f"direct Temporal updates ({worker_shards} workflows, {args.in_flight} in flight): "
            f"{direct_rate:.0f}/s, {direct_latency.line()}",
            flush=True,
        )
        print(f"registering {args.workers} workers ({args.types} types, {args.queues} queues)")
        registered = await register_all(stub, args, schemas)
        status = await stub.GetRegistryStatus(registry_pb2.GetRegistryStatusRequest())
        largest_id, largest_bytes = await largest_state(client, status)
        activation = await first_activation_ms(client, largest_id)
        reads = await read_latencies(stub, args)
        handover = await handovers_under_load(stack, client, stub, args, schemas)

    rate = registered["rate"]
    print()
    print(
        f"registrations: {registered['registered']} in {registered['seconds']:.0f} s, "
        f"{rate:.0f}/s (slowest 10 s window {registered['slowest_window_rate']:.0f}/s; "
        f"target {TARGET_RATE:.0f}/s: {'met' if rate >= TARGET_RATE else 'MISSED'}; "
        f"{rate / direct_rate:.2f}x the direct update rate {direct_rate:.0f}/s), "
        f"refused: {registered['refused'] or 'none'}"
    )
    print(
        f"state: {status.workflow_count} types, {status.worker_count} workers in "
        f"{len(status.shards)} shards; largest payload {largest_bytes} bytes ({largest_id}); "
        f"bound {status.shard_max_bytes}"
    )
    print(
        f"first activation of a new run of {largest_id}: {activation:.0f} ms "
        f"(target < {TARGET_ACTIVATION_MS:.0f} ms: "
        f"{'met' if activation < TARGET_ACTIVATION_MS else 'MISSED'})"
    )
    for name, summary in reads.items():
        print(f"read {name}: {summary.line()}")
    gap, failed = handover["longest_gap"], handover["failed"]
    print(
        f"{args.handovers} handovers under write load: {handover['writes']} writes, longest gap "
        f"{gap:.2f} s (target < {TARGET_GAP_SECONDS:.0f} s: "
        f"{'met' if gap < TARGET_GAP_SECONDS else 'MISSED'}), failed writes "
        f"{len(failed)}{': ' + str(failed[:3]) if failed else ''}"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with running_stack() as stack:
        asyncio.run(measure(stack, args))


if __name__ == "__main__":
    main()
