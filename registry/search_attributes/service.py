"""SearchAttributeService: what registered types declare, what the namespace has, and
reconciling the two (registry.search_attributes does the work)."""

from __future__ import annotations

from typing import Any

import grpc
from temporal_registry.v1 import search_attributes_pb2 as pb
from temporal_registry.v1 import search_attributes_pb2_grpc

from registry.catalog.store import StoreAccess
from registry.search_attributes.temporal import declared_attributes
from registry.server.auth import ADMIN, require

Context = grpc.aio.ServicerContext[Any, Any]


class SearchAttributeService(search_attributes_pb2_grpc.SearchAttributeServiceServicer):
    def __init__(self, store: StoreAccess) -> None:
        self._store = store

    async def ListDeclaredSearchAttributes(
        self, request: pb.ListDeclaredSearchAttributesRequest, context: Context
    ) -> pb.ListDeclaredSearchAttributesResponse:
        declared, _ = declared_attributes(self._store().catalog)
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
        return await store.search_attributes.reconcile(
            store.catalog, request.mode, list(request.attributes), request.confirm
        )
