"""The rules of every registry write, as pure functions over a `Catalog`.

Each write is planned first: `plan_*` looks at the catalogue and the request and returns the
`CatalogChange` the write would make, or raises `Rejection` (a gRPC code name, an ErrorInfo
reason, a message and field violations). Nothing is mutated until `apply_change`. The registry
workflow plans in its update validators (so a rejected write never reaches history) and plans
again in the handler, against the state the handler actually sees.

Standard library only, deterministic, and it never raises anything but `Rejection` on hostile
input: it runs inside the workflow sandbox, where any other exception would fail the workflow
task and wedge the registry.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Final

from registry.server.principals import is_principal_name
from registry.shared.model import (
    SOURCE_OPERATOR,
    SOURCE_WORKER,
    Catalog,
    CatalogChange,
    FieldViolation,
    Handover,
    LeaseRenewals,
    SlugClaim,
    SlugCounter,
    SlugReset,
    StoredWorker,
    StoredWorkflow,
    WorkerExpiry,
    WorkerRef,
    WorkerRegistration,
    WorkflowDeletion,
    WorkflowSpec,
    WorkflowToggle,
    WorkflowWrite,
    violations_summary,
)
from registry.shared.slugs import MAX_SLUG_LENGTH, is_slug
from registry.shared.specs import (
    MAX_IDENTIFIER_LENGTH,
    effective_ttl,
    is_finite_number,
    validate_worker_registration,
    validate_workflow_spec,
)

MAX_DISABLED_REASON_LENGTH: Final = 500
MAX_BATCH: Final = 10_000  # worker ids in one renewal or expiry
MAX_HANDOVER_REASON_LENGTH: Final = 500
MAX_REQUEST_ID_LENGTH: Final = 200
MAX_REMEMBERED_CLAIMS: Final = 4  # request ids kept per slug, so a retry gets its counter
MAX_COUNTER: Final = 2**31 - 1  # the API's counters are int32


class Rejection(Exception):
    """A write the registry refuses; `code` is a gRPC status code name."""

    def __init__(
        self, code: str, reason: str, message: str, violations: Iterable[FieldViolation] = ()
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.violations = list(violations)


def invalid(reason: str, violations: list[FieldViolation]) -> Rejection:
    return Rejection("INVALID_ARGUMENT", reason, violations_summary(violations), violations)


def _require_type(value: object, kind: type, name: str) -> None:
    if not isinstance(value, kind):
        raise invalid(
            "INVALID_REQUEST",
            [FieldViolation(name, f"must be a {kind.__name__} object", "invalid_type")],
        )


def _workflow_type_violations(value: object) -> list[FieldViolation]:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_IDENTIFIER_LENGTH:
        message = f"must be a non-blank string of at most {MAX_IDENTIFIER_LENGTH} characters"
        return [FieldViolation("workflow_type", message, "invalid")]
    return []


def _shown(value: object, limit: int) -> str:
    """A key for a message, never str() of a hostile value (a huge int's str() raises)."""
    return repr(value[:limit]) if isinstance(value, str) else f"<{type(value).__name__}>"


def _no_op(catalog: Catalog) -> CatalogChange:
    """The result of a write that changes nothing: it keeps the revision."""
    return CatalogChange(revision=catalog.revision, no_op=True)


def _workflow_not_found(workflow_type: str) -> Rejection:
    return Rejection(
        "NOT_FOUND", "WORKFLOW_NOT_FOUND", f"workflow type {workflow_type!r} is not registered"
    )


# --- workers ----------------------------------------------------------------------------------


def plan_register_worker(
    catalog: Catalog, registration: WorkerRegistration, now: float
) -> CatalogChange:
    """Store the worker with a fresh lease, and its workflow specs: a changed spec replaces
    the stored one (the worker is the truth about what it runs); enabled state is kept.

    Ownership (when the registration names its principal): the worker id must be free or the
    principal's own; a workflow type another principal owns may be declared only exactly as
    stored, on its task queue (see `check_type_owner`); an unowned type becomes the
    principal's. An admin registration skips the checks, keeps the types' owners and leaves
    unowned types unowned."""
    _require_type(registration, WorkerRegistration, "registration")
    violations = validate_worker_registration(registration)
    violations += _caller_violations(registration.principal, registration.admin)
    if violations:
        raise invalid("INVALID_REGISTRATION", violations)
    principal, admin = registration.principal, registration.admin
    ttl = effective_ttl(registration.ttl_seconds)
    previous = catalog.workers.get(registration.worker_id)
    if previous is not None:
        check_worker_owner(previous, principal, admin)
    worker = StoredWorker(
        worker_id=registration.worker_id,
        task_queue=registration.task_queue,
        environment=registration.environment,
        labels=dict(registration.labels),
        ttl_seconds=ttl,
        workflows=[spec.workflow_type for spec in registration.workflows],
        registered_epoch=previous.registered_epoch if previous else now,
        lease_expires_epoch=now + ttl,
        principal=principal,
    )
    change = CatalogChange(revision=catalog.revision + 1, workers=[worker])
    refused = []
    for i, declared in enumerate(registration.workflows):
        spec = replace(declared, task_queue=registration.task_queue)
        stored = catalog.workflows.get(spec.workflow_type)
        if stored is not None and not may_change_type(stored, principal, admin):
            refused += _foreign_type_violations(i, stored, spec)
            continue  # declared exactly as stored: the owner's type, unchanged
        if stored is not None and _served_by_another_worker(
            catalog, stored, registration.worker_id
        ):
            # Workers on several queues run this type: the stored queue stays put while one of
            # its workers is registered, so registrations don't flip it back and forth.
            spec = replace(spec, task_queue=stored.spec.task_queue)
        # An admin assigns owners (an operator's write) rather than holding types: its
        # registrations leave an unowned type unowned.
        claimant = "" if admin else principal
        owner = stored.owner if stored is not None and stored.owner else claimant
        if stored is not None and stored.spec == spec:
            if stored.owner != owner:  # an unowned type: the registrant claims it
                change.workflows.append(replace(stored, owner=owner, update_time_epoch=now))
            continue
        change.changed_workflows.append(spec.workflow_type)
        change.workflows.append(
            StoredWorkflow(
                spec=spec,
                enabled=stored.enabled if stored else True,
                disabled_reason=stored.disabled_reason if stored else "",
                source=SOURCE_WORKER,
                update_time_epoch=now,
                owner=owner,
            )
        )
    if refused:
        raise _not_owner(refused)
    return change


def _served_by_another_worker(catalog: Catalog, stored: StoredWorkflow, worker_id: str) -> bool:
    workflow_type, queue = stored.spec.workflow_type, stored.spec.task_queue
    return any(
        worker.worker_id != worker_id
        and worker.task_queue == queue
        and workflow_type in worker.workflows
        for worker in catalog.workers.values()
    )


def plan_unregister_worker(catalog: Catalog, ref: WorkerRef) -> CatalogChange:
    _require_type(ref, WorkerRef, "worker")
    violations = _caller_violations(ref.principal, ref.admin)
    if violations:
        raise invalid("INVALID_REQUEST", violations)
    worker = catalog.workers.get(ref.worker_id) if isinstance(ref.worker_id, str) else None
    if worker is None:
        raise Rejection(
            "NOT_FOUND",
            "WORKER_NOT_FOUND",
            f"worker {_shown(ref.worker_id, 200)} is not registered",
        )
    check_worker_owner(worker, ref.principal, ref.admin)
    return CatalogChange(revision=catalog.revision + 1, deleted_workers=[ref.worker_id])


def plan_renew_leases(catalog: Catalog, renewals: LeaseRenewals) -> CatalogChange:
    """Extend leases; unknown workers (gone since the flush) are skipped and a lease is never
    shortened, so a retried or out-of-order renewal is harmless."""
    _require_type(renewals, LeaseRenewals, "renewals")
    expires_at = renewals.expires_at
    if not isinstance(expires_at, dict) or not 0 < len(expires_at) <= MAX_BATCH:
        message = f"must map 1-{MAX_BATCH} worker ids to lease expiries"
        raise invalid("INVALID_REQUEST", [FieldViolation("expires_at", message, "invalid")])
    malformed = [
        FieldViolation(f"expires_at[{_shown(worker_id, 64)}]", "must be a finite number", "invalid")
        for worker_id, expiry in expires_at.items()
        if not isinstance(worker_id, str) or not is_finite_number(expiry)
    ]
    if malformed:
        raise invalid("INVALID_REQUEST", malformed[:10])
    renewed = []
    for worker_id, expiry in expires_at.items():
        worker = catalog.workers.get(worker_id)
        if worker is not None and expiry > worker.lease_expires_epoch:
            renewed.append(replace(worker, lease_expires_epoch=float(expiry)))
    if not renewed:
        return _no_op(catalog)
    return CatalogChange(revision=catalog.revision + 1, workers=renewed)


def plan_expire_workers(catalog: Catalog, expiry: WorkerExpiry, now: float) -> CatalogChange:
    """Remove the named workers whose lease ended more than grace_factor x TTL ago by the
    workflow's clock (another replica may have renewed one since the server looked)."""
    _require_type(expiry, WorkerExpiry, "expiry")
    ids, factor = expiry.worker_ids, expiry.grace_factor
    if (
        not isinstance(ids, list)
        or not 0 < len(ids) <= MAX_BATCH
        or not is_finite_number(factor)
        or factor < 0
    ):
        raise invalid(
            "INVALID_REQUEST",
            [
                FieldViolation(
                    "worker_ids",
                    f"must be a list of 1-{MAX_BATCH} worker ids, with a grace factor >= 0",
                    "invalid",
                )
            ],
        )
    expired = []
    for worker_id in ids:
        worker = catalog.workers.get(worker_id) if isinstance(worker_id, str) else None
        if worker is not None and now - worker.lease_expires_epoch > factor * worker.ttl_seconds:
            expired.append(worker_id)
    if not expired:
        return _no_op(catalog)
    return CatalogChange(revision=catalog.revision + 1, deleted_workers=sorted(set(expired)))


# --- ownership --------------------------------------------------------------------------------


def _caller_violations(principal: object, admin: object) -> list[FieldViolation]:
    violations = []
    if principal != "" and not is_principal_name(principal):
        violations.append(FieldViolation("principal", "must be a principal name", "invalid"))
    if not isinstance(admin, bool):
        violations.append(FieldViolation("admin", "must be a boolean", "invalid_type"))
    return violations


def _not_owner(violations: list[FieldViolation]) -> Rejection:
    return Rejection("PERMISSION_DENIED", "NOT_OWNER", violations_summary(violations), violations)


def check_worker_owner(worker: StoredWorker, principal: str, admin: bool) -> None:
    """PERMISSION_DENIED (NOT_OWNER) unless the caller may heartbeat, unregister or
    re-register the worker: an admin, the principal that registered it, or anyone when no
    principal was recorded (auth off, or registered before principals existed)."""
    if admin or not principal or not worker.principal or worker.principal == principal:
        return
    message = (
        f"worker {_shown(worker.worker_id, 200)} was registered by principal "
        f"{worker.principal}; only that principal or an admin may heartbeat, unregister or "
        "re-register it"
    )
    raise _not_owner([FieldViolation("worker_id", message, "not_owner")])


def may_change_type(stored: StoredWorkflow, principal: str, admin: bool) -> bool:
    """Whether the caller may change the type's declaration: an admin, its owner, anyone
    while it is unowned (auth off, or stored before owners were recorded). Ownership lasts
    until an admin releases or transfers it (ReplaceWorkflow's owner, DeleteWorkflow)."""
    return admin or not principal or not stored.owner or stored.owner == principal


def _foreign_type_violations(
    index: int, stored: StoredWorkflow, spec: WorkflowSpec
) -> list[FieldViolation]:
    """Why a registration may not declare another principal's type as it does: it may run
    the type only on the type's task queue and exactly as declared."""
    field_name = f"workflows[{index}].workflow_type"
    owned = f"is owned by principal {stored.owner}: only that principal or an admin may"
    if spec.task_queue != stored.spec.task_queue:
        message = (
            f"{owned} run it on another task queue (it runs on {stored.spec.task_queue!r}, "
            f"this worker polls {spec.task_queue!r})"
        )
    elif spec != stored.spec:
        changed = [
            f.name
            for f in dataclasses.fields(spec)
            if getattr(spec, f.name) != getattr(stored.spec, f.name)
        ]
        message = f"{owned} change its declaration (this one differs in {', '.join(changed)})"
    else:
        return []
    return [FieldViolation(field_name, message, "not_owner")]


# --- workflow types ---------------------------------------------------------------------------


def plan_put_workflow(catalog: Catalog, write: WorkflowWrite, now: float) -> CatalogChange:
    """An operator's create or replace. The operator's spec needs a task queue."""
    _require_type(write, WorkflowWrite, "write")
    _require_type(write.spec, WorkflowSpec, "workflow")
    violations = [
        replace(v, field=f"workflow.{v.field}")
        for v in validate_workflow_spec(write.spec, require_task_queue=True)
    ]
    if write.enabled is not None and not isinstance(write.enabled, bool):
        violations.append(FieldViolation("workflow.enabled", "must be a boolean", "invalid_type"))
    if not isinstance(write.create, bool):
        violations.append(FieldViolation("create", "must be a boolean", "invalid_type"))
    if write.owner not in (None, "") and not is_principal_name(write.owner):
        message = "must be a principal name (or empty, to release the type)"
        violations.append(FieldViolation("workflow.owner", message, "invalid"))
    if violations:
        raise invalid("INVALID_WORKFLOW", violations)
    stored = catalog.workflows.get(write.spec.workflow_type)
    if stored is not None and write.create:
        raise Rejection(
            "ALREADY_EXISTS",
            "WORKFLOW_ALREADY_EXISTS",
            f"workflow type {write.spec.workflow_type!r} is already registered; "
            "replace it with PUT /registry/workflows/{workflow_type}",
        )
    owner = write.owner if write.owner is not None else (stored.owner if stored else "")
    enabled = write.enabled if write.enabled is not None else (stored.enabled if stored else True)
    if enabled:
        disabled_reason = ""
    elif stored is not None and not stored.enabled:
        disabled_reason = stored.disabled_reason
    else:
        disabled_reason = "disabled by an operator"
    updated = StoredWorkflow(
        spec=write.spec,
        enabled=enabled,
        disabled_reason=disabled_reason,
        source=SOURCE_OPERATOR,
        update_time_epoch=now,
        owner=owner,
    )
    change = CatalogChange(revision=catalog.revision + 1, workflows=[updated])
    if stored is None or stored.spec != write.spec:
        change.changed_workflows.append(write.spec.workflow_type)
    return change


def plan_delete_workflow(catalog: Catalog, deletion: WorkflowDeletion) -> CatalogChange:
    """Forget a workflow type, and take it off its workers' lists (a worker that registers
    again declares it again)."""
    _require_type(deletion, WorkflowDeletion, "deletion")
    violations = _workflow_type_violations(deletion.workflow_type)
    if violations:
        raise invalid("INVALID_REQUEST", violations)
    if deletion.workflow_type not in catalog.workflows:
        if deletion.allow_missing is True:
            return _no_op(catalog)
        raise _workflow_not_found(deletion.workflow_type)
    workers = [
        replace(worker, workflows=[t for t in worker.workflows if t != deletion.workflow_type])
        for worker in catalog.workers.values()
        if deletion.workflow_type in worker.workflows
    ]
    return CatalogChange(
        revision=catalog.revision + 1,
        workers=workers,
        deleted_workflows=[deletion.workflow_type],
    )


def plan_toggle_workflow(catalog: Catalog, toggle: WorkflowToggle, now: float) -> CatalogChange:
    _require_type(toggle, WorkflowToggle, "toggle")
    violations = _workflow_type_violations(toggle.workflow_type)
    if not isinstance(toggle.enabled, bool):
        violations.append(FieldViolation("enabled", "must be a boolean", "invalid_type"))
    reason = toggle.reason
    if toggle.enabled is False and (
        not isinstance(reason, str)
        or not reason.strip()
        or len(reason) > MAX_DISABLED_REASON_LENGTH
        or not reason.isprintable()
    ):
        message = (
            f"a reason of 1-{MAX_DISABLED_REASON_LENGTH} printable characters is required "
            "to disable a workflow type"
        )
        violations.append(FieldViolation("reason", message, "required"))
    if violations:
        raise invalid("INVALID_REQUEST", violations)
    stored = catalog.workflows.get(toggle.workflow_type)
    if stored is None:
        raise _workflow_not_found(toggle.workflow_type)
    updated = replace(
        stored,
        enabled=toggle.enabled,
        disabled_reason="" if toggle.enabled else reason.strip(),
        update_time_epoch=now,
    )
    if updated == replace(stored, update_time_epoch=now):
        return replace(_no_op(catalog), workflows=[stored])
    return CatalogChange(revision=catalog.revision + 1, workflows=[updated])


def check_handover(handover: Handover) -> None:
    """A handover needs a reason (it is an operator's deliberate act, recorded in history)."""
    _require_type(handover, Handover, "handover")
    reason = handover.reason
    if (
        not isinstance(reason, str)
        or not reason.strip()
        or len(reason) > MAX_HANDOVER_REASON_LENGTH
        or not reason.isprintable()
    ):
        message = f"a reason of 1-{MAX_HANDOVER_REASON_LENGTH} printable characters is required"
        raise invalid("INVALID_REQUEST", [FieldViolation("reason", message, "required")])


# --- slug counters ----------------------------------------------------------------------------


def plan_claim_slug(catalog: Catalog, claim: SlugClaim, now: float) -> CatalogChange:
    """Claim the next counter of a slug: one more than the last (at least `at_least`). A
    request id seen in the slug's last few claims gets its counter again (a retry). Expired
    and least recently claimed slugs beyond `max_slugs` are evicted by the same write."""
    _require_type(claim, SlugClaim, "claim")
    violations = _slug_violations(claim.slug)
    violations += _request_id_violations(claim.request_id)
    if not _whole(claim.at_least) or claim.at_least > MAX_COUNTER:
        message = f"must be an integer 0-{MAX_COUNTER}"
        violations.append(FieldViolation("at_least", message, "invalid"))
    if not _whole(claim.max_slugs) or claim.max_slugs < 1:
        violations.append(FieldViolation("max_slugs", "must be an integer >= 1", "invalid"))
    if not is_finite_number(claim.ttl_seconds) or claim.ttl_seconds <= 0:
        violations.append(FieldViolation("ttl_seconds", "must be a positive number", "invalid"))
    if violations:
        raise invalid("INVALID_REQUEST", violations)
    stored = catalog.slugs.get(claim.slug)
    if stored is not None and now - stored.last_claimed_epoch > claim.ttl_seconds:
        stored = None  # expired: starts again (claims still skip ids that exist)
    if stored is not None and claim.request_id:
        earlier = stored.claims.get(claim.request_id)
        if earlier is not None and earlier >= claim.at_least:
            return replace(_no_op(catalog), counter=earlier)
    counter = max((stored.counter if stored else 0) + 1, claim.at_least)
    if counter > MAX_COUNTER:
        message = f"slug {claim.slug!r} has used every counter up to {MAX_COUNTER}; reset it"
        raise Rejection("RESOURCE_EXHAUSTED", "SLUG_EXHAUSTED", message)
    claims = dict(stored.claims) if stored else {}
    if claim.request_id:
        claims.pop(claim.request_id, None)
        claims[claim.request_id] = counter
        claims = dict(list(claims.items())[-MAX_REMEMBERED_CLAIMS:])
    entry = SlugCounter(claim.slug, counter, now, claims)
    evicted = []
    room = claim.max_slugs - (0 if claim.slug in catalog.slugs else 1)
    remaining = len(catalog.slugs)
    for name, other in catalog.slugs.items():  # least recently claimed first
        if name == claim.slug:
            continue
        if remaining > room or now - other.last_claimed_epoch > claim.ttl_seconds:
            evicted.append(name)
            remaining -= 1
        else:
            break
    return CatalogChange(
        revision=catalog.revision + 1, slugs=[entry], deleted_slugs=evicted, counter=counter
    )


def plan_reset_slug(catalog: Catalog, reset: SlugReset, now: float) -> CatalogChange:
    _require_type(reset, SlugReset, "reset")
    violations = _slug_violations(reset.slug)
    if violations:
        raise invalid("INVALID_REQUEST", violations)
    stored = catalog.slugs.get(reset.slug)
    if stored is None:
        raise Rejection(
            "NOT_FOUND", "SLUG_NOT_FOUND", f"slug {reset.slug!r} has no counter to reset"
        )
    entry = SlugCounter(reset.slug, 0, now)
    return CatalogChange(revision=catalog.revision + 1, slugs=[entry], counter=stored.counter)


def _slug_violations(slug: object) -> list[FieldViolation]:
    if is_slug(slug):
        return []
    message = f"must be a slug: a-z, 0-9 and single inner dashes, at most {MAX_SLUG_LENGTH}"
    return [FieldViolation("slug", message, "invalid")]


def _request_id_violations(request_id: object) -> list[FieldViolation]:
    if (
        isinstance(request_id, str)
        and len(request_id) <= MAX_REQUEST_ID_LENGTH
        and (request_id.isprintable())
    ):
        return []
    message = f"must be at most {MAX_REQUEST_ID_LENGTH} printable characters"
    return [FieldViolation("request_id", message, "invalid")]


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# --- applying ---------------------------------------------------------------------------------


def apply_change(catalog: Catalog, change: CatalogChange) -> None:
    """Apply a planned change (also used by servers to update their copy of the catalogue)."""
    for workflow in change.workflows:
        catalog.workflows[workflow.spec.workflow_type] = workflow
    for worker in change.workers:
        catalog.workers[worker.worker_id] = worker
    for workflow_type in change.deleted_workflows:
        catalog.workflows.pop(workflow_type, None)
    for worker_id in change.deleted_workers:
        catalog.workers.pop(worker_id, None)
    for slug in change.slugs:  # re-inserted at the end: the most recently claimed
        catalog.slugs.pop(slug.slug, None)
        catalog.slugs[slug.slug] = slug
    for name in change.deleted_slugs:
        catalog.slugs.pop(name, None)
    catalog.revision = max(catalog.revision, change.revision)


# --- the state budget -------------------------------------------------------------------------


def entry_bytes(entry: StoredWorkflow | StoredWorker | SlugCounter) -> int:
    """Size of one stored entry as JSON: what it adds to the continue-as-new payload."""
    return len(json.dumps(dataclasses.asdict(entry), separators=(",", ":")))


class SizeLedger:
    """Keeps the total JSON size of the catalogue, so a write that would push the state past
    what Temporal accepts as a continue-as-new input is refused instead of wedging the run."""

    def __init__(self, catalog: Catalog) -> None:
        self._workflows = {key: entry_bytes(w) for key, w in catalog.workflows.items()}
        self._workers = {key: entry_bytes(w) for key, w in catalog.workers.items()}
        self._slugs = {key: entry_bytes(s) for key, s in catalog.slugs.items()}
        self.total = sum(
            sum(sizes.values()) for sizes in (self._workflows, self._workers, self._slugs)
        )

    def projected(self, change: CatalogChange) -> int:
        return self.total + self._delta(change, record=False)

    def record(self, change: CatalogChange) -> None:
        self.total += self._delta(change, record=True)

    def _delta(self, change: CatalogChange, *, record: bool) -> int:
        upserts: list[tuple[str, StoredWorkflow | StoredWorker | SlugCounter, dict[str, int]]] = [
            *((w.spec.workflow_type, w, self._workflows) for w in change.workflows),
            *((w.worker_id, w, self._workers) for w in change.workers),
            *((s.slug, s, self._slugs) for s in change.slugs),
        ]
        deletions = [
            *((key, self._workflows) for key in change.deleted_workflows),
            *((key, self._workers) for key in change.deleted_workers),
            *((key, self._slugs) for key in change.deleted_slugs),
        ]
        delta = 0
        for key, entry, sizes in upserts:
            size = entry_bytes(entry)
            delta += size - sizes.get(key, 0)
            if record:
                sizes[key] = size
        for key, sizes in deletions:
            delta -= sizes.get(key, 0)
            if record:
                sizes.pop(key, None)
        return delta


def check_budget(ledger: SizeLedger, change: CatalogChange, max_bytes: int) -> None:
    """Refuse a write that grows the catalogue past `max_bytes` (shrinking is always fine)."""
    projected = ledger.projected(change)
    if projected > max_bytes and projected > ledger.total:
        raise Rejection(
            "RESOURCE_EXHAUSTED",
            "REGISTRY_STATE_FULL",
            f"the registry state would grow to {projected} bytes, over its budget of "
            f"{max_bytes} (registry.max_state_bytes); delete unused workflow types or workers, "
            "or split the registry across namespaces",
        )
