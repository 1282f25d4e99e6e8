"""The foundation end to end: /health, /ready and /registry/status through Envoy
(HTTP/JSON) and over native gRPC, the standard health and reflection services,
namespace provisioning, readiness reasons and clean shutdown."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import signal
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, system_pb2, system_pb2_grpc
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from integration.stack import (
    ADMIN_HEADERS,
    LOOPBACK,
    Envoy,
    Registry,
    TemporalDevServer,
    wait_until,
)

pytestmark = pytest.mark.integration

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def test_health_over_http(http: httpx.Client) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_over_http(http: httpx.Client) -> None:
    response = http.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["registry_workflow_id"] == "workflow-registry/root"
    assert body["registry_run_id"]


def test_status_over_http_keeps_the_seed_field_names(
    http: httpx.Client, registry: Registry
) -> None:
    response = http.get("/registry/status")
    assert response.status_code == 200
    body = response.json()
    # The 0.1.x counts, always printed (other tests may have registered things by now).
    for name in ("workflow_count", "worker_count", "healthy_worker_count"):
        assert isinstance(body[name], int) and body[name] >= 0, name
    assert body["healthy_worker_count"] <= body["worker_count"]
    assert body["started_at_epoch"] > 1.7e9
    assert body["last_registry_service_started_epoch"] >= body["started_at_epoch"] - 1
    assert body["registry_service_process_id"] == registry.process.popen.pid  # type: ignore[union-attr]
    assert body["history_length"] > 0
    assert body["registry_run_id"]
    assert body["namespace"] == "default"
    assert body["task_queue"] == "temporal-registry"


@pytest.mark.parametrize("channel_name", ["registry_channel", "gateway_channel"])
def test_rpcs_over_native_grpc(channel_name: str, request: pytest.FixtureRequest) -> None:
    channel: grpc.Channel = request.getfixturevalue(channel_name)
    system = system_pb2_grpc.SystemServiceStub(channel)
    assert system.GetHealth(system_pb2.GetHealthRequest()).status == "ok"
    assert system.GetReadiness(system_pb2.GetReadinessRequest()).status == "ready"
    status = registry_pb2_grpc.RegistryServiceStub(channel).GetRegistryStatus(
        registry_pb2.GetRegistryStatusRequest()
    )
    assert status.registry_workflow_id == "workflow-registry/root"
    assert status.history_length > 0


@pytest.mark.parametrize("channel_name", ["registry_channel", "gateway_channel"])
def test_standard_health_service(channel_name: str, request: pytest.FixtureRequest) -> None:
    health = health_pb2_grpc.HealthStub(request.getfixturevalue(channel_name))
    for service in (
        "",
        "temporal_registry.v1.SystemService",
        "temporal_registry.v1.RegistryService",
    ):
        response = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == health_pb2.HealthCheckResponse.SERVING, service


@pytest.mark.parametrize("channel_name", ["registry_channel", "gateway_channel"])
def test_reflection_lists_the_services(channel_name: str, request: pytest.FixtureRequest) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(request.getfixturevalue(channel_name))
    responses = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert {
        "temporal_registry.v1.SystemService",
        "temporal_registry.v1.RegistryService",
        "grpc.health.v1.Health",
    } <= names


def test_envoy_errors_are_status_json(http: httpx.Client) -> None:
    unknown_route = http.get("/no/such/route")
    assert unknown_route.status_code == 404
    assert unknown_route.headers["content-type"].startswith("application/json")
    assert unknown_route.json()["code"] == 5
    unknown_param = http.get("/registry/status", params={"bogus": "1"})
    assert unknown_param.status_code == 400
    assert unknown_param.json()["code"] == 3


def test_metrics_pass_through(http: httpx.Client) -> None:
    http.get("/health")
    response = http.get("/metrics")
    assert response.status_code == 200
    assert "text/plain" in response.headers["content-type"]
    assert (
        'temporal_registry_rpc_requests_total{code="OK",method="/temporal_registry.v1.SystemService/GetHealth"}'
        in response.text
    )


def test_openapi_document_through_envoy(http: httpx.Client) -> None:
    response = http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    packaged = files("temporal_registry.v1").joinpath("openapi.json").read_bytes()
    assert response.content == packaged
    assert "/workflows/{workflow_type}/start" in response.json()["paths"]


def test_a_header_name_grpc_cannot_carry_is_a_400_status(envoy: Envoy) -> None:
    """HTTP allows header names gRPC metadata does not: Envoy refuses them up front
    instead of letting the registry's gRPC server fail the call with INTERNAL."""
    connection = http.client.HTTPConnection(LOOPBACK, envoy.port, timeout=10)
    connection.putrequest("GET", "/registry/status")
    connection.putheader("+", "x")
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 400
    body = json.loads(response.read())
    assert body["code"] == 3 and "header name + is not allowed" in body["message"]


def test_docs_page_works_offline(http: httpx.Client) -> None:
    page = http.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    scripts = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert scripts and all(url.startswith("/docs/") for url in scripts)  # nothing from a CDN
    assert '"/openapi.json"' in page.text
    for url in scripts:
        asset = http.get(url)
        assert asset.status_code == 200, url
    bundle = http.get("/docs/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text
    missing = http.get("/docs/nothing.js")
    assert missing.status_code == 404 and missing.json()["code"] == 5


def test_namespace_is_created_with_configured_retention(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    registry = Registry(
        workdir,
        temporal.address,
        namespace="created-by-registry",
        overrides={"temporal": {"namespace_retention_days": 3}},
    ).start()
    try:
        envoy = Envoy(workdir, registry).start()
        try:
            wait_until(lambda: httpx.get(f"{envoy.http_url}/ready").status_code == 200, 60, "ready")

            async def describe() -> Any:
                client = await Client.connect(temporal.address)
                return await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace="created-by-registry")
                )

            described = asyncio.run(describe())
            assert described.config.workflow_execution_retention_ttl.seconds == 3 * 86_400
        finally:
            envoy.stop()
    finally:
        assert registry.stop() == 0


def test_not_ready_has_a_reason_over_grpc_and_http(workdir: Path) -> None:
    """A registry whose Temporal is unreachable is alive but not ready, and says why."""
    from registry.server.ports import free_port

    registry = Registry(workdir, f"127.0.0.1:{free_port()}").start()
    envoy = Envoy(workdir, registry).start()
    try:
        with grpc.insecure_channel(registry.grpc_target) as channel:
            system = system_pb2_grpc.SystemServiceStub(channel)
            assert system.GetHealth(system_pb2.GetHealthRequest()).status == "ok"
            with pytest.raises(grpc.RpcError) as raised:
                system.GetReadiness(system_pb2.GetReadinessRequest())
            error = raised.value
            assert error.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
            status = rpc_status.from_call(error)  # type: ignore[arg-type]
            info = error_details_pb2.ErrorInfo()
            assert status is not None and status.details[0].Unpack(info)
            assert info.reason in {"TEMPORAL_UNAVAILABLE", "TEMPORAL_CONNECTING"}
            assert info.domain == "temporal-registry"

        response = httpx.get(f"{envoy.http_url}/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["code"] == 14
        assert "Temporal" in body["message"]
        assert body["details"][0]["@type"] == ERROR_INFO
        assert body["details"][0]["reason"] in {"TEMPORAL_UNAVAILABLE", "TEMPORAL_CONNECTING"}
        status_response = httpx.get(f"{envoy.http_url}/registry/status", headers=ADMIN_HEADERS)
        assert status_response.status_code == 503
        assert set(status_response.json()) == {"code", "message", "details"}
    finally:
        envoy.stop()
        registry.stop()


def test_sigterm_shuts_down_cleanly(workdir: Path, temporal: TemporalDevServer) -> None:
    registry = Registry(workdir, temporal.address).start()
    with grpc.insecure_channel(registry.grpc_target) as channel:
        system = system_pb2_grpc.SystemServiceStub(channel)
        wait_until(
            lambda: system.GetReadiness(system_pb2.GetReadinessRequest()).status == "ready",
            30,
            "second registry ready",
        )
    started = time.monotonic()
    assert registry.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    assert "shutting down" in registry.process.log()  # type: ignore[union-attr]


def test_reads_are_unavailable_with_a_reason_when_temporal_goes_away(workdir: Path) -> None:
    """Once ready, losing Temporal makes /ready and /registry/status 503 with the
    same reason, not an INTERNAL error."""
    own_temporal = TemporalDevServer(workdir / "lost-temporal")
    own_temporal.workdir.mkdir()
    own_temporal.start()
    registry = Registry(
        workdir, own_temporal.address, overrides={"registry": {"query_timeout_seconds": 2}}
    ).start()
    envoy = Envoy(workdir, registry).start()
    try:
        wait_until(lambda: httpx.get(f"{envoy.http_url}/ready").status_code == 200, 60, "ready")
        own_temporal.stop()
        for path in ("/ready", "/registry/status"):
            response = httpx.get(f"{envoy.http_url}{path}", timeout=30, headers=ADMIN_HEADERS)
            assert response.status_code == 503, (path, response.text)
            body = response.json()
            assert body["code"] == 14
            assert body["details"][0]["reason"] == "REGISTRY_WORKFLOW_UNAVAILABLE", path
            assert "workflow-registry/root does not answer" in body["message"]
    finally:
        envoy.stop()
        registry.stop()
        own_temporal.stop()
