"""Bearer-token auth with three scopes.

- `worker`: RegisterWorker, Heartbeat, UnregisterWorker.
- `client`: reads, starts, schedules, readable ids, search-attribute listing and reconcile
  (validate, ensure).
- `admin`: everything, including the operator's catalogue writes, workflow delete,
  ShutdownRegistry and search-attribute replace.

Health, readiness, the gRPC health service and reflection are public. An RPC missing from
the table needs `admin` (fail closed). Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Final

import grpc

from registry.errors import RegistryError

WORKER: Final = "worker"
CLIENT: Final = "client"
ADMIN: Final = "admin"
SCOPES: Final = (WORKER, CLIENT, ADMIN)
PUBLIC: Final = ""  # no token needed

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
        for m in ("GetRegistryStatus", "ListWorkers", "GetWorker", "ListWorkflows", "GetWorkflow")
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
        f"{_V1}SearchAttributeService/{m}": CLIENT
        for m in (
            "ListDeclaredSearchAttributes",
            "ListTemporalSearchAttributes",
            "ReconcileSearchAttributes",  # replace needs admin: checked by the handler
        )
    },
}

# The scopes the current call's token grants (set by the interceptor for each call).
granted_scopes: ContextVar[frozenset[str]] = ContextVar("granted_scopes", default=frozenset(SCOPES))


def required_scope(method: str) -> str:
    return METHOD_SCOPES.get(method, ADMIN)


class Authenticator:
    """Checks `authorization: Bearer <token>` against the configured tokens."""

    def __init__(self, tokens: Mapping[str, list[str]]) -> None:
        self._tokens = [
            (token.encode(), scope) for scope, items in tokens.items() for token in items
        ]

    def scopes(self, metadata: Mapping[str, object]) -> frozenset[str]:
        """The scopes the call's token grants (admin grants every scope)."""
        header = metadata.get("authorization")
        if not isinstance(header, str) or not header.lower().startswith("bearer "):
            raise RegistryError(
                grpc.StatusCode.UNAUTHENTICATED,
                "MISSING_TOKEN",
                "this call needs a token: send the header Authorization: Bearer <token>",
            )
        presented = header[7:].strip().encode()
        granted = set()
        for token, scope in self._tokens:  # every token compared: no early exit to time
            if hmac.compare_digest(token, presented):
                granted.add(scope)
        if not granted:
            raise RegistryError(
                grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN", "the bearer token is not valid"
            )
        return frozenset(SCOPES) if ADMIN in granted else frozenset(granted)

    def authorize(self, method: str, metadata: Mapping[str, object]) -> frozenset[str]:
        """The granted scopes, or UNAUTHENTICATED / PERMISSION_DENIED."""
        scope = required_scope(method)
        if scope == PUBLIC:
            return frozenset()
        scopes = self.scopes(metadata)
        require(scope, scopes)
        return scopes


def require(scope: str, scopes: frozenset[str] | None = None) -> None:
    """PERMISSION_DENIED unless the call's token grants `scope`."""
    scopes = granted_scopes.get() if scopes is None else scopes
    if scope not in scopes:
        raise RegistryError(
            grpc.StatusCode.PERMISSION_DENIED,
            "SCOPE_REQUIRED",
            f"this call needs a token with the {scope} scope",
            metadata={"required_scope": scope, "granted": ",".join(sorted(scopes)) or "none"},
        )
