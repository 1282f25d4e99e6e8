"""RegistryService: the catalogue of workflow types and workers.

Every handler reads top to bottom: the request checked in one call to registry.catalog.rules
(every bad field at once), the writes sent to the shards that own the keys (the store), the
response built from the store's view. Reads come from memory (registry.catalog.store).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, Final

import grpc
from google.protobuf.message import Message
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, resources_pb2

from registry.catalog.metrics import CATALOG_READS
from registry.catalog.responses import (
    ResponseCache,
    cache_key,
    worker_to_proto,
)
from registry.catalog.rules import (
    check_worker_owner,
    etag_matches,
    plan_disable_reason,
    plan_handover_reason,
    plan_read_condition,
    plan_registration,
    plan_replace,
    plan_workflow_write,
    required_id,
)
from registry.catalog.store import RegistryStore, StoreAccess
from registry.catalog.watch import CATCH_UP_WAIT
from registry.liveness.views import worker_view
from registry.schedules.guardian import revalidate_schedules
from registry.schemas.rules import mode_value, plan_override_reason
from registry.search_attributes.rules import Declaration
from registry.server.auth import Principal, current_principal
from registry.server.config import Config
from registry.server.errors import worker_not_found
from registry.server.pagination import (
    labels_match,
    paginate,
    parse_label_selector,
    query_fingerprint,
)
from registry.shared.model import StoredWorker, StoredWorkflow, WorkflowWrite

Context = grpc.aio.ServicerContext[Any, Any]

# Response metadata of a conditional read whose answer the client holds (the gateway answers
# such an HTTP request 304 with no body).
NOT_MODIFIED_HEADER: Final = "x-registry-not-modified"
# What a catalogue read answers: its response message, or that message serialised (an answer
# from the ResponseCache; the interceptor passes bytes through).
Answer = Any


class RegistryService(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, store: StoreAccess, config: Config) -> None:
        self._store = store
        self._config = config
        self._answers = ResponseCache()
        # Names an admin may make a workflow type's owner (auth off: any principal name).
        self._principal_names = (
            {p.name for p in config.auth.principals().values()} if config.auth.enabled else None
        )

    # --- status -------------------------------------------------------------------------------

    async def GetRegistryStatus(
        self, request: registry_pb2.GetRegistryStatusRequest, context: Context
    ) -> registry_pb2.GetRegistryStatusResponse:
        store = self._store()
        root_id = store.layout.root_id()
        run, root = await asyncio.gather(
            store.temporal.describe(root_id), store.temporal.query(root_id, "describe")
        )
        catalog, inputs = store.catalog, store.liveness_inputs()
        last_start = root.get("last_service_start") or {}
        shards = [
            registry_pb2.RegistryShard(
                kind=kind,
                index=index,
                workflow_id=store.layout.shard_id(kind, index),
                run_id=store.tails[kind, index].run_id,
                revision=view.revision,
                size_bytes=view.size,
                entries=len(view.raw),
                continue_as_new_count=view.continued,
            )
            for (kind, index), view in store.views.items()
        ]
        return registry_pb2.GetRegistryStatusResponse(
            workflow_count=len(catalog.workflows),
            worker_count=len(catalog.workers),
            healthy_worker_count=sum(
                worker_view(worker, inputs).healthy for worker in catalog.workers.values()
            ),
            started_at_epoch=float(root.get("created_at", 0.0)),
            last_registry_service_started_epoch=float(last_start.get("started_at_epoch", 0.0)),
            registry_service_process_id=int(last_start.get("process_id", 0)),
            registry_workflow_id=root_id,
            registry_run_id=run.run_id,
            history_length=run.history_length,
            history_size_bytes=run.history_size_bytes,
            continue_as_new_count=int(root.get("continued", 0))
            + sum(s.continue_as_new_count for s in shards),
            namespace=self._config.temporal.namespace,
            task_queue=self._config.registry.task_queue,
            revision=catalog.revision,
            self_preservation=store.liveness.self_preservation,
            liveness=store.liveness.reason,
            snapshot_age_seconds=0.0,
            shards=shards,
            shard_max_bytes=store.limits.max_bytes,
            default_compatibility_mode=mode_value(store.default_compatibility),  # type: ignore[arg-type]
        )

    async def ShutdownRegistry(
        self, request: registry_pb2.ShutdownRegistryRequest, context: Context
    ) -> registry_pb2.ShutdownRegistryResponse:
        reason = plan_handover_reason(request.reason)
        previous, current = await self._store().hand_over(
            reason, self._config.registry.update_timeout_seconds
        )
        return registry_pb2.ShutdownRegistryResponse(
            status="handed_over", previous_run_id=previous, run_id=current
        )

    # --- workers ------------------------------------------------------------------------------

    async def RegisterWorker(
        self, request: registry_pb2.RegisterWorkerRequest, context: Context
    ) -> registry_pb2.RegisterWorkerResponse:
        store = self._store()
        plan = plan_registration(request, current_principal.get(), self._config)
        registration = plan.registration
        await store.search_attributes.ensure(
            Declaration(a.name, a.type, f"workflows[{i}].search_attributes[{j}].type")
            for i, spec in enumerate(registration.workflows)
            for j, a in enumerate(spec.search_attributes)
        )
        worker, changed = await store.register_worker(
            replace(registration, principal=plan.principal, admin=plan.admin)
        )
        return registry_pb2.RegisterWorkerResponse(
            worker=worker_to_proto(worker_view(worker, store.liveness_inputs())),
            changed_workflows=changed,
            affected_schedules=await self._guard_schedules(store, changed),
        )

    async def Heartbeat(
        self, request: registry_pb2.HeartbeatRequest, context: Context
    ) -> registry_pb2.HeartbeatResponse:
        required_id(request.worker_id, "worker_id")
        view = await self._store().heartbeat(
            request.worker_id, _owner_check(current_principal.get())
        )
        return registry_pb2.HeartbeatResponse(
            lease_expires_epoch=view.lease.expires_at, ttl_seconds=view.lease.ttl_seconds
        )

    async def UnregisterWorker(
        self, request: registry_pb2.UnregisterWorkerRequest, context: Context
    ) -> registry_pb2.UnregisterWorkerResponse:
        required_id(request.worker_id, "worker_id")
        principal = current_principal.get()
        await self._store().unregister_worker(request.worker_id, principal.name, principal.admin)
        return registry_pb2.UnregisterWorkerResponse()

    async def ListWorkers(
        self, request: registry_pb2.ListWorkersRequest, context: Context
    ) -> Answer:
        return await self._read(
            "ListWorkers", request, context, self._list_workers, registry_pb2.ListWorkersResponse
        )

    async def _list_workers(
        self, store: RegistryStore, request: registry_pb2.ListWorkersRequest
    ) -> registry_pb2.ListWorkersResponse:
        catalog = store.catalog
        ids = (
            sorted(catalog.workers_by_type.get(request.workflow_type, {}))
            if request.workflow_type
            else catalog.worker_ids()
        )
        if request.task_queue:
            ids = [i for i in ids if catalog.workers[i].task_queue == request.task_queue]
        fingerprint = query_fingerprint(
            task_queue=request.task_queue, workflow_type=request.workflow_type
        )
        page, token = paginate(ids, str, request.page_size, request.page_token, fingerprint)
        inputs = store.liveness_inputs()
        return registry_pb2.ListWorkersResponse(
            workers=[worker_to_proto(worker_view(catalog.workers[i], inputs)) for i in page],
            next_page_token=token,
        )

    async def GetWorker(self, request: registry_pb2.GetWorkerRequest, context: Context) -> Answer:
        return await self._read(
            "GetWorker", request, context, self._get_worker, resources_pb2.Worker
        )

    async def _get_worker(
        self, store: RegistryStore, request: registry_pb2.GetWorkerRequest
    ) -> resources_pb2.Worker:
        worker = store.catalog.workers.get(request.worker_id)
        if worker is None:
            raise worker_not_found(request.worker_id)
        return worker_to_proto(worker_view(worker, store.liveness_inputs()))

    # --- workflow types -----------------------------------------------------------------------

    async def ListWorkflows(
        self, request: registry_pb2.ListWorkflowsRequest, context: Context
    ) -> Answer:
        return await self._read(
            "ListWorkflows",
            request,
            context,
            self._list_workflows,
            registry_pb2.ListWorkflowsResponse,
        )

    async def _list_workflows(
        self, store: RegistryStore, request: registry_pb2.ListWorkflowsRequest
    ) -> registry_pb2.ListWorkflowsResponse:
        catalog = store.catalog
        selector = parse_label_selector(request.label_selector)
        enabled = request.enabled if request.HasField("enabled") else None
        healthy = request.healthy if request.HasField("healthy") else None
        fingerprint = query_fingerprint(label_selector=selector, enabled=enabled, healthy=healthy)
        matching = [
            catalog.workflows[name]
            for name in catalog.workflow_types()
            if labels_match(catalog.workflows[name].spec.labels, selector)
            and (enabled is None or catalog.workflows[name].enabled == enabled)
        ]
        if healthy is None:  # views only for the page
            stored_page, token = paginate(
                matching, _workflow_type, request.page_size, request.page_token, fingerprint
            )
            await store.refresh_for_read(s.spec.workflow_type for s in stored_page)
            inputs = store.liveness_inputs()
            page = [store.view_of(stored, inputs) for stored in stored_page]
        else:  # health decides membership, so every candidate needs its view
            await store.refresh_for_read(s.spec.workflow_type for s in matching)
            inputs = store.liveness_inputs()
            views = [store.view_of(s, inputs) for s in matching]
            page, token = paginate(
                [view for view in views if view.healthy == healthy],
                lambda view: view.stored.spec.workflow_type,
                request.page_size,
                request.page_token,
                fingerprint,
            )
        store.messages.forget_missing(catalog.workflows.keys())
        full = request.view != registry_pb2.WORKFLOW_VIEW_BASIC
        response = registry_pb2.ListWorkflowsResponse(next_page_token=token)
        for view in page:
            store.messages.fill(response.workflows.add(), view, full=full)
        return response

    async def GetWorkflow(
        self, request: registry_pb2.GetWorkflowRequest, context: Context
    ) -> Answer:
        return await self._read(
            "GetWorkflow", request, context, self._get_workflow, resources_pb2.Workflow
        )

    async def _get_workflow(
        self, store: RegistryStore, request: registry_pb2.GetWorkflowRequest
    ) -> resources_pb2.Workflow:
        stored = await store.workflow(request.workflow_type)
        await store.refresh_for_read([stored.spec.workflow_type])
        return store.messages.build(store.view_of(stored))

    async def CreateWorkflow(
        self, request: registry_pb2.CreateWorkflowRequest, context: Context
    ) -> resources_pb2.Workflow:
        write = plan_workflow_write(
            request.workflow, create=True, principal_names=self._principal_names
        )
        return await self._put(write, request.validate_only, "")

    async def ReplaceWorkflow(
        self, request: registry_pb2.ReplaceWorkflowRequest, context: Context
    ) -> resources_pb2.Workflow:
        write = plan_workflow_write(
            plan_replace(request), create=False, principal_names=self._principal_names
        )
        override = plan_override_reason(request.override_reason)
        return await self._put(write, request.validate_only, override)

    async def DeleteWorkflow(
        self, request: registry_pb2.DeleteWorkflowRequest, context: Context
    ) -> registry_pb2.DeleteWorkflowResponse:
        required_id(request.workflow_type, "workflow_type")
        await self._store().delete_workflow(request.workflow_type, request.allow_missing)
        return registry_pb2.DeleteWorkflowResponse()

    async def EnableWorkflow(
        self, request: registry_pb2.EnableWorkflowRequest, context: Context
    ) -> resources_pb2.Workflow:
        required_id(request.workflow_type, "workflow_type")
        store = self._store()
        stored = await store.toggle_workflow(request.workflow_type, True)
        return store.messages.build(store.view_of(stored))

    async def DisableWorkflow(
        self, request: registry_pb2.DisableWorkflowRequest, context: Context
    ) -> resources_pb2.Workflow:
        required_id(request.workflow_type, "workflow_type")
        reason = plan_disable_reason(request.reason)
        store = self._store()
        stored = await store.toggle_workflow(request.workflow_type, False, reason)
        return store.messages.build(store.view_of(stored))

    async def WatchCatalog(
        self, request: registry_pb2.WatchCatalogRequest, context: Context
    ) -> AsyncIterator[Answer]:
        """Events come serialised (registry.catalog.watch builds each once for every watcher)."""
        feed = self._store().feed
        watcher = await feed.watch(request.resume_token)
        try:
            while True:
                yield await watcher.next()
        finally:
            feed.forget(watcher)

    # --- helpers ------------------------------------------------------------------------------

    async def _read(
        self,
        method: str,
        request: Any,
        context: Context,
        build: Callable[[RegistryStore, Any], Awaitable[Message]],
        answer_type: type[Message],
    ) -> Answer:
        """A catalogue read with its conditions: a blocking query waits first; an answer
        the client holds (if_none_match, or the If-None-Match header) comes back empty and
        "not modified"; an answer read before at the same etag comes from the cache, already
        serialised. Every answer carries the `etag` header; lists carry revision and etag."""
        store = self._store()
        feed = store.feed
        header = dict(context.invocation_metadata() or ()).get("if-none-match", "")
        is_list = "not_modified" in answer_type.DESCRIPTOR.fields_by_name
        wanted = request.revision if is_list and request.HasField("wait") else 0
        if wanted > feed.revision:  # another replica's answer: give this one a moment
            await feed.wait_until(lambda: feed.revision >= wanted, CATCH_UP_WAIT)
        condition = plan_read_condition(request, str(header), feed.revision)
        if condition.wait is not None:
            since = condition.revision
            if since is not None:
                await feed.wait_until(lambda: feed.revision > since, condition.wait)
            else:
                await feed.wait_until(
                    lambda: not etag_matches(condition.if_none_match, feed.etag()),
                    condition.wait,
                )
        etag, revision = feed.etag(), feed.revision
        if condition.if_none_match and etag_matches(condition.if_none_match, etag):
            CATALOG_READS.labels("not_modified").inc()
            await context.send_initial_metadata((("etag", etag), (NOT_MODIFIED_HEADER, "true")))
            if is_list:
                return answer_type(revision=revision, etag=etag, not_modified=True)
            return answer_type()  # a get: the resource, empty (the metadata says why)
        await context.send_initial_metadata((("etag", etag),))
        key = cache_key(method, request)
        cached = self._answers.get(key, etag)
        if cached is not None:
            CATALOG_READS.labels("cached").inc()
            return cached
        CATALOG_READS.labels("built").inc()
        response = await build(store, request)
        if is_list:
            response.revision, response.etag = revision, etag  # type: ignore[attr-defined]
        answer = response.SerializeToString()
        if feed.etag() == etag:  # nothing changed while it was built
            self._answers.put(key, etag, answer)
        return answer

    async def _put(
        self, write: WorkflowWrite, validate_only: bool, override: str
    ) -> resources_pb2.Workflow:
        store = self._store()
        principal = current_principal.get().name
        await store.search_attributes.ensure(
            (
                Declaration(a.name, a.type, f"workflow.search_attributes[{j}].type")
                for j, a in enumerate(write.spec.search_attributes)
            ),
            dry_run=validate_only,
        )
        if validate_only:
            stored = await store.try_put(write, principal=principal, override=override)
        else:
            stored, changed = await store.put_workflow(
                write, principal=principal, override=override
            )
            if changed:
                await self._guard_schedules(store, [stored.spec.workflow_type])
        return store.messages.build(store.view_of(stored))

    async def _guard_schedules(self, store: RegistryStore, changed: list[str]) -> list[str]:
        """The schedule guardian, for workflow types whose spec a write changed."""
        return await revalidate_schedules(
            store.schedules,
            store.catalog.workflows,
            changed,
            pause=self._config.schedules.pause_on_invalid_input,
        )


def _workflow_type(stored: StoredWorkflow) -> str:
    return stored.spec.workflow_type


def _owner_check(principal: Principal) -> Callable[[StoredWorker], None]:
    """Refuses, as PERMISSION_DENIED, a heartbeat for another principal's worker."""

    def check(worker: StoredWorker) -> None:
        check_worker_owner(worker, principal)

    return check
