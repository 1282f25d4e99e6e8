"""The registry's data model: plain dataclasses shared by the registry
workflow, its update validators and the servers.

Standard library only, so the workflow sandbox can import it unchanged, and
every value round-trips through Temporal's JSON payload converter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: `field` is a dotted path (`workflows[2].task_queue`), or a
    JSON pointer inside a JSON value (`input/items/0`)."""

    field: str
    description: str
    reason: str = ""


def violations_summary(violations: list[FieldViolation]) -> str:
    """An error message for a list of violations: the first one, and how many more."""
    first = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return f"{first.field}: {first.description}{more}"


@dataclass
class SearchAttributeSpec:
    name: str
    type: str
    description: str = ""


@dataclass
class InputWarningSpec:
    field: str
    message: str


@dataclass
class WorkflowSpec:
    """What is declared about a workflow type, by a worker or an operator."""

    workflow_type: str
    task_queue: str = ""
    version: str = ""
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)
    schedule_input_warnings: list[InputWarningSpec] = field(default_factory=list)
    search_attributes: list[SearchAttributeSpec] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class WorkerRegistration:
    """What a worker sends when it registers. `principal` and `admin` say who registers: the
    server sets them from the caller's token, never from the request (empty: auth is off,
    nothing is owned or checked)."""

    worker_id: str
    task_queue: str
    environment: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    ttl_seconds: int = 60
    workflows: list[WorkflowSpec] = field(default_factory=list)
    principal: str = ""
    admin: bool = False


# --- stored state ------------------------------------------------------------------------------

SOURCE_WORKER = "worker"
SOURCE_OPERATOR = "operator"


@dataclass
class StoredWorkflow:
    """A workflow type as the registry stores it."""

    spec: WorkflowSpec
    enabled: bool = True
    disabled_reason: str = ""
    source: str = SOURCE_WORKER  # who declared the current spec
    update_time_epoch: float = 0.0
    owner: str = ""  # the principal that owns the type; empty: unowned, the next registrant's


@dataclass
class StoredWorker:
    """A registered worker and its lease."""

    worker_id: str
    task_queue: str
    environment: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    ttl_seconds: int = 60
    workflows: list[str] = field(default_factory=list)
    registered_epoch: float = 0.0
    lease_expires_epoch: float = 0.0
    principal: str = ""  # who registered it (empty: auth off, or before principals existed)


@dataclass
class SlugCounter:
    """The counter of one slug, and the request ids of its last few claims (for retries)."""

    slug: str
    counter: int = 0
    last_claimed_epoch: float = 0.0
    claims: dict[str, int] = field(default_factory=dict)  # request_id -> counter, oldest first


@dataclass
class Catalog:
    """The registry's state at one revision: what the `snapshot` query returns. `slugs` is
    ordered from least to most recently claimed (the LRU order of eviction)."""

    revision: int = 0
    workflows: dict[str, StoredWorkflow] = field(default_factory=dict)
    workers: dict[str, StoredWorker] = field(default_factory=dict)
    slugs: dict[str, SlugCounter] = field(default_factory=dict)


# --- writes: the argument of each registry workflow update ------------------------------------


@dataclass
class WorkerRef:
    """A worker to unregister, and who asks (as in WorkerRegistration)."""

    worker_id: str
    principal: str = ""
    admin: bool = False


@dataclass
class LeaseRenewals:
    """worker_id -> new lease expiry (Unix seconds); a lease is never shortened."""

    expires_at: dict[str, float] = field(default_factory=dict)


@dataclass
class WorkerExpiry:
    """Workers the server found past their grace period; the workflow re-checks each."""

    worker_ids: list[str] = field(default_factory=list)
    grace_factor: float = 2.0


@dataclass
class WorkflowWrite:
    """An operator's create (`create=True`: fails if the type exists) or replace."""

    spec: WorkflowSpec
    enabled: bool | None = None  # None keeps the stored value (true for a new type)
    create: bool = False
    owner: str | None = None  # None keeps the stored owner (none for a new type); "" releases


@dataclass
class WorkflowDeletion:
    workflow_type: str
    allow_missing: bool = False


@dataclass
class WorkflowToggle:
    workflow_type: str
    enabled: bool
    reason: str = ""


@dataclass
class SlugClaim:
    """Claim the next counter of `slug` (at least `at_least`). Entries unclaimed for
    `ttl_seconds` expire, and the least recently claimed go beyond `max_slugs`."""

    slug: str
    request_id: str = ""
    at_least: int = 0
    ttl_seconds: float = 30 * 86_400
    max_slugs: int = 2_000


@dataclass
class SlugReset:
    slug: str


@dataclass
class Handover:
    """Drain this run and continue as new."""

    reason: str = ""


@dataclass
class CatalogChange:
    """What one write changed: the result of every write update. A server applies it to its
    copy of the catalogue; `revision` is the catalogue's revision after the write."""

    revision: int
    workflows: list[StoredWorkflow] = field(default_factory=list)
    workers: list[StoredWorker] = field(default_factory=list)
    deleted_workflows: list[str] = field(default_factory=list)
    deleted_workers: list[str] = field(default_factory=list)
    changed_workflows: list[str] = field(default_factory=list)  # specs created or changed
    no_op: bool = False  # the write changed nothing; `revision` is the current one
    slugs: list[SlugCounter] = field(default_factory=list)
    deleted_slugs: list[str] = field(default_factory=list)
    counter: int = 0  # what a slug claim got, or what a reset replaced
