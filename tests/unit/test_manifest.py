"""registry.client.manifest: the sample manifest loads; every kind of mistake is reported by key
and file (YAML, unknown/missing keys, types, variables, schema files, the registry's own
rules); `temporal-registry register` exit codes for a bad manifest, a dry run and an
unreachable registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from registry.cli import main
from registry.client.manifest import EXIT_BAD_MANIFEST, EXIT_REFUSED, ManifestError, load_manifest
from registry.server.ports import free_port
from registry.shared.messages import registration_from_proto, struct_to_dict
from registry.shared.schemas import compile_schema
from registry.shared.specs import validate_worker_registration

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "manifest" / "worker.yaml"


def write(tmp_path: Path, body: dict[str, Any] | str, name: str = "worker.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body if isinstance(body, str) else yaml.safe_dump(body))
    return path


def minimal(**changes: Any) -> dict[str, Any]:
    return {"task_queue": "q", "workflows": [{"workflow_type": "a.v1"}], **changes}


def problems(
    tmp_path: Path, body: dict[str, Any] | str, env: dict[str, str] | None = None
) -> dict[str, str]:
    path = write(tmp_path, body)
    with pytest.raises(ManifestError) as raised:
        load_manifest(path, env or {})
    assert raised.value.path == path
    assert str(raised.value).startswith(f"{path}: invalid manifest\n")
    return dict(raised.value.problems)


def test_the_sample_manifest_loads() -> None:
    request = load_manifest(SAMPLE, {})
    assert request.worker_id == "orders-worker-1"
    assert (request.task_queue, request.environment, request.ttl_seconds) == ("orders", "dev", 30)
    assert dict(request.labels) == {"region": "eu"}
    order, report = request.workflows
    assert (order.workflow_type, order.version) == ("order.v1", "1")
    assert [(a.name, a.type) for a in order.search_attributes] == [("OrderId", "Keyword")]
    assert [w.field for w in order.schedule_input_warnings] == ["order_id"]
    assert dict(order.labels) == {"team": "orders"}
    validate = compile_schema(struct_to_dict(order.input_schema))
    assert validate({"order_id": "o-1", "amount_cents": 100}) == []
    assert [v.field for v in validate({"order_id": 1})] == [
        "input/amount_cents",
        "input/order_id",
    ]
    assert report.workflow_type == "order.report.v1"
    assert validate_worker_registration(registration_from_proto(request)) == []


def test_variables_are_expanded_except_inside_input_schemas(tmp_path: Path) -> None:
    request = load_manifest(SAMPLE, {"POD_NAME": "orders-7f9c", "DEPLOY_ENV": "prod"})
    assert (request.worker_id, request.environment) == ("orders-7f9c", "prod")
    body = minimal(
        worker_id="w-${N}",
        ttl_seconds="${TTL:-20}",
        labels={"v": 2, "cost": "$${literal}"},
        workflows=[
            {
                "workflow_type": "${KIND}",
                "version": 1.5,
                "input_schema": {"type": "string", "description": "${NOT_EXPANDED}"},
            }
        ],
    )
    request = load_manifest(write(tmp_path, body), {"N": "3", "KIND": "x.v1"})
    assert (request.worker_id, request.ttl_seconds) == ("w-3", 20)
    assert dict(request.labels) == {"v": "2", "cost": "${literal}"}  # numbers read as text
    assert request.workflows[0].workflow_type == "x.v1"
    assert request.workflows[0].version == "1.5"
    assert struct_to_dict(request.workflows[0].input_schema)["description"] == "${NOT_EXPANDED}"


def test_worker_id_defaults_to_queue_and_host(tmp_path: Path) -> None:
    request = load_manifest(write(tmp_path, minimal()), {})
    assert request.worker_id.startswith("q@")
    assert request.ttl_seconds == 60


def test_input_schema_files_are_relative_to_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "a.json").write_text('{\n\t"type": "object", "required": ["id"]}')
    (tmp_path / "schemas" / "b.yaml").write_text("type: integer\nminimum: 1\n")
    body = minimal(
        workflows=[
            {"workflow_type": "a.v1", "input_schema_file": "schemas/a.json"},
            {"workflow_type": "b.v1", "input_schema_file": "schemas/b.yaml"},
        ]
    )
    a, b = load_manifest(write(tmp_path, body), {}).workflows
    assert struct_to_dict(a.input_schema) == {"type": "object", "required": ["id"]}
    assert struct_to_dict(b.input_schema) == {"type": "integer", "minimum": 1}


def test_structure_mistakes_name_their_keys(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "worker": "w",
            "ttl_seconds": 1,
            "labels": ["a"],
            "workflows": [
                {"workflow_type": "a", "input_schema": {}, "input_schema_file": "a.json"},
                {"version": "1", "search_attributes": [{"name": "X"}]},
            ],
        },
    )
    assert found == {
        "task_queue": "is required",
        "worker": "unknown key",
        "ttl_seconds": "Input should be greater than or equal to 5",
        "labels": "Input should be a valid dictionary",
        "workflows[0]": "give input_schema or input_schema_file, not both",
        "workflows[1].workflow_type": "is required",
        "workflows[1].search_attributes[0].type": "is required",
    }
    assert problems(tmp_path, minimal(workflows=[])) == {
        "workflows": "List should have at least 1 item after validation, not 0"
    }


def test_the_registry_rules_are_checked_before_anything_is_sent(tmp_path: Path) -> None:
    body = minimal(
        worker_id="has space",
        labels={"-x": "y"},
        workflows=[
            {
                "workflow_type": "a.v1",
                "search_attributes": [{"name": "WorkflowId", "type": "keyword"}],
            },
            {"workflow_type": "a.v1"},
        ],
    )
    found = problems(tmp_path, body)
    assert set(found) == {
        "worker_id",
        'labels["-x"]',
        "workflows[0].search_attributes[0].name",
        "workflows[0].search_attributes[0].type",
        "workflows[1].workflow_type",
    }
    assert "did you mean 'Keyword'?" in found["workflows[0].search_attributes[0].type"]


def test_bad_input_schemas_are_reported_inside_the_schema(tmp_path: Path) -> None:
    body = minimal(
        workflows=[
            {"workflow_type": "a", "input_schema": {"properties": {"x": {"$ref": "http://e/x"}}}},
            {"workflow_type": "b", "input_schema": {"type": "objekt"}},
            {"workflow_type": "c", "input_schema": {"maximum": 2**60}},
        ]
    )
    found = problems(tmp_path, body)
    assert "only local references" in found["workflows[0].input_schema/properties/x/$ref"]
    assert "is not valid under any of the given schemas" in found["workflows[1].input_schema/type"]
    assert "2**53" in found["workflows[2].input_schema/maximum"]


def test_unreadable_schema_files_and_yaml_syntax(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text("- 1\n")
    (tmp_path / "broken.json").write_text('{"type": }')
    body = minimal(
        workflows=[
            {"workflow_type": "a", "input_schema_file": "missing.json"},
            {"workflow_type": "b", "input_schema_file": "list.yaml"},
            {"workflow_type": "c", "input_schema_file": "broken.json"},
        ]
    )
    found = problems(tmp_path, body)
    assert found["workflows[0].input_schema_file"] == (
        f"cannot read {tmp_path / 'missing.json'}: No such file or directory"
    )
    assert found["workflows[1].input_schema_file"] == "the file must hold a JSON Schema object"
    assert found["workflows[2].input_schema_file"].startswith(f"{tmp_path / 'broken.json'}:1:10: ")

    found = problems(tmp_path, "task_queue: q\nworkflows:\n  - workflow_type: [a\n")
    ((key, message),) = found.items()
    assert key == "" and message.startswith(f"{tmp_path / 'worker.yaml'}:4:1: YAML syntax")
    assert problems(tmp_path, "- a\n") == {
        "": "must be a YAML mapping of worker_id, task_queue, ..."
    }


def test_unset_variables_are_named(tmp_path: Path) -> None:
    found = problems(tmp_path, minimal(environment="${DEPLOY_ENV}"))
    assert found == {
        "environment": "${DEPLOY_ENV} is not set and has no default (write ${DEPLOY_ENV:-value})"
    }


# --- the command -----------------------------------------------------------------------------


def test_dry_run_prints_the_request(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["register", "--manifest", str(SAMPLE), "--dry-run"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["task_queue"] == "orders"
    assert body["workflows"][0]["input_schema"]["required"] == ["order_id", "amount_cents"]


def test_a_bad_manifest_exits_2_with_the_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, minimal(ttl_seconds="soon"))
    assert main(["register", "--manifest", str(path), "--once"]) == EXIT_BAD_MANIFEST
    err = capsys.readouterr().err
    assert (
        f"{path}: invalid manifest" in err and "ttl_seconds: Input should be a valid integer" in err
    )
    assert main(["register", "--manifest", str(tmp_path / "nope.yaml")]) == EXIT_BAD_MANIFEST
    assert "No such file or directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["register", "--manifest", str(path), "--once", "--dry-run"])
    assert usage.value.code == 2


def test_an_unreachable_registry_exits_1_with_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, minimal())
    address = f"127.0.0.1:{free_port()}"
    argv = ["register", "--manifest", str(path), "--once", "--address", address, "--wait", "0"]
    assert main(argv) == EXIT_REFUSED
    assert "temporal-registry register: UNAVAILABLE" in capsys.readouterr().err


def test_the_manifest_with_mistakes_names_each_one() -> None:
    """examples/manifest/with-mistakes.yaml, which docs/workers.md checks with --dry-run."""
    with pytest.raises(ManifestError) as raised:
        load_manifest(SAMPLE.parent / "with-mistakes.yaml", {})
    assert [key for key, _ in raised.value.problems] == [
        "ttl_seconds",
        "workflows[0].input_shema",
        "workflows[0].input_schema/properties/order_id/$ref",
        "workflows[1].search_attributes[0].type",
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Problems of every check in one report: an unset variable, the format (a bad value, an
    unknown key), an input schema the registry refuses and its structural rules, with no
    problem made up for the keys left out along the way."""
    body = minimal(
        worker_id="${POD_NAME}",
        ttl_seconds=1,
        workflows=[
            {
                "workflow_type": "order.v1",
                "input_shema": {"type": "object"},
                "input_schema": {"properties": {"x": {"$ref": "http://e/x"}}},
            },
            {
                "workflow_type": "order.report.v1",
                "search_attributes": [{"name": "A", "type": "keyword"}],
            },
            {"labels": {"-x": "y"}},
        ],
    )
    found = problems(tmp_path, body)
    assert list(found) == [
        "worker_id",
        "ttl_seconds",
        "workflows[0].input_shema",
        "workflows[2].workflow_type",
        "workflows[0].input_schema/properties/x/$ref",
        "workflows[1].search_attributes[0].type",
        'workflows[2].labels["-x"]',
    ]
    assert found["worker_id"].startswith("${POD_NAME} is not set")
    assert found["workflows[0].input_shema"] == "unknown key"
    assert "did you mean 'Keyword'?" in found["workflows[1].search_attributes[0].type"]
