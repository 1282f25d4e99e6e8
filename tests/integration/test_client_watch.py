"""Watching the catalogue from the client side, against the session's Temporal dev server,
registry and Envoy (and, for a restart, a registry of the test's own): the Python watch sees
the state, then a registration, an unregistration and a deletion as they happen; a watch
resumed from a token gets only what came after it; a malformed token is refused naming the
field; CatalogMirror converges on what the lists answer and follows the registry through a
restart; the worker plugin's mirror sees its own worker; `temporal-registry workflows watch`
prints a line per change until Ctrl-C, and resumes from the token it prints."""

from __future__ import annotations

import asyncio
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from temporal_registry.v1 import registry_pb2
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from integration.stack import (
    ADMIN_HEADERS,
    CLIENT_TOKEN,
    WORKER_TOKEN,
    Envoy,
    Registry,
    TemporalDevServer,
)
from integration.test_registry_api import unique
from integration.test_registry_durability import own_registry_settings, register, running
from registry.client.connection import ClientSettings, RegistryCallError, open_channel
from registry.client.registration import KeeperPolicy
from registry.client.watch import CatalogMirror, Resync, WatchItem, WatchPolicy, watch
from registry.client.worker import RegistryPlugin

pytestmark = pytest.mark.integration

E = registry_pb2.CatalogEvent
QUICK = WatchPolicy(backoff_base=0.2, backoff_cap=1.0)


def client_settings(envoy: Envoy) -> ClientSettings:
    """gRPC through Envoy with a token of the client scope, as an application would."""
    return ClientSettings(address=envoy.grpc_target, token=CLIENT_TOKEN)


def registration(worker_id: str, workflow_type: str, queue: str = "watch-q") -> dict[str, Any]:
    return {
        "worker_id": worker_id,
        "task_queue": queue,
        "ttl_seconds": 600,
        "workflows": [{"workflow_type": workflow_type, "labels": {"suite": "watch"}}],
    }


def kind(item: WatchItem) -> str:
    return "RESYNC" if isinstance(item, Resync) else E.Type.Name(item.type)


def about(item: WatchItem) -> str:
    """The workflow type or worker id an item is about ("" for SYNCED and Resync)."""
    if isinstance(item, Resync):
        return ""
    return item.workflow.workflow_type or item.worker.worker_id


async def until(
    items: AsyncIterator[WatchItem], done: Callable[[list[WatchItem]], bool], within: float = 30
) -> list[WatchItem]:
    """The items read until `done(items read so far)`; the iterator stays open."""
    seen: list[WatchItem] = []
    async with asyncio.timeout(within):
        async for item in items:
            seen.append(item)
            if done(seen):
                return seen
    raise AssertionError(f"the watch ended: {[kind(i) for i in seen]}")


def synced(seen: list[WatchItem]) -> bool:
    return kind(seen[-1]) == "TYPE_SYNCED"


def has(*wanted: tuple[str, str]) -> Callable[[list[WatchItem]], bool]:
    """done() once an item of each (kind, subject) was read."""
    return lambda seen: set(wanted) <= {(kind(i), about(i)) for i in seen}


def api_client(envoy: Envoy) -> httpx.AsyncClient:
    """HTTP through Envoy with an admin token (writes the watches then see)."""
    return httpx.AsyncClient(base_url=envoy.http_url, headers=ADMIN_HEADERS, timeout=30)


async def write(response: Awaitable[httpx.Response]) -> None:
    (await response).raise_for_status()


async def listed(api: httpx.AsyncClient, what: str) -> set[str]:
    """Every workflow type or worker id a list answers, all pages."""
    field, key = ("workflows", "workflow_type") if what == "workflows" else ("workers", "worker_id")
    names: set[str] = set()
    token = ""
    while True:
        page = await api.get(f"/registry/{what}", params={"page_size": 1000, "page_token": token})
        page.raise_for_status()
        names |= {entry[key] for entry in page.json()[field]}
        token = page.json()["next_page_token"]
        if not token:
            return names


# --- the Python watch --------------------------------------------------------------------------


def test_a_watch_sends_the_state_then_each_change_as_it_happens(
    http: httpx.Client, envoy: Envoy
) -> None:
    known_type, known_worker = unique("watch-known"), unique("watch-known")
    http.post("/registry/workers", json=registration(known_worker, known_type)).raise_for_status()
    new_type, new_worker = unique("watch-new"), unique("watch-new")

    async def scenario() -> None:
        async with api_client(envoy) as api, open_channel(client_settings(envoy)) as channel:
            items = aiter(watch(channel, policy=QUICK))
            state = await until(items, synced)
            subjects = [(kind(i), about(i)) for i in state]
            assert {k for k, _ in subjects[:-1]} <= {
                "TYPE_WORKFLOW_ADDED",
                "TYPE_WORKER_REGISTERED",
            }
            assert ("TYPE_WORKFLOW_ADDED", known_type) in subjects
            assert ("TYPE_WORKER_REGISTERED", known_worker) in subjects
            kinds = [k for k, _ in subjects[:-1]]  # the types first, then the workers
            assert kinds == sorted(kinds, key=lambda k: k != "TYPE_WORKFLOW_ADDED")
            added = next(i for i in state if about(i) == known_type)
            assert isinstance(added, E) and dict(added.workflow.labels) == {"suite": "watch"}
            assert not added.workflow.HasField("input_schema")  # BASIC view
            assert all(isinstance(i, E) and i.revision > 0 for i in state)
            assert isinstance(state[-1], E) and state[-1].resume_token  # resume from SYNCED

            await write(api.post("/registry/workers", json=registration(new_worker, new_type)))
            changes = await until(
                items,
                has(("TYPE_WORKFLOW_ADDED", new_type), ("TYPE_WORKER_REGISTERED", new_worker)),
            )
            registered = next(i for i in changes if about(i) == new_worker)
            assert isinstance(registered, E)
            assert registered.worker.task_queue == "watch-q"
            assert list(registered.worker.workflows) == [new_type]
            last = state[-1]
            assert isinstance(last, E) and registered.revision > last.revision

            await write(api.delete(f"/registry/workers/{new_worker}"))
            gone = await until(items, has(("TYPE_WORKER_UNREGISTERED", new_worker)))
            unregistered = gone[-1]  # the item that completed has()
            assert isinstance(unregistered, E) and unregistered.worker.task_queue == "watch-q"

            await write(api.delete(f"/registry/workflows/{new_type}"))
            removed = await until(items, has(("TYPE_WORKFLOW_REMOVED", new_type)))
            event = removed[-1]
            assert isinstance(event, E) and event.workflow.workflow_type == new_type
            assert not event.workflow.task_queue  # only the type is set
            await items.aclose()

    asyncio.run(scenario())


def test_a_watch_resumed_from_a_token_gets_only_what_came_after(envoy: Envoy) -> None:
    seen_type, seen_worker = unique("watch-seen"), unique("watch-seen")
    later_type, later_worker = unique("watch-later"), unique("watch-later")

    async def scenario() -> None:
        async with api_client(envoy) as api, open_channel(client_settings(envoy)) as channel:
            first = watch(channel, policy=QUICK)
            items = aiter(first)
            await until(items, synced)
            await write(api.post("/registry/workers", json=registration(seen_worker, seen_type)))
            await until(items, has(("TYPE_WORKER_REGISTERED", seen_worker)))
            token = first.resume_token
            await items.aclose()

            body = registration(later_worker, later_type)
            await write(api.post("/registry/workers", json=body))
            resumed = await until(aiter(watch(channel, resume_token=token, policy=QUICK)), synced)
            subjects = {about(i) for i in resumed}
            assert {later_type, later_worker} <= subjects  # what came after the token
            assert seen_worker not in subjects  # not what came before it
            assert "RESYNC" not in [kind(i) for i in resumed]

    asyncio.run(scenario())


def test_a_malformed_resume_token_is_refused_naming_the_field(envoy: Envoy) -> None:
    async def scenario() -> RegistryCallError:
        async with open_channel(client_settings(envoy)) as channel:
            with pytest.raises(RegistryCallError) as raised:
                async with asyncio.timeout(30):
                    async for _ in watch(channel, resume_token="not a token", policy=QUICK):
                        pass
            return raised.value

    refusal = asyncio.run(scenario())
    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in refusal.violations] == ["resume_token"]


# --- the mirror ---------------------------------------------------------------------------------


def test_the_mirror_converges_on_what_the_lists_answer(envoy: Envoy) -> None:
    workflow_type, worker_id = unique("mirror"), unique("mirror")

    async def scenario() -> None:
        async with (
            api_client(envoy) as api,
            CatalogMirror(settings=client_settings(envoy), policy=QUICK) as catalog,
        ):
            async with asyncio.timeout(30):
                await catalog.synced()
            assert set(catalog.workflows) == await listed(api, "workflows")

            await write(api.post("/registry/workers", json=registration(worker_id, workflow_type)))
            async with asyncio.timeout(30):
                await catalog.wait_for(
                    lambda c: workflow_type in c.workflows and worker_id in c.workers
                )
            assert list(catalog.workers[worker_id].workflows) == [workflow_type]

            reason = {"reason": "maintenance"}
            await write(api.post(f"/registry/workflows/{workflow_type}/disable", json=reason))
            async with asyncio.timeout(30):
                await catalog.wait_for(lambda c: not c.workflows[workflow_type].enabled)
            assert catalog.workflows[workflow_type].disabled_reason == "maintenance"

            await write(api.delete(f"/registry/workers/{worker_id}"))
            await write(api.delete(f"/registry/workflows/{workflow_type}"))
            async with asyncio.timeout(30):
                await catalog.wait_for(
                    lambda c: workflow_type not in c.workflows and worker_id not in c.workers
                )
            assert set(catalog.workflows) == await listed(api, "workflows")
            # Workers of other tests may expire meanwhile: the copy follows within moments.
            deadline = time.monotonic() + 10
            while set(catalog.workers) != await listed(api, "workers"):
                assert time.monotonic() < deadline, "the mirror's workers never matched the list"
                await asyncio.sleep(0.2)
            assert catalog.is_synced and catalog.error is None
        assert not catalog.running

    asyncio.run(scenario())


def test_the_mirror_follows_the_registry_through_a_restart(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    overrides = own_registry_settings()
    first = Registry(workdir, temporal.address, overrides=overrides)
    again = Registry(
        workdir,
        temporal.address,
        overrides=overrides,
        grpc_port=first.grpc_port,
        http_port=first.http_port,
    )
    settings = ClientSettings(address=first.grpc_target, token=CLIENT_TOKEN)
    before, after = unique("before-restart"), unique("after-restart")

    async def scenario() -> None:
        catalog = CatalogMirror(settings=settings, policy=QUICK)
        try:
            with running(first) as stub:
                await catalog.start()
                async with asyncio.timeout(30):
                    await catalog.synced()
                await asyncio.to_thread(register, stub, before, "restart.v1")
                async with asyncio.timeout(30):
                    await catalog.wait_for(lambda c: before in c.workers)
            assert catalog.running  # the registry is down: the mirror waits for it
            with running(again) as stub:
                await asyncio.to_thread(register, stub, after, "restart.v1")
                async with asyncio.timeout(60):
                    await catalog.wait_for(
                        lambda c: c.is_synced and {before, after} <= set(c.workers)
                    )
            assert catalog.watch is not None and catalog.watch.reconnections >= 1
            assert set(catalog.workflows) == {"restart.v1"}
        finally:
            await catalog.stop()

    asyncio.run(scenario())


@workflow.defn(name="watch.plugin.v1", sandboxed=False)
class PluginWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        return value


def test_the_worker_plugins_mirror_sees_its_own_worker(
    temporal: TemporalDevServer, envoy: Envoy
) -> None:
    queue_name, worker_id = unique("watch-plugin"), unique("watch-plugin")

    async def scenario() -> None:
        client = await Client.connect(temporal.address)
        plugin = RegistryPlugin(
            ClientSettings(address=envoy.grpc_target, token=WORKER_TOKEN),
            worker_id=worker_id,
            ttl_seconds=15,
            policy=KeeperPolicy(backoff_base=0.2, backoff_cap=1.0),
            mirror_catalog=client_settings(envoy),
        )
        catalog = plugin.catalog
        assert catalog is not None and not catalog.running
        async with Worker(
            client, task_queue=queue_name, workflows=[PluginWorkflow], plugins=[plugin]
        ):
            async with asyncio.timeout(30):
                await catalog.synced()
                await catalog.wait_for(lambda c: worker_id in c.workers)
            assert catalog.workers[worker_id].task_queue == queue_name
            assert "watch.plugin.v1" in catalog.workflows
        assert not catalog.running and catalog.error is None

    asyncio.run(scenario())


# --- the CLI ---------------------------------------------------------------------------------


class Watcher:
    """`temporal-registry workflows watch` in a subprocess, its lines read as they come."""

    def __init__(self, envoy: Envoy, *args: str) -> None:
        env = {
            "PATH": "/usr/bin:/bin",
            "REGISTRY_ADDRESS": envoy.grpc_target,
            "REGISTRY_TOKEN": CLIENT_TOKEN,
        }
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "registry.cli", "workflows", "watch", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, done: Callable[[str], bool], within: float = 30) -> list[str]:
        """The lines printed until one for which done() is true."""
        seen: list[str] = []
        deadline = time.monotonic() + within
        while not seen or not done(seen[-1]):
            try:
                seen.append(self.lines.get(timeout=max(deadline - time.monotonic(), 0.01)))
            except queue.Empty:
                raise AssertionError(f"not printed within {within} s; printed {seen}") from None
        return seen

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C: the exit status and what it printed on stderr."""
        self.popen.send_signal(signal.SIGINT)
        _, stderr = self.popen.communicate(timeout=30)
        return self.popen.returncode, stderr


@pytest.fixture
def watcher(envoy: Envoy) -> Iterator[Callable[..., Watcher]]:
    started: list[Watcher] = []

    def start(*args: str) -> Watcher:
        started.append(Watcher(envoy, *args))
        return started[-1]

    yield start
    for process in started:
        if process.popen.poll() is None:
            process.popen.kill()
            process.popen.wait()


def cli(envoy: Envoy, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "REGISTRY_ADDRESS": envoy.grpc_target}
    return subprocess.run(
        [sys.executable, "-m", "registry.cli", "workflows", "watch", *args],
        env={**env, "REGISTRY_TOKEN": CLIENT_TOKEN},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_cli_prints_a_line_per_change_until_ctrl_c_then_resumes_from_its_token(
    http: httpx.Client, envoy: Envoy, watcher: Callable[..., Watcher]
) -> None:
    workflow_type, worker_id = unique("cli-watch"), unique("cli-watch")
    running_watch = watcher()
    state = running_watch.until(lambda line: line.split()[1:2] == ["SYNCED"])
    assert all(line.split()[0].startswith("r") for line in state), state
    assert {line.split()[1] for line in state[:-1]} <= {"WORKFLOW_ADDED", "WORKER_REGISTERED"}

    http.post("/registry/workers", json=registration(worker_id, workflow_type)).raise_for_status()
    printed = running_watch.until(
        lambda line: line.split()[1:3] == ["WORKER_REGISTERED", worker_id]
    )
    (added,) = [line for line in printed if line.split()[1:3] == ["WORKFLOW_ADDED", workflow_type]]
    assert "queue=watch-q enabled=yes" in added
    registered = printed[-1]
    assert f"queue=watch-q healthy=yes workflows={workflow_type}" in registered

    status, stderr = running_watch.interrupt()
    assert status == 0, stderr
    assert "Traceback" not in stderr
    token = stderr.split("--resume-token ", 1)[1].split()[0]

    http.delete(f"/registry/workers/{worker_id}").raise_for_status()
    since = cli(envoy, "--resume-token", token, "--until-synced")
    assert since.returncode == 0, since.stderr
    lines = [line.split() for line in since.stdout.splitlines()]
    assert lines[-1][1] == "SYNCED"
    assert ["WORKER_UNREGISTERED", worker_id] in [line[1:3] for line in lines]
    assert ["WORKER_REGISTERED", worker_id] not in [line[1:3] for line in lines]  # before it

    as_json = cli(envoy, "--until-synced", "-o", "json")
    assert as_json.returncode == 0, as_json.stderr
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert events[-1]["type"] == "TYPE_SYNCED" and events[-1]["resume_token"]
    added_types = {e["workflow"]["workflow_type"] for e in events if "workflow" in e}
    assert workflow_type in added_types
    assert worker_id not in {e["worker"]["worker_id"] for e in events if "worker" in e}


def test_the_cli_says_why_a_watch_is_refused(envoy: Envoy) -> None:
    refused = cli(envoy, "--resume-token", "not a token")
    assert refused.returncode == 1
    assert refused.stderr.startswith("temporal-registry: INVALID_ARGUMENT"), refused.stderr
    assert "resume_token" in refused.stderr
