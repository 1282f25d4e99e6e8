"""RegistryService: the catalogue of workflow types and workers."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc

from registry.config import Config
from registry.runtime import RegistryRuntime


class RegistryService(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, runtime: RegistryRuntime, config: Config) -> None:
        self._runtime = runtime
        self._config = config

    async def GetRegistryStatus(
        self,
        request: registry_pb2.GetRegistryStatusRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> registry_pb2.GetRegistryStatusResponse:
        registry = self._runtime.registry()
        snapshot, run = await asyncio.gather(registry.snapshot(), registry.describe_run())
        last_start = snapshot.last_service_start
        return registry_pb2.GetRegistryStatusResponse(
            workflow_count=snapshot.workflow_count,
            worker_count=snapshot.worker_count,
            healthy_worker_count=snapshot.healthy_worker_count,
            started_at_epoch=snapshot.started_at_epoch,
            last_registry_service_started_epoch=last_start.started_at_epoch if last_start else 0.0,
            registry_service_process_id=last_start.process_id if last_start else 0,
            registry_workflow_id=registry.workflow_id,
            registry_run_id=run.run_id,
            history_length=run.history_length,
            history_size_bytes=run.history_size_bytes,
            continue_as_new_count=snapshot.continue_as_new_count,
            namespace=self._config.temporal.namespace,
            task_queue=self._config.registry.task_queue,
        )
