"""The namespace's custom search attributes: the registry-owned activities that change them,
and the admin that checks, provisions and reconciles them (registry.search_attribute_rules
holds the rules; registry.provisioning_workflow runs the changes durably)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta

import grpc
from temporal_registry.v1 import search_attributes_pb2 as pb
from temporalio import activity
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
    RemoveSearchAttributesRequest,
)
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError

from registry.search_attributes.rules import (
    SQL_SLOTS,
    TEMPORAL_TYPE_NAMES,
    Declaration,
    budget_problems,
    plan_provisioning,
)
from registry.search_attributes.workflow import AttributeChange, ProvisionSearchAttributes
from registry.server.errors import FieldViolation, RegistryError, invalid_fields, unavailable
from registry.shared.model import Catalog

_INDEXED_TYPES = {
    ours: IndexedValueType.Value(theirs) for theirs, ours in TEMPORAL_TYPE_NAMES.items()
}
PROVISION_TIMEOUT = timedelta(seconds=60)
MODES = ("validate", "ensure", "replace")


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
        self._slots = SQL_SLOTS if sql_visibility else None

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
        plan = plan_provisioning(declared, custom, system, self._slots)
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
        done = await self._provision(AttributeChange(add=plan.missing))
        return sorted(done.add)

    async def _provision(self, change: AttributeChange) -> AttributeChange:
        try:
            done: AttributeChange = await self._client.execute_workflow(
                ProvisionSearchAttributes.run,
                change,
                id=f"registry-provision-search-attributes-{uuid.uuid4()}",
                task_queue=self._task_queue,
                execution_timeout=PROVISION_TIMEOUT,
            )
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

    # --- reconcile ----------------------------------------------------------------------------

    async def reconcile(
        self, catalog: Catalog, mode: str, attributes: list[str], confirm: bool
    ) -> pb.ReconcileSearchAttributesResponse:
        mode = mode or "validate"
        declared, warnings = declared_attributes(catalog)
        violations = []
        if mode not in MODES:
            violations.append(
                FieldViolation("mode", "must be validate, ensure or replace", "invalid")
            )
        for i, name in enumerate(attributes):
            if name not in declared:
                message = "is not declared by any registered workflow type"
                violations.append(FieldViolation(f"attributes[{i}]", message, "unknown"))
        if mode == "replace" and not attributes:
            violations.append(
                FieldViolation("attributes", "replace needs the attributes to replace", "required")
            )
        if mode == "replace" and not confirm:
            violations.append(FieldViolation("confirm", "replace needs confirm: true", "required"))
        if violations:
            raise invalid_fields("INVALID_RECONCILE", violations)

        wanted = {name: declared[name][0] for name in (attributes or declared)}
        custom, system = await self.namespace_attributes()
        report = pb.ReconcileSearchAttributesResponse(
            mode=mode,
            desired=[pb.SearchAttributeType(name=n, type=t) for n, t in sorted(wanted.items())],
            existing=[pb.SearchAttributeType(name=n, type=t) for n, t in sorted(custom.items())],
            warnings=warnings,
        )
        missing, replace, refused = {}, {}, []
        for name, kind in sorted(wanted.items()):
            existing = custom.get(name) or system.get(name)
            source = "custom" if name in custom else "system"
            if existing is None:
                report.missing.append(name)
                missing[name] = kind
            elif existing == kind:
                report.unchanged.append(name)
            else:
                report.conflicts.add(
                    name=name, existing_type=existing, desired_type=kind, source=source
                )
                if mode == "replace" and source == "custom":
                    replace[name] = kind
                elif mode != "validate":
                    why = (
                        "a system attribute: never changed"
                        if source == "system"
                        else (f"exists as {existing}; only replace (with confirm) changes it")
                    )
                    refused.append((name, why))
        if mode == "validate":
            return report

        remaining = {n: t for n, t in custom.items() if n not in replace}
        to_add = {**missing, **replace}
        if self._slots is not None:
            fits: dict[str, str] = {}
            for name, kind in sorted(to_add.items()):
                if not budget_problems({**fits, name: kind}, remaining, self._slots):
                    fits[name] = kind
                else:
                    limit = self._slots.get(kind, 0)
                    refused.append((name, f"no free {kind} slot (the namespace holds {limit})"))
            to_add = fits
        replace = {n: t for n, t in replace.items() if n in to_add}
        report.refused.extend(pb.RefusedSearchAttribute(name=n, reason=why) for n, why in refused)
        if to_add:
            done = await self._provision(AttributeChange(add=to_add, remove=sorted(replace)))
            report.added.extend(sorted(n for n in done.add if n not in replace))
            report.replaced.extend(sorted(n for n in done.remove if n in done.add))
        elif refused:
            raise RegistryError(
                grpc.StatusCode.FAILED_PRECONDITION,
                "NOTHING_RECONCILED",
                f"nothing could be done: {'; '.join(f'{n}: {why}' for n, why in refused)}",
                [FieldViolation(f'search_attributes["{n}"]', why, "refused") for n, why in refused],
            )
        return report


def declared_attributes(
    catalog: Catalog,
) -> tuple[dict[str, tuple[str, str, list[str]]], list[str]]:
    """name -> (type, description, declaring workflow types) over the catalogue, and a
    warning for each name declared with different types (the first type, by workflow type
    order, is the one that counts)."""
    declared: dict[str, tuple[str, str, list[str]]] = {}
    warnings = []
    for workflow_type in sorted(catalog.workflows):
        for attribute in catalog.workflows[workflow_type].spec.search_attributes:
            kind, _, types = declared.setdefault(
                attribute.name, (attribute.type, attribute.description, [])
            )
            types.append(workflow_type)
            if attribute.type != kind:
                warnings.append(
                    f"{attribute.name} is declared as {kind} by {types[0]} and as "
                    f"{attribute.type} by {workflow_type}"
                )
    return declared, warnings
