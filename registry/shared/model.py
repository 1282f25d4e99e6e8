"""The registry's data model: plain dataclasses shared by the server, the shards' rules
(which encode them as entries, registry.catalog.shard_rules) and the client side.

Standard library only, so the workflow sandbox can import it unchanged, and
every value round-trips through Temporal's JSON payload converter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args


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

# The compatibility modes a new input schema of a workflow type may have to meet
# (docs/schemas.md; registry.schemas.rules.MODES has their meaning).
CompatibilityModeName = Literal[
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
]
COMPATIBILITY_MODES: tuple[str, ...] = get_args(CompatibilityModeName)

SOURCE_WORKER = "worker"
SOURCE_OPERATOR = "operator"


@dataclass(frozen=True)
class SchemaVersion:
    """One kept input schema version of a workflow type (registry.catalog.versions)."""

    number: int
    digest: str  # "" for the empty schema
    schema: dict[str, Any]
    created_epoch: float = 0.0
    worker_id: str = ""  # the worker whose registration first declared it ("": an operator)
    principal: str = ""
    override_reason: str = ""  # why an operator accepted it against the type's mode


@dataclass
class StoredWorkflow:
    """A workflow type as the registry stores it."""

    spec: WorkflowSpec
    enabled: bool = True
    disabled_reason: str = ""
    source: str = SOURCE_WORKER  # who declared the current spec
    update_time_epoch: float = 0.0
    owner: str = ""  # the principal that owns the type; empty: unowned, the next registrant's
    versions: tuple[SchemaVersion, ...] = ()  # kept schema versions, oldest first
    schema_version: int = 0  # the number of the current schema's version
    compatibility: str = ""  # the type's own compatibility mode ("": the registry's default)


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
    # workflow type -> the schema version its registration declared (absent: registered
    # before versions were kept)
    schema_versions: dict[str, int] = field(default_factory=dict)


@dataclass
class SlugCounter:
    """The counter of one slug, and the request ids of its last few claims (for retries)."""

    slug: str
    counter: int = 0
    last_claimed_epoch: float = 0.0
    claims: dict[str, int] = field(default_factory=dict)  # request_id -> counter, oldest first


# --- writes: what the server asks of the shards (registry.catalog.shard_rules builds the ops) --


@dataclass
class WorkerRef:
    """A worker to unregister, and who asks (as in WorkerRegistration)."""

    worker_id: str
    principal: str = ""
    admin: bool = False


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
