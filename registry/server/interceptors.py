"""The server interceptor every RPC passes through: request id, auth (registry.auth),
access log, request metrics, and the error boundary.

Handlers raise `RegistryError` for anything the client did or should know
about; it becomes a rich google.rpc.Status. Any other exception is a bug: it is
logged with the request id and the client gets INTERNAL without its text.

Requests are decoded before any of this runs, by grpc with each method's deserializer, and
a decoding error there would answer UNKNOWN. The interceptor wraps the deserializer: a
request protobuf refuses (bad UTF-8, nesting too deep, truncated or garbage bytes), or one
that decodes but breaks a rule every request obeys (registry.decoding), reaches the wrapped
behavior as a `Refusal`, and after auth is answered INVALID_ARGUMENT `MALFORMED_REQUEST`
naming the bad fields. Locating them walks the bytes, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import DecodeError
from grpc.aio import ServerInterceptor
from prometheus_client import Counter, Histogram

from registry.server.auth import Authenticator, current_principal
from registry.server.decoding import (
    NON_FINITE,
    field_violations,
    may_hold_non_finite_numbers,
    wire_violations,
)
from registry.server.errors import FieldViolation, RegistryError, internal_error, malformed_request
from registry.server.logs import request_id_var

log = logging.getLogger("registry.rpc")

REQUESTS = Counter(
    "temporal_registry_rpc_requests_total",
    "RPCs served, by method and status code.",
    ["method", "code"],
)
LATENCY = Histogram(
    "temporal_registry_rpc_duration_seconds",
    "RPC handling time, by method.",
    ["method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

UnaryBehavior = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]
StreamBehavior = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Any]]
Serializer = Callable[[Any], bytes]
Deserializer = Callable[[bytes], Any]


HEALTH_PREFIX = "/grpc.health.v1.Health/"
OUR_PREFIX = "/temporal_registry."  # our services (not grpc.health, not reflection)


class RequestInterceptor(ServerInterceptor):  # type: ignore[type-arg]
    def __init__(self, *, access_log: bool, authenticator: Authenticator | None = None) -> None:
        self._access_log = access_log
        self._authenticator = authenticator  # None: auth disabled

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(details)
        if handler is None:
            return handler
        metadata = dict(details.invocation_metadata or ())
        if handler.unary_unary is not None:
            behavior = self._wrap(
                details.method, metadata, cast(UnaryBehavior, handler.unary_unary)
            )
            wrapped = grpc.unary_unary_rpc_method_handler
        elif handler.unary_stream is not None and details.method.startswith(OUR_PREFIX):
            behavior = self._wrap_stream(
                details.method, metadata, cast(StreamBehavior, handler.unary_stream)
            )
            wrapped = grpc.unary_stream_rpc_method_handler
        else:
            return handler  # other streams (reflection, health Watch) pass through untouched
        deserializer = handler.request_deserializer
        descriptor = request_descriptor(details.method, deserializer)
        return wrapped(
            behavior,
            request_deserializer=(
                guarded(deserializer, descriptor)
                if deserializer is not None and descriptor is not None
                else deserializer
            ),
            response_serializer=passing_bytes(handler.response_serializer),
        )

    def _wrap_stream(
        self, method: str, metadata: dict[str, Any], behavior: StreamBehavior
    ) -> UnaryBehavior:
        """A server stream of ours, with what a unary call gets (`_wrap`): each message it
        yields is written as it comes (grpc.aio streams what a handler writes); an error ends
        the stream with a rich status."""

        async def drain(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
            async for message in behavior(request, context):
                await context.write(message)

        return self._wrap(method, metadata, drain)

    def _wrap(
        self, method: str, metadata: dict[str, Any], behavior: UnaryBehavior
    ) -> UnaryBehavior:
        request_id = str(metadata.get("x-request-id") or uuid.uuid4())

        async def serve(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            token = request_id_var.set(request_id)
            scopes_token = None
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                if self._authenticator is not None:
                    principal = self._authenticator.authorize(method, metadata)
                    scopes_token = current_principal.set(principal)
                if isinstance(request, Refusal):
                    request = await request.admit()
                return await behavior(request, context)
            except RegistryError as error:
                code = error.code
                await _abort(context, error.to_status())
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except Exception:
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error in %s", method, extra={"rpc": method})
                await _abort(context, internal_error(request_id).to_status())
            finally:
                elapsed = time.perf_counter() - started
                REQUESTS.labels(method, code.name).inc()
                LATENCY.labels(method).observe(elapsed)
                if self._access_log:
                    # Load balancers probe health every few seconds: a passing probe is noise.
                    probe = method.startswith(HEALTH_PREFIX) and code == grpc.StatusCode.OK
                    log.log(
                        logging.DEBUG if probe else logging.INFO,
                        "rpc",
                        extra={"rpc": method, "code": code.name, "ms": round(elapsed * 1000, 3)},
                    )
                request_id_var.reset(token)
                if scopes_token is not None:
                    current_principal.reset(scopes_token)

        return serve


def passing_bytes(serialize: Serializer | None) -> Serializer | None:
    """`serialize`, passing bytes through: a handler may answer with a response it
    serialised before (registry.catalog.responses.ResponseCache)."""
    if serialize is None:
        return None

    def serializer(response: Any) -> bytes:
        return response if isinstance(response, bytes) else serialize(response)

    return serializer


def request_descriptor(method: str, deserializer: Deserializer | None) -> Descriptor | None:
    """The request type of `method` (`/package.Service/Method`): the class the generated
    stubs' deserializer belongs to, else the default descriptor pool's method; None if unknown."""
    owner = getattr(deserializer, "__self__", None)
    descriptor = getattr(owner, "DESCRIPTOR", None)
    if isinstance(descriptor, Descriptor):
        return descriptor
    service, _, name = method.strip("/").rpartition("/")
    try:
        found: Descriptor = (
            descriptor_pool.Default().FindServiceByName(service).FindMethodByName(name).input_type
        )
    except KeyError:
        return None
    return found


def guarded(deserialize: Deserializer, descriptor: Descriptor) -> Deserializer:
    """`deserialize`, answering a Refusal instead of raising or passing on a request that
    breaks registry.decoding's rules. The cheap checks run here (on the event loop); a walk
    of the bytes is left to Refusal.admit."""

    def decode(data: bytes) -> Any:
        try:
            message = deserialize(data)
        except DecodeError as error:
            return Refusal(descriptor, data, str(error))
        violations = field_violations(message)
        if violations:
            return Refusal(descriptor, data, "", violations=violations)
        if may_hold_non_finite_numbers(data):
            return Refusal(descriptor, data, "", decoded=message)
        return message

    return decode


@dataclass(frozen=True)
class Refusal:
    """A request that did not decode (`error`), broke a rule (`violations`), or decoded but
    may hold numbers no JSON value can (`decoded`, passed on when it holds none)."""

    descriptor: Descriptor
    data: bytes
    error: str
    violations: Sequence[FieldViolation] = ()
    decoded: Any = None

    async def admit(self) -> Any:
        """The decoded request, or the RegistryError that answers it."""
        violations = list(self.violations)
        if not violations:
            # Linear in the request's size but pure Python: keep it off the event loop.
            violations = await asyncio.to_thread(wire_violations, self.data, self.descriptor)
            if self.decoded is not None:
                violations = [v for v in violations if v.description == NON_FINITE]
                if not violations:
                    return self.decoded
        raise malformed_request(self.descriptor.full_name, violations, self.error)


async def _abort(context: grpc.aio.ServicerContext[Any, Any], status: grpc.Status) -> None:
    """End the call with status; its trailing metadata carries grpc-status-details-bin."""
    await context.abort(status.code, status.details, status.trailing_metadata)
