"""Real processes for integration tests: a Temporal dev server, the registry
(`temporal-registry serve` in a subprocess) and Envoy, each on free loopback
ports, started and stopped by fixtures. Nothing here is a mock."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
import httpx
import yaml
from temporal_registry.v1 import system_pb2, system_pb2_grpc

from registry.devstack.gateway import (
    GatewayLayout,
    envoy_command,
    render_envoy_config,
    transcoded_services,
)
from registry.devstack.stack import temporal_dev_server_command
from registry.server.ports import free_port as free_port  # re-exported for the tests

REPO = Path(__file__).resolve().parents[2]
# The tokens every test registry accepts (auth is on by default, as in production).
WORKER_TOKEN = "test-worker-token-0123456789"
CLIENT_TOKEN = "test-client-token-0123456789"
ADMIN_TOKEN = "test-admin-token-0123456789"
AUTH = {
    "worker_tokens": WORKER_TOKEN,
    "client_tokens": CLIENT_TOKEN,
    "admin_tokens": ADMIN_TOKEN,
}
ADMIN_HEADERS = {"authorization": f"Bearer {ADMIN_TOKEN}"}
DESCRIPTOR = REPO / "gen" / "descriptor.binpb"
LOOPBACK = "127.0.0.1"


def wait_until(
    predicate: Any, timeout: float, what: str, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {process.returncode}")
        try:
            if predicate():
                return
        except (OSError, httpx.HTTPError, grpc.RpcError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f} s")


def port_accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((LOOPBACK, port)) == 0


@dataclass
class Process:
    """A child process with its log file; stop() is idempotent."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
            )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.popen is None:
            return 0
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class TemporalDevServer:
    workdir: Path
    port: int = field(default_factory=free_port)
    process: Process | None = None
    extra_args: list[str] = field(default_factory=list)  # e.g. --dynamic-config-value ...

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self) -> TemporalDevServer:
        argv = temporal_dev_server_command(
            host=LOOPBACK,
            port=self.port,
            ui_port=free_port(),
            http_port=free_port(),
            metrics_port=free_port(),
            db_file=self.workdir / "temporal.db",
            headless=True,
        )
        argv += self.extra_args
        self.process = Process("temporal", argv, self.workdir / "temporal.log").start()
        wait_until(lambda: port_accepts(self.port), 60, "temporal dev server", self.process.popen)
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()


def start_echo_worker(workdir: Path, temporal_address: str, task_queue: str) -> Process:
    """A real Temporal worker (tests/integration/echo_worker.py) polling task_queue."""
    worker = Process(
        f"echo-worker-{task_queue}",
        [sys.executable, "-m", "integration.echo_worker", temporal_address, task_queue],
        workdir / f"echo-worker-{task_queue}.log",
        cwd=REPO / "tests",
    ).start()
    wait_until(lambda: "polling" in worker.log(), 30, "echo worker", worker.popen)
    return worker


# What the registry's commands run with: the test's environment, without the variables that
# would override their config file.
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "REGISTRY_"))}


@dataclass
class Registry:
    """`temporal-registry serve` with a config file written for this test."""

    workdir: Path
    temporal_address: str
    namespace: str = "default"
    overrides: dict[str, Any] = field(default_factory=dict)
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    process: Process | None = None

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "server": {
                "host": LOOPBACK,
                "grpc_port": self.grpc_port,
                "http_port": self.http_port,
                "shutdown_grace_seconds": 1,
            },
            "temporal": {"address": self.temporal_address, "namespace": self.namespace},
            "logging": {"level": "INFO", "json": True},
            "auth": dict(AUTH),
        }
        for section, values in self.overrides.items():
            config.setdefault(section, {}).update(values)
        return config

    def write_config(self) -> Path:
        """The config file `serve` (and `export`, `import`) read."""
        config_path = self.workdir / f"registry-{self.grpc_port}.yaml"
        config_path.write_text(yaml.safe_dump(self.config()))
        return config_path

    def command(self, *args: str) -> list[str]:
        """A `temporal-registry` command with this registry's config file."""
        return [
            sys.executable,
            "-m",
            "registry.cli",
            args[0],
            "-f",
            str(self.write_config()),
            *args[1:],
        ]

    def start(self) -> Registry:
        self.process = Process(
            "registry", self.command("serve"), self.workdir / f"registry-{self.grpc_port}.log", ENV
        ).start()
        wait_until(
            lambda: port_accepts(self.grpc_port), 30, "registry gRPC port", self.process.popen
        )
        return self

    @property
    def grpc_target(self) -> str:
        return f"{LOOPBACK}:{self.grpc_port}"

    def wait_ready(self, timeout: float = 60) -> None:
        """Until its readiness RPC answers (Temporal reached, every shard read)."""
        with grpc.insecure_channel(self.grpc_target) as channel:
            system = system_pb2_grpc.SystemServiceStub(channel)
            wait_until(
                lambda: system.GetReadiness(system_pb2.GetReadinessRequest(), timeout=5),
                timeout,
                "registry ready",
                self.process.popen if self.process else None,
            )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        return self.process.stop(sig) if self.process else 0


class Upstream(Protocol):
    """What Envoy forwards to: a Registry, or servers standing in for one."""

    @property
    def grpc_port(self) -> int: ...

    @property
    def http_port(self) -> int: ...


@dataclass(frozen=True)
class UpstreamPorts:
    """An Upstream given by its ports alone."""

    grpc_port: int
    http_port: int


@dataclass
class Envoy:
    workdir: Path
    registry: Upstream
    port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    max_request_bytes: int = 1 << 20
    process: Process | None = None

    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def grpc_target(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def layout(self) -> GatewayLayout:
        return GatewayLayout(
            listen_host=LOOPBACK,
            listen_port=self.port,
            admin_host=LOOPBACK,
            admin_port=self.admin_port,
            registry_grpc_host=LOOPBACK,
            registry_grpc_port=self.registry.grpc_port,
            registry_http_host=LOOPBACK,
            registry_http_port=self.registry.http_port,
            descriptor_path=str(DESCRIPTOR),
            max_request_bytes=self.max_request_bytes,
            max_response_bytes=4 << 20,
            services=transcoded_services(DESCRIPTOR),
        )

    def write_config(self) -> Path:
        config_path = self.workdir / f"envoy-{self.port}.yaml"
        config_path.write_text(render_envoy_config(self.layout()))
        return config_path

    def start(self) -> Envoy:
        config_path = self.write_config()
        self.process = Process(
            "envoy", envoy_command(config_path), self.workdir / f"envoy-{self.port}.log"
        ).start()
        admin = f"http://{LOOPBACK}:{self.admin_port}/ready"
        wait_until(lambda: httpx.get(admin).status_code == 200, 30, "envoy", self.process.popen)
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()


def wait_ready(http_url: str, timeout: float = 60) -> None:
    wait_until(
        lambda: httpx.get(f"{http_url}/ready").status_code == 200, timeout, "registry /ready"
    )


class _Token(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        metadata = (*(details.metadata or ()), *self._metadata)
        return continuation(details._replace(metadata=metadata), request)


def authorized(channel: grpc.Channel, token: str = ADMIN_TOKEN) -> grpc.Channel:
    """channel, sending `token` as a bearer token on every unary call."""
    return grpc.intercept_channel(channel, _Token(token))


@contextlib.contextmanager
def own_stack(workdir: Path) -> Iterator[tuple[TemporalDevServer, Registry, Envoy]]:
    """A Temporal dev server, registry and Envoy of their own (fresh namespace state, e.g.
    search attribute slots), ready, stopped on the way out."""
    temporal = TemporalDevServer(workdir).start()
    registry = Registry(workdir, temporal.address).start()
    envoy = Envoy(workdir, registry).start()
    try:
        wait_ready(envoy.http_url)
        yield temporal, registry, envoy
    finally:
        envoy.stop()
        registry.stop()
        temporal.stop()
