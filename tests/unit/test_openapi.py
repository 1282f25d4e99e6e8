"""The OpenAPI document: valid OpenAPI 3.1, every annotated RPC present with its method and
path (checked against the route map scripts/check_routes.py reads from the same descriptor
set), and schemas that follow proto3 JSON and the field behaviours."""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from registry.server.openapi import openapi_document

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import check_routes  # noqa: E402

DESCRIPTOR = ROOT / "gen" / "descriptor.binpb"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        files("temporal_registry.v1").joinpath("openapi.json").read_text(encoding="utf-8")
    )
    return loaded


def test_the_committed_document_is_what_the_descriptor_gives(document: dict[str, Any]) -> None:
    fresh = openapi_document(DESCRIPTOR.read_bytes(), title="temporal-registry", version="v1")
    assert json.loads(json.dumps(fresh, sort_keys=True)) == document


def test_it_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_annotated_rpc_is_there_with_its_method_and_path(document: dict[str, Any]) -> None:
    routes = check_routes.routes_from_bytes(DESCRIPTOR.read_bytes())
    expected = {
        (route.verb.lower(), route.path)
        for method_routes in routes.values()
        for route in method_routes
    }
    present = {
        (verb, path) for path, operations in document["paths"].items() for verb in operations
    }
    assert present == expected
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids)) == sum(len(r) for r in routes.values())


def operation(document: dict[str, Any], verb: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = document["paths"][path][verb]
    return found


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][f"temporal_registry.v1.{name}"]
    return found


def test_parameters_and_bodies_follow_the_http_rules(document: dict[str, Any]) -> None:
    get = operation(document, "get", "/registry/workflows/{workflow_type}")
    assert get["parameters"][0] == {
        "name": "workflow_type",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "The workflow type.",
    }
    assert [p["name"] for p in get["parameters"][1:]] == ["if_none_match", "If-None-Match"]
    assert set(get["responses"]) == {"200", "304", "default"}
    assert "ETag" in get["responses"]["200"]["headers"]
    listing = operation(document, "get", "/registry/workflows")
    assert [p["name"] for p in listing["parameters"]] == [
        "page_size",
        "page_token",
        "label_selector",
        "enabled",
        "healthy",
        "view",
        "if_none_match",
        "wait",
        "revision",
        "If-None-Match",
    ]
    # body "workflow": the Workflow resource is the body, flat as in 0.1.x
    create = operation(document, "post", "/registry/workflows")
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/temporal_registry.v1.Workflow"}
    assert [p["name"] for p in create["parameters"]] == ["validate_only"]
    # body "*" with a path field: the path field is not in the body
    start = operation(document, "post", "/workflows/{workflow_type}/start")
    start_body = start["requestBody"]["content"]["application/json"]["schema"]
    assert "workflow_type" not in start_body["properties"]
    assert "input" in start_body["properties"]
    errors = start["responses"]["default"]["content"]["application/json"]["schema"]
    assert errors == {"$ref": "#/components/schemas/google.rpc.Status"}


def test_schemas_follow_proto3_json_and_field_behaviours(document: dict[str, Any]) -> None:
    workflow = schema(document, "Workflow")
    assert workflow["required"] == ["workflow_type"]
    assert workflow["properties"]["workers"]["readOnly"] is True
    assert workflow["properties"]["input_schema"]["type"] == "object"
    assert workflow["properties"]["labels"]["additionalProperties"] == {"type": "string"}
    status = schema(document, "GetRegistryStatusResponse")
    assert status["properties"]["revision"]["type"] == ["string", "integer"]
    assert schema(document, "WorkflowView")["enum"] == [
        "WORKFLOW_VIEW_UNSPECIFIED",
        "WORKFLOW_VIEW_BASIC",
        "WORKFLOW_VIEW_FULL",
    ]
    start = operation(document, "post", "/workflows/{workflow_type}/start")
    body = start["requestBody"]["content"]["application/json"]["schema"]
    timeout = body["properties"]["execution_timeout"]
    assert timeout["type"] == "string" and timeout["pattern"].endswith("s$")
