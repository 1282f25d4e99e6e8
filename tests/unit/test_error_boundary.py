"""The interceptor is the error boundary: RegistryError becomes a rich
google.rpc.Status; any other exception becomes INTERNAL without its text."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from temporal_registry.v1 import system_pb2, system_pb2_grpc

from registry.errors import FieldViolation, invalid_argument
from registry.interceptors import RequestInterceptor


class FailingSystemService(system_pb2_grpc.SystemServiceServicer):
    async def GetHealth(self, request: Any, context: Any) -> Any:
        raise ValueError("secret internals: password=hunter2")

    async def GetReadiness(self, request: Any, context: Any) -> Any:
        raise invalid_argument(
            "INVALID_WORKFLOW_INPUT",
            "input does not match the schema",
            [FieldViolation("input.count", "must be an integer", "type")],
        )


async def call(method: str, metadata: tuple[tuple[str, str], ...] = ()) -> grpc.aio.AioRpcError:
    server = grpc.aio.server(interceptors=[RequestInterceptor(access_log=True)])
    system_pb2_grpc.add_SystemServiceServicer_to_server(FailingSystemService(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = system_pb2_grpc.SystemServiceStub(channel)
            request = getattr(system_pb2, f"{method}Request")()
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await getattr(stub, method)(request, metadata=metadata)
            return raised.value
    finally:
        await server.stop(None)


def details(error: grpc.aio.AioRpcError) -> list[Any]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    unpacked = []
    for packed in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest):
            if packed.Is(kind.DESCRIPTOR):
                message = kind()
                packed.Unpack(message)
                unpacked.append(message)
    return unpacked


def test_unexpected_exception_is_internal_without_its_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="registry.rpc"):
        error = asyncio.run(call("GetHealth", (("x-request-id", "req-42"),)))
    assert error.code() == grpc.StatusCode.INTERNAL
    assert "hunter2" not in (error.details() or "")
    assert "req-42" in (error.details() or "")
    (info,) = details(error)
    assert info.reason == "INTERNAL" and info.domain == "temporal-registry"
    assert info.metadata["request_id"] == "req-42"
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and "hunter2" in str(logged[0].exc_info[1])  # type: ignore[index]
    access = [r for r in caplog.records if r.getMessage() == "rpc"]
    assert access and access[-1].code == "INTERNAL"  # type: ignore[attr-defined]


def test_registry_error_carries_error_info_and_field_violations() -> None:
    error = asyncio.run(call("GetReadiness"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "input does not match the schema"
    info, bad_request = details(error)
    assert info.reason == "INVALID_WORKFLOW_INPUT"
    (violation,) = bad_request.field_violations
    assert (violation.field, violation.description, violation.reason) == (
        "input.count",
        "must be an integer",
        "type",
    )


def test_passing_health_probes_are_logged_at_debug_only(caplog: pytest.LogCaptureFixture) -> None:
    async def probe() -> None:
        server = grpc.aio.server(interceptors=[RequestInterceptor(access_log=True)])
        health_pb2_grpc.add_HealthServicer_to_server(health_aio.HealthServicer(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        finally:
            await server.stop(None)

    with caplog.at_level(logging.DEBUG, logger="registry.rpc"):
        asyncio.run(probe())
    (access,) = [r for r in caplog.records if r.getMessage() == "rpc"]
    assert access.levelno == logging.DEBUG and access.rpc == "/grpc.health.v1.Health/Check"  # type: ignore[attr-defined]
