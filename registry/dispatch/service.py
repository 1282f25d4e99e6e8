"""DispatchService: starting workflows through the registry, and readable workflow ids.

A start is in-memory work (the catalogue copy, the compiled input schema, the choice of
queue) plus one StartWorkflowExecution. A start with a `name` also claims a slug counter,
which is one registry update; a start with a `request_id` derives its workflow id from it,
so a retry meets the first run, which answers it with started=false (registry.starter).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar

import grpc
from temporal_registry.v1 import dispatch_pb2, dispatch_pb2_grpc, resources_pb2
from temporalio.api.enums.v1 import WorkflowIdConflictPolicy, WorkflowIdReusePolicy

from registry.catalog.store import RegistryStore, StoreAccess
from registry.catalog.workflow import RegistryWorkflow
from registry.dispatch.rules import (
    agent_violations,
    chain_violations,
    check_payload,
    default_workflow_id,
    memo_violations,
    request_id_violations,
    warning_messages,
    workflow_id_violations,
    workspace_violations,
)
from registry.dispatch.temporal import Started, StartPlan, WorkflowStarter
from registry.server.config import Config
from registry.server.errors import FieldViolation, RegistryError, invalid_fields
from registry.server.pagination import paginate, query_fingerprint
from registry.shared.messages import value_to_python
from registry.shared.model import SlugClaim, SlugReset
from registry.shared.slugs import SlugError, slug_workflow_id, slugify

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
        plan, warnings = await self._plan(store, request)
        if request.validate_only:
            return _response(plan, "", started=False, warnings=warnings)
        if request.name:
            plan, started = await self._start_named(store, plan, _slug(request.name, "name"))
        else:
            started = await store.starter.start(plan)
        if started.task_queue:
            plan = replace(plan, task_queue=started.task_queue)
        return _response(plan, started.run_id, started=started.started, warnings=warnings)

    async def Run(
        self, request: dispatch_pb2.RunRequest, context: Context
    ) -> dispatch_pb2.RunResponse:
        workspace, violations = workspace_violations(request.workspace)
        violations = agent_violations("agent_id", request.agent_id, required=True) + violations
        violations += chain_violations(
            [step.agent_id for step in request.chain], request.chain_mode
        )
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
            workflow_type=request.workflow_type or self._config.dispatch.run_workflow_type,
            name=request.name,
            request_id=request.request_id,
        )
        start.input.struct_value.update(run_input)
        store = self._store()
        declared = _declared(store, start.workflow_type)
        for name in ("agent_id", "agent_acp_provider"):  # as 0.1.x did, where declared
            if name in declared and run_input[name]:
                start.search_attributes[name].string_value = run_input[name]
        response = await self.StartWorkflow(start, context)
        return dispatch_pb2.RunResponse(workflow_id=response.workflow_id, run_id=response.run_id)

    async def _plan(
        self, store: RegistryStore, request: dispatch_pb2.StartWorkflowRequest
    ) -> tuple[StartPlan, list[resources_pb2.InputWarning]]:
        stored = store.enabled_workflow(request.workflow_type)
        workflow_input = value_to_python(request.input) if request.HasField("input") else {}
        attributes, payload_violations = await check_payload(
            stored,
            workflow_input,
            {k: value_to_python(v) for k, v in request.search_attributes.items()},
        )
        memo = {k: value_to_python(v) for k, v in request.memo.items()}
        violations = _id_violations(request, self._config.registry.workflow_id) + payload_violations
        violations += memo_violations(memo)
        execution_timeout = _timeout(request, "execution_timeout", violations)
        run_timeout = _timeout(request, "run_timeout", violations)
        if violations:
            raise invalid_fields("INVALID_START", violations)
        task_queue = await store.task_queue_for(stored, request.label_selector)

        if request.workflow_id:
            workflow_id = request.workflow_id
        elif request.name:
            # The id the next claim would give: a start claims it with the start itself.
            slug = _slug(request.name, "name")
            known = store.catalog.slugs.get(slug)
            workflow_id = slug_workflow_id(slug, (known.counter if known else 0) + 1)
        else:
            workflow_id = default_workflow_id(request.workflow_type, request.request_id)
        plan = StartPlan(
            workflow_type=request.workflow_type,
            workflow_id=workflow_id,
            task_queue=task_queue,
            input=workflow_input,
            request_id=request.request_id,
            search_attributes=attributes,
            memo=memo,
            conflict_policy=_conflict_policy(request.id_conflict_policy),
            reuse_policy=_reuse_policy(request.id_reuse_policy),
            execution_timeout=execution_timeout,
            run_timeout=run_timeout,
        )
        return plan, warning_messages(stored, workflow_input)

    # --- workflow ids -------------------------------------------------------------------------

    async def ClaimWorkflowId(
        self, request: dispatch_pb2.ClaimWorkflowIdRequest, context: Context
    ) -> dispatch_pb2.ClaimWorkflowIdResponse:
        slug = _slug(request.name, "name")
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
        slug = _slug(request.name, "name")
        change = await self._store().write(RegistryWorkflow.reset_slug, SlugReset(slug))
        return dispatch_pb2.ResetWorkflowIdResponse(
            slug=slug, previous_counter=change.counter, reset_to=0
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
            change = await store.write(
                RegistryWorkflow.claim_slug,
                SlugClaim(
                    slug,
                    request_id,
                    at_least,
                    ttl_seconds=self._config.dispatch.slug_ttl_days * 86_400,
                    max_slugs=self._config.dispatch.max_slug_counters,
                ),
            )
            taken = await take(change.counter, change.no_op)
            if taken is not None:
                return taken
            at_least = await self._first_free(store.starter, slug, change.counter)
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
    plan: StartPlan,
    run_id: str,
    *,
    started: bool,
    warnings: list[resources_pb2.InputWarning],
) -> dispatch_pb2.StartWorkflowResponse:
    return dispatch_pb2.StartWorkflowResponse(
        workflow_id=plan.workflow_id,
        run_id=run_id,
        task_queue=plan.task_queue,
        workflow_type=plan.workflow_type,
        started=started,
        warnings=warnings,
    )


def _slug(name: str, field: str) -> str:
    try:
        return slugify(name)
    except SlugError as error:
        raise invalid_fields(
            "INVALID_NAME", [FieldViolation(field, str(error), "invalid")]
        ) from None


def _declared(store: RegistryStore, workflow_type: str) -> set[str]:
    stored = store.catalog.workflows.get(workflow_type)
    return {a.name for a in stored.spec.search_attributes} if stored else set()


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
