"""The benchmark scripts stay runnable: they import, and their defaults are the issue's
targets (the figures themselves come from running them; see bench/)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.append(str(BENCH))
    return importlib.import_module(name)


def test_heartbeat_ingest_defaults_to_the_target_rate() -> None:
    args = load("heartbeat_ingest").parse_args([])
    assert args.rate == 1000 and args.workers == 200


def test_catalog_read_defaults_to_200_types() -> None:
    args = load("catalog_read").parse_args([])
    assert args.types == 200


def test_start_latency_defaults() -> None:
    args = load("start_latency").parse_args([])
    assert args.starts == 500


def test_validation_bench_measures_a_2_kb_schema_and_a_4_kb_input() -> None:
    bench = load("validation")
    assert bench.parse_args([]).validations == 2000
    assert 1500 < len(json.dumps(bench.SCHEMA)) < 2500
    assert 3500 < len(json.dumps(bench.INPUT)) < 4500
    assert bench.TARGET_MS == 0.5


@pytest.mark.parametrize(
    "name", ["heartbeat_ingest", "catalog_read", "start_latency", "validation"]
)
def test_help_exits_cleanly(name: str) -> None:
    with pytest.raises(SystemExit) as exited:
        load(name).parse_args(["--help"])
    assert exited.value.code == 0


def test_scale_capacity_defaults_to_the_issues_fleet() -> None:
    args = load("scale_capacity").parse_args([])
    assert (args.workers, args.types, args.queues, args.schema_bytes) == (50_000, 5_000, 200, 2048)
    assert (args.in_flight, args.handovers) == (32, 20)


def test_scale_capacity_schemas_have_the_size_asked_for() -> None:
    bench = load("scale_capacity")
    sizes = [len(json.dumps(bench.schema(t, 2048))) for t in (0, 17, 4999)]
    assert all(1900 <= size <= 2200 for size in sizes), sizes


def test_schema_evolution_bench_uses_the_validation_bench_s_schema_and_input() -> None:
    bench = load("schema_evolution")
    args = bench.parse_args([])
    assert (args.validations, args.starts) == (2000, 1000)
    assert bench.SCHEMA is load("validation").SCHEMA
