"""Connecting to Temporal (TLS, mTLS, API key) and making sure the namespace exists."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Sequence
from pathlib import Path

from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    RegisterNamespaceRequest,
)
from temporalio.client import Client, Interceptor
from temporalio.service import RetryConfig, RPCError, RPCStatusCode, TLSConfig

from registry.server.config import TemporalConfig

log = logging.getLogger("registry.temporal")

# How long a call on behalf of a client keeps retrying while Temporal does not answer (the
# SDK's default, 10 s, left /ready and every write hanging that long once Temporal was gone).
FAIL_FAST_SECONDS = 1.5
FAIL_FAST_RETRIES = RetryConfig(max_elapsed_time_millis=int(FAIL_FAST_SECONDS * 1000))


async def connect(
    config: TemporalConfig, interceptors: Sequence[Interceptor] = (), *, fail_fast: bool = False
) -> Client:
    """Open a client on the configured namespace. Certificate files are read off
    the event loop. Interceptors that are also worker interceptors (tracing) apply to
    the workers built on the client too.

    fail_fast: calls give up retrying an unreachable Temporal after FAIL_FAST_SECONDS, for
    the calls made on behalf of a client, who should hear at once that Temporal is gone (the
    embedded worker keeps the SDK's patience, so it rides out a short outage)."""
    return await Client.connect(
        config.address,
        namespace=config.namespace,
        tls=await tls_options(config),
        api_key=config.api_key,
        # One identity for every call the registry makes (workers, updates, starts,
        # schedules), visible in Temporal's history and UI.
        identity=f"temporal-registry@{socket.gethostname()}:{os.getpid()}",
        interceptors=interceptors,
        retry_config=FAIL_FAST_RETRIES if fail_fast else None,
    )


async def tls_options(config: TemporalConfig) -> TLSConfig | bool:
    tls = config.tls
    if not tls.enabled:
        return False

    async def read(path: Path | None) -> bytes | None:
        return None if path is None else await asyncio.to_thread(path.read_bytes)

    return TLSConfig(
        server_root_ca_cert=await read(tls.server_ca_path),
        client_cert=await read(tls.client_cert_path),
        client_private_key=await read(tls.client_key_path),
        domain=tls.server_name,
    )


async def ensure_namespace(client: Client, namespace: str, retention_days: int) -> bool:
    """Register the namespace when it is missing. Returns True when it was created.

    A freshly registered namespace takes a moment to reach every frontend's
    cache, so wait until it describes."""
    if await _namespace_exists(client, namespace):
        return False
    try:
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace=namespace,
                workflow_execution_retention_period=Duration(seconds=retention_days * 86_400),
                description="created by temporal-registry",
            )
        )
        log.info("registered namespace %s (retention %d days)", namespace, retention_days)
    except RPCError as error:
        if error.status != RPCStatusCode.ALREADY_EXISTS:  # another replica won the race
            raise
    for _ in range(100):
        if await _namespace_exists(client, namespace):
            return True
        await asyncio.sleep(0.1)
    raise RuntimeError(f"namespace {namespace} was registered but does not describe after 10 s")


async def _namespace_exists(client: Client, namespace: str) -> bool:
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace)
        )
        return True
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
