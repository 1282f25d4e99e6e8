"""The namespace's custom search attributes: the registry-owned activities that change them,
and the admin that lists, checks and provisions them (registry.search_attributes.rules holds
the rules; registry.search_attributes.workflow runs the changes durably)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import grpc
from temporalio import activity
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
    RemoveSearchAttributesRequest,
)
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from registry.search_attributes.rules import (
    SQL_SLOTS,
    TEMPORAL_TYPE_NAMES,
    Declaration,
    plan_provisioning,
)
from registry.search_attributes.workflow import AttributeChange, ProvisionSearchAttributes
from registry.server.errors import RegistryError, unavailable

_INDEXED_TYPES = {
    ours: IndexedValueType.Value(theirs) for theirs, ours in TEMPORAL_TYPE_NAMES.items()
}
PROVISION_TIMEOUT = timedelta(seconds=60)


async def list_attributes(client: Client, namespace: str) -> tuple[dict[str, str], dict[str, str]]:
    """(custom, system) attributes of the namespace: name -> type (Keyword, Int, ...)."""
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )

    def named(attributes: dict[str, int]) -> dict[str, str]:
        return {
            name: TEMPORAL_TYPE_NAMES.get(IndexedValueType.Name(kind), "Unknown")  # type: ignore[arg-type]
            for name, kind in attributes.items()
        }

    return named(dict(response.custom_attributes)), named(dict(response.system_attributes))


class SearchAttributeActivities:
    """Run by the registry's embedded worker, for ProvisionSearchAttributes."""

    def __init__(self, client: Client, namespace: str) -> None:
        self._client = client
        self._namespace = namespace

    @activity.defn(name="add_search_attributes")
    async def add(self, attributes: dict[str, str]) -> dict[str, str]:
        """Create the missing ones; same name and type is left alone; another type is a
        conflict, never retried, never overwritten."""
        custom, system = await list_attributes(self._client, self._namespace)
        to_add = {}
        for name, kind in sorted(attributes.items()):
            existing = custom.get(name) or system.get(name)
            if existing is not None and existing != kind:
                raise ApplicationError(
                    f"{name} exists in the namespace as {existing}; it can't be {kind}",
                    type="SEARCH_ATTRIBUTE_CONFLICT",
                    non_retryable=True,
                )
            if existing is None:
                to_add[name] = kind
        if to_add:
            try:
                await self._client.operator_service.add_search_attributes(
                    AddSearchAttributesRequest(
                        namespace=self._namespace,
                        search_attributes={n: _INDEXED_TYPES[k] for n, k in to_add.items()},
                    )
                )
            except RPCError as error:
                if "cannot have more than" in error.message:
                    raise ApplicationError(
                        error.message, type="SEARCH_ATTRIBUTE_BUDGET", non_retryable=True
                    ) from error
                raise  # retried: a race (ALREADY_EXISTS) is sorted out by the next attempt
        return to_add

    @activity.defn(name="remove_search_attributes")
    async def remove(self, names: list[str]) -> list[str]:
        custom, _ = await list_attributes(self._client, self._namespace)
        present = sorted(name for name in names if name in custom)
        if present:
            await self._client.operator_service.remove_search_attributes(
                RemoveSearchAttributesRequest(namespace=self._namespace, search_attributes=present)
            )
        return present


class SearchAttributeAdmin:
    def __init__(
        self, client: Client, namespace: str, task_queue: str, *, sql_visibility: bool
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._task_queue = task_queue
        # Slots per type of the namespace's visibility store (None: no per-type limit).
        self.slots = SQL_SLOTS if sql_visibility else None

    async def namespace_attributes(self) -> tuple[dict[str, str], dict[str, str]]:
        try:
            return await list_attributes(self._client, self._namespace)
        except RPCError as error:
            raise unavailable(
                "TEMPORAL_UNAVAILABLE", f"cannot list search attributes ({error.status.name})"
            ) from error

    async def ensure(
        self, declarations: Iterable[Declaration], *, dry_run: bool = False
    ) -> list[str]:
        """Check declarations against the namespace and create the missing attributes
        (unless dry_run). FAILED_PRECONDITION for a type conflict or too few slots, before
        anything is created. Returns the names created."""
        declared = list(declarations)
        if not declared:  # most registrations: no Temporal call at all
            return []
        custom, system = await self.namespace_attributes()
        plan = plan_provisioning(declared, custom, system, self.slots)
        if plan.violations:
            first = plan.violations[0]
            raise RegistryError(
                grpc.StatusCode.FAILED_PRECONDITION,
                "SEARCH_ATTRIBUTE_CONFLICT",
                first.description,
                plan.violations,
            )
        if plan.budget:
            raise RegistryError(
                grpc.StatusCode.FAILED_PRECONDITION,
                "SEARCH_ATTRIBUTE_BUDGET",
                "; ".join(plan.budget),
            )
        if not plan.missing or dry_run:
            return []
        done = await self.provision(AttributeChange(add=plan.missing))
        return sorted(done.add)

    async def provision(self, change: AttributeChange) -> AttributeChange:
        """Run the change through the provisioning workflow: what it did. A conflict or an
        exhausted budget it meets is FAILED_PRECONDITION; any other failure UNAVAILABLE."""
        try:
            handle = await self._client.start_workflow(
                ProvisionSearchAttributes.run,
                change,
                id=f"registry-provision-search-attributes-{uuid.uuid4()}",
                task_queue=self._task_queue,
                execution_timeout=PROVISION_TIMEOUT,
            )
            done = await _result(handle)
        except (RPCError, RPCTimeoutOrCancelledError) as error:
            raise unavailable(
                "TEMPORAL_UNAVAILABLE",
                f"could not provision search attributes: Temporal did not answer ({error})",
            ) from None
        except WorkflowFailureError as error:
            cause = error.cause.cause if isinstance(error.cause, ActivityError) else error.cause
            if isinstance(cause, ApplicationError) and cause.type in (
                "SEARCH_ATTRIBUTE_CONFLICT",
                "SEARCH_ATTRIBUTE_BUDGET",
            ):
                raise RegistryError(
                    grpc.StatusCode.FAILED_PRECONDITION, cause.type, cause.message
                ) from None
            raise unavailable(
                "SEARCH_ATTRIBUTE_PROVISIONING_FAILED",
                f"could not change the namespace's search attributes: {cause or error}",
            ) from None
        return done


async def _result(handle: WorkflowHandle[Any, AttributeChange]) -> AttributeChange:
    """The workflow's result; a long poll cut by a connection closing (Temporal closes old
    connections) is asked again, within the workflow's own timeout."""
    deadline = time.monotonic() + PROVISION_TIMEOUT.total_seconds()
    while True:
        try:
            return await handle.result()
        except RPCError as error:
            if error.status != RPCStatusCode.UNKNOWN or time.monotonic() > deadline:
                raise
