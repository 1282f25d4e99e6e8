#!/usr/bin/env python3
"""Catalogue reads: latency and throughput of listing and getting workflow types.

Starts a real stack on free loopback ports (Temporal dev server, `temporal-registry serve`,
Envoy; see tests/integration/stack.py) in a temporary directory, registers `--types`
workflow types with realistic input schemas (properties, required, enums, formats, nested
objects) across `--workers` workers, waits until the registry lists them all, then measures:

* serial latency (`--requests` each, one keep-alive http.client connection, through Envoy's
  HTTP/JSON transcoder) of GET /registry/workflows?page_size=`--page-size` (the default page),
  GET /registry/workflows?page_size=1000 (every type in one page) and
  GET /registry/workflows/{workflow_type} (cycling over the types);
* a conditional list (If-None-Match: the etag of the answer, so 304 with no body);
* the same calls over native gRPC straight to the registry (a blocking grpc channel),
  for comparison: the difference is Envoy plus JSON transcoding;
* throughput: `--concurrency` requests in flight for `--throughput-seconds` each, for the
  default-page list and the get through Envoy (httpx.AsyncClient), and for the list over
  native gRPC (grpc.aio).

Latency is client-side wall time per request, so it includes the client's own CPU: the
client shares the machine with the stack. RSS and CPU of the registry are printed too.

Run it from the repository root:

    .venv/bin/python bench/catalog_read.py
    .venv/bin/python bench/catalog_read.py --types 500 --requests 500
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import httpx
from benchlib import (
    ADMIN_HEADERS,
    LatencySummary,
    Stack,
    aio_channel,
    authorized,
    cpu_seconds,
    rss_mib,
    running_stack,
)
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, resources_pb2

# Issue 15's targets, through Envoy: p50 of a list page of 100 (FULL, BASIC), of a get and of
# a conditional read answered 304, and list throughput with 16 in flight.
TARGETS_P50_MS = {"list": 3.0, "list BASIC": 1.5, "get": 1.0, "304": 1.0}
TARGET_LIST_RATE = 1000
REGISTER_CONCURRENCY = 4
WARMUP_REQUESTS = 50

DOMAINS = ("Billing", "Orders", "Shipping", "Inventory", "Accounts", "Payments", "Reports",
           "Notifications", "Catalog", "Support")  # fmt: skip
ACTIONS = ("Create", "Cancel", "Refund", "Sync", "Export", "Import", "Reconcile", "Archive",
           "Approve", "Reject", "Notify", "Rebuild", "Audit", "Migrate", "Close", "Reopen",
           "Verify", "Charge", "Split", "Merge")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--types", type=int, default=200, help="workflow types to register")
    parser.add_argument("--workers", type=int, default=20, help="workers declaring them")
    parser.add_argument(
        "--page-size", type=int, default=100, help="page size of the default list request"
    )
    parser.add_argument(
        "--requests", type=int, default=2000, help="serial requests per measured call"
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="requests in flight in the throughput phase"
    )
    parser.add_argument(
        "--throughput-seconds", type=float, default=10.0, help="length of each throughput run"
    )
    args = parser.parse_args(argv)
    if args.types < 1 or args.workers < 1 or args.requests < 1 or args.concurrency < 1:
        parser.error("--types, --workers, --requests and --concurrency must be positive")
    if not 1 <= args.page_size <= 1000:
        parser.error("--page-size must be 1-1000")
    return args


# --- the catalogue ------------------------------------------------------------------------------


def workflow_type(index: int) -> str:
    domain = DOMAINS[index % len(DOMAINS)]
    action = ACTIONS[index // len(DOMAINS) % len(ACTIONS)]
    generation = index // (len(DOMAINS) * len(ACTIONS))
    return f"{domain}{action}" + (f"V{generation + 1}" if generation else "")


def input_schema(index: int) -> dict[str, Any]:
    """A plausible input schema: ids with patterns, an enum, bounded numbers, a nested object
    and an array; some variety by index."""
    domain = DOMAINS[index % len(DOMAINS)].lower()
    properties: dict[str, Any] = {
        f"{domain}_id": {
            "type": "string",
            "pattern": "^[a-z]{3}_[0-9a-f]{16}$",
            "description": f"the {domain} record to act on",
        },
        "requested_by": {"type": "string", "format": "email", "maxLength": 254},
        "priority": {"type": "string", "enum": ["low", "normal", "high", "urgent"]},
        "amount": {"type": "number", "minimum": 0, "maximum": 1_000_000},
        "currency": {"type": "string", "enum": ["EUR", "USD", "GBP", "JPY", "CHF"]},
        "options": {
            "type": "object",
            "properties": {
                "dry_run": {"type": "boolean", "default": False},
                "retries": {"type": "integer", "minimum": 0, "maximum": 10},
                "deadline": {"type": "string", "format": "date-time"},
            },
            "additionalProperties": False,
        },
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 64}, "maxItems": 20},
    }
    keep = 4 + index % 4  # 4-7 properties
    chosen = dict(list(properties.items())[:keep])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "title": workflow_type(index),
        "properties": chosen,
        "required": [f"{domain}_id", "requested_by"],
        "additionalProperties": False,
    }


def workflow_spec(index: int) -> resources_pb2.Workflow:
    message = resources_pb2.Workflow(
        workflow_type=workflow_type(index),
        version=f"{1 + index % 3}.{index % 7}.0",
        description=f"{ACTIONS[index // len(DOMAINS) % len(ACTIONS)]} a "
        f"{DOMAINS[index % len(DOMAINS)].lower()} record, with approvals and an audit trail.",
        schedule_input_warnings=[
            resources_pb2.InputWarning(field="requested_by", message="set a service account")
        ],
        search_attributes=[
            resources_pb2.SearchAttribute(
                name="CustomerId", type="Keyword", description="the customer concerned"
            )
        ],
        labels={
            "team": f"team-{index % 5}",
            "tier": ("gold", "silver", "bronze")[index % 3],
            "domain": DOMAINS[index % len(DOMAINS)].lower(),
        },
    )
    message.input_schema.update(input_schema(index))
    return message


def registrations(types: int, workers: int) -> list[registry_pb2.RegisterWorkerRequest]:
    """Types dealt round robin to the workers; each worker on its own task queue."""
    requests = []
    for w in range(workers):
        mine = [workflow_spec(i) for i in range(w, types, workers)]
        if not mine:
            continue
        requests.append(
            registry_pb2.RegisterWorkerRequest(
                worker_id=f"catalog-worker-{w:03d}",
                task_queue=f"catalog-queue-{w:03d}",
                environment="bench",
                labels={"zone": f"zone-{w % 3}"},
                ttl_seconds=3600,  # no lease lapses mid-run, so health stays put
                workflows=mine,
            )
        )
    return requests


async def register(target: str, types: int, workers: int) -> float:
    began = time.perf_counter()
    async with aio_channel(target) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        limit = asyncio.Semaphore(REGISTER_CONCURRENCY)

        async def one(request: registry_pb2.RegisterWorkerRequest) -> None:
            async with limit:
                await stub.RegisterWorker(request, timeout=60)

        await asyncio.gather(*(one(r) for r in registrations(types, workers)))
    return time.perf_counter() - began


def wait_listed(http: httpx.Client, types: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http.get("/registry/status").json().get("workflow_count", 0) >= types:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the registry did not list {types} workflow types in {timeout:.0f} s")


# --- measuring ----------------------------------------------------------------------------------


class Result:
    def __init__(
        self, name: str, latency: LatencySummary, elapsed: float, size: int, cpu: dict[str, float]
    ) -> None:
        self.name = name
        self.latency = latency
        self.elapsed = elapsed
        self.size = size  # bytes of one response body / message
        self.cpu = cpu  # CPU seconds of each stack process over the measured requests

    @property
    def rate(self) -> float:
        return self.latency.count / self.elapsed

    def cpu_ms(self, process: str) -> float:
        """CPU per request (/proc ticks are 10 ms: meaningful over many requests)."""
        return self.cpu[process] / self.latency.count * 1000


def serial(name: str, call: Callable[[int], int], requests: int, pids: dict[str, int]) -> Result:
    """`call(i)` makes request i and returns the response size; timed one at a time."""
    for i in range(WARMUP_REQUESTS):
        call(i)
    latencies = []
    size = 0
    cpu = cpu_of(pids)
    began = time.perf_counter()
    for i in range(requests):
        start = time.perf_counter()
        size = call(i)
        latencies.append(time.perf_counter() - start)
    elapsed = time.perf_counter() - began
    return Result(name, LatencySummary.of(latencies), elapsed, size, cpu_since(pids, cpu))


async def concurrent(
    name: str,
    call: Callable[[int], Awaitable[int]],
    concurrency: int,
    seconds: float,
    pids: dict[str, int],
) -> Result:
    latencies: list[float] = []
    size = 0
    counter = iter(range(1 << 62))

    async def loop(end: float) -> None:
        nonlocal size
        while time.perf_counter() < end:
            start = time.perf_counter()
            size = await call(next(counter))
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(call(next(counter)) for _ in range(concurrency)))  # warm connections
    cpu = cpu_of(pids)
    began = time.perf_counter()
    await asyncio.gather(*(loop(began + seconds) for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return Result(name, LatencySummary.of(latencies), elapsed, size, cpu_since(pids, cpu))


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each process in `pids`, and by this benchmark client."""
    return {**{name: cpu_seconds(pid) for name, pid in pids.items()}, "client": time.process_time()}


def cpu_since(pids: dict[str, int], before: dict[str, float]) -> dict[str, float]:
    return {name: seconds - before[name] for name, seconds in cpu_of(pids).items()}


def stack_pids(stack: Stack) -> dict[str, int]:
    assert stack.envoy.process is not None and stack.envoy.process.popen is not None
    return {"registry": stack.registry_pid, "envoy": stack.envoy.process.popen.pid}


BASIC = "WORKFLOW_VIEW_BASIC"


def checked(response: httpx.Response) -> int:
    response.raise_for_status()
    return len(response.content)


class HeldEtag:
    """The ETag a conditional reader holds. An answer that is not 304 replaces it (an answer
    changes with health, e.g. when the registry first reads the queues' pollers), and is
    counted: the figures of a conditional read are those of 304s when `changed` is small."""

    def __init__(self) -> None:
        self.value = ""
        self.changed = 0

    def http(self, response: httpx.Response) -> int:
        if response.status_code != 304:
            checked(response)
            self.value, self.changed = response.headers["etag"], self.changed + 1
        return len(response.content)

    def grpc(self, response: registry_pb2.ListWorkflowsResponse) -> int:
        if not response.not_modified:
            self.value, self.changed = response.etag, self.changed + 1
        return int(response.ByteSize())


HTTP_ETAG, GRPC_ETAG = HeldEtag(), HeldEtag()


class LeanHttp:
    """Serial HTTP/1.1 GETs on one keep-alive connection with the standard library: about a
    third of httpx's CPU per request, so the serial figures are mostly Envoy's and the
    registry's (the client shares the machine). `get` answers like httpx's."""

    def __init__(self, base_url: str) -> None:
        host, port = base_url.removeprefix("http://").rsplit(":", 1)
        self._connection = http.client.HTTPConnection(host, int(port), timeout=30)

    def get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        url = f"{path}?{urllib.parse.urlencode(params)}" if params else path
        self._connection.request("GET", url, headers={**ADMIN_HEADERS, **(headers or {})})
        answer = self._connection.getresponse()
        body = answer.read()
        request = httpx.Request("GET", url)
        return httpx.Response(
            answer.status, headers=answer.getheaders(), content=body, request=request
        )

    def close(self) -> None:
        self._connection.close()


def http_calls(http: LeanHttp, names: list[str], page_size: int) -> dict[str, Any]:
    return {
        f"list page_size={page_size}": lambda i: checked(
            http.get("/registry/workflows", params={"page_size": page_size})
        ),
        f"list BASIC page_size={page_size}": lambda i: checked(
            http.get("/registry/workflows", params={"page_size": page_size, "view": BASIC})
        ),
        "list page_size=1000": lambda i: checked(
            http.get("/registry/workflows", params={"page_size": 1000})
        ),
        "get": lambda i: checked(http.get(f"/registry/workflows/{names[i % len(names)]}")),
        f"list 304 page_size={page_size}": lambda i: HTTP_ETAG.http(
            http.get(
                "/registry/workflows",
                params={"page_size": page_size},
                headers={"If-None-Match": HTTP_ETAG.value},
            )
        ),
    }


def grpc_calls(
    stub: registry_pb2_grpc.RegistryServiceStub, names: list[str], page_size: int
) -> dict[str, Any]:
    def listing(size: int, view: int = 0) -> Callable[[int], int]:
        request = registry_pb2.ListWorkflowsRequest(page_size=size, view=view)  # type: ignore[arg-type]
        return lambda i: stub.ListWorkflows(request, timeout=10).ByteSize()

    def conditional(i: int) -> int:
        request = registry_pb2.ListWorkflowsRequest(
            page_size=page_size, if_none_match=GRPC_ETAG.value
        )
        return GRPC_ETAG.grpc(stub.ListWorkflows(request, timeout=10))

    return {
        f"list page_size={page_size}": listing(page_size),
        f"list BASIC page_size={page_size}": listing(page_size, registry_pb2.WORKFLOW_VIEW_BASIC),
        "list page_size=1000": listing(1000),
        "get": lambda i: stub.GetWorkflow(
            registry_pb2.GetWorkflowRequest(workflow_type=names[i % len(names)]), timeout=10
        ).ByteSize(),
        f"list 304 page_size={page_size}": conditional,
    }


def check_listing(http: httpx.Client, types: int, page_size: int) -> None:
    first = http.get("/registry/workflows", params={"page_size": page_size}).json()
    listed = len(first.get("workflows", []))
    if listed != min(page_size, types) or bool(first.get("next_page_token")) != (types > page_size):
        raise AssertionError(
            f"page of {page_size}: {listed} types, token {first.get('next_page_token')!r}"
        )
    everything = http.get("/registry/workflows", params={"page_size": 1000}).json()
    if len(everything.get("workflows", [])) != types:
        raise AssertionError(f"page of 1000: {len(everything.get('workflows', []))} types")


async def throughput(stack: Stack, names: list[str], args: argparse.Namespace) -> list[Result]:
    pids = stack_pids(stack)
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    results = []
    async with httpx.AsyncClient(
        base_url=stack.envoy.http_url, limits=limits, timeout=30, headers=ADMIN_HEADERS
    ) as http:

        async def http_list(i: int) -> int:
            return checked(
                await http.get("/registry/workflows", params={"page_size": args.page_size})
            )

        async def http_get(i: int) -> int:
            return checked(await http.get(f"/registry/workflows/{names[i % len(names)]}"))

        results.append(
            await concurrent(
                f"HTTP list page_size={args.page_size}",
                http_list,
                args.concurrency,
                args.throughput_seconds,
                pids,
            )
        )
        results.append(
            await concurrent("HTTP get", http_get, args.concurrency, args.throughput_seconds, pids)
        )
    channels = [aio_channel(stack.registry.grpc_target) for _ in range(4)]
    try:
        stubs = [registry_pb2_grpc.RegistryServiceStub(channel) for channel in channels]
        request = registry_pb2.ListWorkflowsRequest(page_size=args.page_size)

        async def grpc_list(i: int) -> int:
            response = await stubs[i % len(stubs)].ListWorkflows(request, timeout=30)
            return int(response.ByteSize())

        results.append(
            await concurrent(
                f"gRPC list page_size={args.page_size}",
                grpc_list,
                args.concurrency,
                args.throughput_seconds,
                pids,
            )
        )
    finally:
        for channel in channels:
            await channel.close()
    return results


# --- the run ------------------------------------------------------------------------------------


def print_table(title: str, results: list[Result]) -> None:
    """Latency, rate, response size and CPU ms per request of the registry and Envoy."""
    print(f"\n{title}  [registry, envoy: CPU ms per request]")
    print(
        f"  {'call':<28}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'max ms':>8}{'req/s':>8}"
        f"{'bytes':>9}{'registry':>10}{'envoy':>8}"
    )
    for r in results:
        lat = r.latency
        print(
            f"  {r.name:<28}{lat.p50_ms:>8.2f}{lat.p90_ms:>8.2f}{lat.p99_ms:>8.2f}"
            f"{lat.max_ms:>8.1f}{r.rate:>8.0f}{r.size:>9}"
            f"{r.cpu_ms('registry'):>10.2f}{r.cpu_ms('envoy'):>8.2f}"
        )


def run(stack: Stack, args: argparse.Namespace) -> str:
    pid = stack.registry_pid
    pids = stack_pids(stack)
    rss = {"ready": rss_mib(pid)}
    names = [workflow_type(i) for i in range(args.types)]
    took = asyncio.run(register(stack.registry.grpc_target, args.types, args.workers))
    with httpx.Client(base_url=stack.envoy.http_url, timeout=30, headers=ADMIN_HEADERS) as http:
        wait_listed(http, args.types)
        check_listing(http, args.types, args.page_size)
        rss["registered"] = rss_mib(pid)
        print(
            f"registered {args.types} workflow types on {min(args.workers, args.types)} workers "
            f"in {took:.1f} s",
            flush=True,
        )

        began = time.perf_counter()
        lean = LeanHttp(stack.envoy.http_url)
        via_envoy = [
            serial(f"HTTP {name}", call, args.requests, pids)
            for name, call in http_calls(lean, names, args.page_size).items()
        ]
        lean.close()
        print_table(f"serial, HTTP/JSON through Envoy ({args.requests} requests each)", via_envoy)
    with grpc.insecure_channel(stack.registry.grpc_target) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(authorized(channel))
        direct = [
            serial(f"gRPC {name}", call, args.requests, pids)
            for name, call in grpc_calls(stub, names, args.page_size).items()
        ]
    print_table(f"serial, native gRPC straight to the registry ({args.requests} each)", direct)
    serial_elapsed = time.perf_counter() - began

    loaded = asyncio.run(throughput(stack, names, args))
    print_table(
        f"throughput, {args.concurrency} in flight for {args.throughput_seconds:g} s each", loaded
    )
    rss["after reads"] = rss_mib(pid)

    print()
    print("CPU under load        (share of one core)")
    for r in loaded:
        shares = ", ".join(f"{k} {v / r.elapsed * 100:.0f}%" for k, v in r.cpu.items())
        print(f"  {r.name:<28}{shares}")
    print(f"serial phases took   {serial_elapsed:.0f} s")
    print("registry RSS         " + ", ".join(f"{k} {v:.1f} MiB" for k, v in rss.items()))

    measured = {
        "list": (via_envoy[0], direct[0]),
        "list BASIC": (via_envoy[1], direct[1]),
        "get": (via_envoy[3], direct[3]),
        "304": (via_envoy[4], direct[4]),
    }
    verdicts = []
    for name, (http_result, grpc_result) in measured.items():
        p50, target = http_result.latency.p50_ms, TARGETS_P50_MS[name]
        verdicts.append(
            f"{name} p50 {p50:.2f} ms p99 {http_result.latency.p99_ms:.2f} ms "
            f"(gRPC {grpc_result.latency.p50_ms:.2f} ms; target < {target:g} ms: "
            f"{'met' if p50 < target else 'MISSED'})"
        )
    list_load = loaded[0]
    rate_verdict = "met" if list_load.rate > TARGET_LIST_RATE else "MISSED"
    return (
        f"catalog_read: {args.types} types, page of {args.page_size} through Envoy: "
        + "; ".join(verdicts)
        + f" (answers that were not 304: {HTTP_ETAG.changed} over HTTP, {GRPC_ETAG.changed} "
        "over gRPC, of "
        f"{args.requests + WARMUP_REQUESTS} each)"
        + f"; list throughput {list_load.rate:.0f}/s with {args.concurrency} in flight "
        f"(target > {TARGET_LIST_RATE}/s: {rate_verdict}; gRPC straight "
        f"{loaded[2].rate:.0f}/s)"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with running_stack() as stack:
        summary = run(stack, args)
    print()
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
