"""The interceptor is the error boundary: RegistryError becomes a rich
google.rpc.Status; any other exception becomes INTERNAL without its text; a request that
does not decode, or breaks a rule of every request, is INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from temporal_registry.v1 import (
    dispatch_pb2,
    dispatch_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    resources_pb2,
    system_pb2,
    system_pb2_grpc,
)

from registry.server.auth import Authenticator
from registry.server.config import AuthConfig
from registry.server.decoding import MAX_JSON_DEPTH, may_hold_non_finite_numbers
from registry.server.errors import (
    MAX_MESSAGE_CHARS,
    MAX_STATUS_BYTES,
    FieldViolation,
    RegistryError,
    invalid_argument,
)
from registry.server.interceptors import RequestInterceptor
from unit.test_decoding import ld, nested_object


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


# --- requests that do not decode ----------------------------------------------------------------


class EchoRegistry(registry_pb2_grpc.RegistryServiceServicer):
    async def GetWorker(self, request: Any, context: Any) -> Any:
        return resources_pb2.Worker(worker_id=request.worker_id)

    async def RegisterWorker(self, request: Any, context: Any) -> Any:
        return registry_pb2.RegisterWorkerResponse()

    async def ListWorkflows(self, request: Any, context: Any) -> Any:
        return registry_pb2.ListWorkflowsResponse()


class EchoDispatch(dispatch_pb2_grpc.DispatchServiceServicer):
    async def StartWorkflow(self, request: Any, context: Any) -> Any:
        return dispatch_pb2.StartWorkflowResponse(workflow_type=request.workflow_type)


def call_raw(
    method: str,
    data: bytes,
    metadata: tuple[tuple[str, str], ...] = (),
    authenticator: Authenticator | None = None,
    outer: tuple[Any, ...] = (),
) -> tuple[grpc.StatusCode, str, list[Any]]:
    """Send `data` as the request of `method` (`Service/Method`): code, message, details.
    `outer`: interceptors before the registry's (as tracing's is)."""

    async def run() -> tuple[grpc.StatusCode, str, list[Any]]:
        server = grpc.aio.server(
            interceptors=[
                *outer,
                RequestInterceptor(access_log=False, authenticator=authenticator),
            ]
        )
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(EchoRegistry(), server)
        dispatch_pb2_grpc.add_DispatchServiceServicer_to_server(EchoDispatch(), server)
        health_pb2_grpc.add_HealthServicer_to_server(health_aio.HealthServicer(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                service = "grpc.health.v1" if method.startswith("Health/") else TR
                call = channel.unary_unary(f"/{service}.{method}")
                try:
                    await call(data, metadata=metadata)
                except grpc.aio.AioRpcError as error:
                    return error.code(), error.details() or "", details(error)
                return grpc.StatusCode.OK, "", []
        finally:
            await server.stop(None)

    return asyncio.run(run())


TR = "temporal_registry.v1"


def violated(found: list[Any]) -> list[tuple[str, str]]:
    return [
        (v.field, v.reason)
        for detail in found
        if isinstance(detail, error_details_pb2.BadRequest)
        for v in detail.field_violations
    ]


def reason(found: list[Any]) -> str:
    (info,) = [d for d in found if isinstance(d, error_details_pb2.ErrorInfo)]
    assert info.domain == "temporal-registry"
    return str(info.reason)


def deep_schema(depth: int) -> bytes:
    workflow = ld(1, b"deep.v1") + ld(5, nested_object(depth))
    return ld(1, b"w") + ld(6, workflow)


def test_bad_utf8_is_invalid_argument_naming_the_field_not_unknown() -> None:
    code, message, found = call_raw("RegistryService/GetWorker", b"\x0a\x01\xff")
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(found) == "MALFORMED_REQUEST"
    assert violated(found) == [("worker_id", "invalid_utf8")]
    assert message == "worker_id: must be valid UTF-8"


def test_json_nested_past_the_transport_limit_is_invalid_argument_naming_the_field() -> None:
    code, _, found = call_raw("RegistryService/RegisterWorker", deep_schema(40))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(found) == "MALFORMED_REQUEST"
    assert violated(found) == [("workflows[0].input_schema" + "/a" * MAX_JSON_DEPTH, "too_deep")]
    assert call_raw("RegistryService/RegisterWorker", deep_schema(30))[0] == grpc.StatusCode.OK


@pytest.mark.parametrize("data", [b"\xff\xff\xff", b"\x0a\x05ab", b"\x0f\x00"])
def test_garbage_is_invalid_argument_with_the_message_type(data: bytes) -> None:
    code, message, found = call_raw("RegistryService/GetWorker", data)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(found) == "MALFORMED_REQUEST"
    assert "temporal_registry.v1.GetWorkerRequest" in message or violated(found)


def test_refusals_pass_through_the_tracing_interceptor() -> None:
    from opentelemetry.instrumentation.grpc import aio_server_interceptor
    from opentelemetry.sdk.trace import TracerProvider

    tracing = aio_server_interceptor(tracer_provider=TracerProvider())
    code, _, found = call_raw("RegistryService/GetWorker", b"\x0a\x01\xff", outer=(tracing,))
    assert (code, violated(found)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        [("worker_id", "invalid_utf8")],
    )


def test_the_health_service_refuses_garbage_too() -> None:
    code, _, found = call_raw("Health/Check", b"\x0a\x01\xff")
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert violated(found) == [("service", "invalid_utf8")]


def test_auth_comes_before_decoding_problems() -> None:
    authenticator = Authenticator(
        AuthConfig.model_validate({"admin_tokens": ["an-admin-token-0123456789"]}).principals()
    )
    code, _, _ = call_raw("RegistryService/GetWorker", b"\xff", authenticator=authenticator)
    assert code == grpc.StatusCode.UNAUTHENTICATED
    good = (("authorization", "Bearer an-admin-token-0123456789"),)
    code, _, _ = call_raw("RegistryService/GetWorker", b"\xff", good, authenticator)
    assert code == grpc.StatusCode.INVALID_ARGUMENT


def test_undefined_enum_values_are_refused_before_the_handler() -> None:
    data = registry_pb2.ListWorkflowsRequest(view=9).SerializeToString()  # type: ignore[arg-type]
    code, _, found = call_raw("RegistryService/ListWorkflows", data)
    assert (code, violated(found)) == (grpc.StatusCode.INVALID_ARGUMENT, [("view", "invalid_enum")])


def test_non_finite_numbers_are_refused_and_look_alikes_pass() -> None:
    start = dispatch_pb2.StartWorkflowRequest(workflow_type="order.v1")
    start.input.struct_value.fields["amount"].number_value = float("inf")
    code, _, found = call_raw("DispatchService/StartWorkflow", start.SerializeToString())
    assert (code, violated(found)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        [("input/amount", "invalid_type")],
    )
    # What an infinity's bytes look like, across a string and an unknown field's tag: suspect
    # to the quick scan, fine to the walk.
    look_alike = dispatch_pb2.StartWorkflowRequest(workflow_type="x\x11abcdef").SerializeToString()
    look_alike += b"\xf2\x7f\x00"  # field 2046, empty
    assert may_hold_non_finite_numbers(look_alike)
    assert call_raw("DispatchService/StartWorkflow", look_alike)[0] == grpc.StatusCode.OK


# --- statuses fit in trailers -------------------------------------------------------------------


def huge_error() -> RegistryError:
    violations = [
        FieldViolation(f'search_attributes["k{i}"]', "is not declared by this type " * 20, "x")
        for i in range(1000)
    ]
    return RegistryError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_START",
        "y" * 10_000,
        violations,
        metadata={"worker_id": "w" * 10_000},
    )


def test_a_status_of_any_size_fits_in_trailers() -> None:
    status = huge_error().to_status()
    (details_bin,) = [v for k, v in status.trailing_metadata if k == "grpc-status-details-bin"]
    assert len(details_bin) <= MAX_STATUS_BYTES
    assert len(status.details) <= MAX_MESSAGE_CHARS
    parsed = status_pb2.Status.FromString(details_bin)
    info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    parsed.details[0].Unpack(info)
    parsed.details[1].Unpack(bad_request)
    kept = len(bad_request.field_violations)
    assert 0 < kept < 1000
    assert info.metadata["omitted_violations"] == str(1000 - kept)
    assert bad_request.field_violations[0].field == 'search_attributes["k0"]'
    assert len(info.metadata["worker_id"]) <= 512


def test_a_huge_error_reaches_the_client_whole() -> None:
    class Huge(system_pb2_grpc.SystemServiceServicer):
        async def GetHealth(self, request: Any, context: Any) -> Any:
            raise huge_error()

    async def run() -> grpc.aio.AioRpcError:
        server = grpc.aio.server(interceptors=[RequestInterceptor(access_log=False)])
        system_pb2_grpc.add_SystemServiceServicer_to_server(Huge(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await system_pb2_grpc.SystemServiceStub(channel).GetHealth(
                        system_pb2.GetHealthRequest()
                    )
                return raised.value
        finally:
            await server.stop(None)

    error = asyncio.run(run())
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated(details(error))[0] == ('search_attributes["k0"]', "x")
