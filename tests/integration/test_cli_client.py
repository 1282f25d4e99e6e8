"""The client commands of `temporal-registry` as a person runs them: real subprocesses
talking gRPC through Envoy to the session registry, with the token from the environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.stack import ADMIN_TOKEN, CLIENT_TOKEN, Envoy, TemporalDevServer
from integration.test_dispatch import register_echo, result
from integration.test_registry_api import unique
from registry.server.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("echo")]


def cli(
    envoy: Envoy, *args: str, token: str = CLIENT_TOKEN, address: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "REGISTRY_ADDRESS": address or envoy.grpc_target,
        "REGISTRY_TOKEN": token,
    }
    return subprocess.run(
        [sys.executable, "-m", "registry.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ok_json(envoy: Envoy, *args: str, token: str = CLIENT_TOKEN) -> Any:
    done = cli(envoy, *args, "-o", "json", token=token)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_workflows_and_workers_as_table_and_json(http: httpx.Client, envoy: Envoy) -> None:
    kind = unique("cli-order")
    worker_id = register_echo(http, kind, labels={"team": "cli"})

    listed = ok_json(envoy, "workflows", "list", "--label", "team=cli")
    assert kind in [w["workflow_type"] for w in listed["workflows"]]
    table = cli(envoy, "workflows", "list", "--label", "team=cli").stdout.splitlines()
    assert table[0].split()[:3] == ["TYPE", "TASK", "QUEUE"]
    row = next(line for line in table if line.startswith(kind))
    assert "echo-q" in row and "team=cli" in row

    workflow = ok_json(envoy, "workflows", "get", kind)
    assert (workflow["task_queue"], workflow["labels"]) == ("echo-q", {"team": "cli"})
    assert "order_id" in cli(envoy, "workflows", "get", kind).stdout  # the schema, in the table

    workers = ok_json(envoy, "workers", "list", "--workflow-type", kind)["workers"]
    assert [w["worker_id"] for w in workers] == [worker_id]
    assert worker_id in cli(envoy, "workers", "get", worker_id).stdout


def test_start_with_input_from_a_file_and_refusals(
    http: httpx.Client, envoy: Envoy, temporal: TemporalDevServer, tmp_path: Path
) -> None:
    kind = unique("cli-start")
    register_echo(http, kind)
    order = {"order_id": "A-1", "amount": 3}
    (tmp_path / "order.json").write_text(json.dumps(order))

    name = unique("Nightly Import")
    started = ok_json(
        envoy, "start", kind, "--input", f"@{tmp_path / 'order.json'}", "--name", name
    )
    assert started["workflow_id"].startswith(name.lower().replace(" ", "-"))  # readable
    assert (started["task_queue"], started["started"]) == ("echo-q", True)
    assert result(temporal, started["workflow_id"]) == order

    refused = cli(envoy, "start", kind, "--input", '{"amount": 0}')
    assert refused.returncode == 1
    assert "INVALID_ARGUMENT (INVALID_START)" in refused.stderr
    # Each violation once: the message quotes the first, the lines add the others.
    assert refused.stderr.count('input/order_id: "order_id" is a required property') == 1

    not_json = cli(envoy, "start", kind, "--input", "{order")
    assert (not_json.returncode, "--input is not JSON" in not_json.stderr) == (2, True)


def test_claim_and_list_readable_ids(envoy: Envoy) -> None:
    name = unique("Weekly Report")
    first = ok_json(envoy, "ids", "claim", name)
    second = ok_json(envoy, "ids", "claim", name)
    assert (first["counter"], second["counter"]) == (1, 2)
    assert second["slug"] in cli(envoy, "ids", "list").stdout


def test_schedule_lifecycle(http: httpx.Client, envoy: Envoy, tmp_path: Path) -> None:
    kind, schedule_id = unique("cli-sched"), unique("cli-sched")
    register_echo(http, kind)
    created = ok_json(
        envoy,
        "schedules",
        "create",
        schedule_id,
        "--workflow-type",
        kind,
        "--every",
        "3600",
        "--input",
        '{"order_id": "nightly"}',
        "--note",
        "from the cli",
    )
    assert created["schedule"]["spec"]["intervals"][0]["every_seconds"] == "3600"
    assert schedule_id in cli(envoy, "schedules", "list", "--workflow-type", kind).stdout

    paused = ok_json(envoy, "schedules", "pause", schedule_id, "--note", "maintenance")
    assert (paused["paused"], paused["note"]) == (True, "maintenance")
    assert ok_json(envoy, "schedules", "unpause", schedule_id)["paused"] is False

    body = {"workflow_type": kind, "input": {"order_id": "hourly"}, "interval_seconds": 1800}
    (tmp_path / "update.json").write_text(json.dumps(body))
    updated = ok_json(
        envoy, "schedules", "update", schedule_id, "--body", f"@{tmp_path}/update.json"
    )
    assert updated["input"] == {"order_id": "hourly"}

    assert cli(envoy, "schedules", "trigger", schedule_id).returncode == 0
    assert cli(envoy, "schedules", "delete", schedule_id).returncode == 0
    gone = cli(envoy, "schedules", "get", schedule_id)
    assert (gone.returncode, "NOT_FOUND" in gone.stderr) == (1, True)


def test_search_attributes_list_and_reconcile(http: httpx.Client, envoy: Envoy) -> None:
    register_echo(http, unique("cli-sa"))  # declares OrderId (Keyword)
    declared = ok_json(envoy, "search-attributes", "list")["search_attributes"]
    assert "OrderId" in [a["name"] for a in declared]

    report = ok_json(envoy, "search-attributes", "reconcile")
    assert report["mode"] == "validate" and "OrderId" in report["unchanged"]
    table = cli(envoy, "search-attributes", "reconcile").stdout
    assert "OrderId" in table and "unchanged" in table

    replace = ["search-attributes", "reconcile", "--mode", "replace", "--attribute", "OrderId"]
    as_client = cli(envoy, *replace, "--confirm")  # replace needs the admin scope
    assert (as_client.returncode, "PERMISSION_DENIED" in as_client.stderr) == (1, True)
    unconfirmed = cli(envoy, *replace, token=ADMIN_TOKEN)
    assert (unconfirmed.returncode, "INVALID_ARGUMENT" in unconfirmed.stderr) == (1, True)


def test_missing_token_and_unreachable_registry_are_explained(envoy: Envoy) -> None:
    no_token = cli(envoy, "workflows", "list", token="")
    assert no_token.returncode == 1
    assert "UNAUTHENTICATED" in no_token.stderr and "Authorization: Bearer" in no_token.stderr

    nowhere = f"127.0.0.1:{free_port()}"
    down = cli(envoy, "workflows", "list", address=nowhere)
    assert down.returncode == 1
    assert "UNAVAILABLE" in down.stderr and f"is the registry at {nowhere}?" in down.stderr
