"""The registry workflow: the durable home of all registry state.

One execution per namespace, with a fixed id from config. It is deliberately small and
deterministic: the state is plain dataclasses (registry.model), the rules of every write are
pure functions (registry.catalog), and every write is an Update whose validator plans the write
first, so bad input is rejected before anything reaches history. Handlers never raise anything
but ApplicationError, which fails that one update and never the workflow task. The run
continues as new, carrying its whole state, when Temporal suggests it, when the history or the
number of updates reaches its limit, or when an operator asks for a handover.

Imports are limited to the standard library, temporalio and the sandbox-safe registry modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from registry.catalog.rules import (
    Rejection,
    SizeLedger,
    apply_change,
    check_budget,
    check_handover,
    plan_claim_slug,
    plan_delete_workflow,
    plan_expire_workers,
    plan_put_workflow,
    plan_register_worker,
    plan_renew_leases,
    plan_reset_slug,
    plan_toggle_workflow,
    plan_unregister_worker,
)
from registry.shared.model import (
    Catalog,
    CatalogChange,
    Handover,
    LeaseRenewals,
    SlugClaim,
    SlugReset,
    WorkerExpiry,
    WorkerRef,
    WorkerRegistration,
    WorkflowDeletion,
    WorkflowToggle,
    WorkflowWrite,
)

WORKFLOW_NAME = "TemporalRegistry"
# Writes carry their principal (who registers, who unregisters, an operator's owner) from this
# patch on: handlers record and enforce ownership only in runs that had it from their first
# write, so a history an earlier version handled replays as it ran (workflow.patched is
# memoized per run: a run begun by older code keeps the earlier rules until it continues as
# new). Validators run only on first delivery, with this code, so they check always.
OWNERSHIP_PATCH = "principals-and-ownership"


@dataclass
class ServiceStart:
    """A registry service process that started against this registry, with its limits
    (0 keeps the stored value), so config changes reach the workflow at the next start."""

    process_id: int
    host: str
    started_at_epoch: float
    max_history_events: int = 0
    max_updates_per_run: int = 0
    max_state_bytes: int = 0


@dataclass
class RegistryState:
    """Everything the registry knows; the input of every run."""

    max_history_events: int = 10_000
    max_updates_per_run: int = 1_000  # Temporal refuses more than 2,000 per run
    max_state_bytes: int = 1_500_000  # Temporal refuses payloads over 2 MB
    started_at_epoch: float = 0.0
    continue_as_new_count: int = 0
    last_service_start: ServiceStart | None = None
    catalog: Catalog = field(default_factory=Catalog)


@dataclass
class RegistrySnapshot:
    """What the `snapshot` query returns. `catalog` is None when the caller already holds
    `revision` (`known_revision`), so an idle refresh costs almost nothing."""

    revision: int = 0
    started_at_epoch: float = 0.0
    continue_as_new_count: int = 0
    last_service_start: ServiceStart | None = None
    state_bytes: int = 0
    updates_this_run: int = 0
    history_length: int = 0  # of the current run, as of its last workflow task
    catalog: Catalog | None = None


def _ownership() -> bool:
    """Whether this run's writes record and enforce principals (see OWNERSHIP_PATCH)."""
    return workflow.patched(OWNERSHIP_PATCH)


def _application_error(rejection: Rejection) -> ApplicationError:
    violations = [
        {"field": v.field, "description": v.description, "reason": v.reason}
        for v in rejection.violations
    ]
    return ApplicationError(
        rejection.message,
        {"reason": rejection.reason, "violations": violations},
        type=rejection.code,
        non_retryable=True,
    )


@workflow.defn(name=WORKFLOW_NAME)
class RegistryWorkflow:
    @workflow.init
    def __init__(self, state: RegistryState) -> None:
        # State comes from the run input, so updates delivered in the first activation of a
        # continued run see it (see docs/architecture.md).
        self._state = state
        if not self._state.started_at_epoch:
            self._state.started_at_epoch = workflow.now().timestamp()
        self._ledger = SizeLedger(state.catalog)
        self._updates_this_run = 0
        self._handover_requested = False

    @workflow.run
    async def run(self, state: RegistryState) -> None:
        await workflow.wait_condition(self._should_continue_as_new)
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._state.continue_as_new_count += 1
        workflow.continue_as_new(self._state)

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            self._handover_requested
            or info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._state.max_history_events
            or self._updates_this_run >= self._state.max_updates_per_run
        )

    # --- reads --------------------------------------------------------------------------------

    @workflow.query
    def snapshot(self, known_revision: int) -> RegistrySnapshot:
        catalog = self._state.catalog
        return RegistrySnapshot(
            revision=catalog.revision,
            started_at_epoch=self._state.started_at_epoch,
            continue_as_new_count=self._state.continue_as_new_count,
            last_service_start=self._state.last_service_start,
            state_bytes=self._ledger.total,
            updates_this_run=self._updates_this_run,
            history_length=workflow.info().get_current_history_length(),
            catalog=None if known_revision == catalog.revision else catalog,
        )

    # --- writes -------------------------------------------------------------------------------

    def _plan(self, plan: Callable[[], CatalogChange], *, budgeted: bool) -> CatalogChange:
        """Plan a write against the current state; any refusal is an ApplicationError."""
        try:
            change = plan()
            if budgeted:
                check_budget(self._ledger, change, self._state.max_state_bytes)
        except Rejection as rejection:
            raise _application_error(rejection) from None
        except Exception as error:  # a bug must fail one update, never the workflow task
            raise ApplicationError(
                f"registry could not plan this write ({type(error).__name__})",
                {"reason": "REGISTRY_INTERNAL", "violations": []},
                type="INTERNAL",
                non_retryable=True,
            ) from None
        return change

    def _validate(self, plan: Callable[[], CatalogChange], *, budgeted: bool = False) -> None:
        self._plan(plan, budgeted=budgeted)

    def _write(self, plan: Callable[[], CatalogChange], *, budgeted: bool = False) -> CatalogChange:
        # Counted in handlers, not validators: replay skips validators, so a count kept there
        # would differ on replay and make the continue-as-new decision non-deterministic.
        self._updates_this_run += 1
        change = self._plan(plan, budgeted=budgeted)
        apply_change(self._state.catalog, change)
        self._ledger.record(change)
        return change

    def _now(self) -> float:
        return workflow.now().timestamp()

    @workflow.update
    def register_worker(self, registration: WorkerRegistration) -> CatalogChange:
        catalog = self._state.catalog
        if not _ownership() and isinstance(registration, WorkerRegistration):
            registration = replace(registration, principal="", admin=False)
        return self._write(
            lambda: plan_register_worker(catalog, registration, self._now()), budgeted=True
        )

    @register_worker.validator
    def _validate_register_worker(self, registration: WorkerRegistration) -> None:
        catalog = self._state.catalog
        self._validate(
            lambda: plan_register_worker(catalog, registration, self._now()), budgeted=True
        )

    @workflow.update
    def unregister_worker(self, ref: WorkerRef) -> CatalogChange:
        if not _ownership() and isinstance(ref, WorkerRef):
            ref = replace(ref, principal="", admin=False)
        return self._write(lambda: plan_unregister_worker(self._state.catalog, ref))

    @unregister_worker.validator
    def _validate_unregister_worker(self, ref: WorkerRef) -> None:
        self._validate(lambda: plan_unregister_worker(self._state.catalog, ref))

    @workflow.update
    def renew_leases(self, renewals: LeaseRenewals) -> CatalogChange:
        return self._write(lambda: plan_renew_leases(self._state.catalog, renewals))

    @renew_leases.validator
    def _validate_renew_leases(self, renewals: LeaseRenewals) -> None:
        self._validate(lambda: plan_renew_leases(self._state.catalog, renewals))

    @workflow.update
    def expire_workers(self, expiry: WorkerExpiry) -> CatalogChange:
        return self._write(lambda: plan_expire_workers(self._state.catalog, expiry, self._now()))

    @expire_workers.validator
    def _validate_expire_workers(self, expiry: WorkerExpiry) -> None:
        self._validate(lambda: plan_expire_workers(self._state.catalog, expiry, self._now()))

    @workflow.update
    def put_workflow(self, write: WorkflowWrite) -> CatalogChange:
        catalog = self._state.catalog
        if not _ownership() and isinstance(write, WorkflowWrite):
            write = replace(write, owner=None)
        return self._write(lambda: plan_put_workflow(catalog, write, self._now()), budgeted=True)

    @put_workflow.validator
    def _validate_put_workflow(self, write: WorkflowWrite) -> None:
        catalog = self._state.catalog
        self._validate(lambda: plan_put_workflow(catalog, write, self._now()), budgeted=True)

    @workflow.update
    def delete_workflow(self, deletion: WorkflowDeletion) -> CatalogChange:
        return self._write(lambda: plan_delete_workflow(self._state.catalog, deletion))

    @delete_workflow.validator
    def _validate_delete_workflow(self, deletion: WorkflowDeletion) -> None:
        self._validate(lambda: plan_delete_workflow(self._state.catalog, deletion))

    @workflow.update
    def toggle_workflow(self, toggle: WorkflowToggle) -> CatalogChange:
        catalog = self._state.catalog
        return self._write(lambda: plan_toggle_workflow(catalog, toggle, self._now()))

    @toggle_workflow.validator
    def _validate_toggle_workflow(self, toggle: WorkflowToggle) -> None:
        catalog = self._state.catalog
        self._validate(lambda: plan_toggle_workflow(catalog, toggle, self._now()))

    @workflow.update
    def claim_slug(self, claim: SlugClaim) -> CatalogChange:
        catalog = self._state.catalog
        return self._write(lambda: plan_claim_slug(catalog, claim, self._now()), budgeted=True)

    @claim_slug.validator
    def _validate_claim_slug(self, claim: SlugClaim) -> None:
        catalog = self._state.catalog
        self._validate(lambda: plan_claim_slug(catalog, claim, self._now()), budgeted=True)

    @workflow.update
    def reset_slug(self, reset: SlugReset) -> CatalogChange:
        return self._write(lambda: plan_reset_slug(self._state.catalog, reset, self._now()))

    @reset_slug.validator
    def _validate_reset_slug(self, reset: SlugReset) -> None:
        self._validate(lambda: plan_reset_slug(self._state.catalog, reset, self._now()))

    # --- the registry itself ------------------------------------------------------------------

    @workflow.update
    def record_service_start(self, start: ServiceStart) -> int:
        self._updates_this_run += 1
        self._state.last_service_start = start
        for name in ("max_history_events", "max_updates_per_run", "max_state_bytes"):
            if getattr(start, name) > 0:
                setattr(self._state, name, getattr(start, name))
        return self._state.catalog.revision

    @record_service_start.validator
    def _validate_service_start(self, start: ServiceStart) -> None:
        if (
            not isinstance(start, ServiceStart)
            or not isinstance(start.process_id, int)
            or start.process_id <= 0
            or not isinstance(start.host, str)
            or not start.host
            or not all(
                isinstance(getattr(start, name), int) and getattr(start, name) >= 0
                for name in ("max_history_events", "max_updates_per_run", "max_state_bytes")
            )
        ):
            raise ApplicationError(
                "service start needs a positive process_id, a host and limits >= 0",
                {"reason": "INVALID_SERVICE_START", "violations": []},
                type="INVALID_ARGUMENT",
                non_retryable=True,
            )

    @workflow.update
    def hand_over(self, handover: Handover) -> str:
        """Drain this run and continue as new with the whole state; returns this run's id."""
        self._updates_this_run += 1
        self._handover_requested = True
        return workflow.info().run_id

    @hand_over.validator
    def _validate_hand_over(self, handover: Handover) -> None:
        try:
            check_handover(handover)
        except Rejection as rejection:
            raise _application_error(rejection) from None
