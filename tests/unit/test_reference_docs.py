"""The reference docs say what the code does: docs/configuration.md and the generated
tables of docs/operations.md are what scripts/reference_docs.py makes of the code now
(`make check` runs the same check), and the sources they are made from are complete."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from registry.server.auth import METHOD_SCOPES
from registry.server.config import DEFAULT_CONFIG_PATH, AuthConfig, Config, load_config

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "docs" / "operations.md"


@pytest.fixture(scope="module")
def reference_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "reference_docs", REPO / "scripts" / "reference_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_generated_docs_are_current(reference_docs: ModuleType) -> None:
    stale = [str(path.relative_to(REPO)) for path in reference_docs.stale()]
    assert not stale, f"{stale} are stale: run `make gen` (scripts/reference_docs.py)"


def test_every_config_key_has_a_description_and_an_environment_variable(
    reference_docs: ModuleType,
) -> None:
    keys = list(reference_docs.config_keys())
    assert len(keys) > 40
    for key in keys:
        assert key.field.description, f"{key.path}: no Field(description=...)"
        assert key.env_var, f"{key.path}: default_config.yaml reads no ${{VAR:-default}}"
        reference_docs.describe_type(key.field)  # every type has a name in the docs
    env_vars = [key.env_var for key in keys]
    assert len(env_vars) == len(set(env_vars)), "one environment variable sets two keys"


def _leaf_paths(tree: dict[str, object], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name, value in tree.items():
        if isinstance(value, dict):
            paths |= _leaf_paths(value, f"{prefix}{name}.")
        else:
            paths.add(f"{prefix}{name}")
    return paths


def test_default_config_yaml_has_exactly_the_models_keys(reference_docs: ModuleType) -> None:
    shipped = _leaf_paths(yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")))
    documented = {key.path for key in reference_docs.config_keys()}
    assert shipped == documented


def test_default_config_yaml_header_lists_every_environment_variable(
    reference_docs: ModuleType,
) -> None:
    header = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8").split("\n\n", 1)[0]
    for key in reference_docs.config_keys():
        assert re.search(rf"\b{key.env_var}\b", header), f"{key.env_var} not in the header"


def test_shipped_defaults_are_the_models_defaults() -> None:
    """docs/configuration.md shows the model's defaults; the YAML's `${VAR:-default}`
    defaults are what actually applies. They must be the same."""
    loaded = load_config(None, env={"AUTH_ENABLED": "false"})
    assert loaded == Config(auth=AuthConfig(enabled=False))


def test_every_metric_in_the_source_is_documented() -> None:
    """Every metric name written in registry/ (including any module the generator does not
    read yet) appears in docs/operations.md."""
    text = OPERATIONS.read_text(encoding="utf-8")
    names = set()
    for source in (REPO / "registry").rglob("*.py"):
        names |= set(re.findall(r"[\"'](temporal_registry_[a-z0-9_]+)[\"']", source.read_text()))
    assert names, "no metric names found in registry/"
    missing = sorted(name for name in names if f"`{name}" not in text)
    assert not missing, f"docs/operations.md does not name {missing}"


def test_generated_metrics_cover_the_collectors_gauges(reference_docs: ModuleType) -> None:
    names = {metric.name for metric in reference_docs.registry_metrics()}
    assert {
        "temporal_registry_rpc_requests_total",
        "temporal_registry_heartbeats_total",
        "temporal_registry_workers",
        "temporal_registry_state_bytes",
    } <= names


def test_every_scope_table_entry_is_a_real_rpc(reference_docs: ModuleType) -> None:
    """A misspelled method in registry.auth.METHOD_SCOPES would silently need admin."""
    served = {rpc.method for rpc in reference_docs.rpcs()}
    unknown = sorted(set(METHOD_SCOPES) - served)
    assert not unknown, f"METHOD_SCOPES names methods nobody serves: {unknown}"


def test_operations_guide_documents_every_rpcs_scope(reference_docs: ModuleType) -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    for rpc in reference_docs.rpcs():
        assert f"`{rpc.method.lstrip('/')}`" in text, rpc.method
