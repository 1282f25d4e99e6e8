"""`temporal-registry register --manifest` against the session registry (through Envoy), as a
subprocess the way a deployment runs it: `--once` registers and prints the stored worker;
the sidecar registers, heartbeats, and unregisters on SIGTERM; a refusal exits 1 with the
registry's reason."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from integration.stack import CLIENT_TOKEN, REPO, WORKER_TOKEN, Envoy, wait_until

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "registry.cli", "register"]
SAMPLE = REPO / "examples" / "manifest" / "worker.yaml"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "LOG_"))}
    return {**env, **values}


def sample_manifest(tmp_path: Path, ttl_seconds: int = 30) -> tuple[Path, dict[str, Any]]:
    """The sample manifest with a worker id, task queue and workflow types of its own."""
    body = yaml.safe_load(SAMPLE.read_text())
    suffix = uuid.uuid4().hex[:8]
    body["worker_id"] = f"manifest-{suffix}"
    body["task_queue"] = f"manifest-q-{suffix}"
    body["ttl_seconds"] = ttl_seconds
    for workflow in body["workflows"]:
        workflow["workflow_type"] = f"{workflow['workflow_type']}.{suffix}"
    path = tmp_path / "worker.yaml"
    path.write_text(yaml.safe_dump(body))
    return path, body


def test_register_once_prints_the_stored_worker(
    tmp_path: Path, envoy: Envoy, http: httpx.Client
) -> None:
    path, body = sample_manifest(tmp_path)
    argv = [*CLI, "--manifest", str(path), "--once", "--address", envoy.grpc_target]
    done = subprocess.run(
        argv,
        env=clean_env(REGISTRY_TOKEN=WORKER_TOKEN),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    worker = json.loads(done.stdout)
    kinds = [w["workflow_type"] for w in body["workflows"]]
    assert worker["worker_id"] == body["worker_id"]
    assert worker["task_queue"] == body["task_queue"]
    assert worker["workflows"] == kinds
    assert worker["healthy"] is True and worker["ttl_seconds"] == 30

    stored = http.get(f"/registry/workflows/{kinds[0]}").json()
    assert stored["input_schema"] == body["workflows"][0]["input_schema"]
    assert stored["search_attributes"] == [
        {"name": "OrderId", "type": "Keyword", "description": ""}
    ]
    assert stored["version"] == "1" and stored["labels"] == {"team": "orders"}
    assert http.get(f"/registry/workers/{body['worker_id']}").status_code == 200
    http.delete(f"/registry/workers/{body['worker_id']}").raise_for_status()


def test_a_refusal_exits_1_with_the_reason(tmp_path: Path, envoy: Envoy) -> None:
    path, _ = sample_manifest(tmp_path)
    done = subprocess.run(
        [*CLI, "--manifest", str(path), "--once"],
        env=clean_env(REGISTRY_ADDRESS=envoy.grpc_target, REGISTRY_TOKEN=CLIENT_TOKEN),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "temporal-registry register: PERMISSION_DENIED" in done.stderr
    assert done.stdout == ""


def test_the_sidecar_heartbeats_until_sigterm_then_unregisters(
    tmp_path: Path, envoy: Envoy, http: httpx.Client
) -> None:
    path, body = sample_manifest(tmp_path, ttl_seconds=6)  # a heartbeat every 2 s
    worker_path = f"/registry/workers/{body['worker_id']}"
    log = tmp_path / "sidecar.log"
    with log.open("w") as out:
        sidecar = subprocess.Popen(
            [*CLI, "--manifest", str(path)],
            env=clean_env(REGISTRY_ADDRESS=envoy.grpc_target, REGISTRY_TOKEN=WORKER_TOKEN),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: http.get(worker_path).status_code == 200, 30, "registered", sidecar)
        first = http.get(worker_path).json()
        assert first["healthy"] is True

        def heartbeat_seen() -> bool:
            return bool(http.get(worker_path).json()["last_seen_epoch"] > first["last_seen_epoch"])

        wait_until(heartbeat_seen, 15, "a heartbeat", sidecar)
        sidecar.send_signal(signal.SIGTERM)
        assert sidecar.wait(20) == 0, log.read_text()
    finally:
        if sidecar.poll() is None:
            sidecar.kill()
            sidecar.wait()
    assert http.get(worker_path).status_code == 404, log.read_text()
    output = log.read_text()
    assert f"registered worker {body['worker_id']}" in output
    assert f"unregistered worker {body['worker_id']}" in output
