"""The Python worker helper end to end: a real temporalio Worker with RegistryPlugin (or
`registered`) against the session's Temporal dev server, registry and Envoy. The registry
lists its workflow type with the generated input schema and a healthy worker; a start
through the registry over HTTP runs on the worker; input the generated schema refuses is
refused; the worker unregisters when it stops, registers again when the registry forgets
it, runs regardless when the registry is unreachable, and fails to start when refused."""

from __future__ import annotations

import asyncio
import enum
import time
import uuid
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from integration.stack import ADMIN_HEADERS, CLIENT_TOKEN, WORKER_TOKEN, Envoy, TemporalDevServer
from registry.client.connection import ClientSettings
from registry.client.registration import KeeperPolicy, RegistrationRefused
from registry.client.worker import RegistryPlugin, json_schema_for, registered, registry_metadata
from registry.server.ports import free_port

pytestmark = pytest.mark.integration

# Short timings so the tests see heartbeats and retries within seconds.
POLICY = KeeperPolicy(backoff_base=0.2, backoff_cap=1.0, call_timeout=5.0)


class Style(enum.StrEnum):  # temporalio converts StrEnum and IntEnum
    PLAIN = "plain"
    LOUD = "loud"


@dataclass
class Greeting:
    name: str
    times: int = 1
    style: Style = Style.PLAIN


# The workflows run unsandboxed: Temporal's sandbox would re-import this test module (and
# pytest with it) for every run. registry.worker itself loads in the sandbox (unit tested).
@registry_metadata(version="1", labels={"suite": "python-worker"})
@workflow.defn(name="pyworker.greet.v1", sandboxed=False)
class GreetWorkflow:
    """Greets someone, a number of times."""

    @workflow.run
    async def run(self, greeting: Greeting) -> str:
        text = " ".join([f"hello {greeting.name}"] * greeting.times)
        return text.upper() if greeting.style is Style.LOUD else text


@workflow.defn(name="pyworker.forgotten.v1", sandboxed=False)
class ForgottenWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        return value


@workflow.defn(name="pyworker.offline.v1", sandboxed=False)
class OfflineWorkflow:
    @workflow.run
    async def run(self, value: int) -> int:
        return value * 2


@workflow.defn(name="pyworker.refused.v1", sandboxed=False)
class RefusedWorkflow:
    @workflow.run
    async def run(self) -> None:
        pass


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def worker_settings(envoy: Envoy, token: str = WORKER_TOKEN) -> ClientSettings:
    return ClientSettings(address=envoy.grpc_target, token=token)


async def eventually(check: Any, within: float, what: str) -> Any:
    """The first truthy result of the async `check()`, polled for `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {within} s")
        await asyncio.sleep(0.2)


async def get_json(api: httpx.AsyncClient, path: str) -> Any:
    response = await api.get(path)
    return response.json() if response.status_code == 200 else None


def api_client(envoy: Envoy) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=envoy.http_url, headers=ADMIN_HEADERS, timeout=10)


def test_a_worker_registers_runs_what_the_registry_starts_and_unregisters(
    temporal: TemporalDevServer, envoy: Envoy
) -> None:
    kind = "pyworker.greet.v1"
    queue = unique("pyworker")
    worker_id = unique("py-greeter")

    async def scenario() -> None:
        client = await Client.connect(temporal.address)
        plugin = RegistryPlugin(
            worker_settings(envoy),
            worker_id=worker_id,
            ttl_seconds=15,
            environment="test",
            labels={"lang": "python"},
            policy=POLICY,
        )
        async with api_client(envoy) as api:
            async with Worker(
                client, task_queue=queue, workflows=[GreetWorkflow], plugins=[plugin]
            ):

                async def healthy() -> Any:
                    info = await get_json(api, f"/registry/workflows/{kind}")
                    ours = [
                        w for w in (info or {}).get("workers", []) if w["worker_id"] == worker_id
                    ]
                    return info if ours and ours[0]["healthy"] and info["healthy"] else None

                info = await eventually(healthy, 30, "registered and healthy")
                assert info["input_schema"] == json_schema_for(Greeting)
                assert info["input_schema"]["$defs"]["Style"]["enum"] == ["plain", "loud"]
                assert info["version"] == "1"
                assert info["description"] == "Greets someone, a number of times."
                assert info["labels"] == {"suite": "python-worker"}
                assert info["task_queue"] == queue and info["source"] == "worker"
                worker = await get_json(api, f"/registry/workers/{worker_id}")
                assert worker["task_queue"] == queue and worker["environment"] == "test"
                assert worker["labels"] == {"lang": "python"} and worker["ttl_seconds"] == 15
                assert worker["workflows"] == [kind]

                started = await api.post(
                    f"/workflows/{kind}/start",
                    json={"input": {"name": "Ada", "times": 2, "style": "loud"}},
                )
                assert started.status_code == 200, started.text
                body = started.json()
                assert body["task_queue"] == queue and body["started"] is True
                handle = client.get_workflow_handle(body["workflow_id"], run_id=body["run_id"])
                assert await handle.result() == "HELLO ADA HELLO ADA"

                refused = await api.post(
                    f"/workflows/{kind}/start", json={"input": {"times": "two", "style": "x"}}
                )
                assert refused.status_code == 400, refused.text
                error = refused.json()
                assert error["code"] == 3
                (bad_request,) = [d for d in error["details"] if "BadRequest" in d["@type"]]
                fields = [v["field"] for v in bad_request["field_violations"]]
                assert fields == ["input/name", "input/style", "input/times"]
            assert plugin.keeper is None  # the worker stopped: so did the registration
            gone = await api.get(f"/registry/workers/{worker_id}")
            assert gone.status_code == 404, gone.text

    asyncio.run(scenario())


def test_the_worker_registers_again_after_the_registry_forgets_it(
    temporal: TemporalDevServer, envoy: Envoy
) -> None:
    queue = unique("pyworker")
    worker_id = unique("py-forgotten")

    async def scenario() -> None:
        client = await Client.connect(temporal.address)
        # ttl 6 s: a heartbeat every 2 s, so the keeper notices the deletion quickly.
        plugin = RegistryPlugin(
            worker_settings(envoy), worker_id=worker_id, ttl_seconds=6, policy=POLICY
        )
        async with api_client(envoy) as api:
            async with Worker(
                client, task_queue=queue, workflows=[ForgottenWorkflow], plugins=[plugin]
            ):
                first = await eventually(
                    lambda: get_json(api, f"/registry/workers/{worker_id}"), 30, "registered"
                )
                deleted = await api.delete(f"/registry/workers/{worker_id}")
                assert deleted.status_code == 200, deleted.text

                async def registered_again() -> Any:
                    worker = await get_json(api, f"/registry/workers/{worker_id}")
                    later = worker and worker["registered_epoch"] > first["registered_epoch"]
                    return worker if later else None

                again = await eventually(registered_again, 20, "registered again")
                assert again["healthy"] is True and again["workflows"] == ["pyworker.forgotten.v1"]
                assert plugin.keeper is not None and plugin.keeper.registrations >= 2
                result = await client.execute_workflow(
                    ForgottenWorkflow.run, "still here", id=unique("forgotten"), task_queue=queue
                )
                assert result == "still here"
            assert (await api.get(f"/registry/workers/{worker_id}")).status_code == 404

    asyncio.run(scenario())


def test_the_worker_runs_while_the_registry_is_unreachable(temporal: TemporalDevServer) -> None:
    queue = unique("pyworker")
    nowhere = ClientSettings(address=f"127.0.0.1:{free_port()}", token=WORKER_TOKEN)

    async def scenario() -> None:
        client = await Client.connect(temporal.address)
        began = time.monotonic()
        async with (
            Worker(client, task_queue=queue, workflows=[OfflineWorkflow]) as worker,
            registered(worker, nowhere, ttl_seconds=6, policy=POLICY) as keeper,
        ):
            assert time.monotonic() - began < 5  # the registry being down delays nothing
            result = await client.execute_workflow(
                OfflineWorkflow.run, 21, id=unique("offline"), task_queue=queue
            )
            assert result == 42
            assert keeper is not None and not keeper.registered
            assert keeper.last_error is not None
            assert keeper.last_error.code == grpc.StatusCode.UNAVAILABLE
            await asyncio.sleep(1.5)  # retries happen meanwhile, quietly
            result = await client.execute_workflow(
                OfflineWorkflow.run, 5, id=unique("offline"), task_queue=queue
            )
            assert result == 10
        assert time.monotonic() - began < 30  # and stopping is bounded

    asyncio.run(scenario())


def test_a_refused_registration_fails_the_worker_start_with_the_reason(
    temporal: TemporalDevServer, envoy: Envoy
) -> None:
    async def scenario() -> None:
        client = await Client.connect(temporal.address)
        # A client token has no worker scope: the registry answers PERMISSION_DENIED.
        plugin = RegistryPlugin(worker_settings(envoy, CLIENT_TOKEN), policy=POLICY)
        worker = Worker(
            client, task_queue=unique("pyworker"), workflows=[RefusedWorkflow], plugins=[plugin]
        )
        with pytest.raises(RegistrationRefused) as raised:
            await asyncio.wait_for(worker.run(), 30)
        assert raised.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert "PERMISSION_DENIED" in str(raised.value)

        lenient = RegistryPlugin(
            worker_settings(envoy, CLIENT_TOKEN), fail_on_refusal=False, policy=POLICY
        )
        queue = unique("pyworker")
        async with Worker(client, task_queue=queue, workflows=[RefusedWorkflow], plugins=[lenient]):
            await client.execute_workflow(
                RefusedWorkflow.run, id=unique("refused"), task_queue=queue
            )

    asyncio.run(scenario())
