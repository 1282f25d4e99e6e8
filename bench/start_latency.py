#!/usr/bin/env python3
"""Start latency: a workflow start through the registry against a direct Temporal start.

Starts a real stack (Temporal dev server, the registry, Envoy) and a real worker polling the
task queue, registers one workflow type with an input schema, then times, interleaved so both
see the same machine:

- direct:        temporalio `Client.start_workflow` (one StartWorkflowExecution);
- envoy HTTP:    POST /workflows/{type}/start through Envoy (HTTP/JSON, transcoded);
- envoy gRPC:    DispatchService.StartWorkflow over native gRPC through Envoy.

Every start has its own workflow id and validated input. It prints p50/p99 of each and the
ratio of each registry path to the direct start (target: within 1.3x).

    .venv/bin/python bench/start_latency.py [--starts 500]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from typing import Any

import aiohttp
import httpx
from benchlib import ADMIN_HEADERS, LatencySummary, Stack, aio_channel, running_stack
from integration.stack import start_echo_worker
from temporal_registry.v1 import dispatch_pb2, dispatch_pb2_grpc
from temporalio.client import Client

TASK_QUEUE = "bench-start-q"
WORKFLOW_TYPE = "bench.order.v1"
TARGET_RATIO = 1.3
SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "minLength": 1},
        "amount": {"type": "integer", "minimum": 1},
        "currency": {"enum": ["EUR", "USD"]},
    },
    "required": ["order_id", "amount"],
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=500, help="timed starts per path")
    parser.add_argument("--warmup", type=int, default=50, help="untimed starts per path first")
    return parser.parse_args(argv)


def order(i: int) -> dict[str, Any]:
    return {"order_id": f"o-{i}", "amount": i + 1, "currency": "EUR"}


async def measure(stack: Stack, starts: int, warmup: int) -> dict[str, LatencySummary]:
    client = await Client.connect(stack.temporal.address)
    timings: dict[str, list[float]] = {"direct": [], "envoy HTTP": [], "envoy gRPC": []}
    # aiohttp, not httpx: httpx's async client costs a few ms per request of its own.
    async with (
        aiohttp.ClientSession(stack.envoy.http_url, headers=ADMIN_HEADERS) as http,
        aio_channel(stack.envoy.grpc_target) as channel,
    ):
        stub = dispatch_pb2_grpc.DispatchServiceStub(channel)

        async def direct(i: int) -> None:
            await client.start_workflow(
                WORKFLOW_TYPE, order(i), id=f"direct-{uuid.uuid4().hex}", task_queue=TASK_QUEUE
            )

        async def via_http(i: int) -> None:
            async with http.post(
                f"/workflows/{WORKFLOW_TYPE}/start",
                json={"input": order(i), "workflow_id": f"http-{uuid.uuid4().hex}"},
            ) as response:
                response.raise_for_status()
                await response.read()

        async def via_grpc(i: int) -> None:
            request = dispatch_pb2.StartWorkflowRequest(
                workflow_type=WORKFLOW_TYPE, workflow_id=f"grpc-{uuid.uuid4().hex}"
            )
            request.input.struct_value.update(order(i))
            await stub.StartWorkflow(request, timeout=10)

        paths = {"direct": direct, "envoy HTTP": via_http, "envoy gRPC": via_grpc}
        for i in range(warmup):
            for call in paths.values():
                await call(i)
        for i in range(starts):
            for name, call in paths.items():  # interleaved: same conditions for every path
                began = time.perf_counter()
                await call(i)
                timings[name].append(time.perf_counter() - began)
    return {name: LatencySummary.of(values) for name, values in timings.items()}


def register(stack: Stack) -> None:
    body = {
        "worker_id": "bench-starter",
        "task_queue": TASK_QUEUE,
        "ttl_seconds": 3600,
        "workflows": [{"workflow_type": WORKFLOW_TYPE, "input_schema": SCHEMA}],
    }
    httpx.post(
        f"{stack.envoy.http_url}/registry/workers", json=body, timeout=10, headers=ADMIN_HEADERS
    ).raise_for_status()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with running_stack() as stack:
        worker = start_echo_worker(stack.workdir, stack.temporal.address, TASK_QUEUE)
        try:
            register(stack)
            results = asyncio.run(measure(stack, args.starts, args.warmup))
        finally:
            worker.stop()
    direct = results["direct"]
    print(f"\n{args.starts} starts per path, interleaved, serial")
    for name, summary in results.items():
        ratio = (
            ""
            if name == "direct"
            else (
                f"   ratio p50 {summary.p50_ms / direct.p50_ms:.2f}x  "
                f"p99 {summary.p99_ms / direct.p99_ms:.2f}x"
            )
        )
        print(f"  {name:<12} {summary.line()}{ratio}")
    http = results["envoy HTTP"]
    ratio = http.p50_ms / direct.p50_ms
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(
        f"\nstart_latency: direct p50 {direct.p50_ms:.2f} ms p99 {direct.p99_ms:.2f} ms, "
        f"via Envoy HTTP p50 {http.p50_ms:.2f} ms p99 {http.p99_ms:.2f} ms, "
        f"ratio p50 {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict}), "
        f"via Envoy gRPC p50 {results['envoy gRPC'].p50_ms:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
