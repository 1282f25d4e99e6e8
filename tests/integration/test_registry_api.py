"""The registry catalogue end to end through Envoy: worker registration, heartbeats, the
0.1.x /registry/workflows routes and field names, operator writes, enable/disable,
pagination and filters, and the error for every bad request (HTTP/JSON and native gRPC)."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, resources_pb2

pytestmark = pytest.mark.integration

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"

ORDER_SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string", "minLength": 1}, "amount": {"type": "integer"}},
    "required": ["order_id"],
}

# The 0.1.x RegistryWorkflowInfo field names (spec + workers); new fields may be added.
SEED_WORKFLOW_FIELDS = {
    "workflow_type",
    "version",
    "task_queue",
    "description",
    "input_schema",
    "schedule_input_warnings",
    "search_attributes",
    "enabled",
    "labels",
    "workers",
}
SEED_WORKER_FIELDS = {
    "worker_id",
    "task_queue",
    "ttl_seconds",
    "last_seen_epoch",
    "environment",
    "labels",
    "workflows",
    "healthy",
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def registration(worker_id: str, queue: str, *types: str, **extra: Any) -> dict[str, Any]:
    return {
        "worker_id": worker_id,
        "task_queue": queue,
        "environment": "test",
        "labels": {"zone": "a"},
        "ttl_seconds": 60,
        "workflows": [
            {
                "workflow_type": t,
                "version": "1",
                "description": f"{t} workflow",
                "input_schema": ORDER_SCHEMA,
                "search_attributes": [{"name": "OrderId", "type": "Keyword"}],
                "labels": {"team": "orders"},
            }
            for t in types
        ],
        **extra,
    }


def error(response: httpx.Response, status: int, code: int, reason: str) -> dict[str, Any]:
    """Assert `response` is a google.rpc.Status JSON error; return its details by type."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert body["message"]
    details = {detail["@type"]: detail for detail in body["details"]}
    assert details[ERROR_INFO]["reason"] == reason, body
    assert details[ERROR_INFO]["domain"] == "temporal-registry"
    return details


def violation_fields(details: dict[str, Any]) -> list[str]:
    return [v["field"] for v in details[BAD_REQUEST]["field_violations"]]


# --- workers --------------------------------------------------------------------------------


def test_worker_registers_heartbeats_lists_and_unregisters(http: httpx.Client) -> None:
    worker, queue, kind = unique("w"), unique("q"), unique("order")
    response = http.post("/registry/workers", json=registration(worker, queue, kind))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["changed_workflows"] == [kind]
    assert body["worker"]["healthy"] is True
    assert body["worker"]["lease_expires_epoch"] > body["worker"]["registered_epoch"]

    workflow = http.get(f"/registry/workflows/{kind}").json()
    assert workflow.keys() >= SEED_WORKFLOW_FIELDS
    assert workflow["task_queue"] == queue
    assert workflow["input_schema"] == ORDER_SCHEMA  # integers stay integers through Struct
    assert workflow["enabled"] is True
    assert workflow["source"] == "worker"
    [listed_worker] = workflow["workers"]
    assert listed_worker.keys() >= SEED_WORKER_FIELDS
    assert listed_worker["worker_id"] == worker
    assert listed_worker["workflows"] == [kind]

    beat = http.post(f"/registry/workers/{worker}/heartbeat", json={})
    assert beat.status_code == 200, beat.text
    assert beat.json()["ttl_seconds"] == 60
    assert beat.json()["lease_expires_epoch"] >= listed_worker["lease_expires_epoch"]

    assert http.get(f"/registry/workers/{worker}").json()["worker_id"] == worker
    listed = http.get("/registry/workers", params={"task_queue": queue}).json()
    assert [w["worker_id"] for w in listed["workers"]] == [worker]

    assert http.delete(f"/registry/workers/{worker}").status_code == 200
    error(http.get(f"/registry/workers/{worker}"), 404, 5, "WORKER_NOT_FOUND")
    error(http.post(f"/registry/workers/{worker}/heartbeat", json={}), 404, 5, "WORKER_NOT_FOUND")
    error(http.delete(f"/registry/workers/{worker}"), 404, 5, "WORKER_NOT_FOUND")
    # The type it declared stays listed, without workers, so it is not healthy.
    remaining = http.get(f"/registry/workflows/{kind}").json()
    assert remaining["workers"] == []
    assert remaining["healthy"] is False
    assert "no registered workers" in remaining["health_reasons"]


def test_registering_again_with_a_changed_spec_updates_it(http: httpx.Client) -> None:
    worker, queue, kind = unique("w"), unique("q"), unique("order")
    http.post("/registry/workers", json=registration(worker, queue, kind)).raise_for_status()
    same = http.post("/registry/workers", json=registration(worker, queue, kind))
    assert same.json()["changed_workflows"] == []

    changed = registration(worker, queue, kind)
    wider = {"type": "object"}  # accepts every input the first schema did (BACKWARD)
    changed["workflows"][0]["input_schema"] = wider
    changed["workflows"][0]["version"] = "2"
    response = http.post("/registry/workers", json=changed)
    assert response.json()["changed_workflows"] == [kind]
    stored = http.get(f"/registry/workflows/{kind}").json()
    assert stored["version"] == "2"
    assert (stored["input_schema"], stored["schema_version"]) == (wider, 2)


def test_heartbeat_for_an_unknown_worker_is_not_found(http: httpx.Client) -> None:
    details = error(
        http.post("/registry/workers/nobody-here/heartbeat", json={}), 404, 5, "WORKER_NOT_FOUND"
    )
    assert details[ERROR_INFO]["metadata"] == {"worker_id": "nobody-here"}


@pytest.mark.parametrize(
    ("mutate", "fields"),
    [
        pytest.param(lambda r: r.update(worker_id=""), ["worker_id"], id="blank-worker-id"),
        pytest.param(lambda r: r.update(workflows=[]), ["workflows"], id="no-workflows"),
        pytest.param(lambda r: r.update(ttl_seconds=1), ["ttl_seconds"], id="ttl-too-short"),
        pytest.param(
            lambda r: r["workflows"][0].update(task_queue="elsewhere"),
            ["workflows[0].task_queue"],
            id="foreign-task-queue",
        ),
        pytest.param(
            lambda r: r["workflows"][0].update(
                input_schema={"$ref": "https://example.com/schema.json"}
            ),
            ["workflows[0].input_schema/$ref"],
            id="remote-ref",
        ),
        pytest.param(
            lambda r: r["workflows"][0].update(input_schema={"type": "strong"}),
            ["workflows[0].input_schema/type"],
            id="not-a-json-schema",
        ),
        pytest.param(
            lambda r: r["workflows"][0]["search_attributes"].append(
                {"name": "WorkflowId", "type": "Keyword"}
            ),
            ["workflows[0].search_attributes[1].name"],
            id="system-search-attribute",
        ),
        pytest.param(
            lambda r: r["workflows"][0]["search_attributes"].append(
                {"name": "Total", "type": "Money"}
            ),
            ["workflows[0].search_attributes[1].type"],
            id="unknown-search-attribute-type",
        ),
    ],
)
def test_a_bad_registration_is_refused_with_field_violations(
    http: httpx.Client, mutate: Any, fields: list[str]
) -> None:
    body = registration(unique("w"), unique("q"), unique("order"))
    mutate(body)
    details = error(http.post("/registry/workers", json=body), 400, 3, "INVALID_REGISTRATION")
    assert violation_fields(details) == fields
    if body["worker_id"]:  # nothing was stored
        assert http.get(f"/registry/workers/{body['worker_id']}").status_code == 404


# --- operator writes ------------------------------------------------------------------------


def test_operator_creates_replaces_disables_enables_and_deletes(http: httpx.Client) -> None:
    kind = unique("manual")
    spec = {"workflow_type": kind, "task_queue": "manual-q", "input_schema": ORDER_SCHEMA}

    preview = http.post("/registry/workflows", params={"validate_only": "true"}, json=spec)
    assert preview.status_code == 200, preview.text
    assert preview.json()["workflow_type"] == kind
    error(http.get(f"/registry/workflows/{kind}"), 404, 5, "WORKFLOW_NOT_FOUND")

    created = http.post("/registry/workflows", json=spec)
    assert created.status_code == 200, created.text
    assert created.json()["source"] == "operator"
    assert created.json()["enabled"] is True
    error(http.post("/registry/workflows", json=spec), 409, 6, "WORKFLOW_ALREADY_EXISTS")

    replaced = http.put(
        f"/registry/workflows/{kind}", json={**spec, "description": "v2", "enabled": False}
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["description"] == "v2"
    assert replaced.json()["enabled"] is False
    assert replaced.json()["disabled_reason"] == "disabled by an operator"

    enabled = http.post(f"/registry/workflows/{kind}/enable", json={})
    assert enabled.json()["enabled"] is True
    assert enabled.json()["disabled_reason"] == ""

    disabled = http.post(f"/registry/workflows/{kind}/disable", json={"reason": "migrating"})
    assert disabled.json()["enabled"] is False
    assert disabled.json()["disabled_reason"] == "migrating"
    # A replace that doesn't say `enabled` keeps the stored state and reason.
    kept = http.put(f"/registry/workflows/{kind}", json={**spec, "version": "3"}).json()
    assert (kept["enabled"], kept["disabled_reason"]) == (False, "migrating")

    assert http.delete(f"/registry/workflows/{kind}").status_code == 200
    error(http.delete(f"/registry/workflows/{kind}"), 404, 5, "WORKFLOW_NOT_FOUND")
    missing_ok = http.delete(f"/registry/workflows/{kind}", params={"allow_missing": "true"})
    assert missing_ok.status_code == 200


def test_operator_errors(http: httpx.Client) -> None:
    kind = unique("manual")
    details = error(
        http.post("/registry/workflows", json={"workflow_type": kind}), 400, 3, "INVALID_WORKFLOW"
    )
    assert violation_fields(details) == ["workflow.task_queue"]
    details = error(
        http.post(
            "/registry/workflows",
            json={"workflow_type": kind, "task_queue": "q", "input_schema": {"minimum": "zero"}},
        ),
        400,
        3,
        "INVALID_WORKFLOW",
    )
    assert violation_fields(details) == ["workflow.input_schema/minimum"]
    details = error(
        http.put(f"/registry/workflows/{kind}", json={"workflow_type": "other", "task_queue": "q"}),
        400,
        3,
        "INVALID_ARGUMENT",
    )
    assert violation_fields(details) == ["workflow.workflow_type"]
    error(http.post(f"/registry/workflows/{kind}/enable", json={}), 404, 5, "WORKFLOW_NOT_FOUND")
    http.post("/registry/workflows", json={"workflow_type": kind, "task_queue": "q"})
    details = error(
        http.post(f"/registry/workflows/{kind}/disable", json={"reason": " "}),
        400,
        3,
        "INVALID_REQUEST",
    )
    assert violation_fields(details) == ["reason"]


# --- listing --------------------------------------------------------------------------------


def test_list_pages_and_filters(http: httpx.Client) -> None:
    team = unique("team")
    kinds = sorted(unique(f"paged{i}") for i in range(5))
    for i, kind in enumerate(kinds):
        body = {
            "workflow_type": kind,
            "task_queue": "q",
            "labels": {"team": team, "n": str(i)},
            "input_schema": ORDER_SCHEMA,
        }
        http.post("/registry/workflows", json=body).raise_for_status()
    http.post(f"/registry/workflows/{kinds[0]}/disable", json={"reason": "old"}).raise_for_status()

    seen: list[str] = []
    params: dict[str, Any] = {"label_selector": f"team={team}", "page_size": 2}
    while True:
        page = http.get("/registry/workflows", params=params).json()
        assert len(page["workflows"]) <= 2
        seen += [w["workflow_type"] for w in page["workflows"]]
        if not page["next_page_token"]:
            break
        params["page_token"] = page["next_page_token"]
    assert seen == kinds

    def listed(**filters: Any) -> list[str]:
        query = {"label_selector": f"team={team}", **filters}
        return [
            w["workflow_type"]
            for w in http.get("/registry/workflows", params=query).json()["workflows"]
        ]

    assert listed(enabled="false") == kinds[:1]
    assert listed(enabled="true") == kinds[1:]
    assert listed(healthy="true") == []  # no workers
    assert listed(label_selector=f"team={team},n=3") == [kinds[3]]

    # The BASIC view (AIP-157) leaves the schema and workers out.
    basic = http.get(
        "/registry/workflows",
        params={"label_selector": f"team={team}", "view": "WORKFLOW_VIEW_BASIC"},
    ).json()["workflows"]
    assert [w["workflow_type"] for w in basic] == kinds
    assert all("input_schema" not in w and w["workers"] == [] for w in basic)

    # A token only continues the query it came from.
    first = http.get(
        "/registry/workflows", params={"label_selector": f"team={team}", "page_size": 1}
    ).json()
    details = error(
        http.get("/registry/workflows", params={"page_token": first["next_page_token"]}),
        400,
        3,
        "INVALID_PAGE_TOKEN",
    )
    assert violation_fields(details) == ["page_token"]
    error(
        http.get("/registry/workflows", params={"label_selector": "team"}),
        400,
        3,
        "INVALID_LABEL_SELECTOR",
    )


# --- native gRPC ----------------------------------------------------------------------------


def test_native_grpc_through_envoy_with_rich_errors(gateway_channel: grpc.Channel) -> None:
    stub = registry_pb2_grpc.RegistryServiceStub(gateway_channel)
    worker, kind = unique("w"), unique("grpc")
    request = registry_pb2.RegisterWorkerRequest(
        worker_id=worker,
        task_queue="grpc-q",
        workflows=[resources_pb2.Workflow(workflow_type=kind)],
    )
    request.workflows[0].input_schema.update({"type": "object"})
    response = stub.RegisterWorker(request, timeout=10)
    assert response.worker.worker_id == worker
    assert response.worker.ttl_seconds == 60  # 0 means the default
    workflow = stub.GetWorkflow(registry_pb2.GetWorkflowRequest(workflow_type=kind), timeout=10)
    assert workflow.task_queue == "grpc-q"
    assert [w.worker_id for w in workflow.workers] == [worker]

    with pytest.raises(grpc.RpcError) as raised:
        stub.RegisterWorker(
            registry_pb2.RegisterWorkerRequest(worker_id=worker, task_queue="grpc-q"), timeout=10
        )
    call: Any = raised.value
    assert call.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(call)
    assert status is not None
    info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert status.details[0].Unpack(info) and info.reason == "INVALID_REGISTRATION"
    assert status.details[1].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == ["workflows"]


def test_registry_metrics(http: httpx.Client) -> None:
    worker = unique("metered")
    http.post("/registry/workers", json=registration(worker, "q", unique("metered")))
    http.post(f"/registry/workers/{worker}/heartbeat", json={}).raise_for_status()
    http.post("/registry/workers", json={"worker_id": worker}).json()  # refused: no queue

    samples: dict[str, float] = {}
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("temporal_registry_"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    assert samples["temporal_registry_heartbeats_total"] >= 1
    assert samples['temporal_registry_workers{healthy="true"}'] >= 1
    assert samples['temporal_registry_writes_total{outcome="ok",update="register"}'] >= 1
    assert samples["temporal_registry_revision"] >= 1
    assert samples['temporal_registry_history_length{kind="workers"}'] >= 1
    assert (
        0
        < samples['temporal_registry_state_bytes{kind="workers"}']
        < (samples["temporal_registry_state_bound_bytes"])
    )
    assert samples["temporal_registry_self_preservation"] in (0, 1)
    assert samples["temporal_registry_update_queue_depth"] == 0
    refused = (
        "temporal_registry_rpc_requests_total"
        '{code="INVALID_ARGUMENT",method="/temporal_registry.v1.RegistryService/RegisterWorker"}'
    )
    assert samples[refused] >= 1
