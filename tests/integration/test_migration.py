"""Upgrading from 0.2: a registry created by 0.2 is one workflow (`TemporalRegistry`, at
`registry.workflow_id`) whose run input holds the whole catalogue. A 0.3 process that finds
it running, and no sharded registry, migrates it at startup: the catalogue, read from the
0.2 run's history without running its code, fills the new shards, then the 0.2 run is
terminated naming the new root. Two processes migrating at once lose and double nothing; a
catalogue too large for the configured layout is refused before anything is created.

The 0.2 run here is started with a real 0.2 state as its input (the run input of
tests/fixtures/registry-histories/run-2.json, with entries of every kind added in 0.2's shape)
on the registry's task queue, as a 0.2 deployment leaves it; migration reads that input (the
update results a 0.2 run also carries are read by tests/unit/test_legacy.py, from recorded
histories)."""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from temporal_registry.v1 import (
    dispatch_pb2,
    dispatch_pb2_grpc,
    system_pb2,
    system_pb2_grpc,
)
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

from integration.stack import Registry, TemporalDevServer, authorized, wait_until
from integration.test_export_import import served
from integration.test_registry_durability import own_registry_settings
from registry.catalog.temporal import RegistryTemporal
from registry.catalog.workflow import RegistryRoot, RegistryShard
from registry.runtime import RegistryRuntime
from registry.server.config import load_config
from registry.shared.model import SlugCounter, StoredWorker, StoredWorkflow, WorkflowSpec
from registry.shared.specs import MIN_SHARD_BYTES

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "registry-histories" / "run-2.json"
SCHEMA = {"type": "object", "properties": {"order_id": {"type": "string"}}}


def legacy_state(workers: int = 0) -> dict[str, Any]:
    """A 0.2 run input: the recorded one, its leases made current, plus a type with a schema
    and an owner, a worker with a principal and labels, a slug with remembered claims (and
    `workers` more workers)."""
    events = json.loads(FIXTURE.read_text())["events"]
    payload = events[0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    state: dict[str, Any] = json.loads(base64.b64decode(payload["data"]))
    catalog = state["catalog"]
    now = time.time()
    for worker in catalog["workers"].values():
        worker["lease_expires_epoch"] = now + 3600
        worker["ttl_seconds"] = 3600
    extra = [
        StoredWorker("billing-1", "billing-q", "prod", {"zone": "a"}, 3600, ["billing.v2"]),
        *(
            StoredWorker(f"fleet-{i:04d}", "fleet-q", "", {"pod": f"pod-{i:04d}"}, 3600, [])
            for i in range(workers)
        ),
    ]
    for worker in extra:
        worker.registered_epoch, worker.lease_expires_epoch = now, now + 3600
        worker.principal = "team-billing" if worker.worker_id == "billing-1" else ""
        catalog["workers"][worker.worker_id] = dataclasses.asdict(worker)
    billing = StoredWorkflow(
        WorkflowSpec("billing.v2", "billing-q", "2", "bills", SCHEMA, labels={"team": "b"}),
        enabled=False,
        disabled_reason="paused for the upgrade",
        update_time_epoch=now,
        owner="team-billing",
    )
    catalog["workflows"]["billing.v2"] = dataclasses.asdict(billing)
    claims = {"req-a": 6, "req-b": 7}
    catalog["slugs"]["orders"] = dataclasses.asdict(SlugCounter("orders", 7, now, claims))
    catalog["revision"] += 3
    return state


def names(settings: dict[str, Any]) -> tuple[str, str]:
    """The registry's workflow id and task queue."""
    return settings["registry"]["workflow_id"], settings["registry"]["task_queue"]


async def start_legacy(address: str, workflow_id: str, task_queue: str, state: Any) -> str:
    client = await Client.connect(address)
    handle = await client.start_workflow(
        "TemporalRegistry", state, id=workflow_id, task_queue=task_queue
    )
    return handle.result_run_id or ""


def expected_state(state: dict[str, Any]) -> dict[str, Any]:
    """What a registry serving the 0.2 catalogue answers (as `served` below reads it)."""
    catalog = state["catalog"]
    workflows = {}
    for key, stored in catalog["workflows"].items():
        spec = stored["spec"]
        workflow = {
            "workflowType": key,
            "taskQueue": spec["task_queue"],
            "version": spec["version"],
            "description": spec["description"],
            "inputSchema": spec["input_schema"],
            "labels": spec["labels"],
            "enabled": stored["enabled"],
            "disabledReason": stored["disabled_reason"],
            "source": stored["source"],
            "updateTimeEpoch": stored["update_time_epoch"],
            "owner": stored.get("owner", ""),
            # a 0.2 type's schema is its first version; the mode is the registry's default
            "schemaVersion": 1,
            "compatibilityMode": "COMPATIBILITY_MODE_BACKWARD",
        }
        workflows[key] = {k: v for k, v in workflow.items() if v not in ("", {}, [])}
    workers = {}
    for key, stored in catalog["workers"].items():
        worker = {
            "workerId": key,
            "taskQueue": stored["task_queue"],
            "ttlSeconds": stored["ttl_seconds"],
            "environment": stored["environment"],
            "labels": stored["labels"],
            "workflows": stored["workflows"],
            "leaseExpiresEpoch": stored["lease_expires_epoch"],
            "registeredEpoch": stored["registered_epoch"],
            "principal": stored.get("principal", ""),
        }
        workers[key] = {k: v for k, v in worker.items() if v not in ("", {}, [])}
    ids = {s: (v["counter"], v["last_claimed_epoch"]) for s, v in catalog["slugs"].items()}
    return {"workflows": workflows, "workers": workers, "ids": ids}


@contextmanager
def serving(registries: list[Registry]) -> Iterator[list[grpc.Channel]]:
    """Start every registry at once; channels to them once all are ready."""
    with ExitStack() as stack:
        for registry in registries:
            registry.start()
            stack.callback(registry.stop)
        channels = [stack.enter_context(grpc.insecure_channel(r.grpc_target)) for r in registries]
        for registry, channel in zip(registries, channels, strict=True):
            system = system_pb2_grpc.SystemServiceStub(channel)
            wait_until(
                lambda s=system: s.GetReadiness(system_pb2.GetReadinessRequest(), timeout=5),
                90,
                "registry ready",
                registry.process.popen if registry.process else None,
            )
        yield [authorized(channel) for channel in channels]


async def runs_of(address: str, workflow_id: str) -> list[tuple[str, list[str]]]:
    """(status, termination reasons) of every run of workflow_id."""
    client = await Client.connect(address)
    found = []
    async for execution in client.list_workflows(f'WorkflowId = "{workflow_id}"'):
        handle = client.get_workflow_handle(workflow_id, run_id=execution.run_id)
        reasons = [
            event.workflow_execution_terminated_event_attributes.reason
            async for event in handle.fetch_history_events()
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED
        ]
        found.append((execution.status.name if execution.status else "", reasons))
    return found


async def root_state(address: str, root_id: str) -> Any:
    client = await Client.connect(address)
    return await client.get_workflow_handle(root_id).query("describe")


def test_a_running_0_2_registry_is_migrated_at_startup(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    settings = own_registry_settings(shards={"types": 3, "workers": 4, "ids": 2})
    workflow_id, task_queue = (
        settings["registry"]["workflow_id"],
        settings["registry"]["task_queue"],
    )
    state = legacy_state()
    run_id = asyncio.run(start_legacy(temporal.address, workflow_id, task_queue, state))
    registry = Registry(workdir, temporal.address, overrides=settings)
    with serving([registry]) as (channel,):
        assert served(channel) == expected_state(state)
        # the remembered claims came along: a retry gets its counter, a new claim the next
        dispatch = dispatch_pb2_grpc.DispatchServiceStub(channel)
        claim = dispatch_pb2.ClaimWorkflowIdRequest(name="orders", request_id="req-a")
        assert dispatch.ClaimWorkflowId(claim, timeout=30).counter == 6
        fresh = dispatch_pb2.ClaimWorkflowIdRequest(name="orders", request_id="req-new")
        assert dispatch.ClaimWorkflowId(fresh, timeout=30).counter == 8
        root = asyncio.run(root_state(temporal.address, f"{workflow_id}/root"))
        assert root["migrated_from"] == {"workflow_id": workflow_id, "run_id": run_id}
        assert root["created_at"] == state["started_at_epoch"]  # when 0.2 created it
    legacy_runs = asyncio.run(runs_of(temporal.address, workflow_id))
    assert len(legacy_runs) == 1 and legacy_runs[0][0] == "TERMINATED"
    assert f"migrated to the sharded registry {workflow_id}/root" in legacy_runs[0][1][0]
    # A later start finds the root and nothing more to migrate.
    again = Registry(workdir, temporal.address, overrides=settings)
    with serving([again]) as (channel,):
        after = served(channel)
        assert set(after["workers"]) == set(expected_state(state)["workers"])
        assert after["ids"]["orders"][0] == 8
    assert len(asyncio.run(runs_of(temporal.address, f"{workflow_id}/workers/00"))) == 1


def test_two_processes_migrating_at_once_lose_and_double_nothing(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    settings = own_registry_settings(shards={"types": 2, "workers": 3, "ids": 2})
    workflow_id, task_queue = (
        settings["registry"]["workflow_id"],
        settings["registry"]["task_queue"],
    )
    state = legacy_state(workers=200)
    asyncio.run(start_legacy(temporal.address, workflow_id, task_queue, state))
    pair = [Registry(workdir, temporal.address, overrides=copy.deepcopy(settings)) for _ in "ab"]
    with serving(pair) as channels:
        expected = expected_state(state)
        assert [served(channel) for channel in channels] == [expected, expected]
    for kind, count in (("types", 2), ("workers", 3), ("ids", 2), ("root", 1)):
        for index in range(count):
            shard = f"{workflow_id}/root" if kind == "root" else f"{workflow_id}/{kind}/{index:02d}"
            runs = asyncio.run(runs_of(temporal.address, shard))
            assert len(runs) == 1, (shard, runs)  # started once, never replaced
    legacy_runs = asyncio.run(runs_of(temporal.address, workflow_id))
    assert [status for status, _ in legacy_runs] == ["TERMINATED"]
    assert len(legacy_runs[0][1]) == 1


def test_two_startups_interleaved_step_by_step_migrate_once(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    """The same race, forced: two startups (RegistryRuntime._open, each with its own client)
    run side by side in one loop, so both find no root and the 0.2 registry running, both
    create-or-join the root and both migrate; a real worker runs the registry's workflows."""
    settings = own_registry_settings(shards={"types": 2, "workers": 3, "ids": 2})
    workflow_id, task_queue = names(settings)
    state = legacy_state(workers=100)
    config = load_config(Registry(workdir, temporal.address, overrides=settings).write_config())

    async def race() -> list[tuple[Any, bool]]:
        await start_legacy(temporal.address, workflow_id, task_queue, state)
        client = await Client.connect(temporal.address)
        worker = Worker(client, task_queue=task_queue, workflows=[RegistryRoot, RegistryShard])
        async with worker:
            runtimes = [RegistryRuntime(config) for _ in "ab"]
            temporals = [
                RegistryTemporal(await Client.connect(temporal.address), task_queue, timedelta(5))
                for _ in runtimes
            ]
            finds = [t.find(f"{workflow_id}/root") for t in temporals]
            assert await asyncio.gather(*finds) == [None, None]  # neither sees a root
            stores = await asyncio.gather(
                *(r._open(t, t.client) for r, t in zip(runtimes, temporals, strict=True))
            )
            try:
                return [
                    (store.catalog, bool(store.root.state.get("migrated_from"))) for store in stores
                ]
            finally:
                for store in stores:
                    for task in store._spawned:
                        task.cancel()

    (first, marked_a), (second, marked_b) = asyncio.run(race())
    assert marked_a and marked_b
    expected = expected_state(state)
    for catalog in (first, second):
        assert set(catalog.workers) == set(expected["workers"])
        assert set(catalog.workflows) == set(expected["workflows"])
        assert {slug: c.counter for slug, c in catalog.slugs.items()} == {
            slug: counter for slug, (counter, _) in expected["ids"].items()
        }
    for kind, count in (("types", 2), ("workers", 3), ("ids", 2)):
        for index in range(count):
            runs = asyncio.run(runs_of(temporal.address, f"{workflow_id}/{kind}/{index:02d}"))
            assert len(runs) == 1
    legacy_runs = asyncio.run(runs_of(temporal.address, workflow_id))
    assert [(status, len(reasons)) for status, reasons in legacy_runs] == [("TERMINATED", 1)]


def test_a_0_2_catalogue_too_large_for_the_layout_is_refused_before_anything_is_created(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    settings = own_registry_settings(
        shard_max_bytes=MIN_SHARD_BYTES, shards={"types": 1, "workers": 1, "ids": 1}
    )
    workflow_id, task_queue = (
        settings["registry"]["workflow_id"],
        settings["registry"]["task_queue"],
    )
    asyncio.run(start_legacy(temporal.address, workflow_id, task_queue, legacy_state(2400)))
    registry = Registry(workdir, temporal.address, overrides=settings).start()
    try:
        with grpc.insecure_channel(registry.grpc_target) as channel:
            system = system_pb2_grpc.SystemServiceStub(channel)
            message: list[str] = []

            def refused() -> bool:
                try:
                    system.GetReadiness(system_pb2.GetReadinessRequest(), timeout=5)
                except grpc.RpcError as error:
                    message[:] = [error.details() or ""]
                return "cannot migrate the 0.2 registry" in (message[0] if message else "")

            wait_until(refused, 60, "readiness says why the migration is refused")
            assert f"registry shard {workflow_id}/workers/00 would hold" in message[0]
            assert "registry.shards.workers: " in message[0]
    finally:
        registry.stop()
    assert asyncio.run(runs_of(temporal.address, f"{workflow_id}/root")) == []
    assert [s for s, _ in asyncio.run(runs_of(temporal.address, workflow_id))] == ["RUNNING"]
