"""A 0.2 registry, read from its history: the catalogue its one workflow held, as an export.

Version 0.2 kept all registry state in one workflow (`registry.workflow_id`, workflow type
`TemporalRegistry`) whose run input is `{"catalog": {"revision", "workflows": {type:
StoredWorkflow}, "workers": {id: StoredWorker}, "slugs": {slug: SlugCounter}}, ...}` and
whose every write update answered a CatalogChange, the change it made: a dict with the
new `revision` and the lists below (`_CHANGE_FIELDS`) of upserted and deleted entries. Its
current state is therefore its current run's input with every completed write's result
applied in order, as 0.2 applied them (`apply_change` below, unchanged in meaning):
no workflow code runs, so nothing is decided again with today's rules.

The catalogue becomes an Export (registry.catalog.export), from which the shards' states are
built as for an import; registry.catalog.transfer starts them (the migration at startup).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.converter import value_to_type

from registry.catalog.export import Export
from registry.catalog.layout import IDS, TYPES, WORKERS
from registry.catalog.shard_rules import type_entry, worker_entry
from registry.dispatch.claims import request_key, slug_key
from registry.shared.model import StoredWorker, StoredWorkflow

LEGACY_WORKFLOW_TYPE: Final = "TemporalRegistry"
# The lists of a CatalogChange; a write's result has them all (a dict with a revision).
_CHANGE_FIELDS: Final = (
    "workflows",
    "workers",
    "deleted_workflows",
    "deleted_workers",
    "slugs",
    "deleted_slugs",
)


class NotLegacy(ValueError):
    """A history that is not a 0.2 registry's."""


def input_and_results(
    events: Iterable[HistoryEvent], decode: Callable[[Any], Any]
) -> tuple[str, Any, list[Any]]:
    """A run's workflow type, its input and the result of every update it completed
    successfully, in history order. `decode` turns a Payloads message into its first value
    (plain JSON)."""
    workflow_type, start, results = "", None, []
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            attributes = event.workflow_execution_started_event_attributes
            workflow_type = attributes.workflow_type.name
            start = decode(attributes.input)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            outcome = event.workflow_execution_update_completed_event_attributes.outcome
            if outcome.HasField("success"):
                results.append(decode(outcome.success))
    return workflow_type, start, results


def read_history(
    events: Iterable[HistoryEvent], decode: Callable[[Any], Any]
) -> tuple[dict[str, Any], list[Any]]:
    """The input and the update results of one run of a 0.2 registry (NotLegacy if the
    history is not one)."""
    workflow_type, start, results = input_and_results(events, decode)
    if workflow_type != LEGACY_WORKFLOW_TYPE:
        raise NotLegacy(f"workflow type {workflow_type!r}, not {LEGACY_WORKFLOW_TYPE}")
    if not isinstance(start, dict) or not isinstance(start.get("catalog"), dict):
        raise NotLegacy("the history has no 0.2 registry state as its input")
    return start, results


def legacy_catalog(start: Mapping[str, Any], results: Iterable[Any]) -> dict[str, Any]:
    """The catalogue after the run: its input's, with every write's CatalogChange applied
    in order. Results that are not changes (a service start's revision, a handover's run
    id) change nothing."""
    catalog = copy.deepcopy(dict(start["catalog"]))
    for name in ("workflows", "workers", "slugs"):
        catalog[name] = dict(catalog.get(name) or {})
    catalog["revision"] = int(catalog.get("revision", 0))
    for result in results:
        if _is_change(result):
            apply_change(catalog, result)
    return catalog


def _is_change(result: Any) -> bool:
    return (
        isinstance(result, dict)
        and isinstance(result.get("revision"), int)
        and all(isinstance(result.get(name, []), list) for name in _CHANGE_FIELDS)
    )


def apply_change(catalog: dict[str, Any], change: Mapping[str, Any]) -> None:
    """0.2's apply_change, on the JSON of a Catalog and a CatalogChange: upserts, then
    deletions; a claimed slug moves to the end (the most recently claimed)."""
    workflows, workers, slugs = catalog["workflows"], catalog["workers"], catalog["slugs"]
    for workflow in change.get("workflows", []):
        workflows[workflow["spec"]["workflow_type"]] = workflow
    for worker in change.get("workers", []):
        workers[worker["worker_id"]] = worker
    for workflow_type in change.get("deleted_workflows", []):
        workflows.pop(workflow_type, None)
    for worker_id in change.get("deleted_workers", []):
        workers.pop(worker_id, None)
    for slug in change.get("slugs", []):
        slugs.pop(slug["slug"], None)
        slugs[slug["slug"]] = slug
    for name in change.get("deleted_slugs", []):
        slugs.pop(name, None)
    catalog["revision"] = max(catalog["revision"], int(change["revision"]))


def legacy_export(catalog: Mapping[str, Any], registry: str, namespace: str, now: float) -> Export:
    """The catalogue as an export: workers and workflow types as the shards store them (a
    type's schema as a blob), each slug counter with the request ids of its last claims as
    request records (before their slug: least recently used first)."""
    export = Export(
        registry=registry,
        namespace=namespace,
        exported_at=now,
        layout={},
        root={},
        revisions={kind: int(catalog.get("revision", 0)) for kind in (TYPES, WORKERS, IDS)},
    )
    for key, value in catalog["workers"].items():
        export.entries[WORKERS][key] = worker_entry(value_to_type(StoredWorker, value))
    for key, value in catalog["workflows"].items():
        stored = value_to_type(StoredWorkflow, value)
        export.entries[TYPES][key] = entry = type_entry(stored)
        if entry["schema"]:
            export.blobs[entry["schema"]] = stored.spec.input_schema
    ids = export.entries[IDS]
    for slug, value in catalog["slugs"].items():
        last = float(value.get("last_claimed_epoch", 0.0))
        counter = int(value.get("counter", 0))
        for request_id, claimed in (value.get("claims") or {}).items():
            ids[request_key(request_id)] = {"slug": slug, "counter": int(claimed), "at": last}
        ids[slug_key(slug)] = {"counter": counter, "last": last}
    return export
