"""The `temporal-registry` command as a person uses it: `up` runs the whole
stack and Ctrl-C stops all of it; state survives a restart; clashes and bad
configuration are reported by name with a non-zero exit."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from integration.stack import ADMIN_TOKEN, LOOPBACK, port_accepts, wait_until
from registry.server.ports import free_port

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "registry.cli"]


def clean_env(**values: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "REGISTRY_", "AUTH_"))
    }
    env.update(values)
    return env


def up_env(data_dir: Path) -> dict[str, str]:
    names = (
        "DEV_TEMPORAL_PORT",
        "DEV_TEMPORAL_UI_PORT",
        "DEV_TEMPORAL_HTTP_PORT",
        "DEV_TEMPORAL_METRICS_PORT",
        "REGISTRY_GRPC_PORT",
        "REGISTRY_HTTP_PORT",
        "GATEWAY_PORT",
        "GATEWAY_ADMIN_PORT",
    )
    return clean_env(DEV_DATA_DIR=str(data_dir), **{name: str(free_port()) for name in names})


def run_up(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([*CLI, "up"], env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_until_up(gateway: str, process: subprocess.Popen[bytes], log: Path, data: Path) -> None:
    """Wait for the gateway's /ready; on failure, the logs of `up` and its children say why."""
    try:
        wait_until(lambda: httpx.get(f"{gateway}/ready").status_code == 200, 90, "up", process)
    except (TimeoutError, RuntimeError) as error:
        logs = [log, data / "temporal.log", data / "envoy.log"]
        tails = "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-6000:]}"
            for path in logs
            if path.exists()
        )
        raise AssertionError(f"{error}\n{tails}") from error


def test_up_runs_the_stack_and_ctrl_c_stops_all_of_it(tmp_path: Path) -> None:
    env = up_env(tmp_path / "data")
    gateway = f"http://{LOOPBACK}:{env['GATEWAY_PORT']}"
    log = tmp_path / "up.log"
    ports = [
        int(env[name]) for name in env if name.endswith("_PORT") and name != "DEV_TEMPORAL_UI_PORT"
    ]

    first_started_at = None
    for _ in range(2):  # the second run finds the first run's state in the SQLite file
        process = run_up(env, log)
        try:
            wait_until_up(gateway, process, log, tmp_path / "data")
            assert httpx.get(f"{gateway}/health").json() == {"status": "ok"}
            # Auth is on: `up` made dev tokens in its data dir (the same ones on a restart).
            tokens = yaml.safe_load((tmp_path / "data" / "tokens.yaml").read_text())
            assert httpx.get(f"{gateway}/registry/status").status_code == 401
            headers = {"authorization": f"Bearer {tokens['admin'][0]}"}
            status = httpx.get(f"{gateway}/registry/status", headers=headers).json()
            assert status["registry_service_process_id"] == process.pid
            if first_started_at is None:
                first_started_at = status["started_at_epoch"]
            else:
                assert status["started_at_epoch"] == first_started_at
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(30) == 0, log.read_text()
        still_listening = [port for port in ports if port_accepts(port)]
        assert still_listening == [], f"left running on {still_listening}"
    output = log.read_text()
    assert f"http://{LOOPBACK}:{env['GATEWAY_PORT']}" in output
    assert f"http://127.0.0.1:{env['DEV_TEMPORAL_UI_PORT']}" in output
    assert (tmp_path / "data" / "temporal.db").exists()
    # The registry's own log is beside temporal.log and envoy.log, as JSON lines.
    logged = [json.loads(line) for line in (tmp_path / "data" / "registry.log").open()]
    assert any(entry["msg"].startswith("registry ready") for entry in logged)
    tokens = yaml.safe_load((tmp_path / "data" / "tokens.yaml").read_text())
    assert f"export REGISTRY_TOKEN={tokens['admin'][0]}" in output


def test_up_names_the_port_that_is_taken(tmp_path: Path) -> None:
    env = up_env(tmp_path / "data")
    with socket.socket() as taken:
        taken.bind((LOOPBACK, int(env["GATEWAY_PORT"])))
        taken.listen()
        result = subprocess.run([*CLI, "up"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert (
        f"port {env['GATEWAY_PORT']} (gateway.port) on 127.0.0.1 is already in use" in result.stderr
    )


def test_serve_names_the_port_that_is_taken() -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind((LOOPBACK, port))
        taken.listen()
        result = subprocess.run(
            [*CLI, "serve"],
            env=clean_env(REGISTRY_GRPC_PORT=str(port), AUTH_ADMIN_TOKENS=ADMIN_TOKEN),
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert f"port {port} (server.grpc_port)" in result.stderr


def test_bad_configuration_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("temporal:\n  namespace_retention_days: 0\nserver:\n  grpc_prot: 1\n")
    result = subprocess.run(
        [*CLI, "serve", "-f", str(config)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "temporal.namespace_retention_days" in result.stderr
    assert "server.grpc_prot: unknown key" in result.stderr


def test_api_key_without_tls_is_refused() -> None:
    result = subprocess.run(
        [*CLI, "serve"],
        env=clean_env(TEMPORAL_API_KEY="secret-key"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "tls" in result.stderr
    assert "secret-key" not in result.stderr


def pid_of_process_with_args(*args: str) -> int:
    """The pid of the one process whose argv holds all of args (read from /proc)."""
    matches = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = set(cmdline.read_bytes().decode(errors="replace").split("\0"))
        except OSError:
            continue
        if set(args) <= argv:
            matches.append(int(cmdline.parent.name))
    assert len(matches) == 1, matches
    return matches[0]


def process_runs(pid: int) -> bool:
    """Whether pid is a live process (a zombie nobody reaped yet has exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_up_stops_everything_when_a_child_dies(tmp_path: Path) -> None:
    env = up_env(tmp_path / "data")
    gateway = f"http://{LOOPBACK}:{env['GATEWAY_PORT']}"
    log = tmp_path / "up.log"
    process = run_up(env, log)
    try:
        wait_until_up(gateway, process, log, tmp_path / "data")
        temporal_pid = pid_of_process_with_args("start-dev", "--port", env["DEV_TEMPORAL_PORT"])
        os.kill(int(temporal_pid), signal.SIGKILL)
        assert process.wait(30) == 1
    finally:
        if process.poll() is None:  # the test failed: stop the stack the way a person would
            process.send_signal(signal.SIGINT)
            process.wait(30)
    assert "temporal dev server (exit -9) stopped unexpectedly" in log.read_text()
    assert not port_accepts(int(env["GATEWAY_PORT"]))
    assert not port_accepts(int(env["REGISTRY_GRPC_PORT"]))


def test_ctrl_c_while_up_is_starting_stops_it(tmp_path: Path) -> None:
    env = up_env(tmp_path / "data")
    log = tmp_path / "up.log"
    process = run_up(env, log)
    wait_until(lambda: (tmp_path / "data" / "temporal.log").exists(), 30, "up", process)
    process.send_signal(signal.SIGINT)  # the dev server is starting, nothing is ready yet
    assert process.wait(30) == 0, log.read_text()
    ports = [int(env[name]) for name in env if name.endswith("_PORT")]
    assert [port for port in ports if port_accepts(port)] == []


def test_killing_up_stops_its_children(tmp_path: Path) -> None:
    """SIGKILL (or the OOM killer) gives `up` no chance to stop its children: the parent-death
    signal does, so the next `up` finds its ports free."""
    env = up_env(tmp_path / "data")
    gateway = f"http://{LOOPBACK}:{env['GATEWAY_PORT']}"
    log = tmp_path / "up.log"
    ports = [
        int(env[name]) for name in env if name.endswith("_PORT") and name != "DEV_TEMPORAL_UI_PORT"
    ]
    process = run_up(env, log)
    try:
        wait_until_up(gateway, process, log, tmp_path / "data")
        temporal_pid = pid_of_process_with_args("start-dev", "--port", env["DEV_TEMPORAL_PORT"])
        process.kill()
        process.wait(10)
        wait_until(
            lambda: not any(port_accepts(port) for port in ports), 30, "children to stop", None
        )
        assert not process_runs(temporal_pid)
        again = run_up(env, log)  # nothing left over: starts at once
        try:
            wait_until_up(gateway, again, log, tmp_path / "data")
        finally:
            again.send_signal(signal.SIGINT)
            assert again.wait(30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()


def test_up_names_a_leftover_stack_and_how_to_stop_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    env = up_env(data)
    # A process of an earlier stack that is still alive, holding the gateway's port.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
            "time.sleep(120)",
            env["GATEWAY_PORT"],
        ]
    )
    try:
        wait_until(lambda: port_accepts(int(env["GATEWAY_PORT"])), 10, "holder", holder)
        record = {"processes": [{"name": "envoy", "pid": holder.pid, "argv0": sys.executable}]}
        (data / "stack.json").write_text(json.dumps(record))
        result = subprocess.run([*CLI, "up"], env=env, capture_output=True, text=True, timeout=30)
        assert result.returncode == 1
        assert f"is still running: envoy (pid {holder.pid})" in result.stderr
        assert f"stop it with `kill {holder.pid}`" in result.stderr
        # A record whose processes are gone is stale, not a leftover: the port check speaks.
        holder.kill()
        holder.wait()
        with socket.socket() as taken:
            taken.bind((LOOPBACK, int(env["GATEWAY_PORT"])))
            taken.listen()
            result = subprocess.run(
                [*CLI, "up"], env=env, capture_output=True, text=True, timeout=30
            )
        assert result.returncode == 1
        assert "still running" not in result.stderr
        assert f"port {env['GATEWAY_PORT']} (gateway.port)" in result.stderr
    finally:
        holder.kill()
        holder.wait()
