"""How programs reach a registry over gRPC: the CLI's client commands, the Python
worker helper and manifest registration all connect here.

The address, token and TLS come from arguments or, by default, from the environment:

  REGISTRY_ADDRESS   host:port of the registry's gRPC API, direct or through Envoy
                     (default 127.0.0.1:8080, the gateway of `temporal-registry up`)
  REGISTRY_TOKEN     bearer token sent on every call (a worker, client or admin token)
  REGISTRY_TLS       true to use TLS with the system's roots (default false)
  REGISTRY_CA_CERT   a PEM file of roots to trust instead (implies TLS)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from registry.shared.model import FieldViolation

DEFAULT_ADDRESS = "127.0.0.1:8080"
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ClientSettings:
    """Where the registry is and how to authenticate to it."""

    address: str = DEFAULT_ADDRESS
    token: str = ""
    tls: bool = False
    ca_cert: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ClientSettings:
        """Settings from REGISTRY_* variables; overrides that are not None win."""
        env = os.environ if env is None else env
        ca_cert = env.get("REGISTRY_CA_CERT") or None
        settings = cls(
            address=env.get("REGISTRY_ADDRESS") or DEFAULT_ADDRESS,
            token=env.get("REGISTRY_TOKEN", ""),
            tls=env.get("REGISTRY_TLS", "").strip().lower() in _TRUE or ca_cert is not None,
            ca_cert=Path(ca_cert) if ca_cert else None,
        )
        chosen = {key: value for key, value in overrides.items() if value is not None}
        return cls(**{**settings.__dict__, **chosen})


class _BearerToken:
    """Adds `authorization: Bearer <token>` to a call (works on plaintext channels, unlike
    grpc call credentials)."""

    def __init__(self, token: str) -> None:
        self._metadata = ("authorization", f"Bearer {token}")

    def _with_token(self, details: Any) -> Any:
        return details._replace(metadata=(*(details.metadata or ()), self._metadata))


class _BearerTokenUnary(_BearerToken, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._with_token(details), request)


class _BearerTokenStream(_BearerToken, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[type-arg]
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._with_token(details), request)


def open_channel(settings: ClientSettings) -> grpc.aio.Channel:
    """An asyncio channel to the registry; close it (or use `async with`) when done."""
    # One interceptor per kind of call: grpc.aio files an interceptor under the first kind
    # it implements only, so one of both kinds never saw a server-streaming call (WatchCatalog).
    interceptors: list[Any] = (
        [_BearerTokenUnary(settings.token), _BearerTokenStream(settings.token)]
        if settings.token
        else []
    )
    if not settings.tls:
        return grpc.aio.insecure_channel(settings.address, interceptors=interceptors)
    roots = settings.ca_cert.read_bytes() if settings.ca_cert else None
    credentials = grpc.ssl_channel_credentials(root_certificates=roots)
    return grpc.aio.secure_channel(settings.address, credentials, interceptors=interceptors)


class RegistryCallError(Exception):
    """A failed registry call as its google.rpc.Status tells it: the gRPC code, the
    message, the ErrorInfo reason and the field violations of a BadRequest."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: str = "",
        violations: Sequence[FieldViolation] = (),
    ) -> None:
        self.code = code
        self.message = message
        self.reason = reason
        self.violations = list(violations)
        super().__init__(self.describe())

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> Self:
        """The failure of a call (sync or asyncio), with its rich status when it has one."""
        call: Any = error  # every RpcError a channel raises is also a grpc.Call
        status: status_pb2.Status | None = None
        try:
            status = rpc_status.from_call(call)
        except ValueError:  # details that disagree with the call's code: trust the code
            status = None
        reason, violations = "", []
        for detail in status.details if status is not None else ():
            info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
            if detail.Unpack(info):
                reason = info.reason
            elif detail.Unpack(bad_request):
                violations += [
                    FieldViolation(v.field, v.description, v.reason)
                    for v in bad_request.field_violations
                ]
        code: grpc.StatusCode = call.code()
        return cls(code, call.details() or code.name, reason, violations)

    def describe(self) -> str:
        """`CODE (REASON): message`, then one `  field: description` line per bad field the
        message does not already say (the registry's message quotes the first one)."""
        reason = f" ({self.reason})" if self.reason else ""
        lines = [f"{self.code.name}{reason}: {self.message}"]
        for violation in self.violations:
            line = f"{violation.field}: {violation.description}"
            if line not in self.message:
                lines.append(f"  {line}")
        return "\n".join(lines)
