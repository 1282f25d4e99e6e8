"""The registry process: one asyncio loop running the gRPC server (with health
and reflection), the plain-HTTP listener and the embedded Temporal worker."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import grpc
from grpc_health.v1 import _async as health_aio  # the asyncio servicer (health.aio)
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import REGISTRY
from temporal_registry.v1 import (
    dispatch_pb2,
    dispatch_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    schedules_pb2,
    schedules_pb2_grpc,
    schemas_pb2,
    schemas_pb2_grpc,
    search_attributes_pb2,
    search_attributes_pb2_grpc,
    system_pb2,
    system_pb2_grpc,
)

from registry.catalog.metrics import RegistryCollector
from registry.catalog.service import RegistryService
from registry.dispatch.service import DispatchService
from registry.runtime import RegistryRuntime
from registry.schedules.service import ScheduleService
from registry.schemas.service import SchemaService
from registry.search_attributes.service import SearchAttributeService
from registry.server.auth import Authenticator
from registry.server.config import Config
from registry.server.http_listener import start_http_server
from registry.server.interceptors import RequestInterceptor
from registry.server.limits import UPSTREAM_MAX_METADATA_BYTES
from registry.server.ports import ensure_ports_free
from registry.server.tracing import Tracing, setup_tracing
from registry.system.service import SystemService

log = logging.getLogger("registry.app")

SERVICE_NAMES = (
    system_pb2.DESCRIPTOR.services_by_name["SystemService"].full_name,
    registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name,
    dispatch_pb2.DESCRIPTOR.services_by_name["DispatchService"].full_name,
    schedules_pb2.DESCRIPTOR.services_by_name["ScheduleService"].full_name,
    search_attributes_pb2.DESCRIPTOR.services_by_name["SearchAttributeService"].full_name,
    schemas_pb2.DESCRIPTOR.services_by_name["SchemaService"].full_name,
)
# Services whose health follows readiness; "" (the whole server) does too.
READINESS_GATED = ("", *SERVICE_NAMES[1:])


def build_grpc_server(
    config: Config,
    runtime: RegistryRuntime,
    health_servicer: health_aio.HealthServicer,
    authenticator: Authenticator | None,
    tracing: Tracing | None = None,
) -> grpc.aio.Server:
    interceptors: list[Any] = [
        RequestInterceptor(access_log=config.logging.access_log, authenticator=authenticator)
    ]
    if tracing is not None:
        interceptors.insert(0, tracing.server_interceptor)  # the span covers everything
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.so_reuseport", 0),  # a second server on the same port must fail, not share it
            ("grpc.max_receive_message_length", config.server.max_message_bytes),
            ("grpc.max_send_message_length", config.server.max_message_bytes),
            # Metadata: whatever Envoy lets through (its header limit, and the original URL
            # it forwards again), so an over-long id in a URL reaches the handler, whose
            # rules answer it, instead of a RESOURCE_EXHAUSTED that depends on its length.
            # Equal soft and hard limits: nothing is refused at random between the two.
            ("grpc.max_metadata_size", UPSTREAM_MAX_METADATA_BYTES),
            ("grpc.absolute_max_metadata_size", UPSTREAM_MAX_METADATA_BYTES),
        ],
    )
    system_pb2_grpc.add_SystemServiceServicer_to_server(SystemService(runtime.registry), server)
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(
        RegistryService(runtime.registry, config), server
    )
    dispatch_pb2_grpc.add_DispatchServiceServicer_to_server(
        DispatchService(runtime.registry, config), server
    )
    schedules_pb2_grpc.add_ScheduleServiceServicer_to_server(
        ScheduleService(runtime.registry, config), server
    )
    search_attributes_pb2_grpc.add_SearchAttributeServiceServicer_to_server(
        SearchAttributeService(runtime.registry), server
    )
    schemas_pb2_grpc.add_SchemaServiceServicer_to_server(SchemaService(runtime.registry), server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            *SERVICE_NAMES,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    server.add_insecure_port(f"{config.server.host}:{config.server.grpc_port}")
    return server


async def serve(config: Config, stop: asyncio.Event | None = None) -> None:
    """Run until stop is set (or SIGTERM/SIGINT when stop is None)."""
    ensure_ports_free(
        [
            ("server.grpc_port", config.server.host, config.server.grpc_port),
            ("server.http_port", config.server.host, config.server.http_port),
        ]
    )
    if stop is None:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)

    health_servicer = health_aio.HealthServicer()

    async def follow_readiness(ready: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if ready
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in READINESS_GATED:
            await health_servicer.set(name, status)

    tracing = setup_tracing(config.tracing)
    runtime = RegistryRuntime(
        config,
        on_readiness=follow_readiness,
        temporal_interceptors=[tracing.temporal_interceptor] if tracing else [],
    )
    collector = RegistryCollector(lambda: runtime.store)
    REGISTRY.register(collector)
    # One authenticator (auth off: None) for the gRPC API and, unless public, /metrics.
    authenticator = Authenticator(config.auth.principals()) if config.auth.enabled else None
    server = build_grpc_server(config, runtime, health_servicer, authenticator, tracing)
    http = await start_http_server(
        config.server.host,
        config.server.http_port,
        metrics_auth=None if config.auth.public_metrics else authenticator,
    )
    await server.start()
    await health_servicer.set(SERVICE_NAMES[0], health_pb2.HealthCheckResponse.SERVING)
    for name in READINESS_GATED:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    runtime.start()
    log.info(
        "registry serving gRPC on %s:%d, HTTP on %s:%d",
        config.server.host,
        config.server.grpc_port,
        config.server.host,
        config.server.http_port,
    )
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await health_servicer.enter_graceful_shutdown()
        if config.server.shutdown_drain_seconds > 0:
            # Still serving, but reported NOT_SERVING: the balancer's health checks move
            # new requests to the other replicas before the listener closes.
            log.info("draining for %g s", config.server.shutdown_drain_seconds)
            await asyncio.sleep(config.server.shutdown_drain_seconds)
        await server.stop(config.server.shutdown_grace_seconds)
        await runtime.stop()
        await http.cleanup()
        REGISTRY.unregister(collector)
        if tracing is not None:
            tracing.shutdown()
