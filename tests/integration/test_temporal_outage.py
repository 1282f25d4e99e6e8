"""The registry when Temporal goes away and comes back: readiness and writes fail fast (within
2 s) while it is gone; it serves again by itself when Temporal returns with its state, and
provisions itself again (namespace, registry workflow) when Temporal returns without it, as a
fresh start would, logging one line per change rather than a traceback per retry. A registry
workflow that exists but is closed is reported, never replaced."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from temporal_registry.v1 import (
    dispatch_pb2,
    dispatch_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    resources_pb2,
    system_pb2,
    system_pb2_grpc,
)
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from integration.stack import (
    Envoy,
    Registry,
    TemporalDevServer,
    authorized,
    wait_until,
)

pytestmark = pytest.mark.integration

FAIL_FAST = 2.0  # seconds: what /ready and a write may take to say Temporal is gone


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Stubs:
    def __init__(self, channel: grpc.Channel) -> None:
        self.system = system_pb2_grpc.SystemServiceStub(channel)
        self.registry = registry_pb2_grpc.RegistryServiceStub(authorized(channel))
        self.dispatch = dispatch_pb2_grpc.DispatchServiceStub(authorized(channel))

    def ready(self) -> bool:
        try:
            self.system.GetReadiness(system_pb2.GetReadinessRequest(), timeout=10)
        except grpc.RpcError:
            return False
        return True

    def register(self, worker_id: str, workflow_type: str = "outage.v1") -> None:
        self.registry.RegisterWorker(
            registry_pb2.RegisterWorkerRequest(
                worker_id=worker_id,
                task_queue="outage-q",
                ttl_seconds=600,
                workflows=[resources_pb2.Workflow(workflow_type=workflow_type)],
            ),
            timeout=30,
        )


def refusal(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str, float]:
    """The code and ErrorInfo reason a call fails with, and how long it took to fail."""
    began = time.monotonic()
    with pytest.raises(grpc.RpcError) as raised:
        call()
    took = time.monotonic() - began
    status = rpc_status.from_call(raised.value)  # type: ignore[arg-type]
    info = error_details_pb2.ErrorInfo()
    assert status is not None and status.details[0].Unpack(info)
    return raised.value.code(), info.reason, took  # type: ignore[attr-defined]


@contextmanager
def outage_stack(
    workdir: Path, namespace: str = "default"
) -> Iterator[tuple[TemporalDevServer, Registry, Stubs]]:
    """A dev server of the test's own (to stop and restart) and a registry on it."""
    home = workdir / unique("outage")
    home.mkdir()
    temporal = TemporalDevServer(home).start()
    registry = Registry(home, temporal.address, namespace=namespace).start()
    try:
        with grpc.insecure_channel(registry.grpc_target) as channel:
            stubs = Stubs(channel)
            wait_until(stubs.ready, 60, "registry ready", registry.process.popen)  # type: ignore[union-attr]
            yield temporal, registry, stubs
    finally:
        registry.stop()
        temporal.stop()


def registry_log(registry: Registry) -> str:
    assert registry.process is not None
    return registry.process.log()


def assert_no_traceback_per_retry(log: str) -> None:
    """The registry's own loggers never log a traceback for an outage (the SDK's orphaned RPC
    futures of a startup attempt the registry gave up on may, once per attempt)."""
    lines = log.splitlines()
    assert not [line for line in lines if '"logger": "registry.' in line and "Traceback" in line]
    assert sum("Traceback" in line for line in lines) <= 2


def test_ready_and_writes_fail_fast_while_temporal_is_gone_and_serve_again_when_it_is_back(
    workdir: Path,
) -> None:
    with outage_stack(workdir) as (temporal, registry, stubs):
        envoy = Envoy(registry.workdir, registry).start()
        try:
            stubs.register("before-outage")
            temporal.stop()

            began = time.monotonic()
            ready = httpx.get(f"{envoy.http_url}/ready", timeout=30)
            assert time.monotonic() - began < FAIL_FAST
            assert ready.status_code == 503 and ready.json()["code"] == 14

            code, reason, took = refusal(lambda: stubs.register("during-outage"))
            assert code == grpc.StatusCode.UNAVAILABLE and took < FAIL_FAST, (reason, took)
            start = dispatch_pb2.StartWorkflowRequest(workflow_type="outage.v1")
            code, reason, took = refusal(lambda: stubs.dispatch.StartWorkflow(start, timeout=30))
            assert code == grpc.StatusCode.UNAVAILABLE and took < FAIL_FAST, (reason, took)

            temporal.start()  # with its database: the same registry workflow
            wait_until(stubs.ready, 30, "ready again")
            stubs.register("after-outage")
            workers = stubs.registry.ListWorkers(registry_pb2.ListWorkersRequest(), timeout=10)
            assert {w.worker_id for w in workers.workers} == {"before-outage", "after-outage"}
        finally:
            envoy.stop()
    log = registry_log(registry)
    assert_no_traceback_per_retry(log)


@pytest.mark.parametrize("namespace", ["default", "registry-own-ns"])
def test_a_temporal_that_comes_back_empty_is_provisioned_again(
    workdir: Path, namespace: str
) -> None:
    with outage_stack(workdir, namespace) as (temporal, registry, stubs):
        stubs.register("lost-with-the-database")
        temporal.stop()
        (temporal.workdir / "temporal.db").unlink()
        time.sleep(5)  # gone for a while: several refresh periods fail
        temporal.start()  # empty: no registry workflow, and only the default namespace
        wait_until(stubs.ready, 30, "ready again without a restart")

        async def namespace_exists() -> bool:
            client = await Client.connect(temporal.address)
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace)
            )
            return True

        assert asyncio.run(namespace_exists())
        # A fresh registry: what the lost database held is gone, and writes work.
        workers = stubs.registry.ListWorkers(registry_pb2.ListWorkersRequest(), timeout=10)
        assert list(workers.workers) == []
        stubs.register("after-the-loss")
        status = stubs.registry.GetRegistryStatus(
            registry_pb2.GetRegistryStatusRequest(), timeout=10
        )
        assert status.worker_count == 1
    log = registry_log(registry)
    assert_no_traceback_per_retry(log)
    # One line per change of state, not one per retry: the tails following the registry's
    # workflows (one per shard, retrying all through the outage) said so once or twice.
    tail_lines = [line for line in log.splitlines() if "workflow histories" in line]
    assert 1 <= len(tail_lines) <= 4, tail_lines
    assert log.count("no longer exists in namespace") == 1


def test_a_closed_registry_workflow_is_reported_and_not_replaced(workdir: Path) -> None:
    with outage_stack(workdir) as (temporal, _, stubs):
        stubs.register("before-the-operator")

        async def terminate() -> str:
            client = await Client.connect(temporal.address)
            handle = client.get_workflow_handle("workflow-registry/root")
            await handle.terminate("operator says stop")
            return (await handle.describe()).run_id

        run_id = asyncio.run(terminate())
        code, reason, _ = refusal(
            lambda: stubs.system.GetReadiness(system_pb2.GetReadinessRequest(), timeout=10)
        )
        assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "REGISTRY_WORKFLOW_CLOSED")
        code, reason, took = refusal(lambda: stubs.register("after-the-operator"))
        assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "REGISTRY_WORKFLOW_CLOSED")
        assert took < FAIL_FAST
        time.sleep(4)  # several refresh periods: nothing replaces the closed run

        async def current_run() -> tuple[str, str]:
            client = await Client.connect(temporal.address)
            described = await client.get_workflow_handle("workflow-registry/root").describe()
            return described.run_id, described.status.name if described.status else ""

        assert asyncio.run(current_run()) == (run_id, "TERMINATED")
        assert not stubs.ready()


# A dev server that closes every client connection after 3 s (GOAWAY), and forcibly 1 s
# later: Temporal's frontend does so at 5 min (+/- 10 %) and 70 s by default.
SHORT_LIVED_CONNECTIONS = [
    "--dynamic-config-value",
    'frontend.keepAliveMaxConnectionAge="3s"',
    "--dynamic-config-value",
    'frontend.keepAliveMaxConnectionAgeGrace="1s"',
]


def test_calls_for_clients_survive_temporal_closing_old_connections(workdir: Path) -> None:
    """Temporal closes a connection that outlived its maximum age once its grace period ends,
    cancelling what is in flight on it then: long polls are, on the embedded worker's
    connection. Calls made for clients (here a registration, which lists the namespace's
    search attributes) go through a connection of their own, so none is cancelled."""
    home = workdir / unique("goaway")
    home.mkdir()
    temporal = TemporalDevServer(home, extra_args=SHORT_LIVED_CONNECTIONS).start()
    registry = Registry(home, temporal.address).start()
    try:
        with grpc.insecure_channel(registry.grpc_target) as channel:
            stubs = Stubs(channel)
            wait_until(stubs.ready, 60, "registry ready", registry.process.popen)  # type: ignore[union-attr]

            def request() -> registry_pb2.RegisterWorkerRequest:
                return registry_pb2.RegisterWorkerRequest(
                    worker_id=unique("steady"),
                    task_queue="goaway-q",
                    workflows=[
                        resources_pb2.Workflow(
                            workflow_type="goaway.v1",
                            search_attributes=[
                                resources_pb2.SearchAttribute(name="OrderId", type="Keyword")
                            ],
                        )
                    ],
                )

            # The first registration provisions OrderId: Temporal adds a search attribute
            # through its own system worker, whose polls these short-lived connections cut
            # too, so it may take seconds. The window below measures the calls that follow,
            # each of which lists the namespace's search attributes.
            stubs.registry.RegisterWorker(request(), timeout=90)
            failures = []
            deadline = time.monotonic() + 15  # three forced closes
            registrations = 0
            while time.monotonic() < deadline:
                try:
                    stubs.registry.RegisterWorker(request(), timeout=30)
                except grpc.RpcError as error:
                    failures.append(error.details())  # type: ignore[attr-defined]
                registrations += 1
                time.sleep(0.05)
    finally:
        registry.stop()
        temporal.stop()
    assert registrations > 30  # registrations all through the window: several forced closes
    assert failures == []
