"""The rendered Envoy gateway, run for real in front of a small real gRPC server.

The upstreams are written here (a sync grpc.server and an http.server), so these
tests pin Envoy's behaviour: transcoding, error shapes, pass-through routes and
native gRPC through the same listener.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from grpc_status import rpc_status
from temporal_registry.v1 import (
    registry_pb2,
    registry_pb2_grpc,
    system_pb2,
    system_pb2_grpc,
)

from integration.stack import Envoy, UpstreamPorts, free_port
from registry.devstack.gateway import envoy_command

pytestmark = pytest.mark.integration

MAX_REQUEST_BYTES = 64 * 1024
METRICS_BODY = b"# TYPE registry_up gauge\nregistry_up 1\n"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENAPI_BODY = b'{"openapi": "3.1.0"}'
ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"


# ---------------------------------------------------------------- gateway


def gateway_envoy(workdir: Path, grpc_port: int, http_port: int) -> Envoy:
    """Envoy on free loopback ports in front of the given upstream ports."""
    return Envoy(workdir, UpstreamPorts(grpc_port, http_port), max_request_bytes=MAX_REQUEST_BYTES)


@contextlib.contextmanager
def running_envoy(workdir: Path, grpc_port: int, http_port: int) -> Iterator[Envoy]:
    """gateway_envoy, started until the block exits (stopped even if it never got ready)."""
    envoy = gateway_envoy(workdir, grpc_port, http_port)
    try:
        yield envoy.start()
    finally:
        envoy.stop()


# ---------------------------------------------------------------- upstreams


def packed(message: Any) -> any_pb2.Any:
    wrapper = any_pb2.Any()
    wrapper.Pack(message)
    return wrapper


class SystemServicer(system_pb2_grpc.SystemServiceServicer):
    def __init__(self) -> None:
        self.metadata: list[dict[str, str]] = []

    def GetHealth(
        self, request: system_pb2.GetHealthRequest, context: grpc.ServicerContext
    ) -> system_pb2.GetHealthResponse:
        metadata = {m.key: str(m.value) for m in context.invocation_metadata()}
        self.metadata.append(metadata)
        # Lets a test hold the reply back, so Envoy has read the whole request first.
        time.sleep(float(metadata.get("x-test-delay-seconds", "0")))
        return system_pb2.GetHealthResponse(status="ok")

    def GetReadiness(
        self, request: system_pb2.GetReadinessRequest, context: grpc.ServicerContext
    ) -> system_pb2.GetReadinessResponse:
        error_info = error_details_pb2.ErrorInfo(
            reason="REGISTRY_NOT_READY",
            domain="temporal-registry.dev",
            metadata={"namespace": "default"},
        )
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field="namespace", description="namespace does not exist"
                )
            ]
        )
        status = status_pb2.Status(
            code=code_pb2.UNAVAILABLE,
            message="registry is not ready",
            details=[packed(error_info), packed(bad_request)],
        )
        context.abort_with_status(rpc_status.to_status(status))
        raise AssertionError("unreachable")


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def GetRegistryStatus(
        self, request: registry_pb2.GetRegistryStatusRequest, context: grpc.ServicerContext
    ) -> registry_pb2.GetRegistryStatusResponse:
        # Zero values on purpose: the gateway must still print them.
        return registry_pb2.GetRegistryStatusResponse(
            workflow_count=3,
            worker_count=0,
            healthy_worker_count=0,
            registry_workflow_id="temporal-registry",
        )


@dataclasses.dataclass
class GrpcUpstream:
    server: grpc.Server
    port: int
    system: SystemServicer


def start_grpc_upstream() -> GrpcUpstream:
    """SystemService, RegistryService, grpc.health.v1 and reflection on a free port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    system = SystemServicer()
    system_pb2_grpc.add_SystemServiceServicer_to_server(system, server)
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(), server)
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            system_pb2.DESCRIPTOR.services_by_name["SystemService"].full_name,
            registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name,
            health.SERVICE_NAME,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return GrpcUpstream(server, port, system)


class PagesHandler(http.server.BaseHTTPRequestHandler):
    """The registry's plain-HTTP listener, reduced to /metrics, /openapi.json and /docs."""

    def do_GET(self) -> None:
        if self.path == "/metrics":
            body, content_type = METRICS_BODY, METRICS_CONTENT_TYPE
        elif self.path == "/openapi.json":
            body, content_type = OPENAPI_BODY, "application/json"
        elif self.path == "/docs/index.html":
            body, content_type = b"<html>docs</html>", "text/html; charset=utf-8"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def grpc_upstream() -> Iterator[GrpcUpstream]:
    upstream = start_grpc_upstream()
    yield upstream
    upstream.server.stop(grace=None)


@pytest.fixture(scope="module")
def http_upstream_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PagesHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def gateway(
    grpc_upstream: GrpcUpstream, http_upstream_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Envoy]:
    workdir = tmp_path_factory.mktemp("envoy")
    with running_envoy(workdir, grpc_upstream.port, http_upstream_port) as envoy:
        yield envoy


@pytest.fixture(scope="module")
def client(gateway: Envoy) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.http_url, timeout=5.0) as http_client:
        yield http_client


@pytest.fixture(scope="module")
def channel(gateway: Envoy) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(gateway.grpc_target) as grpc_channel:
        yield grpc_channel


def assert_status_json(response: httpx.Response, http_status: int, code: int) -> dict[str, Any]:
    """response is a google.rpc.Status JSON with the given codes; returns the body."""
    assert response.status_code == http_status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert type(body["code"]) is int, body  # a JSON number, not "3" nor 3.0
    assert body["code"] == code, body
    assert isinstance(body["message"], str), body
    assert body["message"], body
    assert body["details"] == [], body
    return body


# ---------------------------------------------------------------- tests


def test_rendered_config_validates(tmp_path: Path) -> None:
    config = gateway_envoy(tmp_path, free_port(), free_port()).write_config()
    assert "${" not in config.read_text(encoding="utf-8").split("\nadmin:", 1)[1]
    result = subprocess.run(
        [*envoy_command(config), "--mode", "validate"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_health_is_transcoded(client: httpx.Client, grpc_upstream: GrpcUpstream) -> None:
    response = client.get("/health", headers={"x-request-id": "req-health-1"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "ok"}
    # HTTP headers, x-request-id included, reach the server as gRPC metadata.
    assert grpc_upstream.system.metadata[-1]["x-request-id"] == "req-health-1"


def test_request_id_is_generated(client: httpx.Client, grpc_upstream: GrpcUpstream) -> None:
    assert client.get("/health").status_code == 200
    assert len(grpc_upstream.system.metadata[-1]["x-request-id"]) >= 32


def test_registry_status_prints_snake_case_and_zero_values(client: httpx.Client) -> None:
    response = client.get("/registry/status")
    assert response.status_code == 200
    body = response.json()
    assert body["workflow_count"] == 3
    assert body["worker_count"] == 0
    assert body["healthy_worker_count"] == 0
    assert body["history_length"] == 0
    assert body["started_at_epoch"] == 0
    assert body["registry_run_id"] == ""
    assert body["registry_workflow_id"] == "temporal-registry"
    assert "workflowCount" not in body


def test_grpc_error_keeps_rich_details(client: httpx.Client) -> None:
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    # Built by the transcoder (convert_grpc_status), not rewritten by local_reply_config.
    assert body["code"] == 14
    assert body["message"] == "registry is not ready"
    error_info, bad_request = body["details"]
    assert error_info["@type"] == ERROR_INFO_TYPE
    assert error_info["reason"] == "REGISTRY_NOT_READY"
    assert error_info["domain"] == "temporal-registry.dev"
    assert bad_request["@type"] == BAD_REQUEST_TYPE
    (violation,) = bad_request["field_violations"]
    assert violation["field"] == "namespace"
    assert violation["description"] == "namespace does not exist"


def test_unknown_path_is_not_found_json(client: httpx.Client) -> None:
    assert_status_json(client.get("/nope"), 404, 5)


def test_wrong_verb_is_not_found_json(client: httpx.Client) -> None:
    assert_status_json(client.post("/health", json={}), 404, 5)


def test_unknown_query_parameter_is_invalid_argument_json(client: httpx.Client) -> None:
    body = assert_status_json(client.get("/health", params={"bogus": "1"}), 400, 3)
    assert "bogus" in body["message"]


def test_body_over_limit_is_payload_too_large_json(client: httpx.Client) -> None:
    # The buffer filter limits the body of every HTTP/JSON request, so a GET with a body
    # shows the limit. The upstream holds its reply back so the 413 cannot lose a race
    # against a fast 200 (tests/integration/test_gateway_limits.py covers every route).
    payload = json.dumps({"padding": "x" * (MAX_REQUEST_BYTES + 1024)})
    response = client.request(
        "GET",
        "/health",
        content=payload,
        headers={"content-type": "application/json", "x-test-delay-seconds": "1"},
    )
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == 8
    assert f"at most {MAX_REQUEST_BYTES} bytes (gateway.max_request_bytes)" in body["message"]
    (error_info,) = body["details"]
    assert error_info["@type"] == ERROR_INFO_TYPE
    assert error_info["reason"] == "REQUEST_TOO_LARGE"
    assert error_info["domain"] == "temporal-registry"
    assert error_info["metadata"]["limit_bytes"] == str(MAX_REQUEST_BYTES)


def test_metrics_pass_through(client: httpx.Client) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == METRICS_CONTENT_TYPE
    assert response.content == METRICS_BODY


def test_openapi_and_docs_pass_through(client: httpx.Client) -> None:
    openapi = client.get("/openapi.json")
    assert openapi.status_code == 200
    assert openapi.headers["content-type"] == "application/json"
    assert openapi.content == OPENAPI_BODY
    docs = client.get("/docs/index.html")
    assert docs.status_code == 200
    assert docs.text == "<html>docs</html>"


def test_pass_through_upstream_error_is_untouched(client: httpx.Client) -> None:
    # The upstream's own 404 is not a local reply: local_reply_config leaves it alone.
    response = client.get("/docs/missing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_native_grpc_to_transcoded_service(channel: grpc.Channel) -> None:
    stub = system_pb2_grpc.SystemServiceStub(channel)
    assert stub.GetHealth(system_pb2.GetHealthRequest(), timeout=5).status == "ok"


def test_native_grpc_error_is_untouched(channel: grpc.Channel) -> None:
    stub = system_pb2_grpc.SystemServiceStub(channel)
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetReadiness(system_pb2.GetReadinessRequest(), timeout=5)
    status = rpc_status.from_call(raised.value)
    assert status is not None
    assert status.code == code_pb2.UNAVAILABLE
    assert status.message == "registry is not ready"
    assert status.details[0].type_url == ERROR_INFO_TYPE


def test_native_grpc_health_check(channel: grpc.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_native_grpc_reflection_lists_services(channel: grpc.Channel) -> None:
    services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {
        "temporal_registry.v1.SystemService",
        "temporal_registry.v1.RegistryService",
        "grpc.health.v1.Health",
    } <= services


def test_native_grpc_unknown_method_reaches_the_server(channel: grpc.Channel) -> None:
    call = channel.unary_unary("/temporal_registry.v1.SystemService/Nope")
    with pytest.raises(grpc.RpcError) as raised:
        call(b"", timeout=5)
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_upstream_down_is_unavailable_json(tmp_path: Path, http_upstream_port: int) -> None:
    upstream = start_grpc_upstream()
    with running_envoy(tmp_path, upstream.port, http_upstream_port) as envoy:
        with httpx.Client(base_url=envoy.http_url, timeout=5.0) as http_client:
            assert http_client.get("/health").status_code == 200
            upstream.server.stop(grace=None).wait()
            assert_status_json(http_client.get("/health"), 503, 14)
        # A gRPC client gets a plain gRPC status, not JSON in grpc-message.
        with grpc.insecure_channel(envoy.grpc_target) as grpc_channel:
            stub = system_pb2_grpc.SystemServiceStub(grpc_channel)
            with pytest.raises(grpc.RpcError) as raised:
                stub.GetHealth(system_pb2.GetHealthRequest(), timeout=5)
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
            assert not (raised.value.details() or "").startswith("{")


def test_access_log_is_json(tmp_path: Path, grpc_upstream: GrpcUpstream) -> None:
    with running_envoy(tmp_path, grpc_upstream.port, free_port()) as envoy:
        url = f"{envoy.http_url}/health"
        assert httpx.get(url, headers={"x-request-id": "req-log-1"}).status_code == 200
    # Envoy flushes its access log every second and on exit: read it once Envoy stopped.
    # Its log holds stdout (the access log, one JSON object a line) and stderr (Envoy's
    # own "[time][level] ..." lines, e.g. on SIGTERM): the last access log line is the last
    # line that opens an object.
    assert envoy.process is not None
    access_log = [line for line in envoy.process.log().splitlines() if line.startswith("{")]
    entry = json.loads(access_log[-1])
    assert entry["method"] == "GET"
    assert entry["path"] == "/health"
    assert entry["status"] == 200
    assert entry["grpc_status"] == 0
    assert entry["request_id"] == "req-log-1"
    assert entry["upstream_path"] == "/temporal_registry.v1.SystemService/GetHealth"
