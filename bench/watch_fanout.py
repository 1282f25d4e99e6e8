#!/usr/bin/env python3
"""Watch fan-out: how soon a change reaches 1,000 concurrent watchers spread over two
replicas, and what a watcher costs a registry in memory.

Starts a real stack on free loopback ports (Temporal dev server, `temporal-registry serve`,
Envoy; see tests/integration/stack.py) plus a second registry process on the same registry
workflows (a replica). `--watchers` WatchCatalog streams (native gRPC, half on each replica)
are opened by `--clients` client processes (so parsing 1,000 events per change is not one
Python process's queue), each stream reads the opening state to SYNCED, then:

* `--writes` changes, `--interval` apart, each a RegisterWorker through the FIRST replica
  that changes a label of one worker (a TYPE_WORKER_CHANGED event). The time from the
  write's acknowledgement (its RPC returning to the writer) to each watcher receiving the
  event is the delivery latency (clamped at 0: an event may arrive before the ack does).
  Reported over all watchers, and per replica (the second replica learns of the write by
  following the shard's history in Temporal);
* RSS of each registry before the watchers connect and once they all are synced: the
  difference divided by its watchers is the memory per watcher.

Target (issue 15): a change reaches 1,000 watchers within 250 ms p99 of its acknowledgement.

Run it from the repository root:

    .venv/bin/python bench/watch_fanout.py
    .venv/bin/python bench/watch_fanout.py --watchers 200 --writes 20
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from multiprocessing.connection import Connection

import grpc
from benchlib import ADMIN_TOKEN, LatencySummary, Registry, authorized, rss_mib, running_stack
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc

TARGET_P99_MS = 250.0
WRITER = "fanout-writer"
STREAMS_PER_CHANNEL = 50
Event = registry_pb2.CatalogEvent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--watchers", type=int, default=1000, help="watch streams in all")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--writes", type=int, default=50, help="changes made")
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between changes")
    args = parser.parse_args(argv)
    if args.watchers < 2 or args.clients < 1 or args.writes < 1:
        parser.error("--watchers must be at least 2, --clients and --writes positive")
    return args


# --- a client process: watch streams, receipt times --------------------------------------------


def client_main(targets: list[str], watchers: int, pipe: Connection) -> None:
    """Open `watchers` streams over `targets` (round robin), say "synced" once each has seen
    SYNCED, then record when each stream receives each change of WRITER; on "stop", send
    [(target, seq, received_at), ...] back."""
    asyncio.run(_client(targets, watchers, pipe))


async def _client(targets: list[str], watchers: int, pipe: Connection) -> None:
    channels = {
        (target, n): grpc.aio.insecure_channel(target)
        for target in targets
        for n in range(max(1, watchers // len(targets) // STREAMS_PER_CHANNEL + 1))
    }
    keys = list(channels)
    received: list[tuple[str, int, float]] = []
    synced = 0
    all_synced = asyncio.Event()
    metadata = (("authorization", f"Bearer {ADMIN_TOKEN}"),)

    async def watch(i: int) -> None:
        nonlocal synced
        target, _ = key = keys[i % len(keys)]
        stub = registry_pb2_grpc.RegistryServiceStub(channels[key])
        call = stub.WatchCatalog(registry_pb2.WatchCatalogRequest(), metadata=metadata)
        async for event in call:
            if event.type == Event.TYPE_SYNCED:
                synced += 1
                if synced == watchers:
                    all_synced.set()
            elif event.worker.worker_id == WRITER and event.worker.labels.get("seq", "-1") != "-1":
                received.append((target, int(event.worker.labels["seq"]), time.time()))

    tasks = [asyncio.create_task(watch(i)) for i in range(watchers)]
    await all_synced.wait()
    pipe.send("synced")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels.values():
        await channel.close()
    pipe.send(received)


# --- the run ----------------------------------------------------------------------------------


def write(stub: registry_pb2_grpc.RegistryServiceStub, seq: int) -> tuple[float, float]:
    """Make change `seq`: when it was sent, and when it was acknowledged."""
    sent = time.time()
    stub.RegisterWorker(
        registry_pb2.RegisterWorkerRequest(
            worker_id=WRITER,
            task_queue="fanout-queue",
            ttl_seconds=3600,
            labels={"seq": str(seq)},
            workflows=[{"workflow_type": "fanout.watched.v1"}],
        ),
        timeout=30,
    )
    return sent, time.time()


def run(args: argparse.Namespace) -> str:
    with running_stack() as stack:
        second = Registry(stack.workdir, stack.temporal.address).start()
        try:
            second.wait_ready()
            return measure(stack.registry, second, args)
        finally:
            second.stop()


def pid_of(registry: Registry) -> int:
    assert registry.process is not None and registry.process.popen is not None
    return registry.process.popen.pid


def measure(first: Registry, second: Registry, args: argparse.Namespace) -> str:
    replicas = {first.grpc_target: "first", second.grpc_target: "second"}
    with grpc.insecure_channel(first.grpc_target) as channel:
        writer = registry_pb2_grpc.RegistryServiceStub(authorized(channel))
        write(writer, -1)  # the worker exists: from here on each write is one change
        named = (("first", first), ("second", second))
        rss_before = {name: rss_mib(pid_of(r)) for name, r in named}
        context = multiprocessing.get_context("spawn")
        clients = []
        per_client = [args.watchers // args.clients] * args.clients
        per_client[0] += args.watchers - sum(per_client)
        began = time.monotonic()
        for count in per_client:
            ours, theirs = context.Pipe()
            process = context.Process(
                target=client_main, args=(list(replicas), count, theirs), daemon=True
            )
            process.start()
            clients.append((process, ours))
        for _, pipe in clients:
            if not pipe.poll(180):
                raise TimeoutError("the watchers did not all sync within 180 s")
            pipe.recv()
        synced_in = time.monotonic() - began
        rss_after = {name: rss_mib(pid_of(r)) for name, r in named}
        print(f"{args.watchers} watchers synced in {synced_in:.1f} s", flush=True)

        sent: dict[int, float] = {}
        acked: dict[int, float] = {}
        for seq in range(args.writes):
            sent[seq], acked[seq] = write(writer, seq)
            time.sleep(args.interval)
        time.sleep(2.0)  # stragglers
        received: list[tuple[str, int, float]] = []
        for process, pipe in clients:
            pipe.send("stop")
            received.extend(pipe.recv())
            process.join(10)

    expected = args.watchers * args.writes
    delays: dict[str, list[float]] = {"first": [], "second": []}
    from_sent: list[float] = []
    early = 0
    for target, seq, at in received:
        if seq in acked:
            delay = at - acked[seq]
            early += delay < 0
            delays[replicas[target]].append(max(0.0, delay))
            from_sent.append(at - sent[seq])
    everything = LatencySummary.of(delays["first"] + delays["second"])
    writes = LatencySummary.of([acked[s] - sent[s] for s in acked])
    print(f"\n{len(received)} of {expected} deliveries ({early} before the writer saw the ack)")
    print(f"  the write itself  {writes.line()}")
    print(f"  sent to watcher   {LatencySummary.of(from_sent).line()}")
    print(f"  ack to watcher    {everything.line()}")
    for name in ("first", "second"):
        print(f"  {name:<6} replica    {LatencySummary.of(delays[name]).line()}")
    per_watcher = {
        name: (rss_after[name] - rss_before[name]) * 1024 / (args.watchers / 2)
        for name in ("first", "second")
    }
    print(
        "registry RSS       "
        + ", ".join(
            f"{name} {rss_before[name]:.1f} -> {rss_after[name]:.1f} MiB "
            f"({per_watcher[name]:.1f} KiB per watcher)"
            for name in ("first", "second")
        )
    )
    verdict = "met" if everything.p99_ms < TARGET_P99_MS and len(received) == expected else "MISSED"
    return (
        f"watch_fanout: {args.watchers} watchers on 2 replicas, {args.writes} changes: "
        f"{len(received)}/{expected} delivered, ack-to-watcher p50 {everything.p50_ms:.0f} ms "
        f"p99 {everything.p99_ms:.0f} ms (target p99 < {TARGET_P99_MS:g} ms: {verdict}; "
        f"write sent to watcher p99 {LatencySummary.of(from_sent).p99_ms:.0f} ms, the write "
        f"itself p50 {writes.p50_ms:.0f} ms); "
        f"writer's replica p99 {LatencySummary.of(delays['first']).p99_ms:.0f} ms, other "
        f"replica p99 {LatencySummary.of(delays['second']).p99_ms:.0f} ms; memory per watcher "
        f"{max(per_watcher.values()):.1f} KiB"
    )


def main(argv: list[str] | None = None) -> int:
    summary = run(parse_args(argv))
    print()
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
