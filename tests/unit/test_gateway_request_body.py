"""The request-body check of the HTTP/JSON routes (gateway/request_body.lua), run in LuaJIT
(lupa) with the rules registry/devstack/gateway.py generates from the real descriptor set, as Envoy
runs it; and the generated rules themselves."""

from __future__ import annotations

import json
import time
from importlib.resources import files
from typing import Any

import pytest
from google.protobuf import descriptor_pb2
from lupa.luajit21 import LuaRuntime

from registry.devstack.gateway import (
    DEFAULT_DESCRIPTOR,
    BodyRoute,
    _check_template,
    _json_name,
    body_rules,
    request_body_lua,
)

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


@pytest.fixture(scope="module")
def lua() -> Any:
    """The module table the script returns: find_route, check_body, json_string."""
    return LuaRuntime().execute(request_body_lua(DEFAULT_DESCRIPTOR))


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        files("temporal_registry.v1").joinpath("openapi.json").read_text(encoding="utf-8")
    )
    return loaded


def check(lua: Any, method: str, path: str, body: str | bytes) -> dict[str, Any] | None:
    """None when the body passes; else the Status JSON (after checking the HTTP status)."""
    route = lua.find_route(method, path)
    assert route is not None, f"{method} {path} matches no route"
    data = body.encode() if isinstance(body, str) else body
    result = lua.check_body(route, data)
    if result is None:
        return None
    status, reply = result
    assert status == 400
    parsed: dict[str, Any] = json.loads(reply)
    assert set(parsed) == {"code", "message", "details"}
    assert parsed["code"] == 3
    assert parsed["details"][0]["@type"] == ERROR_INFO
    assert parsed["details"][0]["domain"] == "temporal-registry"
    return parsed


def violations(status: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(field, reason) of each BadRequest violation of status."""
    assert status is not None
    bad_request = [d for d in status["details"] if d["@type"] == BAD_REQUEST]
    return [(v["field"], v["reason"]) for v in bad_request[0]["field_violations"]]


def reason(status: dict[str, Any] | None) -> str:
    assert status is not None
    value: str = status["details"][0]["reason"]
    return value


def register(**workflow: Any) -> str:
    return json.dumps(
        {"worker_id": "w", "task_queue": "q", "workflows": [{"workflow_type": "t.v1", **workflow}]}
    )


# ---------------------------------------------------------------- valid bodies pass


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/registry/workers", register()),
        ("POST", "/registry/workers", register(labels={"k": "v"}, enabled=True)),
        # json_names (lowerCamel), as the transcoder accepts them
        ("POST", "/registry/workers", '{"workerId":"w","taskQueue":"q","ttlSeconds":30}'),
        # an escaped key is the key it decodes to
        ("POST", "/workflow-ids/claim", '{"n\\u0061me":"abc"}'),
        # Struct and Value hold any JSON, with any keys
        (
            "POST",
            "/registry/workers",
            register(input_schema={"type": "object", "x-any": [1, {"deep": None}], "$id": "u"}),
        ),
        (
            "POST",
            "/workflows/t.v1/start",
            '{"input":[1,"a",{"b":[true,null]}],"memo":{"m":{"k":[]}},"validate_only":true}',
        ),
        ("POST", "/workflows/t.v1/start", '{"input":"just a string"}'),
        # enums by name or number; bools as JSON or strings; numbers as numbers or strings
        ("POST", "/workflows/t.v1/start", '{"id_conflict_policy":2,"validate_only":"true"}'),
        ("POST", "/workflows/t.v1/start", '{"id_reuse_policy":"WORKFLOW_ID_REUSE_POLICY_X"}'),
        ("POST", "/schedules/s", '{"workflow_type":"t","interval_seconds":"60","paused":false}'),
        ("POST", "/schedules/s", '{"workflow_type":"t","fire_offsets_seconds":[0,"5",1e2]}'),
        # Duration: its string, or its fields
        ("POST", "/workflows/t.v1/start", '{"execution_timeout":"10s"}'),
        ("POST", "/workflows/t.v1/start", '{"run_timeout":{"seconds":10,"nanos":0}}'),
        # null is the default value, for any field and map value
        ("POST", "/registry/workers", '{"worker_id":null,"labels":{"k":null},"workflows":null}'),
        # body "workflow": the body is the Workflow itself
        ("POST", "/registry/workflows", '{"workflow_type":"t.v1","task_queue":"q"}'),
        ("PUT", "/registry/workflows/t.v1", '{"task_queue":"q","input_schema":{}}'),
        # the path-bound field may repeat in a body "*" (the transcoder compares the two)
        ("POST", "/registry/workers/w/heartbeat", '{"worker_id":"w"}'),
        # no body, an empty object, whitespace around the value
        ("POST", "/registry/shutdown", ""),
        ("POST", "/registry/shutdown", " \r\n\t{ } \n"),
        ("GET", "/health", "{}"),
        ("DELETE", "/registry/workers/w?x=1", "{}"),
        # non-ASCII and every escape in strings
        (
            "POST",
            "/workflow-ids/claim",
            '{"name":"caf\\u00e9 \u00e9\\ud83d\\ude00 \\"\\\\\\/\\b\\f\\n\\r\\t"}',
        ),
    ],
)
def test_valid_bodies_pass(lua: Any, method: str, path: str, body: str) -> None:
    assert check(lua, method, path, body) is None


def _sample(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """A value of every property of schema (an OpenAPI schema of the proto3 JSON mapping)."""
    if "$ref" in schema:
        return _sample(components[schema["$ref"].rsplit("/", 1)[1]], components, depth)
    if "allOf" in schema:
        return _sample(schema["allOf"][0], components, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0]
    if "enum" in schema:
        return schema["enum"][-1]
    if kind == "object":
        if isinstance(schema.get("additionalProperties"), dict):  # a map
            return {"key": _sample(schema["additionalProperties"], components, depth + 1)}
        if "properties" not in schema:
            return {"any": {"nested": [1, "x"]}}
        if depth > 3:
            return {}
        return {
            name: _sample(prop, components, depth + 1)
            for name, prop in schema["properties"].items()
        }
    if kind == "array":
        return [_sample(schema["items"], components, depth + 1)]
    if kind == "integer":
        return 5
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "string":
        return "10s" if "pattern" in schema else "x"
    return {"any": "value"}  # google.protobuf.Value: any JSON


def test_every_documented_body_with_every_field_passes(lua: Any, openapi: dict[str, Any]) -> None:
    components = openapi["components"]["schemas"]
    checked = 0
    for path, operations in openapi["paths"].items():
        for verb, operation in operations.items():
            if "requestBody" not in operation:
                continue
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            body = json.dumps(_sample(schema, components))
            concrete = path.replace("{", "").replace("}", "")
            assert check(lua, verb.upper(), concrete, body) is None, (verb, path, body)
            checked += 1
    assert checked >= 15


# ---------------------------------------------------------------- unknown fields


def test_unknown_field_in_a_nested_message_is_named(lua: Any) -> None:
    status = check(lua, "POST", "/registry/workers", register(input_shema={"type": "object"}))
    assert violations(status) == [("workflows[0].input_shema", "unknown_field")]
    assert reason(status) == "UNKNOWN_FIELD"
    assert status is not None
    assert status["message"].startswith("workflows[0].input_shema: unknown field")
    assert '(did you mean "input_schema"?)' in status["message"]


def test_unknown_top_level_fields_are_all_named(lua: Any) -> None:
    body = '{"name":"a","pad":"x","nested":{"deep":[1,{"a":2}]},"requestId":"r","also":1}'
    status = check(lua, "POST", "/workflow-ids/claim", body)
    assert violations(status) == [
        ("pad", "unknown_field"),
        ("nested", "unknown_field"),
        ("also", "unknown_field"),
    ]
    assert status is not None
    assert status["message"].endswith("(and 2 more)")


def test_field_names_are_case_sensitive(lua: Any) -> None:
    status = check(lua, "POST", "/workflow-ids/claim", '{"NAME":"x"}')
    assert violations(status) == [("NAME", "unknown_field")]


def test_unknown_field_of_a_body_field_route_has_its_prefix(lua: Any) -> None:
    status = check(lua, "POST", "/registry/workflows", '{"workflow_type":"t","bogus":1}')
    assert violations(status) == [("workflow.bogus", "unknown_field")]


def test_unknown_field_in_a_list_of_messages(lua: Any) -> None:
    body = '{"workflow_type":"t","spec":{"calendars":[{"hour":"1"},{"hour":"2","hours":"3"}]}}'
    status = check(lua, "POST", "/schedules/s", body)
    assert violations(status) == [("spec.calendars[1].hours", "unknown_field")]


def test_body_on_a_route_without_body_is_refused(lua: Any) -> None:
    # The transcoder would read it over the path: DELETE /registry/workers/a with this body
    # unregistered worker b.
    status = check(lua, "DELETE", "/registry/workers/a", '{"worker_id":"b"}')
    assert violations(status) == [("worker_id", "unknown_field")]
    assert status is not None
    assert "DELETE /registry/workers/{worker_id} takes no request body" in status["message"]


def test_violations_are_capped(lua: Any) -> None:
    body = json.dumps({f"f{i}": i for i in range(100)})
    assert len(violations(check(lua, "POST", "/workflow-ids/claim", body))) == 20


def test_a_long_unknown_key_is_shortened(lua: Any) -> None:
    status = check(lua, "POST", "/workflow-ids/claim", json.dumps({"k" * 5000: 1}))
    assert violations(status) == [("k" * 64 + "...", "unknown_field")]


def test_invalid_utf8_in_a_key_gives_valid_json(lua: Any) -> None:
    status = check(lua, "POST", "/workflow-ids/claim", b'{"a\xff\xc3(":1}')
    assert violations(status) == [("a\ufffd\ufffd(", "unknown_field")]


# ---------------------------------------------------------------- wrong JSON types


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # the 500 "Wire format was corrupt"
        (register(labels={"k": {}}), 'workflows[0].labels["k"]'),
        ('{"labels":{"k":{}}}', 'labels["k"]'),
        ('{"labels":{"k":["a"]}}', 'labels["k"]'),
        ('{"labels":{"k":1}}', 'labels["k"]'),
        ('{"labels":["a"]}', "labels"),
        ('{"labels":"a"}', "labels"),
        ('{"workflows":{"workflow_type":"t"}}', "workflows"),
        ('{"workflows":["t"]}', "workflows[0]"),
        ('{"workflows":[{"workflow_type":"t"},null]}', "workflows[1]"),
        ('{"worker_id":{}}', "worker_id"),
        ('{"worker_id":["w"]}', "worker_id"),
        ('{"worker_id":1}', "worker_id"),
        ('{"worker_id":true}', "worker_id"),
        ('{"ttl_seconds":{}}', "ttl_seconds"),
        ('{"ttl_seconds":true}', "ttl_seconds"),
        (register(input_schema=[]), "workflows[0].input_schema"),
        (register(input_schema="x"), "workflows[0].input_schema"),
        (
            register(search_attributes=[{"name": "A", "type": {}}]),
            "workflows[0].search_attributes[0].type",
        ),
    ],
)
def test_wrong_json_type_in_registration_is_named(lua: Any, body: str, field: str) -> None:
    status = check(lua, "POST", "/registry/workers", body)
    assert violations(status) == [(field, "invalid_type")]
    assert reason(status) == "INVALID_FIELD_TYPE"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"id_conflict_policy":{}}', "id_conflict_policy"),
        ('{"id_conflict_policy":[]}', "id_conflict_policy"),
        ('{"id_conflict_policy":true}', "id_conflict_policy"),
        ('{"validate_only":1}', "validate_only"),
        ('{"execution_timeout":10}', "execution_timeout"),
        ('{"execution_timeout":[]}', "execution_timeout"),
        ('{"memo":[1]}', "memo"),
        ('{"memo":"x"}', "memo"),
        ('{"search_attributes":[]}', "search_attributes"),
    ],
)
def test_wrong_json_type_in_a_start_is_named(lua: Any, body: str, field: str) -> None:
    assert violations(check(lua, "POST", "/workflows/t.v1/start", body)) == [
        (field, "invalid_type")
    ]


def test_the_body_must_be_an_object(lua: Any) -> None:
    for body in ("[]", '"x"', "1", "null", "true"):
        status = check(lua, "POST", "/workflow-ids/claim", body)
        assert status is not None
        assert status["message"] == "the request body must be a JSON object", body


# ---------------------------------------------------------------- not JSON


@pytest.mark.parametrize(
    "body",
    [
        "{'name':'x'}",
        "{name:1}",
        '{"name":"x",}',
        '{"name":"x"} x',
        '{"name":"x"}{"bogus":1}',
        '{"name":"x"',
        '{"name" "x"}',
        '{"n\\x":"x"}',
        '{"n\\u12":"x"}',
        '{"input":{"a":[1}',
        '{"input":{"a":"]}',
        '{"name":01}',
        '{"name":1.}',
        '{"name":NaN}',
        '{"name":tru}',
        "\ufeff{}",
        "{/*c*/}",
        '{"name": }',
        '{"name":"x" "request_id":"r"}',
        "{" * 1001 + "}" * 1001,
    ],
)
def test_invalid_json_is_refused(lua: Any, body: str) -> None:
    status = check(lua, "POST", "/workflow-ids/claim", body)
    assert reason(status) == "INVALID_JSON"
    assert status is not None
    assert status["message"].startswith("the request body is not valid JSON: ")
    assert len(status["details"]) == 1


def test_free_form_values_are_skipped_bracket_by_bracket(lua: Any) -> None:
    # Struct and Value contents are the transcoder's to parse; brackets in strings do not
    # count, and what follows the value is checked again.
    body = '{"input":{"a":"}]{[\\"\\\\","b":[1,{"c":"]"}]},"validate_only":true,"bogus":1}'
    status = check(lua, "POST", "/workflows/t.v1/start", body)
    assert violations(status) == [("bogus", "unknown_field")]
    deep = "[" * 5000 + "]" * 5000
    assert check(lua, "POST", "/workflows/t.v1/start", '{"input":' + deep + "}") is None


def test_string_values_are_left_to_the_transcoder(lua: Any) -> None:
    # Invalid escapes and raw control characters in values: the transcoder refuses them.
    for body in ('{"name":"x\u0001"}', '{"name":"\\x"}', '{"name":"\\u12"}'):
        assert check(lua, "POST", "/workflow-ids/claim", body) is None, body


def test_escaped_keys_are_decoded(lua: Any) -> None:
    status = check(lua, "POST", "/workflow-ids/claim", '{"a\\\\b\\u00e9\\ud83d\\ude00":1}')
    assert violations(status) == [("a\\b\u00e9\U0001f600", "unknown_field")]
    status = check(lua, "POST", "/workflow-ids/claim", '{"\\ud800x":1}')
    assert violations(status) == [("\ufffdx", "unknown_field")]


# ---------------------------------------------------------------- routes


def test_every_documented_operation_finds_its_route(lua: Any, openapi: dict[str, Any]) -> None:
    for path, operations in openapi["paths"].items():
        for verb, operation in operations.items():
            concrete = path.replace("{", "x").replace("}", "x")
            route = lua.find_route(verb.upper(), concrete + "?a=b")
            assert route is not None, (verb, path)
            service, method = operation["operationId"].split("_")
            assert route.rpc == f"/temporal_registry.v1.{service}/{method}"


def test_an_empty_path_variable_routes_as_in_the_transcoder(lua: Any) -> None:
    # The transcoder binds an empty segment to an empty field, which the registry refuses
    # naming it; the check must choose the same method, or the guard after it answers 500.
    assert lua.find_route("POST", "/workflows//start").rpc.endswith("/StartWorkflow")
    assert lua.find_route("POST", "/registry/workers//heartbeat").rpc.endswith("/Heartbeat")
    assert lua.find_route("POST", "/schedules//pause").rpc.endswith("/PauseSchedule")


def test_unknown_routes_are_left_to_the_transcoder(lua: Any) -> None:
    assert lua.find_route("GET", "/nope") is None
    assert lua.find_route("PATCH", "/registry/workers") is None
    assert lua.find_route("POST", "/registry/workers/a/b/heartbeat") is None
    # trailing slashes are ignored, as the transcoder does
    assert lua.find_route("GET", "/registry/workers//?page_size=1").rpc.endswith("/ListWorkers")
    assert lua.find_route("POST", "/registry/workers/w/heartbeat/").rpc.endswith("/Heartbeat")
    # a literal segment is not a variable: /registry/status is GetRegistryStatus
    assert lua.find_route("GET", "/registry/status").rpc.endswith("/GetRegistryStatus")


# ---------------------------------------------------------------- the generated rules


@pytest.fixture(scope="module")
def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    return descriptor_pb2.FileDescriptorSet.FromString(DEFAULT_DESCRIPTOR.read_bytes())


def test_rules_cover_every_route_with_its_body(
    descriptor_set: descriptor_pb2.FileDescriptorSet, openapi: dict[str, Any]
) -> None:
    rules = body_rules(descriptor_set)
    documented = {(v.upper(), p) for p, ops in openapi["paths"].items() for v in ops}
    assert {(r.verb, r.template) for r in rules.routes} == documented
    by_rpc = {r.rpc.rsplit("/", 1)[1]: r for r in rules.routes}
    assert by_rpc["RegisterWorker"] == BodyRoute(
        "POST",
        "/registry/workers",
        "/temporal_registry.v1.RegistryService/RegisterWorker",
        "",
        {"k": "message", "t": "temporal_registry.v1.RegisterWorkerRequest"},
    )
    assert by_rpc["CreateWorkflow"].prefix == "workflow"
    assert by_rpc["CreateWorkflow"].root == {"k": "message", "t": "temporal_registry.v1.Workflow"}
    assert by_rpc["GetWorker"].root == {"k": "none"}


def test_rules_describe_each_field_kind(descriptor_set: descriptor_pb2.FileDescriptorSet) -> None:
    messages = body_rules(descriptor_set).messages
    workflow = {
        proto: (json_name, spec)
        for proto, json_name, spec in messages["temporal_registry.v1.Workflow"]
    }
    assert workflow["input_schema"] == ("inputSchema", {"k": "struct"})
    assert workflow["labels"] == ("labels", {"k": "map", "v": {"k": "string"}})
    assert workflow["search_attributes"] == (
        "searchAttributes",
        {"k": "list", "i": {"k": "message", "t": "temporal_registry.v1.SearchAttribute"}},
    )
    start = {
        proto: spec for proto, _, spec in messages["temporal_registry.v1.StartWorkflowRequest"]
    }
    assert start["input"] == {"k": "value"}
    assert start["id_conflict_policy"] == {"k": "enum"}
    assert start["execution_timeout"] == {"k": "wkt", "t": "google.protobuf.Duration"}
    assert start["validate_only"] == {"k": "bool"}
    assert "google.protobuf.Duration" in messages  # its object form is checked too
    # only what a request body can hold
    assert "temporal_registry.v1.StartWorkflowResponse" not in messages


def test_json_name_is_lower_camel_case() -> None:
    assert _json_name("worker_id") == "workerId"
    assert _json_name("fire_offsets_seconds") == "fireOffsetsSeconds"
    assert _json_name("name") == "name"


def test_templates_the_lua_cannot_match_are_refused() -> None:
    _check_template("/registry/workers/{worker_id}/heartbeat")
    _check_template("/v1/{name=*}")
    for template in ("/v1/{name=**}", "/v1/{name=shelves/*}", "/v1/x:verb"):
        with pytest.raises(ValueError, match="not supported"):
            _check_template(template)


def test_a_large_body_is_checked_quickly(lua: Any) -> None:
    # The worst case per byte: a 1 MiB array of small numbers inside a Value.
    body = ('{"input":[' + ",".join(["1"] * 500_000) + "]}").encode()
    route = lua.find_route("POST", "/workflows/t.v1/start")
    started = time.perf_counter()
    assert lua.check_body(route, body) is None
    assert time.perf_counter() - started < 5  # ~0.1 s here; generous for a loaded machine
