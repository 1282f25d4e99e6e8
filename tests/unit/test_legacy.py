"""registry.catalog.legacy: a 0.2 registry's catalogue read from its real recorded histories
(tests/fixtures/registry-histories, a chain of three runs of 0.2) without running workflow
code, and turned into the entries the shards store."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter, value_to_type

from registry.catalog.engine import Limits, dumps
from registry.catalog.export import collect, shard_states
from registry.catalog.layout import IDS, TYPES, WORKERS, Layout
from registry.catalog.legacy import NotLegacy, legacy_catalog, legacy_export, read_history
from registry.catalog.shard_rules import stored_worker, stored_workflow
from registry.dispatch.claims import REQUEST_PREFIX, SLUG_PREFIX
from registry.shared.model import StoredWorker, StoredWorkflow

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "registry-histories"
CONVERTER = DataConverter.default.payload_converter


def decode(payloads: Any) -> Any:
    return CONVERTER.from_payloads(payloads.payloads)[0]


def run(n: int) -> tuple[dict[str, Any], list[Any]]:
    data = json.loads((FIXTURES / f"run-{n}.json").read_text())
    return read_history(WorkflowHistory.from_json("workflow-registry", data).events, decode)


@pytest.mark.parametrize("n", [0, 1])
def test_a_run_read_from_its_history_ends_where_the_next_run_starts(n: int) -> None:
    """Each recorded run continued as new with its whole catalogue: the next run's input.
    Applying the run's update results to its input gives exactly that catalogue."""
    start, results = run(n)
    following, _ = run(n + 1)
    catalog = legacy_catalog(start, results)
    assert catalog == following["catalog"]
    assert catalog["revision"] > start["catalog"]["revision"]
    assert start["catalog"] != following["catalog"]  # the run did change it


def test_results_that_are_not_changes_and_failed_updates_change_nothing() -> None:
    start, results = run(0)
    assert 0 in results  # record_service_start answered a revision
    assert any(isinstance(r, str) for r in results)  # hand_over answered its run id
    assert legacy_catalog(start, [0, "run-id", None, {"not": "a change"}]) == start["catalog"]


def test_a_history_of_another_workflow_is_not_read_as_a_legacy_registry() -> None:
    data = json.loads((FIXTURES / "run-0.json").read_text())
    started = data["events"][0]["workflowExecutionStartedEventAttributes"]
    started["workflowType"]["name"] = "TemporalRegistryShard"
    with pytest.raises(NotLegacy, match="TemporalRegistryShard"):
        read_history(WorkflowHistory.from_json("w", data).events, decode)


def test_the_catalogue_becomes_the_entries_the_shards_store() -> None:
    start, results = run(2)
    catalog = legacy_catalog(start, results)
    export = legacy_export(catalog, "workflow-registry", "default", 1.0)
    assert set(export.entries[WORKERS]) == set(catalog["workers"])
    for worker_id, legacy in catalog["workers"].items():
        entry = json.loads(dumps(export.entries[WORKERS][worker_id]))  # as the shard stores it
        assert stored_worker(worker_id, entry) == value_to_type(StoredWorker, legacy)
    assert set(export.entries[TYPES]) == set(catalog["workflows"])
    for workflow_type, legacy in catalog["workflows"].items():
        entry = json.loads(dumps(export.entries[TYPES][workflow_type]))
        read = stored_workflow(workflow_type, entry, export.blobs)
        assert read.schema_version == 1  # a 0.2 type's schema reads as its first version
        assert replace(read, versions=(), schema_version=0) == value_to_type(StoredWorkflow, legacy)
    for slug, legacy in catalog["slugs"].items():
        assert export.entries[IDS][SLUG_PREFIX + slug] == {
            "counter": legacy["counter"],
            "last": legacy["last_claimed_epoch"],
        }
    assert export.revisions == dict.fromkeys((TYPES, WORKERS, IDS), catalog["revision"])


def test_remembered_claims_become_request_records_before_their_slug() -> None:
    catalog = {
        "revision": 9,
        "workflows": {},
        "workers": {},
        "slugs": {
            "old": {"slug": "old", "counter": 2, "last_claimed_epoch": 10.0, "claims": {}},
            "orders": {
                "slug": "orders",
                "counter": 7,
                "last_claimed_epoch": 20.0,
                "claims": {"req-a": 6, "req-b": 7},
            },
        },
    }
    export = legacy_export(catalog, "workflow-registry", "default", 1.0)
    assert list(export.entries[IDS].items()) == [
        (SLUG_PREFIX + "old", {"counter": 2, "last": 10.0}),
        (REQUEST_PREFIX + "req-a", {"slug": "orders", "counter": 6, "at": 20.0}),
        (REQUEST_PREFIX + "req-b", {"slug": "orders", "counter": 7, "at": 20.0}),
        (SLUG_PREFIX + "orders", {"counter": 7, "last": 20.0}),
    ]
    layout = Layout("r", ids=4)
    states = shard_states(export, layout, Limits())
    home = states[IDS, layout.shard_of(IDS, SLUG_PREFIX + "orders")]
    assert home["order"][-3:] == ["r:req-a", "r:req-b", "s:orders"]
    again = collect("r", "default", 1.0, {}, states)
    assert list(again.entries[IDS]) == list(export.entries[IDS])
