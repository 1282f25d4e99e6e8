"""How the registry's model is written in shard entries (JSON), and read back.

One encoding for every side: the server builds operations with it, the shard rules read and
write entries with it (in the workflow sandbox: standard library and registry.shared.model
only), and the process's views decode entries with it.

- a worker: `{"task_queue", "environment", "labels", "ttl", "workflows", "registered",
  "expires", "principal"}`
- a workflow type: `{"spec": {everything declared but the schema}, "schema": <digest or "">,
  "_refs": [digest], "enabled", "disabled_reason", "source", "owner", "updated"}`; the schema
  is a blob of the shard, stored once whatever number of types declare it.
- a readable-id counter (`s:<slug>`): `{"counter", "last"}`; a request record
  (`r:<request_id>`): `{"slug", "counter", "at"}`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from registry.shared.model import (
    InputWarningSpec,
    SearchAttributeSpec,
    SlugCounter,
    StoredWorker,
    StoredWorkflow,
    WorkflowSpec,
)

SLUG_PREFIX: Final = "s:"
REQUEST_PREFIX: Final = "r:"


def canonical(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def schema_digest(schema: Mapping[str, Any]) -> str:
    """The content address of a schema: 32 hex digits of the SHA-256 of its canonical JSON
    ("" for the empty schema, which is stored as no schema)."""
    if not schema:
        return ""
    return hashlib.sha256(canonical(schema).encode()).hexdigest()[:32]


# --- workers -------------------------------------------------------------------------------


def worker_fields(
    task_queue: str, environment: str, labels: Mapping[str, str], ttl: int, workflows: list[str]
) -> dict[str, Any]:
    """What a registration declares about a worker (the `worker` of a register operation)."""
    return {
        "task_queue": task_queue,
        "environment": environment,
        "labels": dict(labels),
        "ttl": ttl,
        "workflows": list(workflows),
    }


def stored_worker(key: str, raw: str) -> StoredWorker:
    entry = json.loads(raw)
    return StoredWorker(
        worker_id=key,
        task_queue=entry["task_queue"],
        environment=entry.get("environment", ""),
        labels=dict(entry.get("labels", {})),
        ttl_seconds=int(entry.get("ttl", 60)),
        workflows=list(entry.get("workflows", [])),
        registered_epoch=float(entry.get("registered", 0.0)),
        lease_expires_epoch=float(entry.get("expires", 0.0)),
        principal=entry.get("principal", ""),
    )


# --- workflow types ------------------------------------------------------------------------


def spec_fields(spec: WorkflowSpec) -> dict[str, Any]:
    """A declaration without its input schema (the `spec` of a type operation)."""
    return {
        "task_queue": spec.task_queue,
        "version": spec.version,
        "description": spec.description,
        "schedule_input_warnings": [
            {"field": w.field, "message": w.message} for w in spec.schedule_input_warnings
        ],
        "search_attributes": [
            {"name": a.name, "type": a.type, "description": a.description}
            for a in spec.search_attributes
        ],
        "labels": dict(spec.labels),
    }


def workflow_spec(workflow_type: str, fields: Mapping[str, Any], schema: Any) -> WorkflowSpec:
    return WorkflowSpec(
        workflow_type=workflow_type,
        task_queue=fields.get("task_queue", ""),
        version=fields.get("version", ""),
        description=fields.get("description", ""),
        input_schema=dict(schema) if isinstance(schema, dict) else {},
        schedule_input_warnings=[
            InputWarningSpec(w["field"], w["message"])
            for w in fields.get("schedule_input_warnings", [])
        ],
        search_attributes=[
            SearchAttributeSpec(a["name"], a["type"], a.get("description", ""))
            for a in fields.get("search_attributes", [])
        ],
        labels=dict(fields.get("labels", {})),
    )


def stored_workflow(key: str, raw: str, blobs: Mapping[str, Any]) -> StoredWorkflow:
    """A type entry as the model has it, with its schema from the shard's blobs."""
    entry = json.loads(raw)
    schema = blobs.get(entry.get("schema", ""), {}) if entry.get("schema") else {}
    return StoredWorkflow(
        spec=workflow_spec(key, entry.get("spec", {}), schema),
        enabled=bool(entry.get("enabled", True)),
        disabled_reason=entry.get("disabled_reason", ""),
        source=entry.get("source", "worker"),
        update_time_epoch=float(entry.get("updated", 0.0)),
        owner=entry.get("owner", ""),
    )


# --- readable ids --------------------------------------------------------------------------


def slug_counter(key: str, raw: str) -> SlugCounter | None:
    """A `s:<slug>` entry as a SlugCounter; None for the shard's other entries."""
    if not key.startswith(SLUG_PREFIX):
        return None
    entry = json.loads(raw)
    return SlugCounter(key[len(SLUG_PREFIX) :], int(entry["counter"]), float(entry["last"]))
