"""Envoy's limits and request-body check, against the real Envoy and registry: the HTTP
body limit (413), over-long ids in URLs, wrong JSON types (once a 500 "Wire format was
corrupt") and unknown JSON fields (once silently dropped), each as issue 12 reported it."""

from __future__ import annotations

import json
from typing import Any

import grpc
import httpx
import pytest
from grpc_status import rpc_status
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, resources_pb2

from integration.stack import Envoy

pytestmark = pytest.mark.integration

LIMIT = 1 << 20  # Envoy's max_request_bytes in the test stack (integration.stack.Envoy)
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


def status_of(response: httpx.Response, http_status: int, code: int) -> dict[str, Any]:
    """The google.rpc.Status JSON of response, checked against the expected codes."""
    assert response.status_code == http_status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == code, body
    assert body["message"], body
    return body


def error_info(status: dict[str, Any]) -> dict[str, Any]:
    (info,) = [d for d in status["details"] if d["@type"] == ERROR_INFO]
    assert info["domain"] == "temporal-registry"
    return info  # type: ignore[no-any-return]


def field_violations(status: dict[str, Any]) -> list[tuple[str, str]]:
    (bad_request,) = [d for d in status["details"] if d["@type"] == BAD_REQUEST]
    return [(v["field"], v["reason"]) for v in bad_request["field_violations"]]


def documented_operations(http: httpx.Client) -> list[tuple[str, str]]:
    """(verb, concrete path) of every operation of the OpenAPI document Envoy serves."""
    document = http.get("/openapi.json").json()
    return [
        (verb.upper(), path.replace("{", "gw-").replace("}", ""))
        for path, operations in document["paths"].items()
        for verb in operations
    ]


# ---------------------------------------------------------------- body limit


def test_every_route_answers_413_past_the_body_limit(http: httpx.Client) -> None:
    # Issue 12: 1.05-3 MB registrations reached the registry and 5 MB claims padded with an
    # unknown field were answered 200: the transcoder's max_request_body_size never applied.
    padding = json.dumps({"name": "x", "padding": "x" * LIMIT})
    for verb, path in documented_operations(http):
        response = http.request(
            verb, path, content=padding, headers={"content-type": "application/json"}
        )
        status = status_of(response, 413, 8)
        assert error_info(status)["reason"] == "REQUEST_TOO_LARGE", (verb, path)
        assert error_info(status)["metadata"]["limit_bytes"] == str(LIMIT)
        assert str(LIMIT) in status["message"]


@pytest.mark.parametrize("size", [1_050_000, 3_000_000, 5_000_000])
def test_large_registrations_and_claims_answer_413(http: httpx.Client, size: int) -> None:
    registration = {
        "worker_id": "gw-big",
        "task_queue": "gw-q",
        "workflows": [{"workflow_type": "gw.big.v1", "description": "d" * size}],
    }
    status_of(http.post("/registry/workers", json=registration), 413, 8)
    status_of(http.post("/workflow-ids/claim", json={"name": "x", "pad": "p" * size}), 413, 8)
    assert http.get("/registry/workers/gw-big").status_code == 404


def test_a_body_under_the_limit_too_large_as_protobuf_is_413_not_429(http: httpx.Client) -> None:
    # 800 KB of small numbers in a Value are 4.4 MB of protobuf, over the registry's 4 MiB
    # message limit: once a 429 "Received message larger than max", now Envoy's 413.
    body = '{"input":[' + ",".join(["1"] * 400_000) + "]}"
    assert len(body) < LIMIT
    response = http.post(
        "/workflows/gw.none.v1/start", content=body, headers={"content-type": "application/json"}
    )
    status = status_of(response, 413, 8)
    assert error_info(status)["metadata"]["transcoded_limit_bytes"] == str(4 << 20)


def test_a_body_under_the_limit_reaches_the_registry(http: httpx.Client) -> None:
    name = "n" * (LIMIT - 100)
    status = status_of(http.post("/workflow-ids/claim", json={"name": name}), 400, 3)
    assert field_violations(status)[0][0] == "name"  # the registry's own length rule


def test_native_grpc_keeps_the_registrys_message_limit(gateway_channel: grpc.Channel) -> None:
    stub = registry_pb2_grpc.RegistryServiceStub(gateway_channel)

    def register(description: str) -> grpc.RpcError:
        request = registry_pb2.RegisterWorkerRequest(
            worker_id="gw-grpc-big",
            task_queue="gw-q",
            workflows=[resources_pb2.Workflow(workflow_type="gw.grpc.v1", description=description)],
        )
        with pytest.raises(grpc.RpcError) as raised:
            stub.RegisterWorker(request, timeout=30)
        return raised.value

    # Over the HTTP body limit but under the gRPC one: no 413, the registry answers.
    error = register("d" * 2_000_000)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    # Over server.max_message_bytes: RESOURCE_EXHAUSTED, saying so.
    error = register("d" * 4_500_000)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in (error.details() or "")


# ---------------------------------------------------------------- over-long ids in URLs


@pytest.mark.parametrize("length", [10_000, 30_000])
def test_an_over_long_id_gets_the_same_answer_on_every_route(
    http: httpx.Client, length: int
) -> None:
    # Issue 12: a 10 KB id answered 429 "metadata size exceeds soft limit" on DELETE and
    # heartbeat (the URL travels again as x-envoy-original-path), 404 on GET.
    worker_id = "w" * length
    for response in (
        http.get(f"/registry/workers/{worker_id}"),
        http.delete(f"/registry/workers/{worker_id}"),
        http.post(f"/registry/workers/{worker_id}/heartbeat", json={}),
    ):
        status = status_of(response, 404, 5)
        assert error_info(status)["reason"] == "WORKER_NOT_FOUND"
        assert len(response.content) < 5_000  # the id is not echoed in full
    workflow_type = "t" * length
    for response in (
        http.get(f"/registry/workflows/{workflow_type}"),
        http.post(f"/workflows/{workflow_type}/start", json={}),
        http.post(f"/registry/workflows/{workflow_type}/enable", json={}),
    ):
        assert response.status_code in (400, 404), response.text[:300]
    status = status_of(http.put(f"/registry/workflows/{workflow_type}", json={}), 400, 3)
    assert "workflow.workflow_type" in [field for field, _ in field_violations(status)]
    # query strings too
    assert http.get("/registry/workers", params={"task_queue": "q" * length}).status_code == 200


def test_a_url_past_the_header_limit_is_431(http: httpx.Client) -> None:
    for response in (
        http.get(f"/registry/workers/{'w' * 40_000}"),
        http.delete(f"/registry/workers/{'w' * 40_000}"),
        http.get("/registry/workers", params={"task_queue": "q" * 40_000}),
    ):
        status = status_of(response, 431, 8)
        assert error_info(status)["reason"] == "HEADERS_TOO_LARGE"


# ---------------------------------------------------------------- wrong JSON types


def test_a_label_value_that_is_an_object_is_a_400_naming_it(http: httpx.Client) -> None:
    # Issue 12: 500 "Wire format was corrupt" (the transcoder emitted a corrupt message).
    body = {
        "worker_id": "w",
        "task_queue": "q",
        "workflows": [{"workflow_type": "t.v1", "labels": {"k": {}}}],
    }
    status = status_of(http.post("/registry/workers", json=body), 400, 3)
    assert error_info(status)["reason"] == "INVALID_FIELD_TYPE"
    assert field_violations(status) == [('workflows[0].labels["k"]', "invalid_type")]
    body = {"worker_id": "w", "task_queue": "q", "labels": {"k": {"x": 1}}, "workflows": []}
    status = status_of(http.post("/registry/workers", json=body), 400, 3)
    assert field_violations(status) == [('labels["k"]', "invalid_type")]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/registry/workers", {"workflows": {"workflow_type": "t"}}, "workflows"),
        ("/registry/workers", {"workflows": [[]]}, "workflows[0]"),
        ("/registry/workers", {"labels": ["a"]}, "labels"),
        ("/registry/workers", {"worker_id": {}}, "worker_id"),
        ("/workflows/gw.t.v1/start", {"id_conflict_policy": 1.5e300, "memo": []}, "memo"),
        ("/workflows/gw.t.v1/start", {"id_reuse_policy": {}}, "id_reuse_policy"),
        ("/workflows/gw.t.v1/start", {"execution_timeout": 10}, "execution_timeout"),
        (
            "/schedules/gw-s",
            {"workflow_type": "t", "fire_offsets_seconds": [{}]},
            "fire_offsets_seconds[0]",
        ),
        ("/registry/temporal/search-attributes", {"attributes": "x"}, "attributes"),
        ("/registry/temporal/search-attributes", {"confirm": 1}, "confirm"),
    ],
)
def test_wrong_json_types_are_a_400_naming_the_field(
    http: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    status = status_of(http.post(path, json=body), 400, 3)
    assert (field, "invalid_type") in field_violations(status)


def test_invalid_json_is_a_400(http: httpx.Client) -> None:
    for body in ("{'name': 'x'}", '{"name": "x",}', '{"name": "x"} {"pad": 1}'):
        response = http.post(
            "/workflow-ids/claim", content=body, headers={"content-type": "application/json"}
        )
        assert error_info(status_of(response, 400, 3))["reason"] == "INVALID_JSON"


# ---------------------------------------------------------------- unknown fields


def test_an_unknown_nested_field_is_refused_and_nothing_is_registered(
    http: httpx.Client,
) -> None:
    # Issue 12: "input_shema" registered the type without a schema and said nothing.
    body = {
        "worker_id": "gw-typo",
        "task_queue": "gw-q",
        "workflows": [{"workflow_type": "gw.typo.v1", "input_shema": {"type": "object"}}],
    }
    status = status_of(http.post("/registry/workers", json=body), 400, 3)
    assert error_info(status)["reason"] == "UNKNOWN_FIELD"
    assert field_violations(status) == [("workflows[0].input_shema", "unknown_field")]
    assert 'did you mean "input_schema"' in status["message"]
    assert http.get("/registry/workers/gw-typo").status_code == 404
    assert http.get("/registry/workflows/gw.typo.v1").status_code == 404


def test_unknown_fields_are_refused_on_every_body_route(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for verb, operation in operations.items():
            concrete = path.replace("{", "gw-").replace("}", "")
            response = http.request(verb.upper(), concrete, json={"gw_unknown": 1})
            status = status_of(response, 400, 3)
            assert field_violations(status) == [("gw_unknown", "unknown_field")] or (
                # body "workflow": the body is the Workflow, named so in field paths
                field_violations(status) == [("workflow.gw_unknown", "unknown_field")]
            ), (verb, path, status)
            assert "requestBody" in operation or "takes no request body" in status["message"]


def test_known_fields_by_proto_name_and_json_name_still_work(http: httpx.Client) -> None:
    for body in (
        {"name": "Gateway Names", "request_id": "gw-r1"},
        {"name": "Gateway Names", "requestId": "gw-r2"},
    ):
        response = http.post("/workflow-ids/claim", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["slug"] == "gateway-names"
    registration = {
        "workerId": "gw-camel",
        "taskQueue": "gw-q",
        "ttl_seconds": 30,
        "labels": {"team": "gw"},
        "workflows": [
            {
                "workflowType": "gw.camel.v1",
                "inputSchema": {"type": "object", "properties": {"a": {"type": "string"}}},
                "search_attributes": [],
            }
        ],
    }
    response = http.post("/registry/workers", json=registration)
    assert response.status_code == 200, response.text
    assert http.get("/registry/workflows/gw.camel.v1").json()["input_schema"]["type"] == "object"
    assert http.delete("/registry/workers/gw-camel").status_code == 200


def test_a_body_cannot_override_the_url(http: httpx.Client) -> None:
    # The transcoder reads a body on any route and lets it override path bindings: DELETE
    # /registry/workers/a with {"worker_id": "b"} unregistered b.
    registration = {
        "worker_id": "gw-keep",
        "task_queue": "gw-q",
        "workflows": [{"workflow_type": "gw.keep.v1"}],
    }
    assert http.post("/registry/workers", json=registration).status_code == 200
    response = http.request("DELETE", "/registry/workers/gw-other", json={"worker_id": "gw-keep"})
    assert field_violations(status_of(response, 400, 3)) == [("worker_id", "unknown_field")]
    response = http.post("/registry/workers/gw-other/heartbeat", json={"worker_id": "gw-keep"})
    assert status_of(response, 400, 3)["code"] == 3
    assert http.get("/registry/workers/gw-keep").status_code == 200
    assert http.delete("/registry/workers/gw-keep").status_code == 200


def test_trailing_slashes_are_checked_like_the_transcoder_routes_them(
    http: httpx.Client,
) -> None:
    response = http.post("/workflow-ids/claim//", json={"name": "x", "gw_unknown": 1})
    assert field_violations(status_of(response, 400, 3)) == [("gw_unknown", "unknown_field")]
    assert http.get("/registry/workers/").status_code == 200
    assert http.get("/health/").status_code == 200


def test_the_registry_stays_ready_and_writable(http: httpx.Client, envoy: Envoy) -> None:
    assert http.get("/ready").status_code == 200
    response = http.post("/workflow-ids/claim", json={"name": "gw after limits"})
    assert response.status_code == 200, response.text


def test_an_over_long_id_over_native_grpc_gets_a_bounded_status(
    registry_channel: grpc.Channel,
) -> None:
    # Errors never echo an id in full: their status travels as trailers, which Envoy caps
    # (a 31 KB id once made its 404 a 502 "protocol error" through Envoy).
    stub = registry_pb2_grpc.RegistryServiceStub(registry_channel)
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetWorker(registry_pb2.GetWorkerRequest(worker_id="w" * 10_000), timeout=10)
    status = rpc_status.from_call(raised.value)
    assert status is not None
    assert status.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert len(status.message) <= 1000
