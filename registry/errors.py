"""The error model: every failure a client sees is a google.rpc.Status with the
right code, an ErrorInfo (reason, domain) and, for bad input, a BadRequest
listing one violation per bad field. Envoy's transcoder turns the same Status
into `{"code", "message", "details"}` JSON for HTTP clients.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from registry.model import FieldViolation as FieldViolation  # re-exported for handlers
from registry.model import violations_summary

ERROR_DOMAIN = "temporal-registry"


@dataclass
class RegistryError(Exception):
    """An error meant for the client. Raise it anywhere under a servicer; the
    interceptor turns it into a rich gRPC status."""

    code: grpc.StatusCode
    reason: str
    message: str
    violations: Sequence[FieldViolation] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code.name} {self.reason}: {self.message}"

    def to_status(self) -> grpc.Status:
        return rich_status(self.code, self.reason, self.message, self.violations, self.metadata)


def rich_status(
    code: grpc.StatusCode,
    reason: str,
    message: str,
    violations: Sequence[FieldViolation] = (),
    metadata: Mapping[str, str] | None = None,
) -> grpc.Status:
    """Build the grpc.Status (with `grpc-status-details-bin`) for one error."""
    details = [
        error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata or {})
    ]
    if violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description, reason=v.reason
                    )
                    for v in violations
                ]
            )
        )
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    status: grpc.Status = rpc_status.to_status(
        status_pb2.Status(code=code.value[0], message=message, details=packed)
    )
    return status


def refused(
    code_name: str, reason: str, message: str, violations: Sequence[FieldViolation] = ()
) -> RegistryError:
    """The error for a write the registry refused, from its gRPC code name (unknown: INTERNAL)."""
    code = grpc.StatusCode.__members__.get(code_name, grpc.StatusCode.INTERNAL)
    return RegistryError(code, reason, message, violations)


def invalid_fields(reason: str, violations: list[FieldViolation]) -> RegistryError:
    """INVALID_ARGUMENT for bad fields, summarised in the message."""
    return invalid_argument(reason, violations_summary(violations), violations)


def invalid_argument(
    reason: str, message: str, violations: Sequence[FieldViolation] = ()
) -> RegistryError:
    return RegistryError(grpc.StatusCode.INVALID_ARGUMENT, reason, message, violations)


def malformed_request(
    message_type: str, violations: Sequence[FieldViolation], detail: str
) -> RegistryError:
    """INVALID_ARGUMENT `MALFORMED_REQUEST`: a request the transport can't (or mustn't) hand to
    a handler. Violations name the bad fields; a problem outside any field (field "") is told
    in the message only, with `detail` (protobuf's own words) when nothing was located."""
    located = [v for v in violations if v.field]
    if located:
        message = violations_summary(located)
    else:
        why = violations[0].description if violations else detail
        message = f"the request is not a valid {message_type}: {why}"
    return RegistryError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "MALFORMED_REQUEST",
        message,
        located,
        metadata={"message_type": message_type},
    )


def not_found(reason: str, message: str, **metadata: str) -> RegistryError:
    return RegistryError(grpc.StatusCode.NOT_FOUND, reason, message, metadata=metadata)


def worker_not_found(worker_id: str, hint: str = "") -> RegistryError:
    message = f"worker {worker_id!r} is not registered" + (f" {hint}" if hint else "")
    return not_found("WORKER_NOT_FOUND", message, worker_id=worker_id)


def workflow_not_found(workflow_type: str) -> RegistryError:
    return not_found(
        "WORKFLOW_NOT_FOUND",
        f"workflow type {workflow_type!r} is not registered",
        workflow_type=workflow_type,
    )


def unavailable(reason: str, message: str, **metadata: str) -> RegistryError:
    return RegistryError(grpc.StatusCode.UNAVAILABLE, reason, message, metadata=metadata)


def internal_error(request_id: str) -> RegistryError:
    """What a client sees for a bug: no exception text, just the id to find the log line."""
    return RegistryError(
        grpc.StatusCode.INTERNAL,
        "INTERNAL",
        f"internal error; quote request id {request_id} when reporting it",
        metadata={"request_id": request_id},
    )
