"""Bearer-token auth: principals with three scopes, and what a worker token may register.

- `worker`: RegisterWorker, Heartbeat, UnregisterWorker: of its own workers, on the task
  queues and workflow types its token is bound to (registry.principals).
- `client`: reads, starts, schedules, readable ids, search-attribute listing and reconcile
  (validate, ensure).
- `admin`: everything, including the operator's catalogue writes, workflow delete,
  ShutdownRegistry, search-attribute replace, and other principals' workers and types.

Health, readiness, the gRPC health service and reflection are public. An RPC missing from
the table needs `admin` (fail closed). Tokens are compared in constant time. Ownership of
workers and workflow types is recorded and enforced by the registry's shards
(registry.catalog), from the principal the server passes in each write.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Final

import grpc

from registry.server.errors import FieldViolation, RegistryError
from registry.server.principals import ADMIN as ADMIN
from registry.server.principals import ANONYMOUS
from registry.server.principals import CLIENT as CLIENT
from registry.server.principals import SCOPES as SCOPES
from registry.server.principals import WORKER as WORKER
from registry.server.principals import Principal as Principal
from registry.shared.model import WorkerRegistration

PUBLIC: Final = ""  # no token needed
_BEARER: Final = "bearer"

_V1 = "/temporal_registry.v1."
METHOD_SCOPES: Final[dict[str, str]] = {
    **{f"{_V1}SystemService/{m}": PUBLIC for m in ("GetHealth", "GetReadiness")},
    **{f"/grpc.health.v1.Health/{m}": PUBLIC for m in ("Check", "Watch", "List")},
    **{
        f"{_V1}RegistryService/{m}": WORKER
        for m in ("RegisterWorker", "Heartbeat", "UnregisterWorker")
    },
    **{
        f"{_V1}RegistryService/{m}": CLIENT
        for m in (
            "GetRegistryStatus",
            "ListWorkers",
            "GetWorker",
            "ListWorkflows",
            "GetWorkflow",
            "WatchCatalog",
        )
    },
    **{
        f"{_V1}RegistryService/{m}": ADMIN
        for m in (
            "CreateWorkflow",
            "ReplaceWorkflow",
            "DeleteWorkflow",
            "EnableWorkflow",
            "DisableWorkflow",
            "ShutdownRegistry",
        )
    },
    **{
        f"{_V1}DispatchService/{m}": CLIENT
        for m in ("StartWorkflow", "Run", "ClaimWorkflowId", "ResetWorkflowId", "ListWorkflowIds")
    },
    **{
        f"{_V1}ScheduleService/{m}": CLIENT
        for m in (
            "CreateSchedule",
            "GetSchedule",
            "ListSchedules",
            "UpdateSchedule",
            "PauseSchedule",
            "UnpauseSchedule",
            "TriggerSchedule",
            "BackfillSchedule",
            "DeleteSchedule",
        )
    },
    **{
        f"{_V1}SchemaService/{m}": CLIENT
        for m in (
            "ListSchemaVersions",
            "GetSchemaVersion",
            "CheckCompatibility",
            "GetCompatibility",
        )
    },
    **{f"{_V1}SchemaService/{m}": ADMIN for m in ("CreateSchemaVersion", "SetCompatibility")},
    **{
        f"{_V1}SearchAttributeService/{m}": CLIENT
        for m in (
            "ListDeclaredSearchAttributes",
            "ListTemporalSearchAttributes",
            "ReconcileSearchAttributes",  # replace needs admin: checked by the handler
        )
    },
}

# Who the current call speaks for (set by the interceptor for each call; auth off: ANONYMOUS,
# which has every scope and no name).
current_principal: ContextVar[Principal] = ContextVar("current_principal", default=ANONYMOUS)


def required_scope(method: str) -> str:
    return METHOD_SCOPES.get(method, ADMIN)


def _unauthenticated(reason: str, message: str) -> RegistryError:
    return RegistryError(grpc.StatusCode.UNAUTHENTICATED, reason, message)


def bearer_token(metadata: Mapping[str, object]) -> str:
    """The token of `authorization: Bearer <token>`. UNAUTHENTICATED: MISSING_TOKEN without the
    header, MALFORMED_AUTHORIZATION when it is not `Bearer <token>` (never echoed: it may be a
    token sent without its scheme)."""
    header = metadata.get("authorization")
    if header is None or header == "":
        raise _unauthenticated(
            "MISSING_TOKEN",
            "this call needs a token: send the header Authorization: Bearer <token>",
        )
    scheme, _, token = str(header).strip().partition(" ")
    if scheme.lower() != _BEARER:
        raise _unauthenticated(
            "MALFORMED_AUTHORIZATION",
            "the Authorization header must be `Bearer <token>`: the word Bearer, a space, then "
            "the token (this one does not start with Bearer)",
        )
    token = token.strip()
    if not token:
        raise _unauthenticated(
            "MALFORMED_AUTHORIZATION",
            "the Authorization header must be `Bearer <token>`: it has no token after Bearer",
        )
    return token


class Authenticator:
    """Checks `authorization: Bearer <token>` against the configured tokens."""

    def __init__(self, principals: Mapping[str, Principal]) -> None:
        self._tokens = [(token.encode(), principal) for token, principal in principals.items()]

    def identify(self, metadata: Mapping[str, object]) -> Principal:
        """The principal the call's token speaks for, or UNAUTHENTICATED."""
        presented = bearer_token(metadata).encode()
        found = None
        for token, principal in self._tokens:  # every token compared: no early exit to time
            if hmac.compare_digest(token, presented):
                found = principal
        if found is None:
            raise _unauthenticated("INVALID_TOKEN", "the bearer token is not valid")
        return found

    def scopes(self, metadata: Mapping[str, object]) -> frozenset[str]:
        """The scopes the call's token grants (admin grants every scope)."""
        principal = self.identify(metadata)
        return frozenset(SCOPES) if principal.admin else principal.scopes

    def authorize(self, method: str, metadata: Mapping[str, object]) -> Principal:
        """The call's principal, or UNAUTHENTICATED / PERMISSION_DENIED; a public method is
        served to a nameless principal without scopes."""
        scope = required_scope(method)
        if scope == PUBLIC:
            return Principal("", frozenset())
        principal = self.identify(metadata)
        require(scope, principal)
        return principal


def require(scope: str, principal: Principal | None = None) -> None:
    """PERMISSION_DENIED unless the call's principal has `scope` (admin has every scope)."""
    principal = current_principal.get() if principal is None else principal
    if scope not in principal.scopes and not principal.admin:
        raise RegistryError(
            grpc.StatusCode.PERMISSION_DENIED,
            "SCOPE_REQUIRED",
            f"this call needs a token with the {scope} scope",
            metadata={
                "required_scope": scope,
                "granted": ",".join(sorted(principal.scopes)) or "none",
            },
        )


def check_registration_allowed(principal: Principal, registration: WorkerRegistration) -> None:
    """PERMISSION_DENIED unless a worker principal's bindings allow the registration's task
    queue (QUEUE_NOT_ALLOWED) and every workflow type it declares (WORKFLOW_TYPE_NOT_ALLOWED).
    Admin, and unbound principals, may register anything."""
    violations = []
    if not principal.may_use_queue(registration.task_queue):
        allowed = ", ".join(principal.task_queues)
        violations.append(
            FieldViolation(
                "task_queue",
                f"principal {principal.name} may register on task queues {allowed} only",
                "queue_not_allowed",
            )
        )
    allowed = ", ".join(principal.workflow_types)
    violations += [
        FieldViolation(
            f"workflows[{i}].workflow_type",
            f"principal {principal.name} may register workflow types {allowed} only",
            "workflow_type_not_allowed",
        )
        for i, spec in enumerate(registration.workflows)
        if not principal.may_register_type(spec.workflow_type)
    ]
    if violations:
        reason = (
            "QUEUE_NOT_ALLOWED"
            if violations[0].field == "task_queue"
            else ("WORKFLOW_TYPE_NOT_ALLOWED")
        )
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        raise RegistryError(
            grpc.StatusCode.PERMISSION_DENIED,
            reason,
            f"{violations[0].field}: {violations[0].description}{more}",
            violations,
            metadata={"principal": principal.name},
        )
