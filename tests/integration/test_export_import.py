"""`temporal-registry export` and `import` against a real dev server and real registry
processes: every entry survives a round trip into the same namespace (while a registry
process keeps serving, and reloads the imported state without a restart) and into another
namespace with another shard layout (a running process there opens the registry again in
the new layout); an import that does not fit, or that would overwrite a registry without
--replace, changes nothing; a terminated shard recovers with the command the refusal names,
and a registry terminated whole comes back from an export read from its history."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from temporal_registry.v1 import (
    dispatch_pb2,
    dispatch_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    resources_pb2,
    system_pb2,
    system_pb2_grpc,
)
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from integration.stack import ENV, Registry, TemporalDevServer, authorized, wait_until
from integration.test_registry_durability import own_registry_settings, running, unique
from registry.devstack.binaries import venv_binary
from registry.shared.specs import MIN_SHARD_BYTES

pytestmark = pytest.mark.integration

SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
    "required": ["order_id"],
}
OTHER_SCHEMA = {"type": "object", "properties": {"invoice": {"type": "string"}}}


def cli(registry: Registry, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        registry.command(*args), env=ENV, capture_output=True, text=True, timeout=120
    )


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(value, struct_pb2.Struct())


def populate(channel: grpc.Channel, tag: str) -> None:
    """Workers declaring types with schemas, an operator's type (disabled), readable ids
    claimed with and without request ids."""
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    dispatch = dispatch_pb2_grpc.DispatchServiceStub(channel)
    for i in range(6):
        registry.RegisterWorker(
            registry_pb2.RegisterWorkerRequest(
                worker_id=f"{tag}-worker-{i}",
                task_queue=f"{tag}-q{i % 2}",
                ttl_seconds=3600,
                labels={"zone": f"z{i % 3}"},
                workflows=[
                    resources_pb2.Workflow(
                        workflow_type=f"{tag}.orders.v{i % 3}",
                        input_schema=struct(SCHEMA),
                        description=f"orders {i % 3}",
                    )
                ],
            ),
            timeout=60,
        )
    registry.CreateWorkflow(
        registry_pb2.CreateWorkflowRequest(
            workflow=resources_pb2.Workflow(
                workflow_type=f"{tag}.billing.v1",
                task_queue="manual",
                input_schema=struct(OTHER_SCHEMA),
                labels={"team": "billing"},
            )
        ),
        timeout=60,
    )
    registry.DisableWorkflow(
        registry_pb2.DisableWorkflowRequest(
            workflow_type=f"{tag}.billing.v1", reason="exported while disabled"
        ),
        timeout=60,
    )
    for name, request_id in [("Order Intake", "req-1"), ("Order Intake", "req-2"), ("billing", "")]:
        dispatch.ClaimWorkflowId(
            dispatch_pb2.ClaimWorkflowIdRequest(
                name=f"{tag} {name}", request_id=request_id and f"{tag}-{request_id}"
            ),
            timeout=60,
        )


def served(channel: grpc.Channel) -> dict[str, Any]:
    """What a registry process serves, without what varies with time (health, last seen) or
    is empty (a 0.2 registry did not store every default)."""
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    dispatch = dispatch_pb2_grpc.DispatchServiceStub(channel)
    workflows = registry.ListWorkflows(
        registry_pb2.ListWorkflowsRequest(page_size=1000), timeout=10
    )
    workers = registry.ListWorkers(registry_pb2.ListWorkersRequest(page_size=1000), timeout=10)
    ids = dispatch.ListWorkflowIds(dispatch_pb2.ListWorkflowIdsRequest(page_size=1000), timeout=10)
    varying = {"workers", "healthy", "healthReasons", "lastSeenEpoch", "servingSchemaVersions"}

    def fields(message: Any) -> dict[str, Any]:
        found = json_format.MessageToDict(message).items()
        return {k: v for k, v in found if k not in varying and v not in ("", {}, [])}

    return {
        "workflows": {w.workflow_type: fields(w) for w in workflows.workflows},
        "workers": {w.worker_id: fields(w) for w in workers.workers},
        "ids": {c.slug: (c.counter, c.last_claimed_epoch) for c in ids.slug_counters},
    }


def serves(channel: grpc.Channel, expected: dict[str, Any], timeout: float = 30) -> None:
    seen: list[dict[str, Any]] = []

    def same() -> bool:
        seen[:] = [served(channel)]
        return seen[0] == expected

    try:
        wait_until(same, timeout, "the registry serves the expected state")
    except TimeoutError:
        differences = {
            part: {
                key: (seen[0][part].get(key), value)
                for key, value in {**seen[0][part], **expected[part]}.items()
                if seen[0][part].get(key) != expected[part].get(key)
            }
            for part in expected
        }
        raise AssertionError(f"served (left), expected (right): {differences}") from None


def read_export(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


async def terminate_reasons(address: str, namespace: str, workflow_id: str) -> list[str]:
    client = await Client.connect(address, namespace=namespace)
    reasons = []
    async for execution in client.list_workflows(f'WorkflowId = "{workflow_id}"'):
        handle = client.get_workflow_handle(workflow_id, run_id=execution.run_id)
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
                reasons.append(event.workflow_execution_terminated_event_attributes.reason)
    return reasons


def test_round_trip_into_the_same_namespace_while_a_registry_serves(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    settings = own_registry_settings(shards={"types": 4, "workers": 4, "ids": 2})
    registry = Registry(workdir, temporal.address, overrides=settings)
    workflow_id = settings["registry"]["workflow_id"]
    backup = workdir / f"{workflow_id}.json"
    with running(registry), grpc.insecure_channel(registry.grpc_target) as raw:
        channel = authorized(raw)
        populate(channel, "rt")
        before = served(channel)
        exported = cli(registry, "export", "-o", str(backup))
        assert exported.returncode == 0, exported.stderr
        assert "6 workers" in exported.stderr and "4 workflow types" in exported.stderr
        data = read_export(backup)
        assert data["format"] == "temporal-registry-export" and data["registry"] == workflow_id
        assert data["layout"] == {"types": 4, "workers": 4, "ids": 2}
        assert set(data["entries"]["workers"]) == {f"rt-worker-{i}" for i in range(6)}
        assert set(data["entries"]["types"]) == {f"rt.orders.v{i}" for i in range(3)} | {
            "rt.billing.v1"
        }
        canonical = {json.dumps(blob, sort_keys=True) for blob in data["blobs"].values()}
        assert len(data["blobs"]) == 2  # three types share one schema: stored once
        assert canonical == {json.dumps(s, sort_keys=True) for s in (SCHEMA, OTHER_SCHEMA)}
        ids = dict(data["entries"]["ids"])
        assert ids["r:rt-req-1"]["counter"] == 1 and ids["r:rt-req-2"]["counter"] == 2
        assert set(data["sources"].values()) == {"query"}

        # Changes after the export: the import must undo them, in this very process.
        registry_stub = registry_pb2_grpc.RegistryServiceStub(channel)
        registry_stub.DeleteWorkflow(
            registry_pb2.DeleteWorkflowRequest(workflow_type="rt.billing.v1"), timeout=60
        )
        populate(channel, "later")
        assert served(channel) != before

        refused = cli(registry, "import", str(backup))
        assert refused.returncode == 1
        assert f"registry {workflow_id} already exists in namespace default" in refused.stderr
        assert "its root is running, 11 of its 11 workflows run" in refused.stderr
        assert "import --replace" in refused.stderr and "Nothing was changed" in refused.stderr
        assert "later-worker-0" in {w for w in served(channel)["workers"]}

        imported = cli(registry, "import", str(backup), "--replace", "--reason", "round trip")
        assert imported.returncode == 0, imported.stderr
        serves(channel, before)  # reloaded without a restart

        again = workdir / f"{workflow_id}-again.json"
        assert cli(registry, "export", "-o", str(again)).returncode == 0
        second = read_export(again)
        assert second["entries"] == data["entries"]
        assert second["blobs"] == data["blobs"]
        assert second["root"]["created_at"] == data["root"]["created_at"]
        assert second["root"]["imported"]["from_registry"] == workflow_id

        # It keeps taking writes, and a retried claim still gets its first counter.
        populate(channel, "after")
        dispatch = dispatch_pb2_grpc.DispatchServiceStub(channel)
        retried = dispatch.ClaimWorkflowId(
            dispatch_pb2.ClaimWorkflowIdRequest(name="rt Order Intake", request_id="rt-req-1"),
            timeout=60,
        )
        assert retried.counter == 1

    reasons = asyncio.run(terminate_reasons(temporal.address, "default", f"{workflow_id}/root"))
    assert len(reasons) == 1 and "import --replace" in reasons[0] and "round trip" in reasons[0]


def test_into_another_namespace_with_another_layout_a_running_process_follows(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    source = Registry(workdir, temporal.address, overrides=own_registry_settings())
    backup = workdir / f"{uuid.uuid4().hex[:8]}.json"
    with running(source), grpc.insecure_channel(source.grpc_target) as raw:
        populate(authorized(raw), "ns")
        expected = served(authorized(raw))
        assert cli(source, "export", "-o", str(backup)).returncode == 0
    # No process serves it now: every workflow is read from its history, to the same entries.
    unserved = workdir / f"{backup.stem}-unserved.json"
    assert cli(source, "export", "-o", str(unserved)).returncode == 0
    queried, replayed = read_export(backup), read_export(unserved)
    assert set(queried["sources"].values()) == {"query"}
    assert set(replayed["sources"].values()) == {"history"}
    assert replayed["entries"] == queried["entries"] and replayed["blobs"] == queried["blobs"]
    namespace = unique("moved")
    layout = {"types": 3, "workers": 5, "ids": 3}
    target_settings = own_registry_settings()
    # A registry already runs there, with the default layout: the import replaces it whole.
    target = Registry(workdir, temporal.address, namespace=namespace, overrides=target_settings)
    importer = Registry(
        workdir,
        temporal.address,
        namespace=namespace,
        overrides={"registry": {**target_settings["registry"], "shards": layout}},
    )
    with running(target), grpc.insecure_channel(target.grpc_target) as raw:
        channel = authorized(raw)
        assert served(channel)["workers"] == {}
        imported = cli(importer, "import", str(backup), "--replace")
        assert imported.returncode == 0, imported.stderr
        assert "3 types, 5 workers, 3 ids" in imported.stderr
        serves(channel, expected, timeout=60)  # opened again in the imported layout
        assert target.process is not None
        wait_until(lambda: "another layout" in target.process.log(), 10, "reopened")
        moved = workdir / f"{namespace}.json"
        assert cli(importer, "export", "-o", str(moved)).returncode == 0
    original, copy = read_export(backup), read_export(moved)
    assert copy["layout"] == layout and copy["namespace"] == namespace
    assert copy["entries"] == original["entries"] and copy["blobs"] == original["blobs"]


def test_an_export_that_does_not_fit_is_refused_before_anything_changes(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    registry = Registry(
        workdir,
        temporal.address,
        overrides=own_registry_settings(
            shard_max_bytes=MIN_SHARD_BYTES, shards={"types": 1, "workers": 1, "ids": 1}
        ),
    )
    workers = {
        f"worker-{i:04d}": {
            "task_queue": "q",
            "environment": "",
            "labels": {"zone": "somewhere-far-away"},
            "ttl": 60,
            "workflows": ["orders.v1"],
            "registered": 1.0,
            "expires": 2.0,
            "principal": "",
        }
        for i in range(2400)
    }
    export = {
        "format": "temporal-registry-export",
        "version": 1,
        "registry": "elsewhere",
        "namespace": "default",
        "exported_at_epoch": time.time(),
        "layout": {"types": 1, "workers": 1, "ids": 1},
        "root": {"created_at": 1.0},
        "entries": {"types": {}, "workers": workers, "ids": []},
        "blobs": {},
    }
    path = workdir / "too-big.json"
    path.write_text(json.dumps(export))
    refused = cli(registry, "import", str(path))
    assert refused.returncode == 1
    workflow_id = registry.config()["registry"]["workflow_id"]
    assert f"registry shard {workflow_id}/workers/00 would hold" in refused.stderr
    fits = "2400 workers do not fit in 1 shards: registry.shards.workers: 2 would hold"
    assert fits in refused.stderr
    assert "Nothing was changed" in refused.stderr

    async def nothing_started() -> bool:
        client = await Client.connect(temporal.address, namespace=registry.namespace)
        found = [e async for e in client.list_workflows(f'WorkflowId = "{workflow_id}/root"')]
        return not found

    assert asyncio.run(nothing_started())


def test_a_terminated_shard_recovers_with_the_command_the_refusal_names(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    settings = own_registry_settings(shards={"types": 2, "workers": 2, "ids": 1})
    registry = Registry(workdir, temporal.address, overrides=settings)
    workflow_id = settings["registry"]["workflow_id"]
    with running(registry), grpc.insecure_channel(registry.grpc_target) as raw:
        channel = authorized(raw)
        populate(channel, "tr")
        before = served(channel)
        shard = f"{workflow_id}/workers/00"

        async def terminate() -> None:
            client = await Client.connect(temporal.address)
            await client.get_workflow_handle(shard).terminate(reason="an operator's mistake")

        asyncio.run(terminate())
        system = system_pb2_grpc.SystemServiceStub(raw)
        message: list[str] = []

        def refused() -> bool:
            try:
                system.GetReadiness(system_pb2.GetReadinessRequest(), timeout=5)
            except grpc.RpcError as error:
                message[:] = [error.details() or ""]
                return "REGISTRY_WORKFLOW_CLOSED" in str(error.trailing_metadata()) or (
                    "temporal workflow reset" in message[0]
                )
            return False

        wait_until(refused, 30, "readiness names the closed shard")
        assert f"registry workflow {shard} is" in message[0]
        assert "`temporal-registry import --replace FILE`" in message[0]
        # The other way back starts with an export: the closed shard is read from its history.
        closed_export = workdir / f"{workflow_id}-closed.json"
        assert cli(registry, "export", "-o", str(closed_export)).returncode == 0
        from_history = read_export(closed_export)
        assert from_history["sources"][shard] == "history"
        assert set(from_history["entries"]["workers"]) == set(before["workers"])
        command = message[0].split("(`", 1)[1].split("`)", 1)[0]
        assert command.startswith(f"temporal workflow reset --workflow-id {shard}")
        program, *arguments = command.split()
        assert program == "temporal"
        reset = subprocess.run(
            [venv_binary("temporal"), *arguments, "--address", temporal.address, "--reason", "x"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert reset.returncode == 0, reset.stderr
        wait_until(
            lambda: system.GetReadiness(system_pb2.GetReadinessRequest(), timeout=5),
            30,
            "ready again",
        )
        # The reset run re-ran the shard's last update (Temporal reapplies updates after the
        # reset point), with its own clock: the view holds exactly what the new run holds.
        exported = workdir / f"{workflow_id}.json"
        assert cli(registry, "export", "-o", str(exported)).returncode == 0
        entries = read_export(exported)["entries"]["workers"]
        expected = {
            **before,
            "workers": {
                worker_id: {
                    **fields,
                    "registeredEpoch": entries[worker_id]["registered"],
                    "leaseExpiresEpoch": entries[worker_id]["expires"],
                }
                for worker_id, fields in before["workers"].items()
            },
        }
        serves(channel, expected)


def test_a_terminated_registry_is_exported_from_history_and_imported_back(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    """The whole registry terminated while no process runs: the export reads every workflow
    from its history, an import without --replace refuses (naming the closed root), and
    import --replace starts new runs over the closed ones that a new process serves."""
    settings = own_registry_settings(shards={"types": 2, "workers": 2, "ids": 1})
    workflow_id = settings["registry"]["workflow_id"]
    registry = Registry(workdir, temporal.address, overrides=settings)
    with running(registry), grpc.insecure_channel(registry.grpc_target) as raw:
        populate(authorized(raw), "gone")
        before = served(authorized(raw))
    ids = [f"{workflow_id}/root"] + [
        f"{workflow_id}/{kind}/{i:02d}"
        for kind, n in (("types", 2), ("workers", 2), ("ids", 1))
        for i in range(n)
    ]

    async def terminate_all() -> None:
        client = await Client.connect(temporal.address)
        for workflow in ids:
            await client.get_workflow_handle(workflow).terminate(reason="all gone")

    asyncio.run(terminate_all())
    backup = workdir / f"{workflow_id}-terminated.json"
    exported = cli(registry, "export", "-o", str(backup))
    assert exported.returncode == 0, exported.stderr
    assert "6 workflows read from their history" in exported.stderr
    refused = cli(registry, "import", str(backup))
    assert refused.returncode == 1
    assert "its root is terminated, 0 of its 6 workflows run" in refused.stderr
    imported = cli(registry, "import", str(backup), "--replace")
    assert imported.returncode == 0, imported.stderr
    assert "running registry workflows" not in imported.stderr  # nothing ran to terminate
    again = Registry(workdir, temporal.address, overrides=settings)
    with running(again), grpc.insecure_channel(again.grpc_target) as raw:
        serves(authorized(raw), before)
