"""SystemService: liveness (/health) and readiness (/ready)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from temporal_registry.v1 import system_pb2, system_pb2_grpc

from registry.catalog.store import StoreAccess
from registry.catalog.temporal import closed


class SystemService(system_pb2_grpc.SystemServiceServicer):
    def __init__(self, store: StoreAccess) -> None:
        self._store = store

    async def GetHealth(
        self, request: system_pb2.GetHealthRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> system_pb2.GetHealthResponse:
        return system_pb2.GetHealthResponse(status="ok")

    async def GetReadiness(
        self, request: system_pb2.GetReadinessRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> system_pb2.GetReadinessResponse:
        """Ready = the registry's root workflow runs and answers a query (a closed run answers
        queries too, hence the describe), and no shard this process follows has closed."""
        store = self._store()
        root_id = store.layout.root_id()
        run, _ = await asyncio.gather(
            store.temporal.describe(root_id), store.temporal.query(root_id, "describe")
        )
        if not run.running:
            raise closed(run)
        shard_closed = store.closed_shard()
        if shard_closed is not None:
            raise shard_closed
        return system_pb2.GetReadinessResponse(
            status="ready", registry_workflow_id=root_id, registry_run_id=run.run_id
        )
