"""Shared pieces of the benchmarks: a real stack (Temporal dev server, the registry,
Envoy) on free loopback ports in a temporary directory, and small measuring helpers.

The stack is the one the integration tests use (tests/integration/stack.py)."""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from integration.stack import (  # noqa: E402
    ADMIN_HEADERS,
    ADMIN_TOKEN,
    LOOPBACK,
    Envoy,
    Registry,
    TemporalDevServer,
    authorized,
    wait_ready,
)

__all__ = [
    "ADMIN_HEADERS",
    "ADMIN_TOKEN",
    "LOOPBACK",
    "LatencySummary",
    "Registry",
    "Stack",
    "aio_channel",
    "authorized",
    "cpu_seconds",
    "rss_mib",
    "running_stack",
]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Stack:
    workdir: Path
    temporal: TemporalDevServer
    registry: Registry
    envoy: Envoy

    @property
    def registry_pid(self) -> int:
        assert self.registry.process is not None and self.registry.process.popen is not None
        return self.registry.process.popen.pid


@contextlib.contextmanager
def running_stack(
    overrides: dict[str, Any] | None = None, *, quiet: bool = False
) -> Iterator[Stack]:
    """Start Temporal, the registry (config `overrides` merged over the test defaults) and
    Envoy; wait until the registry is ready through Envoy; stop everything on the way out.
    On an error the tail of the registry's log goes to stderr before the directory goes."""
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        workdir = Path(tmp)
        temporal = TemporalDevServer(workdir)
        registry: Registry | None = None
        envoy: Envoy | None = None
        started = time.monotonic()
        try:
            temporal.start()
            registry = Registry(workdir, temporal.address, overrides=overrides or {}).start()
            envoy = Envoy(workdir, registry).start()
            wait_ready(envoy.http_url)
            if not quiet:
                print(
                    f"stack up in {time.monotonic() - started:.1f} s: temporal {temporal.address}, "
                    f"registry gRPC {registry.grpc_target}, envoy {envoy.http_url}",
                    flush=True,
                )
            yield Stack(workdir, temporal, registry, envoy)
        except BaseException:
            if registry is not None and registry.process is not None:
                tail = registry.process.log().splitlines()[-30:]
                print("--- registry log (tail) ---", *tail, sep="\n", file=sys.stderr)
            raise
        finally:
            for stop in (
                envoy.stop if envoy else None,
                registry.stop if registry else None,
                temporal.stop,
            ):
                if stop is not None:
                    try:
                        stop()
                    except Exception as error:  # keep stopping the rest
                        print(f"stopping: {error!r}", file=sys.stderr)


def rss_mib(pid: int) -> float:
    """Resident set size of a process, from /proc/<pid>/status (VmRSS, kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of already sorted values; nan when empty."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> LatencySummary:
        values = sorted(seconds)
        ms = 1000
        return cls(
            count=len(values),
            p50_ms=percentile(values, 50) * ms,
            p90_ms=percentile(values, 90) * ms,
            p99_ms=percentile(values, 99) * ms,
            max_ms=(values[-1] if values else float("nan")) * ms,
            mean_ms=(statistics.fmean(values) if values else float("nan")) * ms,
        )

    def line(self) -> str:
        return (
            f"p50 {self.p50_ms:.2f} ms  p90 {self.p90_ms:.2f} ms  p99 {self.p99_ms:.2f} ms  "
            f"max {self.max_ms:.1f} ms  mean {self.mean_ms:.2f} ms  (n={self.count})"
        )


class _AioToken(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        metadata = (*(details.metadata or ()), ("authorization", f"Bearer {ADMIN_TOKEN}"))
        return await continuation(details._replace(metadata=metadata), request)


def aio_channel(target: str) -> grpc.aio.Channel:
    """An asyncio channel that sends the stack's admin token (auth is on, as in production)."""
    return grpc.aio.insecure_channel(target, interceptors=[_AioToken()])
