"""Bearer-token auth: every RPC against every scope over native gRPC, the HTTP answers
through Envoy (401 and 403 as google.rpc.Status JSON), public probes and docs, /metrics
behind a token when configured, and a server that refuses to start without a token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import descriptor_pb2, symbol_database
from temporal_registry.v1 import (  # noqa: F401  (registers every message type)
    dispatch_pb2,
    registry_pb2,
    schedules_pb2,
    search_attributes_pb2,
    system_pb2,
)

from integration.stack import (
    ADMIN_TOKEN,
    AUTH,
    CLIENT_TOKEN,
    DESCRIPTOR,
    REPO,
    WORKER_TOKEN,
    Envoy,
    Registry,
    TemporalDevServer,
    wait_until,
)
from integration.test_registry_durability import own_registry_settings
from registry.server.auth import ADMIN, CLIENT, METHOD_SCOPES, PUBLIC, WORKER, required_scope
from registry.server.config import MIN_TOKEN_LENGTH

pytestmark = pytest.mark.integration

TOKENS = {WORKER: WORKER_TOKEN, CLIENT: CLIENT_TOKEN, ADMIN: ADMIN_TOKEN}
DENIED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}


def rpcs() -> list[tuple[str, str]]:
    """(full method path, request type) of every RPC in the descriptor set Envoy loads."""
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR.read_bytes()).file
    return [
        (f"/{file.package}.{service.name}/{method.name}", method.input_type.lstrip("."))
        for file in files
        if file.package.startswith("temporal_registry.")
        for service in file.service
        for method in service.method
    ]


def allowed(scope: str | None, required: str) -> bool:
    return required == PUBLIC or scope in (ADMIN, required)


def call(channel: grpc.Channel, method: str, request_type: str, token: str | None) -> Any:
    message = symbol_database.Default().GetSymbol(request_type)()
    stub = channel.unary_unary(
        method,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=lambda b: b,
    )
    metadata = [("authorization", f"Bearer {token}")] if token else []
    try:
        stub(message, metadata=metadata, timeout=20)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[attr-defined]
    return grpc.StatusCode.OK


@pytest.fixture(scope="module")
def channel(registry: Registry) -> Any:
    with grpc.insecure_channel(registry.grpc_target) as plain:
        yield plain


def test_every_rpc_is_in_the_scope_table() -> None:
    assert {method for method, _ in rpcs()} <= set(METHOD_SCOPES)


@pytest.mark.parametrize("scope", [None, "bogus", WORKER, CLIENT, ADMIN])
def test_every_rpc_against_every_scope(channel: grpc.Channel, scope: str | None) -> None:
    token = TOKENS.get(scope or "", "not-a-configured-token-at-all") if scope else None
    outcomes = {}
    for method, request_type in rpcs():
        if method.endswith("/ShutdownRegistry"):
            continue  # an admin call hands the registry over: covered below on its own
        required = required_scope(method)
        code = call(channel, method, request_type, token)
        if allowed(scope, required):
            assert code not in DENIED, (method, scope, code)
        elif scope is None or scope == "bogus":
            assert code == grpc.StatusCode.UNAUTHENTICATED, (method, code)
        else:
            assert code == grpc.StatusCode.PERMISSION_DENIED, (method, scope, code)
        outcomes[method] = code
    assert len(outcomes) == len(rpcs()) - 1  # all but ShutdownRegistry


def test_shutdown_needs_admin(channel: grpc.Channel) -> None:
    method = "/temporal_registry.v1.RegistryService/ShutdownRegistry"
    request = "temporal_registry.v1.ShutdownRegistryRequest"
    assert call(channel, method, request, CLIENT_TOKEN) == grpc.StatusCode.PERMISSION_DENIED
    assert call(channel, method, request, WORKER_TOKEN) == grpc.StatusCode.PERMISSION_DENIED
    assert call(channel, method, request, ADMIN_TOKEN) == grpc.StatusCode.OK


def test_search_attribute_replace_needs_admin(channel: grpc.Channel) -> None:
    stub = channel.unary_unary(
        "/temporal_registry.v1.SearchAttributeService/ReconcileSearchAttributes",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=lambda b: b,
    )
    request = search_attributes_pb2.ReconcileSearchAttributesRequest(
        mode="replace", attributes=["Nothing"], confirm=True
    )
    with pytest.raises(grpc.RpcError) as raised:
        stub(request, metadata=[("authorization", f"Bearer {CLIENT_TOKEN}")], timeout=10)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
    with pytest.raises(grpc.RpcError) as raised:  # admin gets past auth to the real check
        stub(request, metadata=[("authorization", f"Bearer {ADMIN_TOKEN}")], timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]


def test_http_answers_401_and_403_as_status_json(envoy: Envoy) -> None:
    url = f"{envoy.http_url}/registry/workflows"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.json()["code"] == 16
    assert missing.json()["details"][0]["reason"] == "MISSING_TOKEN"
    wrong = httpx.get(url, headers={"authorization": "Bearer not-a-configured-token-at-all"})
    assert (wrong.status_code, wrong.json()["details"][0]["reason"]) == (401, "INVALID_TOKEN")
    bare = httpx.get(url, headers={"authorization": CLIENT_TOKEN})  # the token without Bearer
    assert (bare.status_code, bare.json()["details"][0]["reason"]) == (
        401,
        "MALFORMED_AUTHORIZATION",
    )
    assert "must be `Bearer <token>`" in bare.json()["message"]
    assert CLIENT_TOKEN not in bare.text
    scope = httpx.get(url, headers={"authorization": f"Bearer {WORKER_TOKEN}"})
    assert scope.status_code == 403
    assert scope.json()["code"] == 7
    info = scope.json()["details"][0]
    assert (info["reason"], info["metadata"]["required_scope"]) == ("SCOPE_REQUIRED", "client")
    assert httpx.get(url, headers={"authorization": f"Bearer {CLIENT_TOKEN}"}).status_code == 200
    for public in ("/health", "/ready", "/openapi.json", "/docs", "/metrics"):
        assert httpx.get(f"{envoy.http_url}{public}").status_code == 200, public


def test_metrics_can_need_a_token(workdir: Path, temporal: TemporalDevServer) -> None:
    overrides = {**own_registry_settings(), "auth": {**AUTH, "public_metrics": False}}
    registry = Registry(workdir, temporal.address, overrides=overrides).start()
    try:
        url = f"http://127.0.0.1:{registry.http_port}/metrics"
        wait_until(lambda: httpx.get(url).status_code == 401, 30, "metrics listener")
        assert httpx.get(url).json()["code"] == 16
        assert (
            httpx.get(url, headers={"authorization": f"Bearer {WORKER_TOKEN}"}).status_code == 200
        )
    finally:
        registry.stop()


def serve(config: Path, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "registry.cli", "serve", "-f", str(config)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), **env},
        cwd=REPO,
        timeout=60,
    )


def test_the_server_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("auth:\n  enabled: true\n")
    result = serve(config, tmp_path)
    assert result.returncode == 2
    assert "auth is enabled but no token is configured" in result.stderr
    short = tmp_path / "short.yaml"
    short.write_text("auth:\n  admin_tokens: tiny\n")
    result = serve(short, tmp_path)
    assert result.returncode == 2
    assert f"at least {MIN_TOKEN_LENGTH} characters" in result.stderr
    assert "tiny" not in result.stderr  # tokens are never echoed
    # From the environment: the variable and the key are named, not default_config.yaml.
    result = serve(config, tmp_path, AUTH_ADMIN_TOKENS="tiny-token")
    assert result.returncode == 2
    assert "environment variable AUTH_ADMIN_TOKENS (auth.admin_tokens): token 1 has 10" in (
        result.stderr
    )
    assert "default_config.yaml" not in result.stderr and "tiny-token" not in result.stderr
