"""The TypeScript worker example (examples/typescript-worker) against the real stack.

Its registry stubs come from `buf generate` with the npm-installed protoc-gen-es plugin, so
the contract is checked to be polyglot: the committed stubs must match a fresh generation
and the example must typecheck. The worker registers `greet` and heartbeats over native
gRPC through Envoy, runs the workflow a `curl` start through Envoy dispatches to it, and
unregisters on SIGTERM. Skipped when node, npm or curl is missing."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from integration.stack import (
    CLIENT_TOKEN,
    REPO,
    WORKER_TOKEN,
    Envoy,
    Process,
    TemporalDevServer,
    wait_until,
)

MISSING = [tool for tool in ("node", "npm", "curl") if shutil.which(tool) is None]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"the TypeScript worker example needs node, npm and curl; not on PATH: "
        f"{', '.join(MISSING)}",
    ),
]

EXAMPLE = REPO / "examples" / "typescript-worker"
TEMPLATE = EXAMPLE / "buf.gen.yaml"
STUBS = EXAMPLE / "src" / "gen"
BUF = REPO / ".venv" / "bin" / "buf"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
# `npm ci` from the committed lock file: slow the first time (the Temporal SDK's native
# bridge, webpack, swc), a no-op while node_modules is newer than the lock file.
INSTALL_TIMEOUT = 480


@pytest.fixture(scope="module")
def node_modules() -> Path:
    installed = EXAMPLE / "node_modules" / ".package-lock.json"
    lock = EXAMPLE / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=EXAMPLE,
            check=True,
            timeout=INSTALL_TIMEOUT,
        )
    return installed.parent


def tree_drift(fresh: Path, committed: Path) -> list[str]:
    """scripts/generate.py's comparison of a fresh generation with the committed files."""
    spec = importlib.util.spec_from_file_location("generate", REPO / "scripts/generate.py")
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    problems: list[str] = generate.tree_drift(fresh, committed, "src/gen")
    return problems


@pytest.mark.timeout(INSTALL_TIMEOUT + 60)
def test_typescript_stubs_come_from_buf_generate(node_modules: Path, tmp_path: Path) -> None:
    subprocess.run(
        [str(BUF), "generate", "--template", str(TEMPLATE), "-o", str(tmp_path)],
        cwd=REPO,
        check=True,
        timeout=60,
    )
    problems = tree_drift(tmp_path / STUBS.relative_to(REPO), STUBS)
    assert not problems, (
        "examples/typescript-worker/src/gen drifted from proto/ (run `make gen-ts` and "
        "commit): " + ", ".join(problems)
    )
    # The example compiles against the stubs (the gRPC client is typed by them).
    typecheck = subprocess.run(
        ["npm", "run", "--silent", "typecheck"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert typecheck.returncode == 0, typecheck.stdout + typecheck.stderr


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def curl_start(envoy: Envoy, workflow_type: str, body: dict[str, Any]) -> tuple[int, Any]:
    """POST /workflows/{type}/start through Envoy with curl, as a shell user would."""
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "--max-time",
            "30",
            "-w",
            "\n%{http_code}",
            "-H",
            f"Authorization: Bearer {CLIENT_TOKEN}",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps(body),
            f"{envoy.http_url}/workflows/{workflow_type}/start",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=40,
    )
    text, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(text)


def result(temporal: TemporalDevServer, workflow_id: str, run_id: str) -> Any:
    async def fetch() -> Any:
        client = await Client.connect(temporal.address)
        return await client.get_workflow_handle(workflow_id, run_id=run_id).result()

    return asyncio.run(fetch())


@pytest.mark.timeout(INSTALL_TIMEOUT + 180)
def test_typescript_worker_registers_runs_a_curl_start_and_unregisters(
    node_modules: Path,
    workdir: Path,
    temporal: TemporalDevServer,
    envoy: Envoy,
    http: httpx.Client,
) -> None:
    worker_id, queue = unique("ts-greeter"), unique("ts-greetings")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "REGISTRY_"))},
        # Native gRPC through Envoy's port, with a worker-scope token.
        "REGISTRY_ADDRESS": envoy.grpc_target,
        "REGISTRY_TOKEN": WORKER_TOKEN,
        "TEMPORAL_ADDRESS": temporal.address,
        "TEMPORAL_NAMESPACE": "default",
        "TASK_QUEUE": queue,
        "WORKER_ID": worker_id,
        # A short lease, so a heartbeat (every ttl/3) shows within the test.
        "REGISTRY_TTL_SECONDS": "6",
    }
    worker = Process(
        "typescript-worker",
        # What `npm start` runs, without npm in between: SIGTERM reaches the worker itself.
        ["node", "--import", "tsx", "src/main.ts"],
        workdir / f"{worker_id}.log",
        env=env,
        cwd=EXAMPLE,
    ).start()
    workers_url = f"/registry/workers/{worker_id}"

    def greet_served_by_worker() -> bool:
        response = http.get("/registry/workflows/greet")
        body = response.json()
        workers = {w["worker_id"] for w in body.get("workers", [])}
        return response.status_code == 200 and body["healthy"] and worker_id in workers

    try:
        wait_until(greet_served_by_worker, 90, "greet registered and healthy", worker.popen)
        spec = http.get("/registry/workflows/greet").json()
        assert spec["task_queue"] == queue
        assert spec["input_schema"]["required"] == ["name"]
        assert spec["labels"] == {"team": "examples"}
        lease = http.get(workers_url).json()
        assert lease["labels"] == {"sdk": "typescript"}
        assert lease["ttl_seconds"] == 6

        status, started = curl_start(
            envoy, "greet", {"input": {"name": "Ada"}, "name": "Greet Ada"}
        )
        assert status == 200, started
        assert started["workflow_id"].startswith("greet-ada-r")
        assert started["task_queue"] == queue
        assert started["started"] is True
        assert result(temporal, started["workflow_id"], started["run_id"]) == "Hello, Ada!"

        # The registry refuses input that breaks the worker's schema before Temporal sees it.
        status, refused = curl_start(envoy, "greet", {"input": {"name": ""}})
        assert (status, refused["code"]) == (400, 3), refused
        bad_request = next(d for d in refused["details"] if d["@type"] == BAD_REQUEST)
        assert [v["field"] for v in bad_request["field_violations"]] == ["input/name"]

        # Heartbeats (every ttl/3) move the lease on.
        wait_until(
            lambda: (
                http.get(workers_url).json()["lease_expires_epoch"] > lease["lease_expires_epoch"]
            ),
            15,
            "a heartbeat",
            worker.popen,
        )
        # A registry that forgot the worker answers its next heartbeat NOT_FOUND: the worker
        # registers again.
        http.delete(workers_url).raise_for_status()
        wait_until(
            lambda: http.get(workers_url).status_code == 200, 15, "registered again", worker.popen
        )
    finally:
        code = worker.stop(signal.SIGTERM, timeout=30)
    log = worker.log()
    assert code == 0, log
    assert f"unregistered {worker_id}" in log, log
    assert http.get(workers_url).status_code == 404
