"""The error model: every failure a client sees is a google.rpc.Status with the
right code, an ErrorInfo (reason, domain) and, for bad input, a BadRequest
listing one violation per bad field. Envoy's transcoder turns the same Status
into `{"code", "message", "details"}` JSON for HTTP clients.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from registry.shared.model import FieldViolation as FieldViolation  # re-exported for handlers
from registry.shared.model import violations_summary

ERROR_DOMAIN = "temporal-registry"
# A status travels in the call's trailers (`grpc-message`, and `grpc-status-details-bin` in
# base64), which gRPC clients and Envoy refuse past 8-16 KiB: a status with 1,000 violations
# or a 10 KB id in its message became an Envoy 502 "protocol error". So the message and every
# text are clipped, and violations beyond the byte budget are left out (counted in ErrorInfo
# metadata `omitted_violations`; the message already says how many there are).
MAX_STATUS_BYTES = 4096  # the serialized google.rpc.Status, before base64
MAX_MESSAGE_CHARS = 512
MAX_TEXT_CHARS = 512  # a violation's field and description, an ErrorInfo metadata value


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
    """Build the grpc.Status (with `grpc-status-details-bin`) for one error, within
    MAX_STATUS_BYTES."""
    info = error_details_pb2.ErrorInfo(
        reason=reason,
        domain=ERROR_DOMAIN,
        metadata={key: _clip(value, MAX_TEXT_CHARS) for key, value in (metadata or {}).items()},
    )
    message = _clip(message, MAX_MESSAGE_CHARS)
    room = MAX_STATUS_BYTES - _status(code, message, [info]).ByteSize() - 64
    bad_request = error_details_pb2.BadRequest()
    for violation in violations:
        item = error_details_pb2.BadRequest.FieldViolation(
            field=_clip(violation.field, MAX_TEXT_CHARS),
            description=_clip(violation.description, MAX_TEXT_CHARS),
            reason=violation.reason,
        )
        room -= item.ByteSize() + 4  # its tag and length
        if room < 0 and bad_request.field_violations:
            info.metadata["omitted_violations"] = str(
                len(violations) - len(bad_request.field_violations)
            )
            break
        bad_request.field_violations.append(item)
    details: list[Any] = [info, bad_request] if violations else [info]
    status: grpc.Status = rpc_status.to_status(_status(code, message, details))
    return status


def _status(code: grpc.StatusCode, message: str, details: list[Any]) -> status_pb2.Status:
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    return status_pb2.Status(code=code.value[0], message=message, details=packed)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def refused(
    code_name: str, reason: str, message: str, violations: Sequence[FieldViolation] = ()
) -> RegistryError:
    """The error for a write the registry refused, from its gRPC code name (unknown: INTERNAL)."""
    code = grpc.StatusCode.__members__.get(code_name, grpc.StatusCode.INTERNAL)
    return RegistryError(code, reason, message, violations)


def invalid_fields(reason: str, violations: list[FieldViolation]) -> RegistryError:
    """INVALID_ARGUMENT for bad fields, summarised in the message."""
    return invalid_argument(reason, violations_summary(violations), violations)


def invalid_field(
    field: str, description: str, reason: str, *, error_reason: str = "INVALID_ARGUMENT"
) -> RegistryError:
    """INVALID_ARGUMENT for one bad field."""
    return invalid_argument(
        error_reason, f"{field}: {description}", [FieldViolation(field, description, reason)]
    )


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
