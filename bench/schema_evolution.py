#!/usr/bin/env python3
"""Schema evolution: what versions cost a start, and what a compatibility check costs.

In process (no stack), with the 2 KB order schema and 4 KB input of bench/validation.py:

- validation of a start's input against the schemas live workers serve, through the
  registry's path (registry.dispatch.rules.input_violations): one version, and the two of a
  rolling deploy (the second is BACKWARD compatible: one more optional field);
- the compatibility analysis of a candidate against a type's versions: BACKWARD (the current
  version) and FULL_TRANSITIVE (8 kept versions, both directions), and a pathological pair
  that runs into the analysis' work budget.

Against a real stack (Temporal dev server, registry, Envoy), with two live workers of a type
serving versions 1 and 2: validate_only starts over native gRPC straight to the registry,
the registry process's CPU per start (from /proc: utime + stime over the run), and, in the
same run, the latency of a direct Temporal call (DescribeNamespace) as the yardstick.

Targets: a validate_only start with a 2 KB schema and a 4 KB input costs under 0.5 ms of
registry CPU for its validation (p50, in process); a BACKWARD check of that schema under
5 ms p99. The whole start's registry CPU is printed beside them: grpc-python's own cost per
call dominates it.

    .venv/bin/python bench/schema_evolution.py [--validations 2000] [--starts 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import time
from collections.abc import Callable
from typing import Any

import httpx
from benchlib import (
    ADMIN_HEADERS,
    LatencySummary,
    Stack,
    aio_channel,
    cpu_seconds,
    running_stack,
)
from integration.stack import start_echo_worker
from temporal_registry.v1 import dispatch_pb2, dispatch_pb2_grpc
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from validation import INPUT, SCHEMA

from registry.catalog.shard_rules import schema_digest
from registry.dispatch.rules import input_violations
from registry.schemas.rules import check_candidate
from registry.server.validation import default_pool
from registry.shared.model import SchemaVersion, StoredWorkflow, WorkflowSpec

VALIDATION_TARGET_MS = 0.5
CHECK_TARGET_MS = 5.0
WORKFLOW_TYPE = "bench.order.v1"
TASK_QUEUE = "bench-evolution-q"


def next_version(schema: dict[str, Any], n: int) -> dict[str, Any]:
    """The next version: one more optional top-level field. The order schema closes its root
    (additionalProperties false), so it is BACKWARD compatible, not FORWARD."""
    following = copy.deepcopy(schema)
    following["properties"][f"extra_{n}"] = {"type": "string", "maxLength": 100}
    return following


def stored_with(versions: list[dict[str, Any]]) -> StoredWorkflow:
    kept = tuple(
        SchemaVersion(i + 1, schema_digest(schema), schema) for i, schema in enumerate(versions)
    )
    return StoredWorkflow(
        spec=WorkflowSpec(WORKFLOW_TYPE, input_schema=versions[-1]),
        versions=kept,
        schema_version=len(versions),
    )


def pathological() -> tuple[dict[str, Any], dict[str, Any]]:
    """Nested alternatives over shared references: the analysis' worst case."""
    defs = {
        f"d{i}": {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"type": "string"}]} for i in range(40)
    }
    defs["d40"] = {"type": "integer"}
    wide = {"$defs": defs, "anyOf": [{"$ref": f"#/$defs/d{i}"} for i in range(40)]}
    narrow = copy.deepcopy(wide)
    narrow["$defs"]["d40"] = {"type": "integer", "minimum": 1}
    return wide, narrow


def timed(call: Callable[[], object], rounds: int) -> LatencySummary:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return LatencySummary.of(times)


def in_process(validations: int) -> tuple[LatencySummary, LatencySummary, LatencySummary]:
    versions = [SCHEMA]
    for n in range(7):
        versions.append(next_version(versions[-1], n))
    one = stored_with(versions[:1])
    rolling = stored_with(versions[:2])
    loop = asyncio.new_event_loop()

    def validate(stored: StoredWorkflow, serving: tuple[SchemaVersion, ...]) -> Callable[[], Any]:
        return lambda: loop.run_until_complete(input_violations(stored, INPUT, serving))

    single, double = validate(one, one.versions), validate(rolling, rolling.versions)
    assert loop.run_until_complete(input_violations(rolling, INPUT, rolling.versions)) == []
    for call in (single, double):
        timed(call, 100)
    print(f"schema {len(str(SCHEMA))} chars; validation of the 4 KB input, {validations} each:")
    one_version = timed(single, validations)
    two_versions = timed(double, validations)
    print(f"  1 serving version   {one_version.line()}")
    print(f"  2 serving versions  {two_versions.line()}")

    kept = stored_with(versions)
    candidate = next_version(versions[-1], 99)
    checks = max(50, validations // 10)
    backward = timed(lambda: check_candidate(kept, candidate, "BACKWARD"), checks)
    full = timed(lambda: check_candidate(kept, candidate, "FULL_TRANSITIVE"), checks)
    wide, narrow = pathological()
    worst = stored_with([wide])
    budget = timed(lambda: check_candidate(worst, narrow, "FULL"), 5)
    verdict = check_candidate(worst, narrow, "FULL")
    print(f"compatibility check of a {len(str(candidate))}-char candidate, {checks} each:")
    print(f"  BACKWARD (1 version)          {backward.line()}")
    print(f"  FULL_TRANSITIVE (8 versions)  {full.line()}")
    print(f"  pathological pair (budget)    {budget.line()}  -> {verdict.findings[0].change}")
    default_pool().close()
    loop.close()
    return one_version, two_versions, backward


def live(starts: int) -> tuple[float, LatencySummary, LatencySummary]:
    with running_stack() as stack:
        worker = start_echo_worker(stack.workdir, stack.temporal.address, TASK_QUEUE)
        try:
            register_two_versions(stack)
            return asyncio.run(_measure(stack, starts))
        finally:
            worker.stop()


def register_two_versions(stack: Stack) -> None:
    """Two live workers of the type: versions 1 and 2 served at once (a rolling deploy)."""
    for number, schema in enumerate((SCHEMA, next_version(SCHEMA, 0)), start=1):
        body = {
            "worker_id": f"bench-v{number}",
            "task_queue": TASK_QUEUE,
            "ttl_seconds": 3600,
            "workflows": [{"workflow_type": WORKFLOW_TYPE, "input_schema": schema}],
        }
        httpx.post(
            f"{stack.envoy.http_url}/registry/workers",
            json=body,
            timeout=10,
            headers=ADMIN_HEADERS,
        ).raise_for_status()


async def _measure(stack: Stack, starts: int) -> tuple[float, LatencySummary, LatencySummary]:
    client = await Client.connect(stack.temporal.address)
    request = dispatch_pb2.StartWorkflowRequest(workflow_type=WORKFLOW_TYPE, validate_only=True)
    request.input.struct_value.update(INPUT)
    async with aio_channel(stack.registry.grpc_target) as channel:
        stub = dispatch_pb2_grpc.DispatchServiceStub(channel)

        async def start() -> None:
            await stub.StartWorkflow(request, timeout=10)

        async def direct() -> None:
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace="default")
            )

        for _ in range(100):
            await start()
        pid = stack.registry_pid
        cpu_before = cpu_seconds(pid)
        start_times, direct_times = [], []
        for _ in range(starts):
            began = time.perf_counter()
            await start()
            start_times.append(time.perf_counter() - began)
        cpu_ms = (cpu_seconds(pid) - cpu_before) / starts * 1000
        for _ in range(starts):
            began = time.perf_counter()
            await direct()
            direct_times.append(time.perf_counter() - began)
    return cpu_ms, LatencySummary.of(start_times), LatencySummary.of(direct_times)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validations", type=int, default=2000, help="timed validations each")
    parser.add_argument("--starts", type=int, default=1000, help="timed starts (and direct calls)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    one, two, backward = in_process(args.validations)
    cpu_ms, starts, direct = live(args.starts)
    print(f"validate_only starts, 2 serving versions, {args.starts} serial over gRPC:")
    print(f"  registry start   {starts.line()}")
    print(f"  direct Temporal  {direct.line()}  (DescribeNamespace)")
    print(
        f"  registry CPU per start {cpu_ms:.2f} ms; latency ratio p50 "
        f"{starts.p50_ms / direct.p50_ms:.2f}x"
    )
    met = "met" if two.p50_ms < VALIDATION_TARGET_MS else "MISSED"
    checked = "met" if backward.p99_ms < CHECK_TARGET_MS else "MISSED"
    print(
        f"schema evolution: validation p50 {one.p50_ms:.3f} ms (1 version), "
        f"{two.p50_ms:.3f} ms (2 versions; target < {VALIDATION_TARGET_MS} ms: {met}); "
        f"BACKWARD check p99 {backward.p99_ms:.2f} ms (target < {CHECK_TARGET_MS} ms: "
        f"{checked}); registry CPU per validate_only start {cpu_ms:.2f} ms"
    )


if __name__ == "__main__":
    main()
