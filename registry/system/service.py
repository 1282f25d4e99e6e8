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
        """Ready = the registry workflow's current run is open and answers a query.
        (A query alone is not enough: closed runs answer queries too.)"""
        store = self._store()
        registry = store.workflow
        run, _ = await asyncio.gather(registry.describe_run(), store.refresh())
        if not run.running:
            raise closed(registry.workflow_id, run)
        return system_pb2.GetReadinessResponse(
            status="ready", registry_workflow_id=registry.workflow_id, registry_run_id=run.run_id
        )
