"""One example domain everywhere: the orders worker of examples/python-worker declares
`order.v1` and `order.report.v1` on the queue `orders`, and every other place that declares
them (the sample manifest, the registrations the docs send with curl) declares the same
specs, so whichever registers last, a start the docs show runs on the worker. The input
schemas compare without pydantic's `title`s (annotations the registry ignores)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from google.protobuf import json_format
from integration.doc_commands import command_blocks

from registry.client.manifest import load_manifest
from registry.client.worker import registration_request
from registry.schemas.compatibility import backward_breaks, forward_breaks
from registry.shared.schemas import compile_schema

REPO = Path(__file__).resolve().parents[2]
WORKER = REPO / "examples" / "python-worker" / "worker.py"
MANIFEST = REPO / "examples" / "manifest" / "worker.yaml"
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCED = re.compile(r"^```(?P<language>\w*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def example_worker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("orders_example_worker", WORKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def untitled(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: untitled(v) for k, v in value.items() if k != "title"}
    if isinstance(value, list):
        return [untitled(v) for v in value]
    return value


def specs_of(request: Any) -> dict[str, dict[str, Any]]:
    body = json_format.MessageToDict(request, preserving_proto_field_name=True)
    return {w["workflow_type"]: untitled(w) for w in body["workflows"]}


def the_domain() -> dict[str, dict[str, Any]]:
    worker = example_worker()
    request = registration_request(
        [worker.OrderWorkflow, worker.ReportWorkflow], task_queue=worker.TASK_QUEUE
    )
    assert request.task_queue == "orders"
    return specs_of(request)


def test_the_manifest_declares_what_the_example_worker_runs() -> None:
    manifest = load_manifest(MANIFEST, {})
    assert manifest.task_queue == "orders"
    assert specs_of(manifest) == the_domain()


def test_every_registration_in_the_docs_declares_the_domain_s_specs() -> None:
    domain = the_domain()
    seen = 0
    for doc in DOCS:
        for block in command_blocks(doc):
            for body in re.findall(r"-d '(\{.*?\})'", block.body, re.DOTALL):
                request = json.loads(body)
                for workflow in request.get("workflows", []):
                    spec = domain.get(workflow["workflow_type"])
                    assert spec is not None, f"{block.where}: {workflow['workflow_type']}"
                    assert request["task_queue"] == "orders", block.where
                    assert "input_schema" in workflow, block.where
                    shown = {k: v for k, v in spec.items() if k in workflow}
                    assert workflow == shown, block.where
                    seen += 1
    assert seen >= 2  # docs/registry.md and docs/workers.md register order.v1 by hand


def test_the_sample_order_fits_order_v1() -> None:
    schema = the_domain()["order.v1"]["input_schema"]
    order = json.loads((REPO / "examples" / "order.json").read_text())
    assert compile_schema(schema)(order) == []


def test_the_worker_code_in_the_docs_is_the_example_s() -> None:
    """docs/workers.md quotes the example worker; each quote is in the file as shown."""
    example = [line.strip() for line in WORKER.read_text().splitlines()]
    text = (REPO / "docs" / "workers.md").read_text()
    quotes = [
        m["body"]
        for m in FENCED.finditer(text)
        if m["language"] == "python" and "place_order" in m["body"]
    ]
    assert len(quotes) == 2
    for quote in quotes:
        lines = [line.strip() for line in textwrap.dedent(quote).splitlines()]
        assert any(example[i : i + len(lines)] == lines for i in range(len(example))), (
            f"not in {WORKER.name}:\n{quote}"
        )


def test_the_manifest_in_the_docs_is_the_sample() -> None:
    text = (REPO / "docs" / "workers.md").read_text()
    (shown,) = [
        m["body"]
        for m in FENCED.finditer(text)
        if m["language"] == "yaml" and "worker_id:" in m["body"]
    ]
    assert yaml.safe_load(shown) == yaml.safe_load(MANIFEST.read_text())


def test_the_next_release_differs_only_by_a_backward_compatible_order_schema() -> None:
    """docs/schemas.md deploys examples/manifest/worker-v2.yaml beside the example worker: the
    same specs, but order.v1 no longer requires amount_cents, which the registry's default
    mode (BACKWARD) accepts and FORWARD would not."""
    domain = the_domain()
    release = specs_of(load_manifest(MANIFEST.with_name("worker-v2.yaml"), {}))
    assert release["order.report.v1"] == domain["order.report.v1"]
    current, following = domain["order.v1"], release["order.v1"]
    assert {**following, "input_schema": None, "version": None} == {
        **current,
        "input_schema": None,
        "version": None,
    }
    assert (current["version"], following["version"]) == ("1", "2")
    assert following["input_schema"] == {
        **current["input_schema"],
        "required": ["order_id"],
    }
    assert backward_breaks(current["input_schema"], following["input_schema"]) == []
    assert forward_breaks(current["input_schema"], following["input_schema"]) != []
