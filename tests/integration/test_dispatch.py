"""Dispatch end to end: starts through Envoy (HTTP/JSON and native gRPC) that run on a real
Temporal worker, every refusal, idempotent retries across a registry restart, readable
workflow ids with concurrent claims, resets and skip-forward, and the 0.1.x /run route."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from temporal_registry.v1 import (
    dispatch_pb2,
    dispatch_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    resources_pb2,
)
from temporalio.client import Client

from integration.conftest import ECHO_QUEUE
from integration.stack import (
    Registry,
    TemporalDevServer,
    authorized,
    start_echo_worker,
    wait_until,
)
from integration.test_registry_api import ERROR_INFO, error, unique, violation_fields
from integration.test_registry_durability import own_registry_settings, running

pytestmark = pytest.mark.integration

ORDER_SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "minLength": 1},
        "amount": {"type": "integer", "minimum": 1},
        "due": {"type": "string", "format": "date-time"},
        "hold_seconds": {"type": "number"},
    },
    "required": ["order_id"],
}


def register_echo(
    http: httpx.Client, workflow_type: str, worker_labels: dict[str, str] | None = None, **spec: Any
) -> str:
    worker_id = unique("echo")
    body = {
        "worker_id": worker_id,
        "task_queue": ECHO_QUEUE,
        "labels": worker_labels or {},
        "workflows": [
            {
                "workflow_type": workflow_type,
                "input_schema": ORDER_SCHEMA,
                "search_attributes": [{"name": "OrderId", "type": "Keyword"}],
                "schedule_input_warnings": [{"field": "amount", "message": "set an amount"}],
                **spec,
            }
        ],
    }
    http.post("/registry/workers", json=body).raise_for_status()
    return worker_id


def result(temporal: TemporalDevServer, workflow_id: str, run_id: str = "") -> Any:
    async def fetch() -> Any:
        client = await Client.connect(temporal.address)
        return await client.get_workflow_handle(workflow_id, run_id=run_id or None).result()

    return asyncio.run(fetch())


def exists(temporal: TemporalDevServer, workflow_id: str) -> bool:
    async def describe() -> bool:
        client = await Client.connect(temporal.address)
        try:
            await client.get_workflow_handle(workflow_id).describe()
        except Exception:
            return False
        return True

    return asyncio.run(describe())


# --- starts ---------------------------------------------------------------------------------


def test_start_over_http_runs_on_the_registered_queue(
    echo: None, http: httpx.Client, temporal: TemporalDevServer
) -> None:
    kind = unique("order")
    register_echo(http, kind)
    order = {"order_id": "o-1", "amount": 3, "due": "2026-12-01T10:00:00Z"}
    response = http.post(
        f"/workflows/{kind}/start",
        json={"input": order, "search_attributes": {"OrderId": "o-1"}, "memo": {"by": "test"}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["task_queue"] == ECHO_QUEUE
    assert body["workflow_type"] == kind
    assert body["workflow_id"].startswith(kind)
    assert body["run_id"] and body["started"] is True
    assert body["warnings"] == []
    assert result(temporal, body["workflow_id"]) == order


def test_start_over_native_grpc_through_envoy(
    echo: None, http: httpx.Client, gateway_channel: grpc.Channel, temporal: TemporalDevServer
) -> None:
    kind = unique("order")
    register_echo(http, kind)
    stub = dispatch_pb2_grpc.DispatchServiceStub(gateway_channel)
    request = dispatch_pb2.StartWorkflowRequest(workflow_type=kind, workflow_id=unique("grpc"))
    request.input.struct_value.update({"order_id": "o-2"})
    response = stub.StartWorkflow(request, timeout=10)
    assert response.workflow_id == request.workflow_id
    assert [w.field for w in response.warnings] == ["amount"]  # advice, not an error
    assert result(temporal, response.workflow_id, response.run_id) == {"order_id": "o-2"}


def test_validate_only_answers_without_starting(
    echo: None, http: httpx.Client, temporal: TemporalDevServer
) -> None:
    kind = unique("order")
    register_echo(http, kind)
    response = http.post(
        f"/workflows/{kind}/start",
        json={"input": {"order_id": "x"}, "name": unique("Preview"), "validate_only": True},
    ).json()
    assert response["started"] is False and response["run_id"] == ""
    assert response["task_queue"] == ECHO_QUEUE
    assert response["workflow_id"].endswith("-r1")
    assert not exists(temporal, response["workflow_id"])


def test_start_refusals(echo: None, http: httpx.Client) -> None:
    kind = unique("order")
    register_echo(http, kind)

    def start(body: dict[str, Any], workflow_type: str = kind) -> httpx.Response:
        return http.post(f"/workflows/{workflow_type}/start", json=body)

    error(start({}, unique("nope")), 404, 5, "WORKFLOW_NOT_FOUND")

    details = error(
        start({"input": {"amount": 0, "due": "tomorrow", "order_id": ""}}), 400, 3, "INVALID_START"
    )
    assert violation_fields(details) == ["input/amount", "input/due", "input/order_id"]
    details = error(
        start({"input": {"order_id": "o"}, "search_attributes": {"OrderId": 7, "Region": "eu"}}),
        400,
        3,
        "INVALID_START",
    )
    assert violation_fields(details) == [
        'search_attributes["OrderId"]',
        'search_attributes["Region"]',
    ]
    details = error(
        start({"input": {"order_id": "o"}, "workflow_id": "a", "name": "b"}),
        400,
        3,
        "INVALID_START",
    )
    assert violation_fields(details) == ["name"]
    details = error(
        start({"input": {"order_id": "o"}, "workflow_id": "workflow-registry"}),
        400,
        3,
        "INVALID_START",
    )
    assert violation_fields(details) == ["workflow_id"]

    running_id = unique("held")
    held = {"input": {"order_id": "o", "hold_seconds": 30}, "workflow_id": running_id}
    assert start(held).status_code == 200
    details = error(start(held), 409, 6, "WORKFLOW_ALREADY_RUNNING")
    assert details[ERROR_INFO]["metadata"]["workflow_id"] == running_id
    attached = start({**held, "id_conflict_policy": "WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING"})
    assert attached.status_code == 200 and attached.json()["started"] is False

    http.post(f"/registry/workflows/{kind}/disable", json={"reason": "payments frozen"})
    details = error(start({"input": {"order_id": "o"}}), 400, 9, "WORKFLOW_DISABLED")
    assert "payments frozen" in start({}).json()["message"]


def test_no_healthy_worker_is_unavailable_with_the_reasons(echo: None, http: httpx.Client) -> None:
    kind = unique("order")
    worker_id = register_echo(http, kind, worker_labels={"region": "eu"})
    eu = {"input": {"order_id": "o"}, "label_selector": "region=eu", "validate_only": True}
    assert http.post(f"/workflows/{kind}/start", json=eu).status_code == 200
    us = {"input": {"order_id": "o"}, "label_selector": "region=us"}
    details = error(http.post(f"/workflows/{kind}/start", json=us), 503, 14, "NO_HEALTHY_WORKER")
    assert (
        "no registered worker matches label_selector region=us"
        in (details[ERROR_INFO]["metadata"]["reasons"])
    )
    http.delete(f"/registry/workers/{worker_id}")
    details = error(
        http.post(f"/workflows/{kind}/start", json={"input": {"order_id": "o"}}),
        503,
        14,
        "NO_HEALTHY_WORKER",
    )
    assert "no registered workers" in details[ERROR_INFO]["metadata"]["reasons"]


def test_a_worker_polling_just_after_it_registered_is_started_on_at_once(
    http: httpx.Client, workdir: Path, temporal: TemporalDevServer
) -> None:
    """The registration reads its queue's pollers at once, before the worker polls; a start
    (or a read of health) that then finds no poller reads the queue again instead of
    refusing until the next periodic read (liveness.poller_refresh_seconds, 15 s)."""
    kind, queue = unique("order"), unique("fresh-q")
    body = {
        "worker_id": unique("fresh"),
        "task_queue": queue,
        "workflows": [{"workflow_type": kind}],
    }
    http.post("/registry/workers", json=body).raise_for_status()
    start = {"input": {"order_id": "o-fresh"}}
    details = error(http.post(f"/workflows/{kind}/start", json=start), 503, 14, "NO_HEALTHY_WORKER")
    assert "no pollers" in details[ERROR_INFO]["metadata"]["reasons"]
    worker = start_echo_worker(workdir, temporal.address, queue)
    try:
        began = time.monotonic()
        response = http.post(f"/workflows/{kind}/start", json=start)
        assert response.status_code == 200, response.text
        assert time.monotonic() - began < 5
        assert result(temporal, response.json()["workflow_id"]) == {"order_id": "o-fresh"}
        workflow = http.get(f"/registry/workflows/{kind}").json()
        assert (workflow["healthy"], workflow["health_reasons"]) == (
            True,
            ["registered", "1 active poller"],
        )
    finally:
        worker.stop()


# --- idempotency ----------------------------------------------------------------------------


def start_body(how: str, **extra: Any) -> dict[str, Any]:
    """A start with a request id, its workflow id derived from it, from a name, or given."""
    body: dict[str, Any] = {"input": {"order_id": "once"}, "request_id": unique("req"), **extra}
    if how == "name":
        body["name"] = unique("Once Only")
    elif how == "workflow_id":
        body["workflow_id"] = unique("given")
    return body


@pytest.mark.parametrize("how", ["derived", "name", "workflow_id"])
def test_one_request_id_makes_one_run_and_only_the_attempt_that_started_it_says_started(
    how: str, echo: None, http: httpx.Client, temporal: TemporalDevServer
) -> None:
    kind = unique("order")
    register_echo(http, kind)
    body = start_body(how)
    body["input"]["hold_seconds"] = 2  # still running while the concurrent attempts land

    def start(_: int) -> dict[str, Any]:
        response = http.post(f"/workflows/{kind}/start", json=body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    with ThreadPoolExecutor(25) as pool:
        answers = list(pool.map(start, range(50)))
    assert len({(a["workflow_id"], a["run_id"]) for a in answers}) == 1, answers
    assert [a["started"] for a in answers].count(True) == 1
    first = next(a for a in answers if a["started"])
    if how == "name":
        assert first["workflow_id"].endswith("-r1")

    later = start(0)  # still running
    assert (later["workflow_id"], later["run_id"], later["started"]) == (
        first["workflow_id"],
        first["run_id"],
        False,
    )
    assert later["task_queue"] == ECHO_QUEUE
    assert result(temporal, first["workflow_id"], first["run_id"])["order_id"] == "once"
    after = start(0)  # the run completed: the same run answers, nothing new starts
    assert (after["workflow_id"], after["run_id"], after["started"]) == (
        first["workflow_id"],
        first["run_id"],
        False,
    )


def test_a_request_id_retried_through_two_replicas_at_once_starts_once(
    echo: None, workdir: Path, temporal: TemporalDevServer
) -> None:
    """Half the attempts through one replica, half through another replica of the same
    registry workflow (the test's own, so the session registry's status is left alone): one
    run, one `started: true`."""
    kind = unique("order")
    body = start_body("derived")
    body["input"]["hold_seconds"] = 2
    request = dispatch_pb2.StartWorkflowRequest(workflow_type=kind, request_id=body["request_id"])
    request.input.struct_value.update(body["input"])
    overrides = own_registry_settings()
    first, second = (Registry(workdir, temporal.address, overrides=overrides) for _ in range(2))
    with (
        running(first) as registry_stub,
        running(second),
        grpc.insecure_channel(first.grpc_target) as one,
        grpc.insecure_channel(second.grpc_target) as two,
    ):
        registry_stub.RegisterWorker(
            registry_pb2.RegisterWorkerRequest(
                worker_id=unique("echo"),
                task_queue=ECHO_QUEUE,
                workflows=[resources_pb2.Workflow(workflow_type=kind)],
            ),
            timeout=30,
        )
        stubs = [dispatch_pb2_grpc.DispatchServiceStub(authorized(c)) for c in (one, two)]
        for stub in stubs:
            wait_until(
                lambda stub=stub: stub.StartWorkflow(
                    dispatch_pb2.StartWorkflowRequest(
                        workflow_type=kind, input=request.input, validate_only=True
                    ),
                    timeout=10,
                ),
                30,
                "each replica sees the type and its pollers",
            )

        def start(i: int) -> tuple[str, str, bool]:
            response = stubs[i % 2].StartWorkflow(request, timeout=30)
            return response.workflow_id, response.run_id, response.started

        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(start, range(40)))
    assert len({(workflow_id, run_id) for workflow_id, run_id, _ in answers}) == 1
    assert [started for *_, started in answers].count(True) == 1


def test_a_given_workflow_id_used_by_another_request_follows_the_id_policies(
    echo: None, http: httpx.Client, temporal: TemporalDevServer
) -> None:
    kind = unique("order")
    register_echo(http, kind)
    given = unique("shared")
    held = {"input": {"order_id": "a", "hold_seconds": 30}, "workflow_id": given}
    first = http.post(f"/workflows/{kind}/start", json={**held, "request_id": unique("a")})
    assert first.json()["started"] is True
    # Another request id on the running id: FAIL (the default), or USE_EXISTING.
    other = {**held, "request_id": unique("b")}
    error(http.post(f"/workflows/{kind}/start", json=other), 409, 6, "WORKFLOW_ALREADY_RUNNING")
    joined = http.post(
        f"/workflows/{kind}/start",
        json={**other, "id_conflict_policy": "WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING"},
    ).json()
    assert (joined["run_id"], joined["started"]) == (first.json()["run_id"], False)
    # TERMINATE_EXISTING replaces it, once: its retry answers the new run.
    replacing = {
        **other,
        "request_id": unique("c"),
        "id_conflict_policy": "WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING",
    }
    replaced = http.post(f"/workflows/{kind}/start", json=replacing).json()
    assert replaced["started"] is True and replaced["run_id"] != first.json()["run_id"]
    again = http.post(f"/workflows/{kind}/start", json=replacing).json()
    assert (again["run_id"], again["started"]) == (replaced["run_id"], False)
    # A closed run of another request: ALLOW_DUPLICATE (the default) starts a new run.
    done = {"input": {"order_id": "d"}, "workflow_id": unique("reused")}
    closed = http.post(f"/workflows/{kind}/start", json={**done, "request_id": unique("d")})
    result(temporal, done["workflow_id"], closed.json()["run_id"])
    reused = http.post(f"/workflows/{kind}/start", json={**done, "request_id": unique("e")})
    assert reused.json()["started"] is True
    assert reused.json()["run_id"] != closed.json()["run_id"]


def test_a_retried_request_id_answers_the_first_run_even_after_a_registry_restart(
    echo: None, workdir: Path, temporal: TemporalDevServer
) -> None:
    overrides = own_registry_settings()
    kind = unique("order")
    request = dispatch_pb2.StartWorkflowRequest(workflow_type=kind, request_id=unique("req"))
    request.input.struct_value.update({"order_id": "same"})
    registration_name = unique("Nightly Report")
    named = dispatch_pb2.StartWorkflowRequest(
        workflow_type=kind, request_id=unique("req"), name=registration_name
    )
    named.input.struct_value.update({"order_id": "named"})

    def register(channel: grpc.Channel) -> None:
        registry_pb2_grpc.RegistryServiceStub(channel).RegisterWorker(
            registry_pb2.RegisterWorkerRequest(
                worker_id=unique("echo"),
                task_queue=ECHO_QUEUE,
                workflows=[resources_pb2.Workflow(workflow_type=kind)],
            ),
            timeout=10,
        )

    first = Registry(workdir, temporal.address, overrides=overrides)
    with running(first), grpc.insecure_channel(first.grpc_target) as plain:
        channel = authorized(plain)
        register(channel)
        stub = dispatch_pb2_grpc.DispatchServiceStub(channel)
        original = stub.StartWorkflow(request, timeout=10)
        original_named = stub.StartWorkflow(named, timeout=10)
        assert original.started and original_named.started
        retried = stub.StartWorkflow(request, timeout=10)
        assert (retried.run_id, retried.started) == (original.run_id, False)
    second = Registry(workdir, temporal.address, overrides=overrides)
    with running(second), grpc.insecure_channel(second.grpc_target) as plain:
        channel = authorized(plain)
        stub = dispatch_pb2_grpc.DispatchServiceStub(channel)
        again = stub.StartWorkflow(request, timeout=10)
        again_named = stub.StartWorkflow(named, timeout=10)
    assert (again.workflow_id, again.run_id, again.started) == (
        original.workflow_id,
        original.run_id,
        False,
    )
    assert (again_named.workflow_id, again_named.run_id, again_named.started) == (
        original_named.workflow_id,
        original_named.run_id,
        False,
    )
    assert original_named.workflow_id.endswith("-r1")


# --- readable workflow ids ------------------------------------------------------------------


def test_named_starts_count_up(echo: None, http: httpx.Client, temporal: TemporalDevServer) -> None:
    kind = unique("order")
    register_echo(http, kind)
    name = f"Order #{uuid.uuid4().hex[:6]} / EU"
    slug = f"order-{name[7:13]}-eu"
    ids = [
        http.post(
            f"/workflows/{kind}/start", json={"input": {"order_id": "o"}, "name": name}
        ).json()["workflow_id"]
        for _ in range(2)
    ]
    assert ids == [f"{slug}-r1", f"{slug}-r2"]
    assert result(temporal, ids[1]) == {"order_id": "o"}

    # Reset: the next claims skip the ids that exist (r1, r2), never collide.
    reset = http.post("/workflow-ids/reset", json={"name": name}).json()
    assert reset == {"slug": slug, "previous_counter": 2, "reset_to": 0}
    claimed = http.post("/workflow-ids/claim", json={"name": name}).json()
    assert claimed == {"slug": slug, "counter": 3, "workflow_id": f"{slug}-r3"}


def test_one_hundred_concurrent_claims_get_one_to_one_hundred(http: httpx.Client) -> None:
    name = unique("Burst")
    with ThreadPoolExecutor(24) as pool:
        counters = list(
            pool.map(
                lambda _: http.post("/workflow-ids/claim", json={"name": name}).json()["counter"],
                range(100),
            )
        )
    assert sorted(counters) == list(range(1, 101))
    listed, token = [], ""
    while True:
        page = http.get("/workflow-ids", params={"page_size": 50, "page_token": token}).json()
        listed += page["slug_counters"]
        token = page["next_page_token"]
        if not token:
            break
    [mine] = [entry for entry in listed if entry["slug"] == name.lower()]
    assert mine["counter"] == 100


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("", "name is required", id="empty"),
        pytest.param("!!! ???", "no letters or digits", id="no-slug"),
        pytest.param("x" * 129, "at most 128", id="too-long"),
    ],
)
def test_a_bad_name_is_refused_clearly(http: httpx.Client, name: str, message: str) -> None:
    details = error(http.post("/workflow-ids/claim", json={"name": name}), 400, 3, "INVALID_NAME")
    assert violation_fields(details) == ["name"]
    assert (
        message
        in details["type.googleapis.com/google.rpc.BadRequest"]["field_violations"][0][
            "description"
        ]
    )


def test_slug_counters_survive_continue_as_new_and_restarts(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    overrides = own_registry_settings(max_updates_per_run=100)
    name = unique("Through Runs")

    def claim(stub: dispatch_pb2_grpc.DispatchServiceStub) -> int:
        response = stub.ClaimWorkflowId(dispatch_pb2.ClaimWorkflowIdRequest(name=name), timeout=30)
        return int(response.counter)

    first = Registry(workdir, temporal.address, overrides=overrides)
    with running(first), grpc.insecure_channel(first.grpc_target) as plain:
        channel = authorized(plain)
        stub = dispatch_pb2_grpc.DispatchServiceStub(channel)
        with ThreadPoolExecutor(16) as pool:
            counters = list(pool.map(lambda _: claim(stub), range(150)))
        assert sorted(counters) == list(range(1, 151))
    second = Registry(workdir, temporal.address, overrides=overrides)
    with running(second), grpc.insecure_channel(second.grpc_target) as plain:
        channel = authorized(plain)
        assert claim(dispatch_pb2_grpc.DispatchServiceStub(channel)) == 151


# --- POST /run ------------------------------------------------------------------------------


def test_run_starts_the_configured_type_with_the_request_as_input(
    echo: None, http: httpx.Client, temporal: TemporalDevServer
) -> None:
    register_echo(http, "agent.run.v1", input_schema={}, search_attributes=[])
    body = {
        "agent_id": "coder-1",
        "workspace": "/srv/work/./project/",
        "prompt": "fix the tests",
        "chain": [{"agent_id": "reviewer", "prompt": "review"}],
        "chain_mode": "append",
        "name": unique("Agent Run"),
    }
    response = http.post("/run", json=body)
    assert response.status_code == 200, response.text
    started = response.json()
    assert started["workflow_id"].endswith("-r1") and started["run_id"]
    assert result(temporal, started["workflow_id"]) == {
        "agent_id": "coder-1",
        "workspace": "/srv/work/project",
        "prompt": "fix the tests",
        "agent_acp_provider": "",
        "chain": [{"agent_id": "reviewer", "prompt": "review"}],
        "chain_mode": "append",
    }


@pytest.mark.parametrize(
    "workspace",
    ["//", "//etc", "/srv/../etc", "/proc/self", "/sys", "/dev/shm", "/", "/etc", "relative/dir"],
)
def test_run_refuses_dangerous_workspaces(http: httpx.Client, workspace: str) -> None:
    details = error(
        http.post("/run", json={"agent_id": "coder-1", "workspace": workspace}),
        400,
        3,
        "INVALID_RUN",
    )
    assert violation_fields(details) == ["workspace"]


def test_run_checks_agent_ids_and_chains(http: httpx.Client) -> None:
    details = error(
        http.post(
            "/run",
            json={"agent_id": "Coder!", "workspace": "/srv/x", "chain": [{"agent_id": "-x"}]},
        ),
        400,
        3,
        "INVALID_RUN",
    )
    assert violation_fields(details) == ["agent_id", "chain[0].agent_id", "chain_mode"]
