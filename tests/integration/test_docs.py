"""The docs run as written: every command block of README.md and docs/*.md, verbatim, in
order, one bash per file, against a live stack of its own (a real Temporal dev server,
registry and Envoy, see stack.py) with the example worker of the README
(examples/python-worker/worker.py) polling `orders`. What a command prints is compared
with what the docs show, field by field, with `...` where ids and times vary; a command
whose output the docs don't show must exit 0 and, for curl, not answer an error Status.
The conventions are in doc_commands.py.

The docs' addresses are the defaults of `make run`; the test stack listens on free ports
instead, so each address is mapped both ways: in every command, `localhost:8080` and
`127.0.0.1:8080` (Envoy) become Envoy's port, `:50051` the registry's gRPC port, `:9464`
its HTTP port and `:7233` Temporal's; in every output the stack's ports are mapped back,
so `cannot reach Temporal at 127.0.0.1:7233` reads as the docs print it. Commands that
rely on the defaults get them from the environment, as after `make run`:
REGISTRY_ADDRESS (the CLI's and the worker's default, 127.0.0.1:8080) and TEMPORAL_ADDRESS
(the example worker's, 127.0.0.1:7233) name the test stack, and REGISTRY_TOKEN is an admin
token, as `make run` prints. PATH has no .venv/bin (`make run` does not put it there), and
the shell runs in a directory of links to the repository's files, so a command that writes
a file writes it there.

Blocks that cannot run (make itself, Docker, Node.js, grpcurl, which no project dependency
provides, and long-running commands) are marked `<!-- not run: reason -->`; NOT_RUN counts
them, so a new one is a decision. The README's worker command is one of them: it runs
until Ctrl-C, so this test runs that same command as the example worker, checks it prints
what the README shows, and stops it with Ctrl-C (SIGINT) and SIGTERM at the end.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.doc_commands import (
    HTTP_OF_CODE,
    Block,
    Command,
    command_blocks,
    json_mismatches,
    text_matches,
)
from integration.stack import (
    ADMIN_HEADERS,
    ADMIN_TOKEN,
    LOOPBACK,
    Envoy,
    Registry,
    TemporalDevServer,
    wait_ready,
    wait_until,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# Blocks marked `<!-- not run: ... -->`, per file.
NOT_RUN = {
    "README.md": 4,
    "docs/operations.md": 7,
    "docs/workers.md": 4,
}
WORKER_SCRIPT = "examples/python-worker/worker.py"
COMMAND_TIMEOUT = 60.0
DOC_PORTS = {"envoy": 8080, "grpc": 50051, "http": 9464, "temporal": 7233}
HOSTS = r"(?P<host>localhost|127\.0\.0\.1)"


@dataclass
class DocStack:
    temporal: TemporalDevServer
    registry: Registry
    envoy: Envoy
    home: Path  # the shell's working directory: links to the repository's files

    @property
    def ports(self) -> dict[int, int]:
        """The docs' port -> the stack's."""
        return {
            DOC_PORTS["envoy"]: self.envoy.port,
            DOC_PORTS["grpc"]: self.registry.grpc_port,
            DOC_PORTS["http"]: self.registry.http_port,
            DOC_PORTS["temporal"]: self.temporal.port,
        }

    def to_stack(self, text: str) -> str:
        return self._map(text, self.ports)

    def from_stack(self, text: str) -> str:
        return self._map(text, {stack: doc for doc, stack in self.ports.items()})

    @staticmethod
    def _map(text: str, ports: dict[int, int]) -> str:
        def port(match: re.Match[str]) -> str:
            number = int(match["port"])
            return f"{match['host']}:{ports.get(number, number)}"

        return re.sub(HOSTS + r":(?P<port>\d+)\b", port, text)

    def env(self) -> dict[str, str]:
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "REGISTRY_TOKEN": ADMIN_TOKEN,
            "REGISTRY_ADDRESS": f"{LOOPBACK}:{self.envoy.port}",
            "TEMPORAL_ADDRESS": self.temporal.address,
        }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocStack]:
    if shutil.which("curl") is None:
        pytest.skip("the docs' commands need curl")
    workdir = tmp_path_factory.mktemp("docs-stack")
    home = workdir / "repo"
    home.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in (".git", ".temporal-registry"):
            (home / entry.name).symlink_to(entry)
    temporal = TemporalDevServer(workdir).start()
    # Pollers read every second, so a type is startable as soon as its worker polls.
    registry = Registry(
        workdir, temporal.address, overrides={"liveness": {"poller_refresh_seconds": 1}}
    ).start()
    envoy = Envoy(workdir, registry).start()
    try:
        wait_ready(envoy.http_url)
        yield DocStack(temporal, registry, envoy, home)
    finally:
        envoy.stop()
        registry.stop()
        temporal.stop()


# --- the example worker ----------------------------------------------------------------


def worker_block() -> Block:
    """The README's block that runs the example worker (marked not run: it runs until
    Ctrl-C), with the output the README shows for it."""
    found = [
        b
        for b in command_blocks(REPO / "README.md")
        if any(WORKER_SCRIPT in c.text for c in b.commands)
    ]
    assert len(found) == 1, f"README.md runs {WORKER_SCRIPT} in one block: {found}"
    block = found[0]
    assert block.not_run and len(block.commands) == 1 and block.output, block
    return block


@dataclass
class WorkerProcess:
    popen: subprocess.Popen[bytes]
    log_path: Path
    stack: DocStack

    def log(self) -> str:
        return self.stack.from_stack(self.log_path.read_text(errors="replace"))

    def stop(self, sig: signal.Signals) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        return self.popen.wait(30)


def start_worker(stack: DocStack, name: str) -> WorkerProcess:
    """The README's worker command, verbatim (exec'd by bash: signals reach Python)."""
    command = stack.to_stack(worker_block().commands[0].text)
    log_path = stack.home.parent / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=stack.home,
            env=stack.env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker = WorkerProcess(popen, log_path, stack)
    wait_until(lambda: "registered worker" in worker.log(), 60, name, popen)
    return worker


@pytest.fixture(scope="module")
def worker(stack: DocStack) -> Iterator[WorkerProcess]:
    process = start_worker(stack, "example-worker")

    def startable(workflow_type: str, body: dict[str, Any]) -> bool:
        response = httpx.post(
            f"{stack.envoy.http_url}/workflows/{workflow_type}/start",
            json={**body, "validate_only": True},
            headers=ADMIN_HEADERS,
        )
        return response.status_code == 200

    order = json.loads((REPO / "examples" / "order.json").read_text())
    wait_until(lambda: startable("order.v1", {"input": order}), 60, "order.v1 startable")
    wait_until(lambda: startable("order.report.v1", {}), 60, "order.report.v1 startable")
    yield process
    process.stop(signal.SIGKILL)


# --- the shell ---------------------------------------------------------------------------


class Shell:
    """One bash for a file's commands: variables and the directory carry over."""

    def __init__(self, stack: DocStack) -> None:
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=stack.home,
            env=stack.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.chunks: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := os.read(self.process.stdout.fileno(), 65536):
            self.chunks.put(chunk)
        self.chunks.put(b"")

    def run(self, command: str, timeout: float = COMMAND_TIMEOUT) -> tuple[str, int]:
        """What the command prints (stdout and stderr) and its exit status."""
        assert self.process.stdin is not None
        marker = f"__doc_command_done_{uuid.uuid4().hex}__"
        # Commands read nothing from the shell's stdin (their heredocs are their own).
        script = f"{{\n{command}\n}} </dev/null\nprintf '\\n{marker} %s\\n' \"$?\"\n"
        self.process.stdin.write(script.encode())
        self.process.stdin.flush()
        done = re.compile(rf"\n{marker} (\d+)\n".encode())
        output = b""
        deadline = time.monotonic() + timeout
        while (found := done.search(output)) is None:
            try:
                chunk = self.chunks.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise TimeoutError(f"no end after {timeout:.0f} s: {output[-2000:]!r}") from None
            if not chunk:
                raise RuntimeError(f"the shell exited: {output[-2000:]!r}")
            output += chunk
        return output[: found.start()].decode(errors="replace"), int(found[1])

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def check(stack: DocStack, command: Command, raw: str, status: int) -> list[str]:
    """What differs between what the command printed and what the docs show."""
    output = stack.from_stack(raw)
    head = command.text.strip().splitlines()[0]
    where = f"line {command.line}: {head}"
    printed = f"\n  printed (exit {status}):\n    " + output[:3000].replace("\n", "\n    ")
    if command.expected_json_text:
        try:
            actual = json.loads(output)
        except json.JSONDecodeError:
            return [f"{where}\n  shows {command.expected_json_text}{printed}"]
        problems = json_mismatches(command.expected_json, actual)
        if command.http_status is not None:
            code = actual.get("code") if isinstance(actual, dict) else None
            http = HTTP_OF_CODE.get(code, 200) if isinstance(code, int) else 200
            if http != command.http_status:
                problems.append(f"HTTP {command.http_status} shown, the status says {http}")
        if problems:
            return [f"{where}\n  " + "\n  ".join(problems) + printed]
        return []
    if command.expected_text is not None:
        if text_matches(command.expected_text, output):
            return []
        shown = "\n    " + command.expected_text.replace("\n", "\n    ")
        return [f"{where}\n  shows:{shown}{printed}"]
    if status != 0:
        return [f"{where}\n  failed{printed}"]
    try:
        answer = json.loads(output)
    except json.JSONDecodeError:
        return []
    if isinstance(answer, dict) and isinstance(answer.get("code"), int) and "message" in answer:
        return [f"{where}\n  answered an error the docs don't show{printed}"]
    return []


# --- the docs ----------------------------------------------------------------------------


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.relative_to(REPO).as_posix())
def test_every_command_of_the_docs_prints_what_they_show(
    doc: Path, stack: DocStack, worker: WorkerProcess
) -> None:
    name = doc.relative_to(REPO).as_posix()
    blocks = command_blocks(doc)
    not_run = [block for block in blocks if block.not_run is not None]
    assert all(block.not_run for block in not_run), "a `not run` marker needs a reason"
    assert len(not_run) == NOT_RUN.get(name, 0), [
        f"{block.where}: {block.not_run}" for block in not_run
    ]
    failures: list[str] = []
    shell = Shell(stack)
    try:
        for block in blocks:
            if block.not_run is None:
                for command in block.commands:
                    output, status = shell.run(stack.to_stack(command.text))
                    failures += check(stack, command, output, status)
    finally:
        shell.close()
    if failures:
        pytest.fail(f"{name}:\n" + "\n\n".join(failures), pytrace=False)


def test_the_example_worker_prints_what_it_does_and_stops_cleanly(
    stack: DocStack, worker: WorkerProcess
) -> None:
    """Runs after the docs: the worker printed what the README shows, then a line per order
    and report it ran, including one per day of schedules.md's three-day backfill; Ctrl-C
    and SIGTERM stop it without a traceback, after it unregistered."""
    shown = worker_block().output
    assert shown is not None
    assert text_matches(shown + "\n...", worker.log()), worker.log()
    assert "ran order o-42: 4200 cents" in worker.log()
    backfilled = [f"ran report for 2026-11-{day}" for day in (19, 20, 21)]
    wait_until(lambda: all(line in worker.log() for line in backfilled), 30, "backfilled reports")

    for stopped, sig in ((worker, signal.SIGINT), (start_worker(stack, "second"), signal.SIGTERM)):
        assert stopped.stop(sig) == 0, stopped.log()
        log = stopped.log()
        assert "Traceback" not in log, log
        assert "unregistered worker" in log and log.rstrip().endswith("stopped"), log
