"""The rules of the catalogue's requests, server side: every check a request gets before any
operation is sent to a shard, in one call per request, answering every bad field at once.

What depends on the stored state (existence, ownership of a type, leases, counters, the size
bound) is decided in the shards (registry.catalog.shard_rules), where writes are serialised.
What depends only on the request and this process's configuration is decided here: syntax,
JSON Schema meta-schema, a token's bindings, the least TTL the lease flush can keep.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

import grpc
from temporal_registry.v1 import registry_pb2, resources_pb2

from registry.server.auth import Principal, check_registration_allowed
from registry.server.config import Config
from registry.server.errors import (
    FieldViolation,
    RegistryError,
    invalid_field,
    invalid_fields,
)
from registry.shared.messages import registration_from_proto, spec_from_proto
from registry.shared.model import StoredWorker, WorkerRegistration, WorkflowWrite
from registry.shared.schemas import check_meta_schema
from registry.shared.specs import (
    effective_ttl,
    validate_worker_registration,
    validate_workflow_spec,
)

MAX_HANDOVER_REASON_LENGTH: Final = 500
MAX_DISABLED_REASON_LENGTH: Final = 500


@dataclass(frozen=True)
class RegistrationPlan:
    registration: WorkerRegistration
    principal: str
    admin: bool


def plan_registration(
    request: registry_pb2.RegisterWorkerRequest, principal: Principal, config: Config
) -> RegistrationPlan:
    """A RegisterWorker request, checked: structure and input schemas against the meta-schema
    (INVALID_REGISTRATION), then the token's bindings (PERMISSION_DENIED). Any TTL the
    contract allows can be kept: the lease flush adapts its cadence to short leases
    (registry.liveness.rules.cadence)."""
    registration = registration_from_proto(request)
    registration = replace(registration, ttl_seconds=effective_ttl(registration.ttl_seconds))
    violations = validate_worker_registration(registration)
    if not violations:
        for i, spec in enumerate(registration.workflows):
            violations += check_meta_schema(spec.input_schema, f"workflows[{i}].input_schema")
    if violations:
        raise invalid_fields("INVALID_REGISTRATION", violations)
    check_registration_allowed(principal, registration)
    return RegistrationPlan(registration, principal.name, principal.admin)


def plan_workflow_write(
    message: resources_pb2.Workflow, *, create: bool, principal_names: set[str] | None
) -> WorkflowWrite:
    """An operator's create or replace: the spec (with a task queue, a valid schema) and, if
    given, an owner that names a configured principal (principal_names None: auth off)."""
    owner = message.owner if message.HasField("owner") else None
    spec = spec_from_proto(message)
    violations = [
        replace(v, field=f"workflow.{v.field}")
        for v in validate_workflow_spec(spec, require_task_queue=True)
    ]
    if not violations:
        violations = check_meta_schema(spec.input_schema, "workflow.input_schema")
    if violations:
        raise invalid_fields("INVALID_WORKFLOW", violations)
    if owner and principal_names is not None and owner not in principal_names:
        raise invalid_field(
            "workflow.owner",
            f"names no configured principal ({owner!r}); give a principal name from the "
            "tokens configuration, or an empty string to release the type",
            "unknown_principal",
        )
    return WorkflowWrite(
        spec=spec,
        enabled=message.enabled if message.HasField("enabled") else None,
        create=create,
        owner=owner,
    )


def plan_replace(request: registry_pb2.ReplaceWorkflowRequest) -> resources_pb2.Workflow:
    """The workflow of a replace: the path's type, which a body may repeat but not contradict."""
    body_type = request.workflow.workflow_type
    if body_type and body_type != request.workflow_type:
        raise invalid_field(
            "workflow.workflow_type",
            f"is {body_type!r} but the path names {request.workflow_type!r}; they must match",
            "mismatch",
        )
    message = resources_pb2.Workflow()
    message.CopyFrom(request.workflow)
    message.workflow_type = request.workflow_type
    return message


def plan_disable_reason(reason: str) -> str:
    """A disable needs a reason (it is an operator's deliberate act, shown to every caller)."""
    if not reason.strip() or len(reason) > MAX_DISABLED_REASON_LENGTH or not reason.isprintable():
        raise invalid_field(
            "reason",
            f"a reason of 1-{MAX_DISABLED_REASON_LENGTH} printable characters is required "
            "to disable a workflow type",
            "required",
            error_reason="INVALID_REQUEST",
        )
    return reason.strip()


def plan_handover_reason(reason: str) -> str:
    reason = reason or "requested through ShutdownRegistry"
    if len(reason) > MAX_HANDOVER_REASON_LENGTH or not reason.isprintable() or not reason.strip():
        raise invalid_field(
            "reason",
            f"a reason of 1-{MAX_HANDOVER_REASON_LENGTH} printable characters is required",
            "required",
            error_reason="INVALID_REQUEST",
        )
    return reason


def check_worker_owner(worker: StoredWorker, principal: Principal) -> None:
    """PERMISSION_DENIED (NOT_OWNER) unless the caller may heartbeat the worker: an admin, the
    principal that registered it, or anyone when no principal was recorded (auth off, or
    registered before principals existed)."""
    if principal.admin or not principal.name or not worker.principal:
        return
    if worker.principal == principal.name:
        return
    message = (
        f"worker {worker.worker_id[:200]!r} was registered by principal {worker.principal}; "
        "only that principal or an admin may heartbeat, unregister or re-register it"
    )
    raise _not_owner(message)


def _not_owner(message: str) -> RegistryError:
    return RegistryError(
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_OWNER",
        f"worker_id: {message}",
        [FieldViolation("worker_id", message, "not_owner")],
    )


def required_id(value: str, field: str) -> None:
    if not value:
        raise invalid_field(field, "is required", "required")


# --- conditional reads and blocking queries ----------------------------------------------------

MAX_WAIT_SECONDS: Final = 300


@dataclass(frozen=True)
class ReadCondition:
    """A catalogue read's conditions: the etag the client holds, and for a blocking query how
    long to wait (None: answer at once) for the revision to pass `revision` (None: for the
    answer to differ from `if_none_match`)."""

    if_none_match: str
    wait: float | None
    revision: int | None


def plan_read_condition(
    request: Any, if_none_match_header: str, current_revision: int
) -> ReadCondition:
    """The conditions of a list request (wait, revision, if_none_match) or a get
    (if_none_match); the If-None-Match header counts when the field is empty."""
    if_none_match = getattr(request, "if_none_match", "") or if_none_match_header
    if not request.DESCRIPTOR.fields_by_name.get("wait") or not request.HasField("wait"):
        if getattr(request, "revision", 0):
            raise invalid_field(
                "revision",
                "a revision is only waited for with `wait` (e.g. wait=30s)",
                "REVISION_WITHOUT_WAIT",
                error_reason="INVALID_BLOCKING_QUERY",
            )
        return ReadCondition(if_none_match, None, None)
    wait = request.wait.seconds + request.wait.nanos / 1e9
    violations = []
    if not 0 <= wait <= MAX_WAIT_SECONDS:
        violations.append(
            FieldViolation("wait", f"must be from 0s to {MAX_WAIT_SECONDS}s", "OUT_OF_RANGE")
        )
    if request.revision < 0:
        violations.append(FieldViolation("revision", "must not be negative", "OUT_OF_RANGE"))
    elif request.revision > current_revision:
        violations.append(
            FieldViolation(
                "revision",
                f"revision {request.revision} is ahead of the catalogue ({current_revision}): "
                "use the revision of an answer",
                "REVISION_FROM_THE_FUTURE",
            )
        )
    if not request.revision and not if_none_match:
        violations.append(
            FieldViolation(
                "wait",
                "a blocking query waits for a change: give `revision` (an answer's revision) "
                "or If-None-Match (an answer's etag)",
                "NOTHING_TO_WAIT_FOR",
            )
        )
    if violations:
        raise invalid_fields("INVALID_BLOCKING_QUERY", violations)
    return ReadCondition(if_none_match, wait, request.revision or None)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match value (`*`, or etags separated by commas) names `etag`, by
    weak comparison (RFC 9110 13.1.2: W/ is ignored)."""
    wanted = etag.removeprefix("W/")
    return any(
        candidate == "*" or candidate.removeprefix("W/") == wanted
        for candidate in (part.strip() for part in if_none_match.split(","))
    )
