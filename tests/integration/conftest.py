"""Session fixtures: one Temporal dev server, one registry and one Envoy for the
whole integration suite, on free loopback ports."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client

from integration.stack import (
    ADMIN_HEADERS,
    Envoy,
    Registry,
    TemporalDevServer,
    authorized,
    start_echo_worker,
    wait_ready,
)

ECHO_QUEUE = "echo-q"


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def temporal(workdir: Path) -> Iterator[TemporalDevServer]:
    server = TemporalDevServer(workdir).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def registry(workdir: Path, temporal: TemporalDevServer) -> Iterator[Registry]:
    process = Registry(workdir, temporal.address).start()
    process.wait_ready()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def envoy(workdir: Path, registry: Registry) -> Iterator[Envoy]:
    gateway = Envoy(workdir, registry).start()
    wait_ready(gateway.http_url)
    yield gateway
    gateway.stop()


@pytest.fixture(scope="session")
def http(envoy: Envoy) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=envoy.http_url, timeout=10, headers=ADMIN_HEADERS) as client:
        yield client


@pytest.fixture(scope="session")
def gateway_channel(envoy: Envoy) -> Iterator[grpc.Channel]:
    """Native gRPC through Envoy's port."""
    with grpc.insecure_channel(envoy.grpc_target) as channel:
        yield authorized(channel)


@pytest.fixture(scope="session")
def registry_channel(registry: Registry) -> Iterator[grpc.Channel]:
    """Native gRPC straight to the registry."""
    with grpc.insecure_channel(registry.grpc_target) as channel:
        yield authorized(channel)


@pytest.fixture(scope="session")
def echo(workdir: Path, temporal: TemporalDevServer) -> Iterator[None]:
    """A real worker polling ECHO_QUEUE, and the OrderId search attribute in the namespace."""

    async def add_search_attribute() -> None:
        client = await Client.connect(temporal.address)
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace="default",
                search_attributes={"OrderId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
            )
        )

    asyncio.run(add_search_attribute())
    worker = start_echo_worker(workdir, temporal.address, ECHO_QUEUE)
    yield
    worker.stop()
