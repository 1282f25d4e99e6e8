"""A write is applied once, whatever retries it: across continue-as-new (Temporal deduplicates
update ids within one run only; the shards remember their operations' outcomes across runs),
and one request id gets one readable id and one run, after any number of other claims and
across a handover."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
from temporal_registry.v1 import dispatch_pb2, dispatch_pb2_grpc, registry_pb2
from temporalio.client import Client

from integration.conftest import ECHO_QUEUE
from integration.stack import Registry, TemporalDevServer, authorized
from integration.test_registry_durability import (
    own_registry_settings,
    register,
    running,
    unique,
    worker_ids,
)
from registry.catalog.layout import WORKERS, Layout

pytestmark = pytest.mark.integration


def test_a_write_retried_on_the_next_run_gets_its_first_outcome(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    """An operation applied by one run, then sent again (a new update id: the response was
    lost and the run continued as new meanwhile): the next run answers the first outcome and
    applies nothing (here, an unregistration would otherwise answer NOT_FOUND)."""
    overrides = own_registry_settings()
    layout = Layout(overrides["registry"]["workflow_id"])
    with running(Registry(workdir, temporal.address, overrides=overrides)) as stub:
        worker = unique("once")
        register(stub, worker, unique("once-type"))
        shard = layout.shard_id(WORKERS, layout.shard_of(WORKERS, worker))
        op = {"id": unique("op"), "op": "unregister", "key": worker, "principal": "", "admin": True}

        async def send_twice() -> tuple[dict[str, Any], dict[str, Any], int]:
            client = await Client.connect(temporal.address)
            handle = client.get_workflow_handle(shard)
            first = await handle.execute_update("apply", {"ops": [op]}, id=unique("update"))
            await handle.execute_update("hand_over", "exactly once", id=unique("update"))
            retried = await handle.execute_update("apply", {"ops": [op]}, id=unique("update"))
            return first["outcomes"][0], retried["outcomes"][0], retried["revision"]

        first, retried, revision = asyncio.run(send_twice())
        assert first["ok"] and retried["ok"]
        assert retried["replayed"] and retried["rev"] == first["rev"] == revision
        assert worker not in worker_ids(stub)


def test_one_request_id_gets_one_counter_and_one_run_after_any_claims_and_a_handover(
    echo: None, workdir: Path, temporal: TemporalDevServer
) -> None:
    overrides = own_registry_settings()
    kind = unique("once.order")
    registry = Registry(workdir, temporal.address, overrides=overrides)
    with running(registry) as stub, grpc.insecure_channel(registry.grpc_target) as channel:
        dispatch = dispatch_pb2_grpc.DispatchServiceStub(authorized(channel))
        register(stub, unique("echo"), kind, queue=ECHO_QUEUE)
        request = dispatch_pb2.StartWorkflowRequest(
            workflow_type=kind, name="Nightly Batch", request_id=unique("request")
        )
        request.input.struct_value.update({"order_id": "o-1"})

        def start(req: dispatch_pb2.StartWorkflowRequest) -> dispatch_pb2.StartWorkflowResponse:
            response: dispatch_pb2.StartWorkflowResponse = dispatch.StartWorkflow(req, timeout=60)
            return response

        first = start(request)
        assert first.started and first.workflow_id == "nightly-batch-r1"
        for n in range(30):  # other requests claim the same slug and others
            other = dispatch_pb2.ClaimWorkflowIdRequest(name="Nightly Batch", request_id=f"x{n}")
            dispatch.ClaimWorkflowId(other, timeout=60)
            dispatch.ClaimWorkflowId(
                dispatch_pb2.ClaimWorkflowIdRequest(name=f"other {n}"), timeout=60
            )
        stub.ShutdownRegistry(registry_pb2.ShutdownRegistryRequest(reason="once"), timeout=60)
        again = start(request)
        assert (again.workflow_id, again.run_id, again.started) == (
            first.workflow_id,
            first.run_id,
            False,
        )
        claim = dispatch.ClaimWorkflowId(
            dispatch_pb2.ClaimWorkflowIdRequest(name="Nightly Batch", request_id="x0"), timeout=60
        )
        assert claim.counter == 2  # x0's own claim, right after the first start's


def test_safety_controls_hold_across_replicas_at_once(
    echo: None, workdir: Path, temporal: TemporalDevServer
) -> None:
    """Read-your-writes across replicas for what must not be stale: a type registered through
    A starts through B at once; once a disable through A is acknowledged, B refuses to start
    it; once an enable is, B starts it; a delete through B is a NOT_FOUND through A."""
    overrides = own_registry_settings()
    a, b = (Registry(workdir, temporal.address, overrides=overrides) for _ in range(2))
    with (
        running(a) as registry_a,
        running(b) as registry_b,
        grpc.insecure_channel(a.grpc_target) as channel_a,
        grpc.insecure_channel(b.grpc_target) as channel_b,
    ):
        start_a = dispatch_pb2_grpc.DispatchServiceStub(authorized(channel_a)).StartWorkflow
        start_b = dispatch_pb2_grpc.DispatchServiceStub(authorized(channel_b)).StartWorkflow

        def code_of(start: Any, kind: str) -> grpc.StatusCode:
            request = dispatch_pb2.StartWorkflowRequest(workflow_type=kind, validate_only=True)
            request.input.struct_value.update({"order_id": "o"})
            try:
                start(request, timeout=30)
            except grpc.RpcError as error:
                return error.code()  # type: ignore[attr-defined,no-any-return]
            return grpc.StatusCode.OK

        for round_ in range(5):
            kind = unique(f"safe{round_}")
            register(registry_a, unique("echo"), kind, queue=ECHO_QUEUE)
            assert code_of(start_b, kind) == grpc.StatusCode.OK
            registry_a.DisableWorkflow(
                registry_pb2.DisableWorkflowRequest(workflow_type=kind, reason="incident"),
                timeout=30,
            )
            assert code_of(start_b, kind) == grpc.StatusCode.FAILED_PRECONDITION
            registry_a.EnableWorkflow(
                registry_pb2.EnableWorkflowRequest(workflow_type=kind), timeout=30
            )
            assert code_of(start_b, kind) == grpc.StatusCode.OK
            registry_b.DeleteWorkflow(
                registry_pb2.DeleteWorkflowRequest(workflow_type=kind), timeout=30
            )
            assert code_of(start_a, kind) == grpc.StatusCode.NOT_FOUND
