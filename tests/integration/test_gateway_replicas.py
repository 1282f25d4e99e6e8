"""Envoy in front of several registry replicas, as docker-compose runs it.

In docker-compose the `registry` service has two replicas; Envoy's STRICT_DNS clusters
resolve the service name to one endpoint per replica. No container engine runs here, so
these tests render the real template and give its registry_grpc cluster two endpoints on
loopback (what the two A records become), in front of two small gRPC servers whose health
status the tests control. Only the timers of the health checks and of outlier detection
are shortened, so a test sees in a second what takes a few seconds in production.

They pin what the deployment relies on: requests are balanced per request over every
ready replica; a replica whose gRPC health is not SERVING (starting, or cut off from
Temporal) gets nothing; a dead replica costs no failed request; and when no replica is
ready, requests still reach one, which says why. The last test puts two real registries
(one registry workflow) behind the same config and restarts one under traffic.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import yaml
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from temporal_registry.v1 import system_pb2, system_pb2_grpc

from integration.stack import (
    ADMIN_HEADERS,
    DESCRIPTOR,
    LOOPBACK,
    Process,
    Registry,
    TemporalDevServer,
    free_port,
    wait_until,
)
from integration.test_registry_durability import own_registry_settings, running
from registry.devstack.gateway import (
    GatewayLayout,
    envoy_command,
    render_envoy_config,
    transcoded_services,
)

pytestmark = pytest.mark.integration

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
FAST_TIMERS = {"interval": "0.3s", "no_traffic_interval": "0.3s", "interval_jitter": "0s"}


class System(system_pb2_grpc.SystemServiceServicer):
    """GetHealth answers with the replica's name; GetReadiness with its health status."""

    def __init__(self, name: str, health_servicer: health.HealthServicer) -> None:
        self.name = name
        self.health = health_servicer
        self.serving = True
        self.last_call = 0.0  # time.monotonic() of the last GetHealth

    def GetHealth(
        self, request: system_pb2.GetHealthRequest, context: grpc.ServicerContext
    ) -> system_pb2.GetHealthResponse:
        self.last_call = time.monotonic()
        return system_pb2.GetHealthResponse(status=self.name)

    def GetReadiness(
        self, request: system_pb2.GetReadinessRequest, context: grpc.ServicerContext
    ) -> system_pb2.GetReadinessResponse:
        if not self.serving:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"{self.name}: cannot reach Temporal")
        return system_pb2.GetReadinessResponse(status="ready")


@dataclasses.dataclass
class Replica:
    name: str
    server: grpc.Server
    port: int
    system: System

    def set_serving(self, serving: bool) -> None:
        self.system.serving = serving
        self.system.health.set("", SERVING if serving else NOT_SERVING)

    def stop(self) -> None:
        self.server.stop(grace=None).wait()


def start_replica(name: str) -> Replica:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    health_servicer = health.HealthServicer()
    health_servicer.set("", SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    system = System(name, health_servicer)
    system_pb2_grpc.add_SystemServiceServicer_to_server(system, server)
    port = server.add_insecure_port(f"{LOOPBACK}:0")
    server.start()
    return Replica(name, server, port, system)


def replica_config(grpc_ports: list[int], http_port: int, admin_port: int, port: int) -> str:
    """The rendered template, its registry_grpc cluster holding one endpoint per port."""
    layout = GatewayLayout(
        listen_host=LOOPBACK,
        listen_port=port,
        admin_host=LOOPBACK,
        admin_port=admin_port,
        registry_grpc_host=LOOPBACK,
        registry_grpc_port=grpc_ports[0],
        registry_http_host=LOOPBACK,
        registry_http_port=http_port,
        descriptor_path=str(DESCRIPTOR),
        max_request_bytes=1 << 20,
        max_response_bytes=4 << 20,
        services=transcoded_services(DESCRIPTOR),
    )
    config: dict[str, Any] = yaml.safe_load(render_envoy_config(layout))
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    grpc_cluster = clusters["registry_grpc"]
    # safe_load shares the anchored outlier_detection mapping between clusters: copy first.
    for cluster in clusters.values():
        cluster["outlier_detection"] = {**cluster["outlier_detection"], "interval": "0.3s"}
        for check in cluster["health_checks"]:
            check.update(FAST_TIMERS)
    endpoints = grpc_cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    (template_endpoint,) = endpoints
    for other in grpc_ports[1:]:
        endpoint = yaml.safe_load(yaml.safe_dump(template_endpoint))
        endpoint["endpoint"]["address"]["socket_address"]["port_value"] = other
        endpoints.append(endpoint)
    return yaml.safe_dump(config, sort_keys=False)


@dataclasses.dataclass
class Gateway:
    process: Process
    port: int
    admin_port: int

    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def host_health(self) -> dict[int, str]:
        """registry_grpc endpoint port -> Envoy's health_flags for it."""
        text = httpx.get(f"http://{LOOPBACK}:{self.admin_port}/clusters", timeout=5).text
        pattern = rf"^registry_grpc::{re.escape(LOOPBACK)}:(\d+)::health_flags::(\S+)$"
        return {int(p): flags for p, flags in re.findall(pattern, text, re.MULTILINE)}


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    started = [start_replica("replica-a"), start_replica("replica-b")]
    yield started
    for replica in started:
        replica.stop()


@contextlib.contextmanager
def gateway_for(tmp_path: Path, grpc_ports: list[int], http_port: int) -> Iterator[Gateway]:
    """Envoy with the replica-aware template in front of grpc_ports, once every one is
    healthy in Envoy's eyes."""
    port, admin_port = free_port(), free_port()
    config = tmp_path / "envoy.yaml"
    config.write_text(replica_config(grpc_ports, http_port, admin_port, port), encoding="utf-8")
    process = Process("envoy", envoy_command(config), tmp_path / "envoy.log").start()
    gateway = Gateway(process, port, admin_port)
    try:
        wait_until(
            lambda: httpx.get(f"http://{LOOPBACK}:{admin_port}/ready").status_code == 200,
            30,
            "envoy",
            process.popen,
        )
        wait_until(
            lambda: set(gateway.host_health().values()) == {"healthy"}, 30, "replicas healthy"
        )
        yield gateway
    finally:
        process.stop()


@pytest.fixture
def gateway(tmp_path: Path, replicas: list[Replica]) -> Iterator[Gateway]:
    with gateway_for(tmp_path, [r.port for r in replicas], free_port()) as started:
        yield started


def answered_by(gateway: Gateway, requests: int = 20) -> Counter[str]:
    """Which replica answered each of `requests` GET /health calls (all must succeed)."""
    seen: Counter[str] = Counter()
    with httpx.Client(base_url=gateway.http_url, timeout=5) as client:
        for _ in range(requests):
            response = client.get("/health")
            assert response.status_code == 200, response.text
            seen[response.json()["status"]] += 1
    return seen


def test_requests_are_balanced_over_every_ready_replica(gateway: Gateway) -> None:
    assert set(answered_by(gateway)) == {"replica-a", "replica-b"}
    # Native gRPC too, over ONE client connection: Envoy balances streams, not connections.
    seen: Counter[str] = Counter()
    with grpc.insecure_channel(f"{LOOPBACK}:{gateway.port}") as channel:
        stub = system_pb2_grpc.SystemServiceStub(channel)
        for _ in range(20):
            seen[stub.GetHealth(system_pb2.GetHealthRequest(), timeout=5).status] += 1
    assert set(seen) == {"replica-a", "replica-b"}


def test_a_replica_that_is_not_ready_gets_no_traffic(
    gateway: Gateway, replicas: list[Replica]
) -> None:
    b = replicas[1]
    b.set_serving(False)
    # Once a health check saw it (Envoy's workers pick the change up a moment after the
    # admin page shows it), every request goes to replica-a.
    wait_until(lambda: answered_by(gateway) == {"replica-a": 20}, 10, "only replica-a answers")
    b.set_serving(True)
    wait_until(lambda: len(answered_by(gateway)) == 2, 10, "replica-b answers again")


def test_a_dead_replica_costs_no_failed_request(gateway: Gateway, replicas: list[Replica]) -> None:
    b = replicas[1]
    b.stop()
    # At once, before any health check could notice: the requests Envoy sends to the dead
    # replica fail to connect and are retried on the other one (answered_by asserts 200).
    assert answered_by(gateway) == {"replica-a": 20}
    wait_until(lambda: gateway.host_health()[b.port] != "healthy", 10, "replica-b marked unhealthy")


def test_with_no_replica_ready_requests_still_reach_one(
    gateway: Gateway, replicas: list[Replica]
) -> None:
    for replica in replicas:
        replica.set_serving(False)
    wait_until(
        lambda: "healthy" not in set(gateway.host_health().values()), 10, "no replica healthy"
    )
    # Below the panic threshold Envoy uses every replica again: /ready gets the reason.
    response = httpx.get(f"{gateway.http_url}/ready", timeout=5)
    assert response.status_code == 503, response.text
    assert response.json()["code"] == 14
    assert "cannot reach Temporal" in response.json()["message"]


def test_a_replica_shutting_down_costs_no_failed_request(
    gateway: Gateway, replicas: list[Replica]
) -> None:
    """A replica leaving as a rolling restart makes it leave (server.shutdown_drain_seconds):
    it reports NOT_SERVING, waits until Envoy's health check has seen that (so no new
    request is on its way to it), then drains in-flight calls and stops. Stopping right
    after NOT_SERVING races requests already routed to it: about one in a few thousand
    then fails with CANCELLED (see docs/operations.md, upgrades)."""
    b = replicas[1]
    failures: list[str] = []
    answered: Counter[str] = Counter()
    stop = threading.Event()

    def client_loop() -> None:
        with httpx.Client(base_url=gateway.http_url, timeout=5) as client:
            while not stop.is_set():
                response = client.get("/health")
                if response.status_code == 200:
                    answered[response.json()["status"]] += 1
                else:
                    failures.append(response.text)

    threads = [threading.Thread(target=client_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: answered["replica-b"] > 10, 10, "traffic on replica-b")
        b.set_serving(False)
        wait_until(
            lambda: gateway.host_health()[b.port] != "healthy", 10, "replica-b marked unhealthy"
        )
        # Envoy hands health changes to its workers in batches (update_merge_window, 1 s):
        # wait until replica-b has had no request for a while, then stop it.
        wait_until(lambda: time.monotonic() - b.system.last_call > 0.5, 10, "replica-b idle")
        b.server.stop(grace=2).wait()
        before = answered["replica-a"]
        wait_until(lambda: answered["replica-a"] > before + 20, 10, "traffic on replica-a")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures[:3]


def status_calls(registry: Registry) -> int:
    """GetRegistryStatus calls this registry answered, from its access log (its answer is
    the registry's state, the same from every replica)."""
    assert registry.process is not None
    text = registry.process.log_path.read_text(errors="replace")
    return text.count('"rpc": "/temporal_registry.v1.RegistryService/GetRegistryStatus"')


def test_real_registry_replicas_share_the_load_and_survive_a_rolling_restart(
    tmp_path: Path, workdir: Path, temporal: TemporalDevServer
) -> None:
    """Two real registries on one registry workflow behind the same Envoy config: both
    answer, and SIGTERM to one (drain, then stop) under steady traffic fails nothing."""
    shared = {**own_registry_settings(), "server": {"shutdown_drain_seconds": 1.5}}
    first = Registry(workdir, temporal.address, overrides=shared)
    second = Registry(workdir, temporal.address, overrides=shared)
    with (
        running(first),
        running(second),
        gateway_for(tmp_path, [first.grpc_port, second.grpc_port], first.http_port) as gateway,
        httpx.Client(base_url=gateway.http_url, timeout=10, headers=ADMIN_HEADERS) as client,
    ):
        for _ in range(20):
            response = client.get("/registry/status")
            assert response.status_code == 200, response.text
        wait_until(lambda: status_calls(first) > 0 and status_calls(second) > 0, 5, "both answered")

        failures: list[str] = []
        stop = threading.Event()

        def client_loop() -> None:
            with httpx.Client(base_url=gateway.http_url, timeout=10, headers=ADMIN_HEADERS) as c:
                while not stop.is_set():
                    response = c.get("/registry/status")
                    if response.status_code != 200:
                        failures.append(response.text)

        threads = [threading.Thread(target=client_loop) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            assert second.process is not None
            second.process.popen.send_signal(signal.SIGTERM)  # a rolling restart's first step
            assert second.process.popen.wait(20) == 0
            before = status_calls(first)
            wait_until(lambda: status_calls(first) > before + 20, 10, "traffic on the other")
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert not failures, failures[:3]
