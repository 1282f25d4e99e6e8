"""RegistryService: the catalogue of workflow types and workers.

Reads come from this process's copy of the catalogue (registry.store); writes are checked here
first (structure and JSON Schema meta-schema, for clear field violations without a Temporal
round trip) and then go to the registry workflow, whose validators check them again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import grpc
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, resources_pb2

from registry.catalog.responses import WorkflowMessages, worker_to_proto
from registry.catalog.rules import Rejection, check_handover, check_worker_owner, plan_put_workflow
from registry.catalog.store import RegistryStore, StoreAccess
from registry.catalog.workflow import RegistryWorkflow
from registry.liveness.views import WorkflowView, worker_view, workers_by_type, workflow_view
from registry.schedules.guardian import revalidate_schedules
from registry.search_attributes.rules import Declaration
from registry.server.auth import Principal, check_registration_allowed, current_principal
from registry.server.config import Config
from registry.server.errors import (
    FieldViolation,
    RegistryError,
    invalid_argument,
    invalid_fields,
    refused,
    worker_not_found,
    workflow_not_found,
)
from registry.server.pagination import (
    labels_match,
    paginate,
    parse_label_selector,
    query_fingerprint,
)
from registry.shared.messages import registration_from_proto, spec_from_proto
from registry.shared.model import (
    Handover,
    StoredWorker,
    StoredWorkflow,
    WorkerRef,
    WorkerRegistration,
    WorkflowDeletion,
    WorkflowSpec,
    WorkflowToggle,
    WorkflowWrite,
)
from registry.shared.schemas import check_meta_schema
from registry.shared.specs import validate_worker_registration, validate_workflow_spec

Context = grpc.aio.ServicerContext[Any, Any]

_HANDOVER_POLL_SECONDS = 0.1


class RegistryService(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, store: StoreAccess, config: Config) -> None:
        self._store = store
        self._config = config
        self._messages = WorkflowMessages()
        # Names an admin may make a workflow type's owner (auth off: any principal name).
        self._principal_names = (
            {p.name for p in config.auth.principals().values()} if config.auth.enabled else None
        )

    # --- status -------------------------------------------------------------------------------

    async def GetRegistryStatus(
        self, request: registry_pb2.GetRegistryStatusRequest, context: Context
    ) -> registry_pb2.GetRegistryStatusResponse:
        store = self._store()
        run, _ = await asyncio.gather(store.workflow.describe_run(), store.refresh())
        snapshot, catalog, inputs = store.snapshot, store.catalog, store.liveness_inputs()
        last_start = snapshot.last_service_start
        return registry_pb2.GetRegistryStatusResponse(
            workflow_count=len(catalog.workflows),
            worker_count=len(catalog.workers),
            healthy_worker_count=sum(
                worker_view(worker, inputs).healthy for worker in catalog.workers.values()
            ),
            started_at_epoch=snapshot.started_at_epoch,
            last_registry_service_started_epoch=last_start.started_at_epoch if last_start else 0.0,
            registry_service_process_id=last_start.process_id if last_start else 0,
            registry_workflow_id=store.workflow.workflow_id,
            registry_run_id=run.run_id,
            history_length=run.history_length,
            history_size_bytes=run.history_size_bytes,
            continue_as_new_count=snapshot.continue_as_new_count,
            namespace=self._config.temporal.namespace,
            task_queue=self._config.registry.task_queue,
            revision=catalog.revision,
            self_preservation=store.liveness.self_preservation,
            liveness=store.liveness.reason,
            snapshot_age_seconds=store.snapshot_age_seconds,
        )

    async def ShutdownRegistry(
        self, request: registry_pb2.ShutdownRegistryRequest, context: Context
    ) -> registry_pb2.ShutdownRegistryResponse:
        store = self._store()
        handover = Handover(request.reason or "requested through ShutdownRegistry")
        try:
            check_handover(handover)
        except Rejection as rejection:
            raise _rejected(rejection) from None
        previous = await store.workflow.execute(RegistryWorkflow.hand_over, handover)
        deadline = time.monotonic() + self._config.registry.update_timeout_seconds
        while time.monotonic() < deadline:
            run = await store.workflow.describe_run()
            if run.running and run.run_id != previous:
                await store.refresh()
                return registry_pb2.ShutdownRegistryResponse(
                    status="handed_over", previous_run_id=previous, run_id=run.run_id
                )
            await asyncio.sleep(_HANDOVER_POLL_SECONDS)
        raise RegistryError(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "HANDOVER_PENDING",
            f"run {previous} is draining but no next run is open yet; the state is kept in "
            "its continue-as-new input",
        )

    # --- workers ------------------------------------------------------------------------------

    async def RegisterWorker(
        self, request: registry_pb2.RegisterWorkerRequest, context: Context
    ) -> registry_pb2.RegisterWorkerResponse:
        store = self._store()
        registration = registration_from_proto(request)
        _check_registration(registration)
        principal = current_principal.get()
        check_registration_allowed(principal, registration)
        registration = replace(registration, principal=principal.name, admin=principal.admin)
        await store.search_attributes.ensure(
            Declaration(a.name, a.type, f"workflows[{i}].search_attributes[{j}].type")
            for i, spec in enumerate(registration.workflows)
            for j, a in enumerate(spec.search_attributes)
        )
        change = await store.write(RegistryWorkflow.register_worker, registration)
        return registry_pb2.RegisterWorkerResponse(
            worker=worker_to_proto(worker_view(change.workers[0], store.liveness_inputs())),
            changed_workflows=change.changed_workflows,
            affected_schedules=await self._guard_schedules(store, change.changed_workflows),
        )

    async def Heartbeat(
        self, request: registry_pb2.HeartbeatRequest, context: Context
    ) -> registry_pb2.HeartbeatResponse:
        if not request.worker_id:
            raise _invalid_field("worker_id", "is required", "required")
        view = await self._store().heartbeat(
            request.worker_id, _owner_check(current_principal.get())
        )
        return registry_pb2.HeartbeatResponse(
            lease_expires_epoch=view.lease.expires_at, ttl_seconds=view.lease.ttl_seconds
        )

    async def UnregisterWorker(
        self, request: registry_pb2.UnregisterWorkerRequest, context: Context
    ) -> registry_pb2.UnregisterWorkerResponse:
        if not request.worker_id:
            raise _invalid_field("worker_id", "is required", "required")
        principal = current_principal.get()
        await self._store().write(
            RegistryWorkflow.unregister_worker,
            WorkerRef(request.worker_id, principal.name, principal.admin),
        )
        return registry_pb2.UnregisterWorkerResponse()

    async def ListWorkers(
        self, request: registry_pb2.ListWorkersRequest, context: Context
    ) -> registry_pb2.ListWorkersResponse:
        store = self._store()
        workers = sorted(
            (
                worker
                for worker in store.catalog.workers.values()
                if (not request.task_queue or worker.task_queue == request.task_queue)
                and (not request.workflow_type or request.workflow_type in worker.workflows)
            ),
            key=lambda worker: worker.worker_id,
        )
        fingerprint = query_fingerprint(
            task_queue=request.task_queue, workflow_type=request.workflow_type
        )
        page, token = paginate(
            workers, lambda w: w.worker_id, request.page_size, request.page_token, fingerprint
        )
        inputs = store.liveness_inputs()
        return registry_pb2.ListWorkersResponse(
            workers=[worker_to_proto(worker_view(worker, inputs)) for worker in page],
            next_page_token=token,
        )

    async def GetWorker(
        self, request: registry_pb2.GetWorkerRequest, context: Context
    ) -> resources_pb2.Worker:
        store = self._store()
        worker = store.catalog.workers.get(request.worker_id)
        if worker is None:
            raise worker_not_found(request.worker_id)
        return worker_to_proto(worker_view(worker, store.liveness_inputs()))

    # --- workflow types -----------------------------------------------------------------------

    async def ListWorkflows(
        self, request: registry_pb2.ListWorkflowsRequest, context: Context
    ) -> registry_pb2.ListWorkflowsResponse:
        store = self._store()
        catalog = store.catalog
        selector = parse_label_selector(request.label_selector)
        enabled = request.enabled if request.HasField("enabled") else None
        healthy = request.healthy if request.HasField("healthy") else None
        fingerprint = query_fingerprint(label_selector=selector, enabled=enabled, healthy=healthy)
        matching = [
            catalog.workflows[name]
            for name in sorted(catalog.workflows)
            if labels_match(catalog.workflows[name].spec.labels, selector)
            and (enabled is None or catalog.workflows[name].enabled == enabled)
        ]
        await store.refresh_for_read(s.spec.workflow_type for s in matching)
        inputs = store.liveness_inputs()
        workers = workers_by_type(catalog.workers.values())

        def view_of(stored: StoredWorkflow) -> WorkflowView:
            return workflow_view(stored, workers.get(stored.spec.workflow_type, []), inputs)

        if healthy is None:  # views only for the page
            stored_page, token = paginate(
                matching, _workflow_type, request.page_size, request.page_token, fingerprint
            )
            page = [view_of(stored) for stored in stored_page]
        else:  # health decides membership, so every candidate needs its view
            views = [view for view in map(view_of, matching) if view.healthy == healthy]
            page, token = paginate(
                views,
                lambda view: view.stored.spec.workflow_type,
                request.page_size,
                request.page_token,
                fingerprint,
            )
        self._messages.forget_missing(catalog.workflows.keys())
        full = request.view != registry_pb2.WORKFLOW_VIEW_BASIC
        response = registry_pb2.ListWorkflowsResponse(next_page_token=token)
        for view in page:
            self._messages.fill(response.workflows.add(), view, full=full)
        return response

    async def GetWorkflow(
        self, request: registry_pb2.GetWorkflowRequest, context: Context
    ) -> resources_pb2.Workflow:
        store = self._store()
        stored = store.catalog.workflows.get(request.workflow_type)
        if stored is None:
            raise workflow_not_found(request.workflow_type)
        await store.refresh_for_read([stored.spec.workflow_type])
        return self._view_message(store, stored)

    async def CreateWorkflow(
        self, request: registry_pb2.CreateWorkflowRequest, context: Context
    ) -> resources_pb2.Workflow:
        write = self._workflow_write(request.workflow, create=True)
        return await self._put(write, request.validate_only)

    async def ReplaceWorkflow(
        self, request: registry_pb2.ReplaceWorkflowRequest, context: Context
    ) -> resources_pb2.Workflow:
        body_type = request.workflow.workflow_type
        if body_type and body_type != request.workflow_type:
            raise _invalid_field(
                "workflow.workflow_type",
                f"is {body_type!r} but the path names {request.workflow_type!r}; they must match",
                "mismatch",
            )
        message = resources_pb2.Workflow()
        message.CopyFrom(request.workflow)
        message.workflow_type = request.workflow_type
        write = self._workflow_write(message, create=False)
        return await self._put(write, request.validate_only)

    async def DeleteWorkflow(
        self, request: registry_pb2.DeleteWorkflowRequest, context: Context
    ) -> registry_pb2.DeleteWorkflowResponse:
        await self._store().write(
            RegistryWorkflow.delete_workflow,
            WorkflowDeletion(request.workflow_type, request.allow_missing),
        )
        return registry_pb2.DeleteWorkflowResponse()

    async def EnableWorkflow(
        self, request: registry_pb2.EnableWorkflowRequest, context: Context
    ) -> resources_pb2.Workflow:
        return await self._toggle(WorkflowToggle(request.workflow_type, True))

    async def DisableWorkflow(
        self, request: registry_pb2.DisableWorkflowRequest, context: Context
    ) -> resources_pb2.Workflow:
        return await self._toggle(WorkflowToggle(request.workflow_type, False, request.reason))

    # --- helpers ------------------------------------------------------------------------------

    def _workflow_write(self, message: resources_pb2.Workflow, *, create: bool) -> WorkflowWrite:
        owner = message.owner if message.HasField("owner") else None
        known = self._principal_names
        if owner and known is not None and owner not in known:
            raise _invalid_field(
                "workflow.owner",
                f"names no configured principal ({owner!r}); give a principal name from the "
                "tokens configuration, or an empty string to release the type",
                "unknown_principal",
            )
        return WorkflowWrite(
            spec=spec_from_proto(message),
            enabled=message.enabled if message.HasField("enabled") else None,
            create=create,
            owner=owner,
        )

    def _view_message(self, store: RegistryStore, stored: StoredWorkflow) -> resources_pb2.Workflow:
        return self._messages.build(store.view_of(stored))

    async def _toggle(self, toggle: WorkflowToggle) -> resources_pb2.Workflow:
        store = self._store()
        change = await store.write(RegistryWorkflow.toggle_workflow, toggle)
        return self._view_message(store, change.workflows[0])

    async def _put(self, write: WorkflowWrite, validate_only: bool) -> resources_pb2.Workflow:
        store = self._store()
        _check_spec(write.spec)
        await store.search_attributes.ensure(
            (
                Declaration(a.name, a.type, f"workflow.search_attributes[{j}].type")
                for j, a in enumerate(write.spec.search_attributes)
            ),
            dry_run=validate_only,
        )
        if validate_only:
            try:
                change = plan_put_workflow(store.catalog, write, time.time())
            except Rejection as rejection:
                raise _rejected(rejection) from None
        else:
            change = await store.write(RegistryWorkflow.put_workflow, write)
            await self._guard_schedules(store, change.changed_workflows)
        return self._view_message(store, change.workflows[0])

    async def _guard_schedules(self, store: RegistryStore, changed: list[str]) -> list[str]:
        """The schedule guardian, for workflow types whose spec a write changed."""
        return await revalidate_schedules(
            store.schedules,
            store.catalog,
            changed,
            pause=self._config.schedules.pause_on_invalid_input,
        )


def _workflow_type(stored: StoredWorkflow) -> str:
    return stored.spec.workflow_type


def _owner_check(principal: Principal) -> Callable[[StoredWorker], None]:
    """Refuses, as PERMISSION_DENIED, a heartbeat for another principal's worker."""

    def check(worker: StoredWorker) -> None:
        try:
            check_worker_owner(worker, principal.name, principal.admin)
        except Rejection as rejection:
            raise _rejected(rejection) from None

    return check


def _check_registration(registration: WorkerRegistration) -> None:
    violations = validate_worker_registration(registration)
    if not violations:
        for i, spec in enumerate(registration.workflows):
            violations += check_meta_schema(spec.input_schema, f"workflows[{i}].input_schema")
    if violations:
        raise invalid_fields("INVALID_REGISTRATION", violations)


def _check_spec(spec: WorkflowSpec) -> None:
    violations = [
        replace(v, field=f"workflow.{v.field}")
        for v in validate_workflow_spec(spec, require_task_queue=True)
    ]
    if not violations:
        violations = check_meta_schema(spec.input_schema, "workflow.input_schema")
    if violations:
        raise invalid_fields("INVALID_WORKFLOW", violations)


def _rejected(rejection: Rejection) -> RegistryError:
    return refused(rejection.code, rejection.reason, rejection.message, rejection.violations)


def _invalid_field(field: str, description: str, reason: str) -> RegistryError:
    return invalid_argument(
        "INVALID_ARGUMENT", f"{field}: {description}", [FieldViolation(field, description, reason)]
    )
