"""The rules of starting a workflow through the registry, as plain functions: which task
queue gets the run, which workflow id it gets, whether its search attributes and (for the
0.1.x /run route) its agent request are acceptable. No I/O: registry.dispatch.service does
the talking, registry.dispatch.temporal the starting."""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

import grpc
from temporal_registry.v1 import dispatch_pb2, resources_pb2
from temporalio.api.enums.v1 import WorkflowIdConflictPolicy, WorkflowIdReusePolicy

from registry.liveness.rules import poller_health
from registry.liveness.views import LivenessInputs, WorkflowView
from registry.server.errors import FieldViolation, RegistryError, invalid_fields, unavailable
from registry.server.pagination import labels_match
from registry.server.validation import validate_input_each
from registry.shared.messages import value_to_python
from registry.shared.model import (
    InputWarningSpec,
    SchemaVersion,
    SearchAttributeSpec,
    SlugCounter,
    StoredWorkflow,
)
from registry.shared.schemas import (
    MAX_INPUT_BYTES,
    MAX_INPUT_DEPTH,
    InvalidSchemaError,
    compile_schema,
)
from registry.shared.slugs import SlugError, slug_workflow_id, slugify
from registry.shared.specs import is_finite_number, validate_json_value

MAX_WORKFLOW_ID_LENGTH: Final = 1000
MAX_REQUEST_ID_LENGTH: Final = 200
AGENT_ID: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
CHAIN_MODES: Final = ("override", "append")
# Never a workspace: the root and system directories themselves...
FORBIDDEN_WORKSPACES: Final = frozenset(
    {"/", "/root", "/home", "/etc", "/var", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/opt"}
)
# ...nor anything on these special or privileged filesystems.
FORBIDDEN_TREES: Final = (
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/run",
    "/var/run",
    "/var/lock",
    "/root",
    "/etc",
)
_INT64: Final = 2**63


def choose_task_queue(
    view: WorkflowView, selector: Mapping[str, str], inputs: LivenessInputs
) -> str:
    """The task queue of a healthy worker of the type whose labels match `selector`, on a queue
    with an active poller (or whose pollers Temporal could not be asked about). Several:
    the queue with the most such workers, then the first by name, so the choice is stable.
    UNAVAILABLE, with the reasons, when there is none."""
    workflow_type = view.stored.spec.workflow_type
    matching = [w for w in view.workers if labels_match(w.stored.labels, selector)]
    counts: dict[str, int] = {}
    for worker in matching:
        queue = worker.stored.task_queue
        if worker.healthy and _queue_polled(queue, inputs):
            counts[queue] = counts.get(queue, 0) + 1
    if counts:
        return min(counts, key=lambda queue: (-counts[queue], queue))
    if view.workers and not matching:
        selected = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        reasons = f"no registered worker matches label_selector {selected}"
    else:
        reasons = "; ".join(view.health_reasons) or "no registered workers"
    raise unavailable(
        "NO_HEALTHY_WORKER",
        f"no healthy worker can run {workflow_type} now: {reasons}",
        workflow_type=workflow_type,
        reasons=reasons,
    )


def _queue_polled(queue: str, inputs: LivenessInputs) -> bool:
    if inputs.pollers is None or queue not in inputs.pollers:
        return True  # unknown: judged on leases alone, as health is
    return poller_health(inputs.pollers[queue], inputs.now, inputs.poller_max_age).fresh


async def input_violations(
    stored: StoredWorkflow, workflow_input: Any, serving: Sequence[SchemaVersion] = ()
) -> list[FieldViolation]:
    """The input's violations of the schemas a run must meet, at `input/...`: every version
    live workers serve (whichever of them picks the run up must accept it), else the current
    schema (none without a schema). With several versions served, a violation names the
    versions that refuse it. Within registry.validation's bound (past it: RESOURCE_EXHAUSTED
    VALIDATION_TOO_COSTLY). A registered schema that can't be used is the registrant's fault:
    FAILED_PRECONDITION."""
    schemas = [(v.number, v.schema) for v in serving] or [
        (stored.schema_version, stored.spec.input_schema)
    ]
    schemas = [(number, schema) for number, schema in schemas if schema]
    try:
        validators = [compile_schema(schema) for _, schema in schemas]
    except InvalidSchemaError as error:
        raise RegistryError(
            grpc.StatusCode.FAILED_PRECONDITION,
            "INVALID_REGISTERED_SCHEMA",
            f"the registered input schema of {stored.spec.workflow_type} is unusable "
            f"({error}); fix the registration",
        ) from None
    if not validators:
        return []
    malformed, found = await validate_input_each(validators, workflow_input)
    if malformed:
        return malformed
    refused_by: dict[tuple[str, str, str], list[int]] = {}
    for (number, _), violations in zip(schemas, found, strict=True):
        for v in violations:
            refused_by.setdefault((v.field, v.description, v.reason), []).append(number)
    if len(schemas) == 1:
        return [FieldViolation(*key) for key in refused_by]
    return [
        FieldViolation(
            field,
            f"{description} (schema version{'s' if len(numbers) > 1 else ''} "
            f"{', '.join(map(str, numbers))})",
            reason,
        )
        for (field, description, reason), numbers in refused_by.items()
    ]


async def check_payload(
    stored: StoredWorkflow,
    workflow_input: Any,
    search_attributes: Mapping[str, Any],
    serving: Sequence[SchemaVersion] = (),
) -> tuple[list[TypedSearchAttribute], list[FieldViolation]]:
    """What a start (or a schedule's action) carries, checked against the type: the input
    against its schemas (input_violations), the search attributes against their declared
    types."""
    attributes, violations = typed_search_attributes(
        stored.spec.search_attributes, search_attributes
    )
    return attributes, await input_violations(stored, workflow_input, serving) + violations


def memo_violations(memo: Mapping[str, Any]) -> list[FieldViolation]:
    """A memo's values are JSON as an input is: nested at most MAX_INPUT_DEPTH levels, each at
    most MAX_INPUT_BYTES (`memo["key"]/<JSON pointer>`)."""
    out: list[FieldViolation] = []
    for key, value in memo.items():
        field = f"memo[{json.dumps(key)}]"
        out += validate_json_value(
            value, field, max_depth=MAX_INPUT_DEPTH, max_bytes=MAX_INPUT_BYTES
        )
    return out


def input_warnings(stored: StoredWorkflow, workflow_input: Any) -> list[InputWarningSpec]:
    """The type's input warnings whose field the input leaves missing or empty."""
    values = workflow_input if isinstance(workflow_input, dict) else {}
    return [
        warning
        for warning in stored.spec.schedule_input_warnings
        if values.get(warning.field) in (None, "", [], {})
    ]


# --- workflow ids -----------------------------------------------------------------------------


def default_workflow_id(workflow_type: str, request_id: str = "") -> str:
    """`<type slug>-<suffix>`: 16 hex of the request id's hash, so a retry gets the same id,
    or 8 random hex without one (as 0.1.x did)."""
    try:
        base = slugify(workflow_type.replace(".", "-"))
    except SlugError:
        base = "workflow"
    if request_id:
        digest = hashlib.sha256(f"{workflow_type}\0{request_id}".encode()).hexdigest()
        return f"{base}-{digest[:16]}"
    return f"{base}-{secrets.token_hex(4)}"


def workflow_id_violations(
    workflow_id: str, reserved: str, max_length: int = MAX_WORKFLOW_ID_LENGTH
) -> list[FieldViolation]:
    if len(workflow_id) > max_length or not workflow_id.isprintable():
        message = f"must be 1-{max_length} printable characters"
        return [FieldViolation("workflow_id", message, "invalid")]
    if workflow_id == reserved or workflow_id.startswith(reserved + "/"):
        message = f"is one of the registry's own workflow ids ({reserved}, {reserved}/...)"
        return [FieldViolation("workflow_id", message, "reserved")]
    return []


def request_id_violations(request_id: str) -> list[FieldViolation]:
    if len(request_id) > MAX_REQUEST_ID_LENGTH or not request_id.isprintable():
        message = f"must be at most {MAX_REQUEST_ID_LENGTH} printable characters"
        return [FieldViolation("request_id", message, "invalid")]
    return []


# --- search attributes ------------------------------------------------------------------------


@dataclass(frozen=True)
class TypedSearchAttribute:
    name: str
    type: str  # a registry.specs.SEARCH_ATTRIBUTE_TYPES name
    value: Any  # str, list[str], int, float, bool or an aware datetime


def typed_search_attributes(
    declared: Sequence[SearchAttributeSpec], given: Mapping[str, Any]
) -> tuple[list[TypedSearchAttribute], list[FieldViolation]]:
    """The given values, checked against the types the workflow type declares."""
    types = {attribute.name: attribute.type for attribute in declared}
    typed, violations = [], []
    for name, value in sorted(given.items()):
        field = f'search_attributes["{name}"]'
        kind = types.get(name)
        if kind is None:
            supported = ", ".join(sorted(types)) or "none"
            message = f"is not declared by this workflow type (declared: {supported})"
            violations.append(FieldViolation(field, message, "undeclared"))
            continue
        converted = _search_attribute_value(kind, value)
        if converted is None:
            violations.append(FieldViolation(field, f"must be a {_EXPECTED[kind]}", "invalid_type"))
        else:
            typed.append(TypedSearchAttribute(name, kind, converted))
    return typed, violations


_EXPECTED: Final = {
    "Keyword": "string",
    "Text": "string",
    "KeywordList": "list of strings",
    "Int": "whole number (64-bit)",
    "Double": "number",
    "Bool": "boolean",
    "Datetime": "RFC 3339 date-time string with a time zone",
}


def _search_attribute_value(kind: str, value: Any) -> Any:
    if kind in ("Keyword", "Text"):
        return value if isinstance(value, str) else None
    if kind == "KeywordList":
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
        return value if ok else None
    if kind == "Bool":
        return value if isinstance(value, bool) else None
    if isinstance(value, bool):
        return None
    if kind == "Int":
        return value if isinstance(value, int) and -_INT64 <= value < _INT64 else None
    if kind == "Double":
        return float(value) if is_finite_number(value) else None
    if kind == "Datetime" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else None
    return None


# --- the 0.1.x /run route ---------------------------------------------------------------------


def workspace_violations(workspace: str) -> tuple[str, list[FieldViolation]]:
    """The normalised workspace, or why it is refused: it must be absolute, free of `..`
    components, not start with `//` (an implementation-defined root), and neither a system
    directory nor inside a special or privileged filesystem. The check is lexical (the
    registry never looks at its own filesystem)."""

    def refuse(message: str) -> tuple[str, list[FieldViolation]]:
        return workspace, [FieldViolation("workspace", message, "forbidden")]

    if not workspace.startswith("/") or not workspace.isprintable():
        return refuse("must be an absolute path of printable characters")
    if workspace.startswith("//"):
        return refuse("must not start with '//'")
    if ".." in workspace.split("/"):
        return refuse("must not contain '..' components")
    normalized = posixpath.normpath(workspace)
    if normalized in FORBIDDEN_WORKSPACES:
        return refuse(f"{normalized} is a system directory")
    for tree in FORBIDDEN_TREES:
        if normalized == tree or normalized.startswith(tree + "/"):
            return refuse(f"must not be under {tree}")
    return normalized, []


def agent_violations(field: str, agent_id: str, *, required: bool) -> list[FieldViolation]:
    if not agent_id and not required:
        return []
    if AGENT_ID.fullmatch(agent_id) is None:
        message = "must match ^[a-z0-9][a-z0-9._-]{0,63}$"
        return [FieldViolation(field, message, "invalid")]
    return []


def chain_violations(chain_agent_ids: Sequence[str], chain_mode: str) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    for i, agent_id in enumerate(chain_agent_ids):
        out += agent_violations(f"chain[{i}].agent_id", agent_id, required=False)
    if chain_mode and chain_mode not in CHAIN_MODES:
        out.append(FieldViolation("chain_mode", "must be override or append", "invalid"))
    elif chain_agent_ids and not chain_mode:
        out.append(FieldViolation("chain_mode", "is required with a chain", "required"))
    return out


def warning_messages(
    stored: StoredWorkflow, workflow_input: Any
) -> list[resources_pb2.InputWarning]:
    """The type's input warnings this input triggers, as messages."""
    return [
        resources_pb2.InputWarning(field=w.field, message=w.message)
        for w in input_warnings(stored, workflow_input)
    ]


# --- a start request, parsed -----------------------------------------------------------------


@dataclass(frozen=True)
class StartPlan:
    """Everything one start needs, already validated."""

    workflow_type: str
    workflow_id: str
    task_queue: str
    input: Any
    request_id: str  # the client's idempotency key; "" for none
    search_attributes: list[TypedSearchAttribute] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict)
    conflict_policy: WorkflowIdConflictPolicy.ValueType = (
        WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL
    )
    reuse_policy: WorkflowIdReusePolicy.ValueType = (
        WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
    )
    execution_timeout: timedelta | None = None
    run_timeout: timedelta | None = None


@dataclass(frozen=True)
class ParsedStart:
    """A StartWorkflow request, checked: the plan of the start but for the task queue (the
    catalogue's liveness chooses it) and, for a named start, the counter of its slug."""

    plan: StartPlan
    slug: str  # the slug of `name` ("" for none): the start claims its next counter
    warnings: list[resources_pb2.InputWarning]

    def with_queue(self, task_queue: str, slugs: Mapping[str, SlugCounter]) -> StartPlan:
        """The plan on task_queue; a named start gets the id its next claim would give."""
        plan = replace(self.plan, task_queue=task_queue)
        if self.slug:
            known = slugs.get(self.slug)
            plan = replace(
                plan, workflow_id=slug_workflow_id(self.slug, (known.counter if known else 0) + 1)
            )
        return plan


async def parse_start(
    request: dispatch_pb2.StartWorkflowRequest,
    stored: StoredWorkflow,
    reserved_workflow_id: str,
    serving: Sequence[SchemaVersion] = (),
) -> ParsedStart:
    """Every check of a start request against its (enabled) workflow type, in one answer:
    INVALID_START with one violation per bad field."""
    workflow_input = value_to_python(request.input) if request.HasField("input") else {}
    attributes, violations = await check_payload(
        stored,
        workflow_input,
        {k: value_to_python(v) for k, v in request.search_attributes.items()},
        serving,
    )
    memo = {k: value_to_python(v) for k, v in request.memo.items()}
    violations = _id_violations(request, reserved_workflow_id) + violations
    violations += memo_violations(memo)
    execution_timeout = _timeout(request, "execution_timeout", violations)
    run_timeout = _timeout(request, "run_timeout", violations)
    if violations:
        raise invalid_fields("INVALID_START", violations)
    slug = slugify(request.name) if request.name else ""
    plan = StartPlan(
        workflow_type=request.workflow_type,
        workflow_id=request.workflow_id
        or ("" if slug else default_workflow_id(request.workflow_type, request.request_id)),
        task_queue="",
        input=workflow_input,
        request_id=request.request_id,
        search_attributes=attributes,
        memo=memo,
        conflict_policy=_conflict_policy(request.id_conflict_policy),
        reuse_policy=_reuse_policy(request.id_reuse_policy),
        execution_timeout=execution_timeout,
        run_timeout=run_timeout,
    )
    return ParsedStart(plan, slug, warning_messages(stored, workflow_input))


def parse_slug(name: str, field: str = "name") -> str:
    """The slug of a name, or INVALID_NAME naming the field."""
    try:
        return slugify(name)
    except SlugError as error:
        raise invalid_fields(
            "INVALID_NAME", [FieldViolation(field, str(error), "invalid")]
        ) from None


def run_as_start(
    request: dispatch_pb2.RunRequest, default_type: str, declared: Mapping[str, SearchAttributeSpec]
) -> dispatch_pb2.StartWorkflowRequest:
    """The 0.1.x /run request as the StartWorkflow it stands for: the agent request is the
    input, and agent_id and agent_acp_provider become search attributes where the type
    declares them (INVALID_RUN for a bad agent request)."""
    workspace, violations = workspace_violations(request.workspace)
    violations = agent_violations("agent_id", request.agent_id, required=True) + violations
    violations += chain_violations([step.agent_id for step in request.chain], request.chain_mode)
    if violations:
        raise invalid_fields("INVALID_RUN", violations)
    run_input: dict[str, Any] = {
        "agent_id": request.agent_id,
        "workspace": workspace,
        "prompt": request.prompt,
        "agent_acp_provider": request.agent_acp_provider,
        "chain": [{"agent_id": s.agent_id, "prompt": s.prompt} for s in request.chain],
        "chain_mode": request.chain_mode,
    }
    start = dispatch_pb2.StartWorkflowRequest(
        workflow_type=request.workflow_type or default_type,
        name=request.name,
        request_id=request.request_id,
    )
    start.input.struct_value.update(run_input)
    for name in ("agent_id", "agent_acp_provider"):  # as 0.1.x did, where declared
        if name in declared and run_input[name]:
            start.search_attributes[name].string_value = run_input[name]
    return start


def _id_violations(
    request: dispatch_pb2.StartWorkflowRequest, reserved: str
) -> list[FieldViolation]:
    violations = request_id_violations(request.request_id)
    if request.workflow_id and request.name:
        message = "give workflow_id or name, not both"
        violations.append(FieldViolation("name", message, "exclusive"))
    if request.workflow_id:
        violations += workflow_id_violations(request.workflow_id, reserved)
    if request.name:
        try:
            slugify(request.name)
        except SlugError as error:
            violations.append(FieldViolation("name", str(error), "invalid"))
    return violations


def _timeout(
    request: dispatch_pb2.StartWorkflowRequest, field: str, violations: list[FieldViolation]
) -> timedelta | None:
    if not request.HasField(field):
        return None
    value: timedelta = getattr(request, field).ToTimedelta()
    if value <= timedelta(0):
        violations.append(FieldViolation(field, "must be positive", "out_of_range"))
    return value


def _conflict_policy(policy: int) -> WorkflowIdConflictPolicy.ValueType:
    if policy == dispatch_pb2.WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED:
        return WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL
    name = dispatch_pb2.WorkflowIdConflictPolicy.Name(policy)
    return WorkflowIdConflictPolicy.Value(name)


def _reuse_policy(policy: int) -> WorkflowIdReusePolicy.ValueType:
    if policy == dispatch_pb2.WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED:
        return WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
    name = dispatch_pb2.WorkflowIdReusePolicy.Name(policy)
    return WorkflowIdReusePolicy.Value(name)
