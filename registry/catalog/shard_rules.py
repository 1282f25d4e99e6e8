"""The rules of the `workers` and `types` shards: their decide functions (docs/architecture.md,
"Entries and operations"), the encoding of their entries, and the operations the server sends.

A decide function (`decide_worker_op`, `decide_type_op`) looks at one operation and the
shard's entries (registry.catalog.engine.View) and returns what changes (a Decision) or why
not (a Refusal). It decides only what depends on state: existence, ownership, leases, the task
queue a type keeps. The request's syntax (identifier lengths, label limits, TTL range, principal
names, a disable reason's text) was checked by the server before it built the operation, so a
syntax rule tightened later never changes what replaying a recorded history decides; here an
operation is only checked for the shape this module relies on (registry.catalog.op_fields): a
malformed one is refused INVALID_ARGUMENT (INVALID_OPERATION), never raised.

The codes, reasons, messages and field violations are those of the 0.2 rules
(registry.catalog.rules) wherever the meaning carried over. What changed with sharding: a
registration is one `register` operation on the worker's shard and one `declare` per workflow
type on the type's shard (the server sends them, merges the NOT_OWNER refusals of several
declarations into one error, and tells each `declare` whether other live workers serve the type
on its stored queue, `keep_queue`, since workers live in other shards); a deleted type stays
on its workers' lists (the server's view skips types that no longer exist).

Entries (JSON objects, stored as canonical strings by the engine):
- worker, key worker_id: {"task_queue", "environment", "labels", "ttl", "workflows",
  "registered", "expires", "principal"}
- type, key workflow_type: {"spec": {"task_queue", "version", "description",
  "schedule_input_warnings": [{"field", "message"}], "search_attributes": [{"name", "type",
  "description"}], "labels"}, "schema": digest or "", "_refs": [digest] (with a schema),
  "enabled", "disabled_reason", "source", "owner", "updated", "versions", "mode"}; the
  schema is the shard's blob under its digest (schema_digest), stored once however many types
  use it; `versions` and `mode` are the kept schema versions and the type's compatibility mode
  (registry.catalog.versions), and `_refs` lists every kept version's schema.
- worker entries also have "schemas": the schema version of each of its workflows (same order).

Standard library, registry.shared and registry.server.principals only, deterministic: it runs
in the workflow sandbox.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from registry.catalog.engine import Decision, Refusal, View, dumps
from registry.catalog.op_fields import (
    MAX_REPORTED,
    Fields,
    Rule,
    decide_op,
    entry_name,
    shown,
    summary,
    violation,
)
from registry.catalog.versions import (
    MAX_SERVED_VERSIONS,
    MAX_VERSION_NUMBER,
    MODE_NAMES,
    SCHEMA_VERSIONS_PATCH,
    UNCHECKED,
    VersionRequest,
    add_version,
    kept_for_room,
    kept_versions,
    schema_versions,
    version_of,
    version_refs,
)
from registry.shared.model import (
    SOURCE_OPERATOR,
    SOURCE_WORKER,
    InputWarningSpec,
    SearchAttributeSpec,
    StoredWorker,
    StoredWorkflow,
    WorkerRef,
    WorkerRegistration,
    WorkflowDeletion,
    WorkflowSpec,
    WorkflowToggle,
    WorkflowWrite,
)
from registry.shared.specs import effective_ttl, is_finite_number

MAX_BATCH: Final = 10_000  # worker ids in one renewal or expiry
MAX_TTL: Final = 2**31 - 1  # seconds: the shape bound of a lease (the server allows far less)
MAX_INDEX: Final = 10_000  # a declaration's index in its registration (for field names)
OPERATOR_DISABLED_REASON: Final = "disabled by an operator"
SCHEMA_DIGEST_LENGTH: Final = 32  # hex digits of the SHA-256 of the canonical schema JSON
# A type's declaration, field by field, in WorkflowSpec's order (for "differs in ...").
_DECLARATION: Final = (
    "task_queue",
    "version",
    "description",
    "input_schema",
    "schedule_input_warnings",
    "search_attributes",
    "labels",
)

# --- entries ----------------------------------------------------------------------------------


def schema_digest(schema: Mapping[str, Any]) -> str:
    """The key of a schema among the shard's blobs: the first 32 hex digits of the SHA-256 of
    its canonical JSON (registry.catalog.engine.dumps). "" for the empty schema `{}`, which is
    stored as no schema at all."""
    if not schema:
        return ""
    return hashlib.sha256(dumps(schema).encode()).hexdigest()[:SCHEMA_DIGEST_LENGTH]


def spec_fields(spec: WorkflowSpec) -> dict[str, Any]:
    """A workflow spec as an operation and a type entry carry it: everything but the type
    (the entry's key) and the schema (a blob)."""
    return {
        "task_queue": spec.task_queue,
        "version": spec.version,
        "description": spec.description,
        "schedule_input_warnings": [
            {"field": w.field, "message": w.message} for w in spec.schedule_input_warnings
        ],
        "search_attributes": [
            {"name": a.name, "type": a.type, "description": a.description}
            for a in spec.search_attributes
        ],
        "labels": dict(spec.labels),
    }


def _worker_schemas(worker: StoredWorker) -> list[int]:
    return [worker.schema_versions.get(name, 0) for name in worker.workflows]


def workflow_spec(
    workflow_type: str, fields: Mapping[str, Any], schema: Mapping[str, Any] | None
) -> WorkflowSpec:
    """The WorkflowSpec of spec_fields and a schema (None or {}: no schema)."""
    return WorkflowSpec(
        workflow_type=workflow_type,
        task_queue=fields.get("task_queue", ""),
        version=fields.get("version", ""),
        description=fields.get("description", ""),
        input_schema=dict(schema or {}),
        schedule_input_warnings=[
            InputWarningSpec(w["field"], w["message"])
            for w in fields.get("schedule_input_warnings", [])
        ],
        search_attributes=[
            SearchAttributeSpec(a["name"], a["type"], a.get("description", ""))
            for a in fields.get("search_attributes", [])
        ],
        labels=dict(fields.get("labels", {})),
    )


def _type_entry(
    spec: dict[str, Any],
    digest: str,
    *,
    enabled: bool,
    disabled_reason: str,
    source: str,
    owner: str,
    updated: float,
    versions: list[dict[str, Any]] | None = None,
    mode: str = "",
) -> dict[str, Any]:
    """A type entry; without versions (a replay of a run from before they were kept, or a 0.2
    migration), as entries were then."""
    entry: dict[str, Any] = {
        "spec": spec,
        "schema": digest,
        "enabled": enabled,
        "disabled_reason": disabled_reason,
        "source": source,
        "owner": owner,
        "updated": updated,
    }
    if versions is not None:
        entry["versions"] = versions
        entry["mode"] = mode
    refs = version_refs(versions) if versions is not None else [digest] if digest else []
    if refs:
        entry["_refs"] = refs
    return entry


def type_entry(workflow: StoredWorkflow) -> dict[str, Any]:
    """The entry of a stored workflow type (export/import, migration). Its schema is the blob
    `{schema_digest(workflow.spec.input_schema): workflow.spec.input_schema}`."""
    return _type_entry(
        spec_fields(workflow.spec),
        schema_digest(workflow.spec.input_schema),
        enabled=workflow.enabled,
        disabled_reason=workflow.disabled_reason,
        source=workflow.source,
        owner=workflow.owner,
        updated=float(workflow.update_time_epoch),
    )


def stored_workflow(
    workflow_type: str, entry: Mapping[str, Any], blobs: Mapping[str, Any]
) -> StoredWorkflow:
    """A type entry as the registry's model has it; `blobs` holds (at least) the schemas of
    its kept versions by digest."""
    versions, current = schema_versions(entry, blobs)
    return StoredWorkflow(
        spec=workflow_spec(
            workflow_type, entry.get("spec", {}), blobs.get(entry.get("schema") or "")
        ),
        enabled=entry.get("enabled", True),
        disabled_reason=entry.get("disabled_reason", ""),
        source=entry.get("source", SOURCE_WORKER),
        update_time_epoch=entry.get("updated", 0.0),
        owner=entry.get("owner", ""),
        versions=versions,
        schema_version=current,
        compatibility=str(entry.get("mode", "")),
    )


def worker_entry(worker: StoredWorker) -> dict[str, Any]:
    """The entry of a stored worker (export/import, migration)."""
    return {
        "task_queue": worker.task_queue,
        "environment": worker.environment,
        "labels": dict(worker.labels),
        "ttl": worker.ttl_seconds,
        "workflows": list(worker.workflows),
        "registered": float(worker.registered_epoch),
        "expires": float(worker.lease_expires_epoch),
        "principal": worker.principal,
        "schemas": _worker_schemas(worker),
    }


def stored_worker(worker_id: str, entry: Mapping[str, Any]) -> StoredWorker:
    """A worker entry as the registry's model has it."""
    return StoredWorker(
        worker_id=worker_id,
        task_queue=entry.get("task_queue", ""),
        environment=entry.get("environment", ""),
        labels=dict(entry.get("labels", {})),
        ttl_seconds=entry.get("ttl", 0),
        workflows=list(entry.get("workflows", [])),
        registered_epoch=entry.get("registered", 0.0),
        lease_expires_epoch=entry.get("expires", 0.0),
        principal=entry.get("principal", ""),
        schema_versions={
            name: number
            # "schemas" is as long as "workflows" (absent: registered before versions)
            for name, number in zip(
                entry.get("workflows", []), entry.get("schemas", []), strict=False
            )
            if number
        },
    )


# --- operations (what the server sends; the writer adds each one's "id") ------------------


def register_op(registration: WorkerRegistration, versions: Sequence[int] = ()) -> dict[str, Any]:
    """The `register` operation of a registration (workers shard of its worker_id); versions:
    the schema version each declaration was stored as."""
    return {
        "op": "register",
        "key": registration.worker_id,
        "worker": {
            "task_queue": registration.task_queue,
            "environment": registration.environment,
            "labels": dict(registration.labels),
            "ttl": effective_ttl(registration.ttl_seconds),
            "workflows": [spec.workflow_type for spec in registration.workflows],
            **({"schemas": list(versions)} if versions else {}),
        },
        "principal": registration.principal,
        "admin": registration.admin,
    }


def version_fields(request: VersionRequest) -> dict[str, Any]:
    """What an operation bringing a schema says about the check it passed (versions)."""
    checked = {"base": request.base, "mode": request.mode}
    return {
        **{name: value for name, value in checked.items() if value is not None},
        "serving": sorted(request.serving),
        "worker": request.worker,
        "principal": request.principal,
        "override": request.override,
    }


def declare_op(
    registration: WorkerRegistration,
    index: int,
    *,
    keep_queue: bool,
    checked: VersionRequest = UNCHECKED,
) -> dict[str, Any]:
    """The `declare` operation of the registration's index-th workflow type (types shard of the
    type), on the worker's task queue. keep_queue: other live workers serve the type on its
    stored task queue, which it then keeps. checked: what its schema was checked against."""
    spec = replace(registration.workflows[index], task_queue=registration.task_queue)
    return {
        **version_fields(checked),
        "op": "declare",
        "key": spec.workflow_type,
        "index": index,
        "spec": spec_fields(spec),
        "schema": dict(spec.input_schema),
        "principal": registration.principal,
        "admin": registration.admin,
        "keep_queue": keep_queue,
    }


def unregister_op(ref: WorkerRef) -> dict[str, Any]:
    return {
        "op": "unregister",
        "key": ref.worker_id,
        "principal": ref.principal,
        "admin": ref.admin,
    }


def renew_op(seen: Mapping[str, float]) -> dict[str, Any]:
    """Renew leases: worker_id -> seconds since the replica saw its last heartbeat (by the
    replica's monotonic clock); the workflow's clock makes it a lease expiry."""
    return {"op": "renew", "seen": dict(seen)}


def expire_op(worker_ids: Iterable[str], grace: float) -> dict[str, Any]:
    return {"op": "expire", "workers": list(worker_ids), "grace": grace}


def put_op(write: WorkflowWrite, checked: VersionRequest = UNCHECKED) -> dict[str, Any]:
    return {
        **version_fields(checked),
        "op": "put",
        "key": write.spec.workflow_type,
        "spec": spec_fields(write.spec),
        "schema": dict(write.spec.input_schema),
        "enabled": write.enabled,
        "create": write.create,
        "owner": write.owner,
    }


def delete_op(deletion: WorkflowDeletion) -> dict[str, Any]:
    return {"op": "delete", "key": deletion.workflow_type, "allow_missing": deletion.allow_missing}


def approve_op(
    workflow_type: str, schema: Mapping[str, Any], checked: VersionRequest
) -> dict[str, Any]:
    """Store a schema as a version of a registered type without making it current (an
    operator's CreateSchemaVersion)."""
    return {
        "op": "approve",
        "key": workflow_type,
        "schema": dict(schema),
        **version_fields(checked),
    }


def set_mode_op(workflow_type: str, mode: str) -> dict[str, Any]:
    """Set a type's own compatibility mode ("": the registry's default)."""
    return {"op": "set_mode", "key": workflow_type, "mode": mode}


def toggle_op(toggle: WorkflowToggle) -> dict[str, Any]:
    return {
        "op": "toggle",
        "key": toggle.workflow_type,
        "enabled": toggle.enabled,
        "reason": toggle.reason,
    }


# --- ownership --------------------------------------------------------------------------------


def _not_owner(violations: list[dict[str, str]]) -> Refusal:
    return Refusal("PERMISSION_DENIED", "NOT_OWNER", summary(violations), tuple(violations))


def worker_owner_refusal(
    worker_id: str, registered_by: str, principal: str, admin: bool
) -> Refusal | None:
    """PERMISSION_DENIED (NOT_OWNER) unless the caller may heartbeat, unregister or
    re-register the worker: an admin, the principal that registered it, or anyone when no
    principal was recorded (auth off, or registered before principals existed)."""
    if admin or not principal or not registered_by or registered_by == principal:
        return None
    message = (
        f"worker {shown(worker_id)} was registered by principal {registered_by}; only that "
        "principal or an admin may heartbeat, unregister or re-register it"
    )
    return _not_owner([violation("worker_id", message, "not_owner")])


def may_change_type(owner: str, principal: str, admin: bool) -> bool:
    """Whether the caller may change a type's declaration: an admin, its owner, anyone while
    it is unowned (auth off, or stored before owners were recorded). Ownership lasts until an
    admin releases or transfers it (an operator's put, a delete)."""
    return admin or not principal or not owner or owner == principal


def _foreign_declaration(
    field: str, stored: Mapping[str, Any], spec: Mapping[str, Any], digest: str
) -> dict[str, str] | None:
    """Why a declaration of another principal's type is refused: it may run the type only on
    the type's task queue and exactly as declared. None: declared exactly as stored."""
    stored_spec = stored.get("spec", {})
    owned = f"is owned by principal {stored.get('owner', '')}: only that principal or an admin may"
    if spec["task_queue"] != stored_spec.get("task_queue"):
        message = (
            f"{owned} run it on another task queue (it runs on "
            f"{stored_spec.get('task_queue')!r}, this worker polls {spec['task_queue']!r})"
        )
        return violation(field, message, "not_owner")
    changed = [
        name
        for name in _DECLARATION
        if (
            digest != stored.get("schema", "")
            if name == "input_schema"
            else spec[name] != stored_spec.get(name)
        )
    ]
    if not changed:
        return None
    message = f"{owned} change its declaration (this one differs in {', '.join(changed)})"
    return violation(field, message, "not_owner")


# --- the workers shard ------------------------------------------------------------------------


def decide_worker_op(op: Mapping[str, Any], view: View, now: float) -> Decision | Refusal:
    """register, unregister, renew, expire (see the module's docstring and docs/architecture.md)."""
    return decide_op(op, view, now, _WORKER_OPS)


def _register(fields: Fields, view: View, now: float) -> Decision | Refusal:
    key = fields.text("key", nonempty=True)
    worker = fields.nested("worker")
    task_queue = worker.text("task_queue")
    environment = worker.text("environment")
    labels = worker.text_map("labels")
    ttl = worker.whole("ttl", 1, MAX_TTL)
    workflows = worker.texts("workflows")
    schemas = (
        worker.wholes("schemas", 0, MAX_VERSION_NUMBER, max_items=len(workflows))
        if worker.has("schemas")
        else None
    )
    principal, admin = fields.text("principal"), fields.flag("admin")
    if refusal := fields.refusal():
        return refusal
    previous = view.get(key)
    if previous is not None:
        refused = worker_owner_refusal(key, previous.get("principal", ""), principal, admin)
        if refused is not None:
            return refused
    registered = previous.get("registered", now) if previous is not None else now
    entry = {
        "task_queue": task_queue,
        "environment": environment,
        "labels": labels,
        "ttl": ttl,
        "workflows": workflows,
        "registered": registered,
        "expires": now + ttl,
        "principal": principal,
    }
    if schemas is not None:
        entry["schemas"] = schemas
    return Decision(put={key: entry}, result={"registered": registered, "expires": now + ttl})


def _unregister(fields: Fields, view: View, now: float) -> Decision | Refusal:
    key = fields.text("key", nonempty=True)
    principal, admin = fields.text("principal"), fields.flag("admin")
    if refusal := fields.refusal():
        return refusal
    worker = view.get(key)
    if worker is None:
        return Refusal("NOT_FOUND", "WORKER_NOT_FOUND", f"worker {shown(key)} is not registered")
    refused = worker_owner_refusal(key, worker.get("principal", ""), principal, admin)
    return refused or Decision(delete=[key])


def _renew(fields: Fields, view: View, now: float) -> Decision | Refusal:
    """Extend leases to `now - seconds_ago + ttl` by the workflow's clock; unknown workers
    (gone since the flush) are skipped and a lease is never shortened, so a retried or late
    renewal is harmless."""
    known = len(fields.violations)
    seen = fields.json_object("seen")
    if len(fields.violations) == known and not 1 <= len(seen) <= MAX_BATCH:
        fields.bad("seen", f"an object of 1-{MAX_BATCH} worker ids")
    bad = [
        violation(entry_name("seen", worker_id), "must be a finite number >= 0", "invalid")
        for worker_id, ago in seen.items()
        if not (is_finite_number(ago) and ago >= 0)
    ]
    fields.violations += bad[:MAX_REPORTED]
    if refusal := fields.refusal():
        return refusal
    renewed = {}
    for worker_id, ago in seen.items():
        worker = view.get(worker_id)
        if worker is None:
            continue
        expires = now - ago + worker.get("ttl", 0)
        if expires > worker.get("expires", 0.0):
            renewed[worker_id] = {**worker, "expires": expires}
    return Decision(put=renewed, result={"renewed": len(renewed)})


def _expire(fields: Fields, view: View, now: float) -> Decision | Refusal:
    """Remove the named workers whose lease ended more than grace x TTL ago by the workflow's
    clock (another replica may have renewed one since the server looked)."""
    ids = fields.texts("workers", min_items=1, max_items=MAX_BATCH)
    grace = fields.number("grace")
    if refusal := fields.refusal():
        return refusal
    expired = []
    for worker_id in sorted(set(ids)):
        worker = view.get(worker_id)
        if worker is not None and now - worker.get("expires", 0.0) > grace * worker.get("ttl", 0):
            expired.append(worker_id)
    return Decision(delete=expired, result={"expired": expired})


# --- the types shard --------------------------------------------------------------------------


def decide_type_op(op: Mapping[str, Any], view: View, now: float) -> Decision | Refusal:
    """declare, put, delete, toggle (see the module's docstring and docs/architecture.md)."""
    return decide_op(op, view, now, _TYPE_OPS)


def _read_spec(fields: Fields) -> dict[str, Any]:
    return {
        "task_queue": fields.text("task_queue"),
        "version": fields.text("version"),
        "description": fields.text("description"),
        "schedule_input_warnings": [
            {"field": w.text("field"), "message": w.text("message")}
            for w in fields.objects("schedule_input_warnings")
        ],
        "search_attributes": [
            {"name": a.text("name"), "type": a.text("type"), "description": a.text("description")}
            for a in fields.objects("search_attributes")
        ],
        "labels": fields.text_map("labels"),
    }


def _schema_blob(digest: str, schema: dict[str, Any], view: View) -> dict[str, Any]:
    return {digest: schema} if digest and not view.has_blob(digest) else {}


def _version_request(fields: Fields) -> VersionRequest:
    return VersionRequest(
        base=fields.text("base") if fields.has("base") else None,
        mode=fields.text("mode") if fields.has("mode") else None,
        serving=frozenset(
            fields.wholes("serving", 1, MAX_VERSION_NUMBER, max_items=MAX_SERVED_VERSIONS)
        ),
        worker=fields.text("worker"),
        principal=fields.text("principal"),
        override=fields.text("override"),
    )


def _versioned(
    stored: Mapping[str, Any] | None,
    schema: dict[str, Any],
    request: VersionRequest | None,
    view: View,
    now: float,
) -> tuple[list[dict[str, Any]] | None, int] | Refusal:
    """The versions after declaring `schema` and its number; (None, 0) replaying a run from
    before versions were kept (request None)."""
    if request is None:
        return None, 0
    keep = kept_for_room(view.room(), len(dumps(schema)))
    return add_version(stored, schema_digest(schema), request, now, keep=keep)


def _declare(fields: Fields, view: View, now: float) -> Decision | Refusal:
    """A worker registration declaring the type: the worker is the truth about what it runs,
    so a changed declaration replaces the stored one (enabled state kept). Another principal
    may declare an owned type only exactly as stored, on its task queue; an unowned type
    becomes the first non-admin registrant's; an admin keeps owners."""
    key = fields.text("key", nonempty=True)
    index = fields.whole("index", 0, MAX_INDEX) if fields.has("index") else None
    spec = _read_spec(fields.nested("spec"))
    schema = fields.json_object("schema")
    principal, admin = fields.text("principal"), fields.flag("admin")
    keep_queue = fields.flag("keep_queue")
    request = _version_request(fields) if view.patched(SCHEMA_VERSIONS_PATCH) else None
    if refusal := fields.refusal():
        return refusal
    digest = schema_digest(schema)
    stored = view.get(key)
    if stored is not None and not may_change_type(stored.get("owner", ""), principal, admin):
        field = "workflow_type" if index is None else f"workflows[{index}].workflow_type"
        foreign = _foreign_declaration(field, stored, spec, digest)
        if foreign is not None:
            return _not_owner([foreign])
        declared = version_of(kept_versions(stored), digest)
        return Decision(result=_with_version({"changed": False}, declared if request else 0))
    if stored is not None and keep_queue:
        # Workers on several queues run this type: the stored queue stays put while one of
        # its workers is registered, so registrations don't flip it back and forth.
        spec["task_queue"] = stored.get("spec", {}).get("task_queue", spec["task_queue"])
    # An admin assigns owners (an operator's write) rather than holding types: its
    # registrations leave an unowned type unowned.
    owner = (stored.get("owner", "") if stored is not None else "") or ("" if admin else principal)
    if stored is not None and stored.get("spec") == spec and stored.get("schema", "") == digest:
        unchanged = _with_version({"changed": False}, version_of(kept_versions(stored), digest))
        if stored.get("owner", "") == owner:
            return Decision(result=unchanged)
        claimed = {**stored, "owner": owner, "updated": now}  # an unowned type: claimed
        return Decision(put={key: claimed}, result=unchanged)
    versioned = _versioned(stored, schema, request, view, now)
    if isinstance(versioned, Refusal):
        return versioned
    versions, number = versioned
    entry = _type_entry(
        spec,
        digest,
        enabled=stored.get("enabled", True) if stored is not None else True,
        disabled_reason=stored.get("disabled_reason", "") if stored is not None else "",
        source=SOURCE_WORKER,
        owner=owner,
        updated=now,
        versions=versions,
        mode=stored.get("mode", "") if stored is not None else "",
    )
    blobs = _schema_blob(digest, schema, view)
    return Decision(put={key: entry}, blobs=blobs, result=_with_version({"changed": True}, number))


def _with_version(result: dict[str, Any], number: int) -> dict[str, Any]:
    """An outcome's result with the schema version it stored (none replaying an old run)."""
    return {**result, "version": number} if number else result


def _put(fields: Fields, view: View, now: float) -> Decision | Refusal:
    """An operator's create or replace: the operator becomes the source. enabled null keeps
    the stored state (a new type is enabled); owner null keeps the stored owner (a new type
    has none), "" releases the type, a name transfers it."""
    key = fields.text("key", nonempty=True)
    spec = _read_spec(fields.nested("spec"))
    schema = fields.json_object("schema")
    enabled = fields.optional_flag("enabled")
    create = fields.flag("create")
    owner = fields.optional_text("owner")
    request = _version_request(fields) if view.patched(SCHEMA_VERSIONS_PATCH) else None
    if refusal := fields.refusal():
        return refusal
    stored = view.get(key)
    if stored is not None and create:
        return Refusal(
            "ALREADY_EXISTS",
            "WORKFLOW_ALREADY_EXISTS",
            f"workflow type {shown(key)} is already registered; "
            "replace it with PUT /registry/workflows/{workflow_type}",
        )
    was_enabled = stored.get("enabled", True) if stored is not None else True
    if enabled is None:
        enabled = was_enabled
    if enabled:
        disabled_reason = ""
    elif stored is not None and not was_enabled:
        disabled_reason = stored.get("disabled_reason", "")
    else:
        disabled_reason = OPERATOR_DISABLED_REASON
    digest = schema_digest(schema)
    versioned = _versioned(stored, schema, request, view, now)
    if isinstance(versioned, Refusal):
        return versioned
    versions, number = versioned
    entry = _type_entry(
        spec,
        digest,
        enabled=enabled,
        disabled_reason=disabled_reason,
        source=SOURCE_OPERATOR,
        owner=owner if owner is not None else (stored.get("owner", "") if stored else ""),
        updated=now,
        versions=versions,
        mode=stored.get("mode", "") if stored is not None else "",
    )
    changed = stored is None or stored.get("spec") != spec or stored.get("schema") != digest
    blobs = _schema_blob(digest, schema, view)
    return Decision(
        put={key: entry}, blobs=blobs, result=_with_version({"changed": changed}, number)
    )


def _approve(fields: Fields, view: View, now: float) -> Decision | Refusal:
    """Store a schema as a version of a registered type, its current schema unchanged (an
    operator approving a schema ahead of the workers that will declare it)."""
    key = fields.text("key", nonempty=True)
    schema = fields.json_object("schema")
    request = _version_request(fields)
    if refusal := fields.refusal():
        return refusal
    stored = view.get(key)
    if stored is None:
        return _workflow_not_found(key)
    digest = schema_digest(schema)
    known = version_of(kept_versions(stored), digest)
    if known:
        return Decision(result={"version": known, "created": False})
    keep = kept_for_room(view.room(), len(dumps(schema)))
    added = add_version(stored, digest, request, now, keep=keep)
    if isinstance(added, Refusal):
        return added
    versions, number = added
    entry = {**stored, "versions": versions, "mode": stored.get("mode", "")}
    entry["_refs"] = version_refs(versions)
    blobs = _schema_blob(digest, schema, view)
    return Decision(put={key: entry}, blobs=blobs, result={"version": number, "created": True})


def _set_mode(fields: Fields, view: View, now: float) -> Decision | Refusal:
    """Set a type's own compatibility mode ("": follow the registry's default)."""
    key = fields.text("key", nonempty=True)
    mode = fields.text("mode")
    if mode and mode not in MODE_NAMES:
        fields.bad("mode", f"one of {', '.join(MODE_NAMES)} or empty")
    if refusal := fields.refusal():
        return refusal
    stored = view.get(key)
    if stored is None:
        return _workflow_not_found(key)
    if stored.get("mode", "") == mode:
        return Decision(result={"changed": False})
    return Decision(put={key: {**stored, "mode": mode}}, result={"changed": True})


def _workflow_not_found(key: str) -> Refusal:
    return Refusal(
        "NOT_FOUND", "WORKFLOW_NOT_FOUND", f"workflow type {shown(key)} is not registered"
    )


def _delete(fields: Fields, view: View, now: float) -> Decision | Refusal:
    """Forget a workflow type (and its owner); its schema goes with its last user."""
    key = fields.text("key", nonempty=True)
    allow_missing = fields.flag("allow_missing")
    if refusal := fields.refusal():
        return refusal
    if view.get(key) is None:
        if allow_missing:
            return Decision(result={"deleted": False})
        return _workflow_not_found(key)
    return Decision(delete=[key], result={"deleted": True})


def _toggle(fields: Fields, view: View, now: float) -> Decision | Refusal:
    """Enable, or disable with a reason (stored stripped); the same state changes nothing."""
    key = fields.text("key", nonempty=True)
    enabled = fields.flag("enabled")
    reason = fields.text("reason")
    if refusal := fields.refusal():
        return refusal
    stored = view.get(key)
    if stored is None:
        return _workflow_not_found(key)
    disabled_reason = "" if enabled else reason.strip()
    if stored.get("enabled") == enabled and stored.get("disabled_reason") == disabled_reason:
        return Decision(result={"changed": False})
    updated = {**stored, "enabled": enabled, "disabled_reason": disabled_reason, "updated": now}
    return Decision(put={key: updated}, result={"changed": True})


# --- dispatch ---------------------------------------------------------------------------------

_WORKER_OPS: Final[dict[str, Rule]] = {
    "register": _register,
    "unregister": _unregister,
    "renew": _renew,
    "expire": _expire,
}
_TYPE_OPS: Final[dict[str, Rule]] = {
    "declare": _declare,
    "put": _put,
    "delete": _delete,
    "toggle": _toggle,
    "approve": _approve,
    "set_mode": _set_mode,
}
