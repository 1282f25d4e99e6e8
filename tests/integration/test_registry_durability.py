"""Nothing acknowledged is lost and nothing wedges the registry workflow: hostile payloads
sent straight to every update, continue-as-new under concurrent writes, a killed registry
process, a restarted Temporal server, two replicas on one registry workflow, unknown workflow
types on the registry's task queue, and the 0.1.x shutdown route handing state over."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from temporal_registry.v1 import (
    registry_pb2,
    registry_pb2_grpc,
    resources_pb2,
    system_pb2,
    system_pb2_grpc,
)
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError

from integration.stack import Registry, TemporalDevServer, authorized, wait_until

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def own_registry_settings(**settings: Any) -> dict[str, Any]:
    """A registry workflow of the test's own (id and task queue) on the shared dev server."""
    name = unique("registry")
    return {"registry": {"workflow_id": name, "task_queue": name, **settings}}


@contextmanager
def running(registry: Registry) -> Iterator[registry_pb2_grpc.RegistryServiceStub]:
    registry.start()
    try:
        with grpc.insecure_channel(registry.grpc_target) as channel:
            system = system_pb2_grpc.SystemServiceStub(channel)
            wait_until(
                lambda: system.GetReadiness(system_pb2.GetReadinessRequest(), timeout=5),
                60,
                "registry ready",
                registry.process.popen if registry.process else None,
            )
            yield registry_pb2_grpc.RegistryServiceStub(authorized(channel))
    finally:
        registry.stop()


def register(
    stub: registry_pb2_grpc.RegistryServiceStub, worker_id: str, *types: str, queue: str = "q"
) -> registry_pb2.RegisterWorkerResponse:
    request = registry_pb2.RegisterWorkerRequest(
        worker_id=worker_id,
        task_queue=queue,
        ttl_seconds=600,
        workflows=[resources_pb2.Workflow(workflow_type=t) for t in types],
    )
    response: registry_pb2.RegisterWorkerResponse = stub.RegisterWorker(request, timeout=60)
    return response


def create(stub: registry_pb2_grpc.RegistryServiceStub, workflow_type: str) -> None:
    stub.CreateWorkflow(
        registry_pb2.CreateWorkflowRequest(
            workflow=resources_pb2.Workflow(workflow_type=workflow_type, task_queue="manual")
        ),
        timeout=60,
    )


def worker_ids(stub: registry_pb2_grpc.RegistryServiceStub) -> set[str]:
    listed = stub.ListWorkers(registry_pb2.ListWorkersRequest(page_size=1000), timeout=10)
    return {worker.worker_id for worker in listed.workers}


def workflow_types(stub: registry_pb2_grpc.RegistryServiceStub) -> set[str]:
    listed = stub.ListWorkflows(registry_pb2.ListWorkflowsRequest(page_size=1000), timeout=10)
    return {workflow.workflow_type for workflow in listed.workflows}


def status(stub: registry_pb2_grpc.RegistryServiceStub) -> registry_pb2.GetRegistryStatusResponse:
    response: registry_pb2.GetRegistryStatusResponse = stub.GetRegistryStatus(
        registry_pb2.GetRegistryStatusRequest(), timeout=10
    )
    return response


def in_parallel(calls: list[Callable[[], object]], threads: int = 24) -> None:
    """Run every call; any failure fails the test."""
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()


async def failed_workflow_tasks(client: Client, workflow_id: str) -> list[str]:
    """Messages of every failed workflow task in every run of `workflow_id`."""
    failures = []
    async for execution in client.list_workflows(f'WorkflowId = "{workflow_id}"'):
        handle = client.get_workflow_handle(workflow_id, run_id=execution.run_id)
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failures.append(event.workflow_task_failed_event_attributes.failure.message)
    return failures


# --- poison pills ---------------------------------------------------------------------------

# Operations a shard's rules must refuse one by one, whatever the kind: malformed fields,
# hostile values, the caller's principal and admin flag forged.
HOSTILE_OPS: list[dict[str, Any]] = [
    {},
    {"op": 5},
    {"op": "register"},
    {"op": "register", "key": 5, "worker": {}},
    {"op": "register", "key": "w", "worker": "all of it"},
    {"op": "register", "key": "w", "worker": {"task_queue": ["q"], "ttl": "long"}},
    {"op": "register", "key": "w", "worker": {"task_queue": "q", "ttl": 10**30}},
    {"op": "register", "key": "w", "worker": {"task_queue": "q", "ttl": 60, "workflows": "x"}},
    {"op": "register", "key": "w", "worker": {"task_queue": "q"}, "principal": 5},
    {"op": "register", "key": "w", "worker": {"task_queue": "q"}, "admin": "yes"},
    {"op": "unregister", "key": ["w"]},
    {"op": "renew", "seen": {"w": "soon"}},
    {"op": "renew", "seen": {"w": float("nan")}},
    {"op": "renew", "seen": [["w", 1]]},
    {"op": "expire", "workers": "w", "grace": -1},
    {"op": "expire", "workers": ["w"], "grace": float("nan")},
    {"op": "declare", "key": "t", "spec": None},
    {"op": "declare", "key": "t", "spec": {"labels": [1]}, "schema": []},
    {"op": "put", "key": "", "spec": {}, "enabled": "yes"},
    {"op": "put", "key": "t", "spec": {"task_queue": 3}, "owner": 7},
    {"op": "delete", "key": None, "allow_missing": "maybe"},
    {"op": "toggle", "key": "t", "enabled": "off"},
    {"op": "claim", "slug": "Not A Slug", "at_least": -1},
    {"op": "claim", "slug": "ok", "request_id": "x" * 300, "max_slugs": 0},
    {"op": "claim", "slug": "ok", "ttl": float("nan")},
    {"op": "reset", "slug": 5},
    {"op": "no-such-operation", "key": "k"},
]
HOSTILE_BATCHES: list[Any] = [None, 5, "text", [1, 2], {}, {"ops": "all"}, {"ops": []}]


def test_hostile_operations_sent_straight_to_every_shard_never_wedge_the_registry(
    registry: Registry, temporal: TemporalDevServer, http: httpx.Client
) -> None:
    """Bypassing the server's own checks: malformed batches are refused by the update's
    validator, hostile operations each get a refused outcome; no workflow task fails, no
    write is applied, and the registry keeps working."""
    worker, kind = unique("survivor"), unique("survivor")
    http.post(
        "/registry/workers",
        json={"worker_id": worker, "task_queue": "q", "workflows": [{"workflow_type": kind}]},
    ).raise_for_status()
    shards = [f"workflow-registry/{k}/00" for k in ("types", "workers", "ids")]

    async def attack() -> tuple[list[str], list[str], list[str]]:
        client = await Client.connect(temporal.address)
        applied, accepted_batches, failed = [], [], []
        for shard in shards:
            handle = client.get_workflow_handle(shard)
            for batch in HOSTILE_BATCHES:
                try:
                    await asyncio.wait_for(handle.execute_update("apply", batch), 20)
                    accepted_batches.append(f"{shard} {batch!r}")
                except WorkflowUpdateFailedError:
                    pass
            ops = [{"id": f"hostile-{i}", **op} for i, op in enumerate(HOSTILE_OPS)]
            result = await asyncio.wait_for(handle.execute_update("apply", {"ops": ops}), 20)
            applied += [f"{shard} {o['id']}" for o in result["outcomes"] if o["ok"]]
            for reason in (None, 5, "", "x" * 600):
                with contextlib.suppress(WorkflowUpdateFailedError):
                    await asyncio.wait_for(handle.execute_update("hand_over", reason), 20)
                    accepted_batches.append(f"{shard} hand_over {reason!r}")
            failed += await failed_workflow_tasks(client, shard)
        root = client.get_workflow_handle("workflow-registry/root")
        for start in (None, {"process_id": -1, "host": ""}, {"process_id": 1}):
            with contextlib.suppress(WorkflowUpdateFailedError):
                await asyncio.wait_for(root.execute_update("record_service_start", start), 20)
                accepted_batches.append(f"root {start!r}")
        failed += await failed_workflow_tasks(client, "workflow-registry/root")
        return applied, accepted_batches, failed

    applied, accepted, failed_tasks = asyncio.run(attack())
    assert failed_tasks == []
    assert accepted == [] and applied == []
    # Still serving, with its state intact, and writable.
    assert http.get(f"/registry/workers/{worker}").status_code == 200
    assert http.get(f"/registry/workflows/{kind}").json()["workflow_type"] == kind
    again = http.post(
        "/registry/workers",
        json={"worker_id": worker, "task_queue": "q2", "workflows": [{"workflow_type": kind}]},
    )
    assert again.status_code == 200, again.text


def test_unknown_workflow_types_on_the_registry_task_queue_fail(
    registry: Registry, temporal: TemporalDevServer
) -> None:
    """The registry workflow is not dynamic: anything else started on its task queue fails
    its workflow task instead of running as an empty registry."""

    async def start_impostor() -> list[str]:
        client = await Client.connect(temporal.address)
        workflow_id = unique("impostor")
        handle = await client.start_workflow(
            "NotTheRegistry", id=workflow_id, task_queue="temporal-registry"
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                failures = await failed_workflow_tasks(client, workflow_id)
                if failures:
                    return failures
                await asyncio.sleep(0.2)
            return []
        finally:
            await handle.terminate("test over")

    failures = asyncio.run(start_impostor())
    assert failures, "the impostor's workflow task should fail"
    assert "NotTheRegistry" in failures[0]


# --- continue-as-new, restarts, replicas ----------------------------------------------------


def test_concurrent_writes_through_continue_as_new_cycles_lose_nothing(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    """300 registrations and 40 operator writes, 24 at a time, while every registry workflow
    hands its run over three times (as continue-as-new does), then a stopped process: a fresh
    process finds every acknowledged write, and no workflow task ever failed."""
    layout = {"types": 1, "workers": 2, "ids": 1}
    overrides = own_registry_settings(shards=layout)
    registry_id = overrides["registry"]["workflow_id"]
    workflow_ids = [f"{registry_id}/root"] + [
        f"{registry_id}/{kind}/{i:02d}" for kind, n in layout.items() for i in range(n)
    ]
    workers = [unique("burst") for _ in range(300)]
    types = [unique("type") for _ in range(30)]
    manual = [unique("manual") for _ in range(40)]
    with running(Registry(workdir, temporal.address, overrides=overrides)) as stub:
        calls: list[Callable[[], object]] = [
            lambda w=w, i=i: register(stub, w, types[i % 30], types[(i + 1) % 30])
            for i, w in enumerate(workers)
        ]
        calls += [lambda m=m: create(stub, m) for m in manual]
        for at in (50, 150, 250):  # handovers in the middle of the writes
            calls.insert(
                at,
                lambda: stub.ShutdownRegistry(
                    registry_pb2.ShutdownRegistryRequest(reason="under load"), timeout=60
                ),
            )
        in_parallel(calls)
        assert status(stub).continue_as_new_count >= 3 * len(workflow_ids)
        assert worker_ids(stub) >= set(workers)
    # A new process (the old one was stopped) reads everything back from Temporal.
    restarted = Registry(workdir, temporal.address, overrides=overrides)
    with running(restarted) as stub:
        assert worker_ids(stub) == set(workers)
        assert workflow_types(stub) == set(types) | set(manual)
        assert status(stub).revision >= 340

        async def failures() -> list[str]:
            client = await Client.connect(temporal.address)
            return [f for wid in workflow_ids for f in await failed_workflow_tasks(client, wid)]

        assert asyncio.run(failures()) == []


def test_a_killed_registry_process_loses_nothing_acknowledged(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    overrides = own_registry_settings()
    first = Registry(workdir, temporal.address, overrides=overrides)
    with running(first) as stub:
        acknowledged = [unique("kept") for _ in range(20)]
        in_parallel([lambda w=w: register(stub, w, "kept-type") for w in acknowledged])
        # Connections on both ports, so the killed process leaves them in TIME-WAIT.
        httpx.get(f"http://127.0.0.1:{first.http_port}/metrics", timeout=10)
        first.stop(signal.SIGKILL)
    # Restarted at once on the same ports, as a supervisor would: TIME-WAIT is no obstacle.
    again = Registry(
        workdir,
        temporal.address,
        overrides=overrides,
        grpc_port=first.grpc_port,
        http_port=first.http_port,
    )
    with running(again) as stub:
        assert worker_ids(stub) == set(acknowledged)


def test_a_restarted_temporal_server_loses_nothing_acknowledged(workdir: Path) -> None:
    own = workdir / unique("temporal")
    own.mkdir()
    temporal = TemporalDevServer(own).start()
    registry = Registry(own, temporal.address, overrides={"registry": {"query_timeout_seconds": 2}})
    try:
        with running(registry) as stub:
            before = [unique("before") for _ in range(10)]
            in_parallel([lambda w=w: register(stub, w, "survives") for w in before])
            assert temporal.process is not None
            temporal.process.stop(signal.SIGKILL)  # no chance to flush anything
            with pytest.raises(grpc.RpcError) as raised:
                register(stub, unique("during"), "survives")
            assert raised.value.code() in (  # type: ignore[attr-defined]
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.DEADLINE_EXCEEDED,
            )
            temporal.start()  # same port, same database file
            wait_until(lambda: worker_ids(stub) >= set(before), 60, "registry back")
            after = unique("after")
            register(stub, after, "survives")
            assert worker_ids(stub) == {*before, after}
    finally:
        temporal.stop()


def test_two_replicas_on_one_registry_workflow_stay_consistent(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    overrides = own_registry_settings()
    with (
        running(Registry(workdir, temporal.address, overrides=overrides)) as a,
        running(Registry(workdir, temporal.address, overrides=overrides)) as b,
    ):
        # A worker registered through A may heartbeat through B at once.
        worker = unique("roaming")
        register(a, worker, "shared-type")
        b.Heartbeat(registry_pb2.HeartbeatRequest(worker_id=worker), timeout=10)

        through_a = [unique("via-a") for _ in range(40)]
        through_b = [unique("via-b") for _ in range(40)]
        in_parallel(
            [lambda w=w: register(a, w, "shared-type") for w in through_a]
            + [lambda w=w: register(b, w, "shared-type") for w in through_b]
        )
        expected = {worker, *through_a, *through_b}
        wait_until(lambda: worker_ids(a) == worker_ids(b) == expected, 5, "replicas agree")
        assert status(a).revision == status(b).revision

        # A delete through B is seen by A within the refresh interval.
        b.UnregisterWorker(registry_pb2.UnregisterWorkerRequest(worker_id=worker), timeout=10)
        wait_until(lambda: worker not in worker_ids(a), 3, "A sees the delete")


def test_shutdown_hands_the_state_to_the_next_run(http: httpx.Client) -> None:
    kind = unique("handover")
    http.post("/registry/workflows", json={"workflow_type": kind, "task_queue": "q"})
    before = http.get("/registry/status").json()

    response = http.post("/registry/shutdown", json={"reason": "test"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "handed_over"
    assert body["previous_run_id"] == before["registry_run_id"]
    assert body["run_id"] != before["registry_run_id"]

    after = http.get("/registry/status").json()
    assert after["registry_run_id"] == body["run_id"]
    # Every registry workflow handed over: the root and each shard.
    handed_over = len(before["shards"]) + 1
    assert after["continue_as_new_count"] == before["continue_as_new_count"] + handed_over
    assert after["workflow_count"] == before["workflow_count"]
    assert http.get(f"/registry/workflows/{kind}").status_code == 200
    assert http.get("/ready").status_code == 200


def test_shutdown_drains_reporting_not_serving_before_it_stops_serving(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    """With server.shutdown_drain_seconds, SIGTERM first turns gRPC health to NOT_SERVING
    while calls still succeed, so a balancer moves traffic away before the listener closes."""
    registry = Registry(
        workdir,
        temporal.address,
        overrides={**own_registry_settings(), "server": {"shutdown_drain_seconds": 3}},
    )
    with running(registry) as stub, grpc.insecure_channel(registry.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        check = health_pb2.HealthCheckRequest(service="")
        assert health.Check(check, timeout=5).status == health_pb2.HealthCheckResponse.SERVING
        assert registry.process is not None
        registry.process.popen.send_signal(signal.SIGTERM)
        wait_until(
            lambda: (
                health.Check(check, timeout=1).status == health_pb2.HealthCheckResponse.NOT_SERVING
            ),
            2,
            "NOT_SERVING after SIGTERM",
        )
        status = stub.GetRegistryStatus(registry_pb2.GetRegistryStatusRequest(), timeout=5)
        assert status.registry_service_process_id == registry.process.popen.pid  # still serving
        assert registry.process.popen.poll() is None
        assert registry.process.popen.wait(15) == 0
