#!/usr/bin/env python3
"""Heartbeat ingest: how many heartbeats the registry takes, how fast it answers, and what
they cost in registry workflow history.

Starts a real stack on free loopback ports (Temporal dev server, `temporal-registry serve`,
Envoy; see tests/integration/stack.py) in a temporary directory, registers `--workers`
workers with `--ttl`, then for `--duration` seconds sends heartbeats at `--rate` per second
in aggregate over native gRPC (grpc.aio; several channels, each with several paced sender
tasks), straight to the registry's gRPC port or, with `--via envoy`, through Envoy's port.
Each worker heartbeats every workers / rate seconds.

Measured during the heartbeat phase:

* achieved heartbeats per second, errors by gRPC status code, client-side latency
  (p50/p90/p99/max, from just before the call to its response; sends run on a fixed schedule,
  so a slow server shows as schedule lag and a lower achieved rate);
* history events the registry's workflows gained, summed over all of them: the root and every
  shard GetRegistryStatus lists (worker, type and id shards). For each, the growth of the run
  open at the start plus every run it continued as new into (each run is described by run id).
  Per 1,000 heartbeats, next to the bound of
  registry.liveness.history_events_per_1000_heartbeats for the same parameters and the number
  of worker shards (`shards=`), since lease renewals cost up to one update per worker shard
  per flush;
* registry writes (revision delta), continue-as-new count, healthy workers at the end;
* RSS (VmRSS) of the registry process, and CPU time of each process of the stack.

Run it from the repository root:

    .venv/bin/python bench/heartbeat_ingest.py
    .venv/bin/python bench/heartbeat_ingest.py --rate 2000 --via envoy
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import sys
import time
from dataclasses import dataclass, field

import grpc
import httpx
from benchlib import (
    ADMIN_HEADERS,
    LOOPBACK,
    LatencySummary,
    Stack,
    aio_channel,
    cpu_seconds,
    rss_mib,
    running_stack,
)
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, resources_pb2
from temporalio.client import Client

from registry.catalog.layout import WORKERS
from registry.liveness.rules import EVENTS_PER_UPDATE, history_events_per_1000_heartbeats
from registry.server.config import LivenessConfig

WORKFLOW_TYPES = 20  # workers are spread over this many workflow types / task queues
REGISTER_CONCURRENCY = 16
CALL_TIMEOUT = 10.0
IDLE_SECONDS = 3.0  # registry CPU is measured this long at rest, for a baseline
DESCRIBE_CONCURRENCY = 16  # registry workflows described at once


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--workers", type=int, default=200, help="workers to register")
    parser.add_argument("--ttl", type=int, default=30, help="lease TTL of each worker, seconds")
    parser.add_argument("--duration", type=float, default=30.0, help="heartbeat phase, seconds")
    parser.add_argument("--rate", type=float, default=1000.0, help="target heartbeats/s in all")
    parser.add_argument(
        "--via",
        choices=("direct", "envoy"),
        default="direct",
        help="native gRPC straight to the registry, or through Envoy's port",
    )
    parser.add_argument("--channels", type=int, default=4, help="gRPC channels (connections)")
    parser.add_argument(
        "--senders", type=int, default=16, help="paced sender tasks, spread over the channels"
    )
    parser.add_argument(
        "--flush-interval",
        type=float,
        default=None,
        help="liveness.flush_interval_seconds; None keeps the registry's "
        f"{LivenessConfig().flush_interval_seconds:g} s",
    )
    parser.add_argument(
        "--flush-margin",
        type=float,
        default=None,
        help="liveness.flush_margin_seconds; None keeps the registry's "
        f"{LivenessConfig().flush_margin_seconds:g} s",
    )
    parser.add_argument(
        "--no-access-log",
        action="store_true",
        help="turn the registry's access log off (one log line per RPC)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1 or args.rate <= 0 or args.duration <= 0:
        parser.error("--workers, --rate and --duration must be positive")
    if args.senders < 1 or args.channels < 1:
        parser.error("--senders and --channels must be at least 1")
    return args


# --- registry workflows' history ---------------------------------------------------------------


@dataclass(frozen=True)
class HistoryMark:
    run_id: str
    history_length: int
    start_time_epoch: float


async def history_mark(client: Client, workflow_id: str) -> HistoryMark:
    description = await client.get_workflow_handle(workflow_id).describe()
    info = description.raw_description.workflow_execution_info
    return HistoryMark(description.run_id, info.history_length, description.start_time.timestamp())


async def history_since(
    client: Client, workflow_id: str, mark: HistoryMark, expected_new_runs: int
) -> tuple[int, int]:
    """(events added since `mark`, runs started since): the growth of the run open at the mark
    plus the whole history of every later run. Runs come from visibility (listed until it shows
    `expected_new_runs` of them, which it may do a moment late) and the current run from
    describe; each run's length comes from describing it by run id."""
    current = await history_mark(client, workflow_id)
    if current.run_id == mark.run_id:
        return current.history_length - mark.history_length, 0
    later: set[str] = {current.run_id}
    for _ in range(50):
        async for execution in client.list_workflows(f'WorkflowId = "{workflow_id}"'):
            if execution.start_time.timestamp() > mark.start_time_epoch:
                later.add(execution.run_id)
        if len(later) >= expected_new_runs:
            break
        await asyncio.sleep(0.2)
    later.discard(mark.run_id)
    events = 0
    for run_id in (mark.run_id, *later):
        description = await client.get_workflow_handle(workflow_id, run_id=run_id).describe()
        length = description.raw_description.workflow_execution_info.history_length
        events += length - mark.history_length if run_id == mark.run_id else length
    return events, len(later)


def registry_workflows(status: registry_pb2.GetRegistryStatusResponse) -> dict[str, str]:
    """workflow id -> kind ("root", "workers", "types", "ids") of every registry workflow."""
    workflows = {status.registry_workflow_id: "root"}
    workflows.update({shard.workflow_id: shard.kind for shard in status.shards})
    return workflows


def new_runs_by_workflow(
    before: registry_pb2.GetRegistryStatusResponse, after: registry_pb2.GetRegistryStatusResponse
) -> dict[str, int]:
    """workflow id -> runs it continued as new into between two statuses, as the registry saw
    them: per shard from its count, the root's from the total less the shards'."""
    was = {shard.workflow_id: shard.continue_as_new_count for shard in before.shards}
    runs = {
        shard.workflow_id: shard.continue_as_new_count - was.get(shard.workflow_id, 0)
        for shard in after.shards
    }
    total = after.continue_as_new_count - before.continue_as_new_count
    runs[after.registry_workflow_id] = max(0, total - sum(runs.values()))
    return runs


async def history_marks(client: Client, workflow_ids: list[str]) -> dict[str, HistoryMark]:
    limit = asyncio.Semaphore(DESCRIBE_CONCURRENCY)

    async def mark(workflow_id: str) -> HistoryMark:
        async with limit:
            return await history_mark(client, workflow_id)

    marks = await asyncio.gather(*(mark(w) for w in workflow_ids))
    return dict(zip(workflow_ids, marks, strict=True))


async def registry_history_since(
    client: Client, marks: dict[str, HistoryMark], expected_new_runs: dict[str, int]
) -> dict[str, tuple[int, int]]:
    """workflow id -> (events added since its mark, runs started since), for every marked
    registry workflow (history_since on each)."""
    limit = asyncio.Semaphore(DESCRIBE_CONCURRENCY)

    async def since(workflow_id: str) -> tuple[int, int]:
        async with limit:
            return await history_since(
                client, workflow_id, marks[workflow_id], expected_new_runs.get(workflow_id, 0)
            )

    added = await asyncio.gather(*(since(w) for w in marks))
    return dict(zip(marks, added, strict=True))


# --- load ---------------------------------------------------------------------------------------


@dataclass
class PhaseStats:
    latencies: list[float] = field(default_factory=list)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    max_lag: float = 0.0  # how far behind its schedule a sender got, seconds

    @property
    def sent(self) -> int:
        return len(self.latencies) + sum(self.errors.values())


def worker_id(index: int) -> str:
    return f"bench-worker-{index:05d}"


def registration(index: int, ttl: int) -> registry_pb2.RegisterWorkerRequest:
    kind = index % WORKFLOW_TYPES
    workflow = resources_pb2.Workflow(
        workflow_type=f"BenchHeartbeat{kind:02d}",
        version="1.0.0",
        description="a workflow type declared by the heartbeat benchmark",
        labels={"team": f"team-{kind % 4}"},
    )
    workflow.input_schema.update(
        {
            "type": "object",
            "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
            "required": ["order_id"],
        }
    )
    return registry_pb2.RegisterWorkerRequest(
        worker_id=worker_id(index),
        task_queue=f"bench-heartbeat-{kind:02d}",
        environment="bench",
        labels={"host": f"host-{index % 50}"},
        ttl_seconds=ttl,
        workflows=[workflow],
    )


async def register_workers(
    stub: registry_pb2_grpc.RegistryServiceStub, count: int, ttl: int
) -> None:
    limit = asyncio.Semaphore(REGISTER_CONCURRENCY)

    async def register(index: int) -> None:
        async with limit:
            await stub.RegisterWorker(registration(index, ttl), timeout=60)

    await asyncio.gather(*(register(i) for i in range(count)))


async def sender(
    stub: registry_pb2_grpc.RegistryServiceStub,
    requests: list[registry_pb2.HeartbeatRequest],
    interval: float,
    start: float,
    end: float,
    stats: PhaseStats,
) -> None:
    """Send `requests` round robin, one every `interval` seconds on a fixed schedule from
    `start` (monotonic) until `end`; a sender that falls behind sends back to back."""
    loop = asyncio.get_running_loop()
    due = start
    sent = 0
    while due < end:
        now = loop.time()
        if due > now:
            await asyncio.sleep(due - now)
        else:
            stats.max_lag = max(stats.max_lag, now - due)
        request = requests[sent % len(requests)]
        sent += 1
        began = time.perf_counter()
        try:
            await stub.Heartbeat(request, timeout=CALL_TIMEOUT)
        except grpc.aio.AioRpcError as error:
            stats.errors[error.code().name] += 1
        else:
            stats.latencies.append(time.perf_counter() - began)
        due += interval


async def heartbeat_phase(
    stubs: list[registry_pb2_grpc.RegistryServiceStub],
    workers: int,
    senders: int,
    rate: float,
    duration: float,
) -> tuple[PhaseStats, float]:
    """(stats, elapsed seconds). Workers are split over the senders, so each worker's
    heartbeat interval is workers / rate whatever the split."""
    senders = min(senders, workers)
    requests = [registry_pb2.HeartbeatRequest(worker_id=worker_id(i)) for i in range(workers)]
    stats = PhaseStats()
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    end = start + duration
    tasks = []
    for k in range(senders):
        mine = requests[k::senders]
        interval = workers / rate / len(mine)  # every worker heartbeats every workers / rate
        # stagger senders inside one interval so calls do not arrive in bursts
        offset = interval * k / senders
        tasks.append(
            sender(stubs[k % len(stubs)], mine, interval, start + offset, end, stats),
        )
    await asyncio.gather(*tasks)
    return stats, loop.time() - start


# --- reporting ----------------------------------------------------------------------------------


def server_heartbeats(metrics_text: str) -> dict[str, float]:
    """Heartbeat RPCs the registry counted, by status code, from its /metrics."""
    counts: dict[str, float] = {}
    for line in metrics_text.splitlines():
        if line.startswith("temporal_registry_rpc_requests_total{") and '/Heartbeat"' in line:
            code = re.search(r'code="(\w+)"', line)
            if code:
                counts[code.group(1)] = float(line.rsplit(" ", 1)[1])
    return counts


def process_cpu(stack: Stack) -> dict[str, float]:
    pids = {
        "registry": stack.registry_pid,
        "temporal": stack.temporal.process.popen.pid,  # type: ignore[union-attr]
        "envoy": stack.envoy.process.popen.pid,  # type: ignore[union-attr]
    }
    cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
    cpu["bench client"] = time.process_time()
    return cpu


async def run(stack: Stack, args: argparse.Namespace) -> str:
    liveness = LivenessConfig()
    flush = (
        args.flush_interval if args.flush_interval is not None else liveness.flush_interval_seconds
    )
    margin = args.flush_margin if args.flush_margin is not None else liveness.flush_margin_seconds
    target = stack.registry.grpc_target if args.via == "direct" else stack.envoy.grpc_target
    pid = stack.registry_pid
    rss = {"ready": rss_mib(pid)}

    client = await Client.connect(stack.temporal.address, namespace="default")
    channels = [aio_channel(target) for _ in range(args.channels)]
    try:
        for channel in channels:
            await asyncio.wait_for(channel.channel_ready(), 10)
        stubs = [registry_pb2_grpc.RegistryServiceStub(channel) for channel in channels]
        stub = stubs[0]

        began = time.perf_counter()
        await register_workers(stub, args.workers, args.ttl)
        registered_in = time.perf_counter() - began
        rss["registered"] = rss_mib(pid)
        print(
            f"registered {args.workers} workers (ttl {args.ttl} s) in {registered_in:.1f} s "
            f"({args.workers / registered_in:.0f}/s)",
            flush=True,
        )
        # one unmeasured heartbeat per worker: connections warm, every worker known here
        await heartbeat_phase(stubs, args.workers, args.senders, args.workers / 0.5, 0.5)

        idle_before = process_cpu(stack)
        await asyncio.sleep(IDLE_SECONDS)
        idle_after = process_cpu(stack)
        status_before = await stub.GetRegistryStatus(registry_pb2.GetRegistryStatusRequest())
        kinds = registry_workflows(status_before)
        marks = await history_marks(client, list(kinds))
        cpu_before = process_cpu(stack)
        print(
            f"heartbeat phase: {args.rate:g}/s for {args.duration:g} s via {args.via} "
            f"({args.channels} channels, {args.senders} senders; each worker every "
            f"{args.workers / args.rate:.3g} s)",
            flush=True,
        )
        stats, elapsed = await heartbeat_phase(
            stubs, args.workers, args.senders, args.rate, args.duration
        )
        cpu_after = process_cpu(stack)
        rss["after heartbeats"] = rss_mib(pid)
        status_after = await stub.GetRegistryStatus(registry_pb2.GetRegistryStatusRequest())
        added = await registry_history_since(
            client, marks, new_runs_by_workflow(status_before, status_after)
        )
    finally:
        for channel in channels:
            await channel.close()

    async with httpx.AsyncClient(headers=ADMIN_HEADERS) as http:
        metrics = await http.get(f"http://{LOOPBACK}:{stack.registry.http_port}/metrics")
    served = server_heartbeats(metrics.text)

    ok = len(stats.latencies)
    errors = sum(stats.errors.values())
    achieved = ok / elapsed
    latency = LatencySummary.of(stats.latencies)
    events = sum(e for e, _ in added.values())
    new_runs = sum(r for _, r in added.values())
    by_kind: collections.Counter[str] = collections.Counter()
    for workflow_id, (e, _) in added.items():
        by_kind[kinds[workflow_id]] += e
    worker_shards = [shard for shard in status_after.shards if shard.kind == WORKERS]
    holding = sum(shard.entries > 0 for shard in worker_shards)  # shards with bench workers
    per_1000 = events / ok * 1000 if ok else float("nan")
    bound = history_events_per_1000_heartbeats(
        args.workers, args.workers / args.rate, args.ttl, flush, margin, shards=len(worker_shards)
    )

    print()
    print(f"heartbeats sent      {stats.sent} in {elapsed:.1f} s ({stats.sent / elapsed:.0f}/s)")
    print(f"  ok                 {ok} ({achieved:.0f}/s achieved, target {args.rate:g}/s)")
    print(
        f"  errors             {errors}"
        + (f" ({', '.join(f'{c} {n}' for c, n in stats.errors.most_common())})" if errors else "")
    )
    print(f"  latency            {latency.line()}")
    print(f"  max schedule lag   {stats.max_lag * 1000:.1f} ms")
    print(
        f"  registry counted   {', '.join(f'{c} {n:.0f}' for c, n in sorted(served.items()))}"
        " (all heartbeats since start)"
    )
    writes = status_after.revision - status_before.revision
    print(
        f"registry history     {events} events added in {len(added)} workflows "
        f"({', '.join(f'{kind} {n}' for kind, n in sorted(by_kind.items()))}; "
        f"runs continued as new: {new_runs}; "
        f"revision {status_before.revision} -> {status_after.revision}: "
        f"{writes} write{'' if writes == 1 else 's'})"
    )
    print(
        f"  per 1000 heartbeats {per_1000:.2f} events; formula bound {bound:.2f} "
        f"(N={args.workers}, h={args.workers / args.rate:.3g} s, T={args.ttl} s, "
        f"F={flush:g} s, m={margin:g} s, S={len(worker_shards)} worker shards)"
    )
    # Workers registered together hold leases that end together, so they are renewed
    # together: one update per worker shard holding any of them per renewal period
    # P = T - F - m - h (P to P + F in practice).
    period = max(flush, args.ttl - flush - margin - args.workers / args.rate)
    together = EVENTS_PER_UPDATE * 1000 * holding / (period * args.rate)
    print(
        f"  workers registered together: about {together:.2f} per 1000 "
        f"({holding} shard updates per ~{period:.0f} s; a {elapsed:.0f} s phase sees "
        f"{elapsed / period:.1f} rounds of them)"
    )
    print(
        f"  workers healthy    {status_after.healthy_worker_count} of {status_after.worker_count}"
        f" ({status_after.liveness})"
    )
    print("registry RSS         " + ", ".join(f"{k} {v:.1f} MiB" for k, v in rss.items()))
    cpu = {name: (cpu_after[name] - cpu_before[name]) / elapsed for name in cpu_before}
    idle = (idle_after["registry"] - idle_before["registry"]) / IDLE_SECONDS
    print(
        "CPU during phase     "
        + ", ".join(f"{name} {share * 100:.0f}%" for name, share in cpu.items())
        + f" of one core (registry at rest {idle * 100:.0f}%)"
    )
    per_heartbeat = (cpu["registry"] - idle) * elapsed / max(ok, 1)
    print(f"  registry CPU per heartbeat {per_heartbeat * 1e6:.0f} us above rest")
    return (
        f"heartbeat_ingest: {args.rate:g}/s target, {achieved:.0f}/s achieved, {errors} errors, "
        f"p50 {latency.p50_ms:.1f} ms p99 {latency.p99_ms:.1f} ms, "
        f"{per_1000:.2f} history events per 1000 heartbeats (formula bound {bound:.2f})"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides: dict[str, dict[str, object]] = {"liveness": {}}
    if args.flush_interval is not None:
        overrides["liveness"]["flush_interval_seconds"] = args.flush_interval
    if args.flush_margin is not None:
        overrides["liveness"]["flush_margin_seconds"] = args.flush_margin
    if args.no_access_log:
        overrides["logging"] = {"access_log": False}
    with running_stack(overrides) as stack:
        summary = asyncio.run(run(stack, args))
    print()
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
