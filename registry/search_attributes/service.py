"""SearchAttributeService: what registered types declare, what the namespace has, and
reconciling the two: the request parsed against the catalogue and planned against the
namespace (registry.search_attributes.rules), the change run by the provisioning workflow
(registry.search_attributes.temporal)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from temporal_registry.v1 import search_attributes_pb2 as pb
from temporal_registry.v1 import search_attributes_pb2_grpc

from registry.catalog.store import StoreAccess
from registry.search_attributes.rules import (
    ParsedReconcile,
    ReconcilePlan,
    declared_attributes,
    parse_reconcile,
    plan_reconcile,
)
from registry.search_attributes.workflow import AttributeChange
from registry.server.auth import ADMIN, require

Context = grpc.aio.ServicerContext[Any, Any]


class SearchAttributeService(search_attributes_pb2_grpc.SearchAttributeServiceServicer):
    def __init__(self, store: StoreAccess) -> None:
        self._store = store

    async def ListDeclaredSearchAttributes(
        self, request: pb.ListDeclaredSearchAttributesRequest, context: Context
    ) -> pb.ListDeclaredSearchAttributesResponse:
        declared, _ = declared_attributes(self._store().catalog.workflows)
        return pb.ListDeclaredSearchAttributesResponse(
            search_attributes=[
                pb.DeclaredSearchAttribute(
                    name=name, type=kind, description=description, workflows=workflows
                )
                for name, (kind, description, workflows) in sorted(declared.items())
            ]
        )

    async def ListTemporalSearchAttributes(
        self, request: pb.ListTemporalSearchAttributesRequest, context: Context
    ) -> pb.ListTemporalSearchAttributesResponse:
        custom, system = await self._store().search_attributes.namespace_attributes()
        return pb.ListTemporalSearchAttributesResponse(
            search_attributes=[
                pb.TemporalSearchAttribute(name=name, type=kind, source=source)
                for source, attributes in (("custom", custom), ("system", system))
                for name, kind in sorted(attributes.items())
            ]
        )

    async def ReconcileSearchAttributes(
        self, request: pb.ReconcileSearchAttributesRequest, context: Context
    ) -> pb.ReconcileSearchAttributesResponse:
        if request.mode == "replace":
            require(ADMIN)
        store = self._store()
        parsed = parse_reconcile(request, store.catalog.workflows)
        admin = store.search_attributes
        custom, system = await admin.namespace_attributes()
        plan = plan_reconcile(parsed, custom, system, admin.slots)
        done = await admin.provision(plan.change) if plan.change.add else AttributeChange()
        return _report(parsed, custom, plan, done)


def _report(
    parsed: ParsedReconcile, custom: Mapping[str, str], plan: ReconcilePlan, done: AttributeChange
) -> pb.ReconcileSearchAttributesResponse:
    return pb.ReconcileSearchAttributesResponse(
        mode=parsed.mode,
        desired=[pb.SearchAttributeType(name=n, type=t) for n, t in sorted(parsed.wanted.items())],
        existing=[pb.SearchAttributeType(name=n, type=t) for n, t in sorted(custom.items())],
        warnings=parsed.warnings,
        missing=plan.missing,
        unchanged=plan.unchanged,
        conflicts=[
            pb.SearchAttributeConflict(
                name=c.name,
                existing_type=c.existing_type,
                desired_type=c.desired_type,
                source=c.source,
            )
            for c in plan.conflicts
        ],
        refused=[pb.RefusedSearchAttribute(name=n, reason=why) for n, why in plan.refused],
        added=sorted(n for n in done.add if n not in plan.change.remove),
        replaced=sorted(n for n in done.remove if n in done.add),
    )
