"""DispatchService: starting workflows through the registry, and readable workflow ids.

A start is in-memory work (the catalogue copy, the compiled input schema, the choice of
queue) plus one StartWorkflowExecution. A start with a `name` also claims a slug counter,
which is one registry update; a start with a `request_id` derives its workflow id from it,
so a retry meets the first run, which answers it with started=false (registry.starter).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import grpc
from temporal_registry.v1 import dispatch_pb2, dispatch_pb2_grpc, resources_pb2

from registry.catalog.store import RegistryStore, StoreAccess
from registry.dispatch.rules import (
    StartPlan,
    parse_slug,
    parse_start,
    request_id_violations,
    run_as_start,
)
from registry.dispatch.temporal import Started, WorkflowStarter
from registry.server.config import Config
from registry.server.errors import RegistryError, invalid_fields
from registry.server.pagination import paginate, query_fingerprint
from registry.shared.slugs import slug_workflow_id

Context = grpc.aio.ServicerContext[Any, Any]
T = TypeVar("T")

# A claimed counter whose id exists (after a reset, an eviction, or a start made elsewhere)
# is skipped: probe ids ahead, doubling the step, then claim past the first free one.
_MAX_PROBES = 32
_MAX_CLAIM_ATTEMPTS = 5


class DispatchService(dispatch_pb2_grpc.DispatchServiceServicer):
    def __init__(self, store: StoreAccess, config: Config) -> None:
        self._store = store
        self._config = config

    # --- starts -------------------------------------------------------------------------------

    async def StartWorkflow(
        self, request: dispatch_pb2.StartWorkflowRequest, context: Context
    ) -> dispatch_pb2.StartWorkflowResponse:
        store = self._store()
        stored = await store.enabled_workflow(request.workflow_type)
        parsed = await parse_start(
            request, stored, self._config.registry.workflow_id, store.serving_schemas(stored)
        )
        task_queue = await store.task_queue_for(stored, request.label_selector)
        plan = parsed.with_queue(task_queue, store.catalog.slugs)
        if request.validate_only:
            return _response(plan, Started("", started=False), parsed.warnings)
        if parsed.slug:
            plan, started = await self._start_named(store, plan, parsed.slug)
        else:
            started = await store.starter.start(plan)
        return _response(plan, started, parsed.warnings)

    async def Run(
        self, request: dispatch_pb2.RunRequest, context: Context
    ) -> dispatch_pb2.RunResponse:
        default_type = self._config.dispatch.run_workflow_type
        stored = self._store().catalog.workflows.get(request.workflow_type or default_type)
        declared = {a.name: a for a in stored.spec.search_attributes} if stored else {}
        response = await self.StartWorkflow(run_as_start(request, default_type, declared), context)
        return dispatch_pb2.RunResponse(workflow_id=response.workflow_id, run_id=response.run_id)

    # --- workflow ids -------------------------------------------------------------------------

    async def ClaimWorkflowId(
        self, request: dispatch_pb2.ClaimWorkflowIdRequest, context: Context
    ) -> dispatch_pb2.ClaimWorkflowIdResponse:
        slug = parse_slug(request.name)
        violations = request_id_violations(request.request_id)
        if violations:
            raise invalid_fields("INVALID_CLAIM", violations)
        counter = await self._claim(self._store(), slug, request.request_id)
        return dispatch_pb2.ClaimWorkflowIdResponse(
            slug=slug, counter=counter, workflow_id=slug_workflow_id(slug, counter)
        )

    async def ResetWorkflowId(
        self, request: dispatch_pb2.ResetWorkflowIdRequest, context: Context
    ) -> dispatch_pb2.ResetWorkflowIdResponse:
        slug = parse_slug(request.name)
        previous = await self._store().reset_slug(slug)
        return dispatch_pb2.ResetWorkflowIdResponse(
            slug=slug, previous_counter=previous, reset_to=0
        )

    async def ListWorkflowIds(
        self, request: dispatch_pb2.ListWorkflowIdsRequest, context: Context
    ) -> dispatch_pb2.ListWorkflowIdsResponse:
        slugs = self._store().catalog.slugs
        page, token = paginate(
            [slugs[name] for name in sorted(slugs)],
            lambda counter: counter.slug,
            request.page_size,
            request.page_token,
            query_fingerprint(),
        )
        return dispatch_pb2.ListWorkflowIdsResponse(
            slug_counters=[
                dispatch_pb2.SlugCounter(
                    slug=c.slug, counter=c.counter, last_claimed_epoch=c.last_claimed_epoch
                )
                for c in page
            ],
            next_page_token=token,
        )

    async def _claim(self, store: RegistryStore, slug: str, request_id: str) -> int:
        """Claim the slug's next counter whose workflow id no execution has (a retry with
        the same request id gets its first counter back, even though that id now exists)."""
        starter = store.starter

        async def free(counter: int, retried: bool) -> int | None:
            taken = not retried and await starter.exists(slug_workflow_id(slug, counter))
            return None if taken else counter

        return await self._claim_free(store, slug, request_id, free)

    async def _start_named(
        self, store: RegistryStore, plan: StartPlan, slug: str
    ) -> tuple[StartPlan, Started]:
        """Claim the slug's next counter and start the run under its id, with the start itself
        as the check that no other request's execution has the id (a retry with the same
        request id gets its counter back, and the run it started answers it)."""

        async def start(counter: int, retried: bool) -> tuple[StartPlan, Started] | None:
            named = replace(plan, workflow_id=slug_workflow_id(slug, counter))
            started = await store.starter.start_new(named)
            return None if started is None else (named, started)

        return await self._claim_free(store, slug, plan.request_id, start)

    async def _claim_free(
        self,
        store: RegistryStore,
        slug: str,
        request_id: str,
        take: Callable[[int, bool], Awaitable[T | None]],
    ) -> T:
        """Claim counters of the slug until `take(counter, retried)` accepts one (retried: the
        request id claimed it before); past a refused one, skip ahead to the first free id."""
        at_least = 0
        for _ in range(_MAX_CLAIM_ATTEMPTS):
            counter, retried = await store.claim_slug(slug, request_id, at_least)
            taken = await take(counter, retried)
            if taken is not None:
                return taken
            at_least = await self._first_free(store.starter, slug, counter)
        raise RegistryError(
            grpc.StatusCode.ABORTED,
            "SLUG_CONTENDED",
            f"could not claim a free id for {slug} after {_MAX_CLAIM_ATTEMPTS} attempts; retry",
        )

    async def _first_free(self, starter: WorkflowStarter, slug: str, taken: int) -> int:
        step = 1
        for _ in range(_MAX_PROBES):
            if not await starter.exists(slug_workflow_id(slug, taken + step)):
                return taken + step
            step *= 2
        raise RegistryError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "SLUG_EXHAUSTED",
            f"no free workflow id found for slug {slug} past counter {taken}",
        )


def _response(
    plan: StartPlan, started: Started, warnings: list[resources_pb2.InputWarning]
) -> dispatch_pb2.StartWorkflowResponse:
    return dispatch_pb2.StartWorkflowResponse(
        workflow_id=plan.workflow_id,
        run_id=started.run_id,
        task_queue=started.task_queue or plan.task_queue,
        workflow_type=plan.workflow_type,
        started=started.started,
        warnings=warnings,
    )
