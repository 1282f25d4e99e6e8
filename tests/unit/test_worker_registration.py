"""registry.client.registration: the keeping policy (heartbeat interval, backoff, which
failures are retried) as plain functions, and the RegistrationKeeper against an in-process
gRPC RegistryService that answers with the registry's real error boundary (rich statuses)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, resources_pb2

from registry.client.connection import ClientSettings
from registry.client.registration import (
    RETRYABLE_CODES,
    KeeperPolicy,
    RegistrationError,
    RegistrationKeeper,
    RegistrationRefused,
    RegistryUnavailable,
    backoff_delay,
    heartbeat_interval,
    is_retryable,
    register_worker,
)
from registry.server.errors import (
    FieldViolation,
    RegistryError,
    invalid_fields,
    unavailable,
    worker_not_found,
)
from registry.server.interceptors import RequestInterceptor
from registry.server.ports import free_port

FAST = KeeperPolicy(
    interval_fraction=0.01,  # ttl 5 s -> a heartbeat every 0.05 s
    min_interval=0.05,
    backoff_base=0.01,
    backoff_cap=0.05,
    call_timeout=2.0,
    unregister_timeout=1.0,
)


# --- policy ----------------------------------------------------------------------------------


def test_heartbeat_interval_is_a_third_of_the_ttl_within_bounds() -> None:
    assert heartbeat_interval(30) == pytest.approx(10)
    assert heartbeat_interval(5) == pytest.approx(5 / 3)
    assert heartbeat_interval(0) == pytest.approx(20)  # 0: the registry's default of 60 s
    assert heartbeat_interval(86_400) == 60  # capped: a forgotten worker comes back soon
    assert heartbeat_interval(1, KeeperPolicy(min_interval=2)) == 2
    assert heartbeat_interval(30, KeeperPolicy(interval_fraction=0.5)) == 15


def test_backoff_grows_exponentially_with_jitter_in_its_upper_half() -> None:
    low = [backoff_delay(n, rng=lambda: 0.0) for n in range(8)]
    high = [backoff_delay(n, rng=lambda: 1.0) for n in range(8)]
    assert high[:7] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]  # base 0.5, doubling, cap 30
    assert low == [h / 2 for h in high]
    assert all(low[n] <= backoff_delay(n) <= high[n] for n in range(8))


def test_backoff_respects_the_cap_and_odd_attempts() -> None:
    assert backoff_delay(10, cap=4, rng=lambda: 1.0) == 4
    assert backoff_delay(10_000, rng=lambda: 1.0) == 30  # no overflow
    assert backoff_delay(-3, rng=lambda: 1.0) == 0.5
    policy = KeeperPolicy(backoff_base=2, backoff_cap=5)
    assert [backoff_delay(n, policy, rng=lambda: 1.0) for n in range(3)] == [2, 4, 5]


def test_only_transient_failures_are_retryable() -> None:
    for code in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
    ):
        assert is_retryable(code)
    for code in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.UNIMPLEMENTED,
    ):
        assert not is_retryable(code)
    assert grpc.StatusCode.OK not in RETRYABLE_CODES


# --- an in-process registry ------------------------------------------------------------------


@dataclass
class FakeRegistry(registry_pb2_grpc.RegistryServiceServicer):
    """Remembers registrations; raises the next queued error of a method instead of
    answering. Errors go through the server's real interceptor, as rich statuses."""

    workers: dict[str, registry_pb2.RegisterWorkerRequest] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)

    def fail(self, method: str, *errors: Exception) -> None:
        self.failures.setdefault(method, []).extend(errors)

    def _enter(self, method: str, context: Any) -> None:
        self.calls.append(method)
        self.tokens.append(dict(context.invocation_metadata()).get("authorization", ""))
        queued = self.failures.get(method)
        if queued:
            raise queued.pop(0)

    async def RegisterWorker(self, request: Any, context: Any) -> Any:
        self._enter("RegisterWorker", context)
        self.workers[request.worker_id] = request
        worker = resources_pb2.Worker(
            worker_id=request.worker_id,
            task_queue=request.task_queue,
            ttl_seconds=request.ttl_seconds,
            workflows=[w.workflow_type for w in request.workflows],
            healthy=True,
        )
        return registry_pb2.RegisterWorkerResponse(worker=worker)

    async def Heartbeat(self, request: Any, context: Any) -> Any:
        self._enter("Heartbeat", context)
        if request.worker_id not in self.workers:
            raise worker_not_found(request.worker_id, "(register again)")
        return registry_pb2.HeartbeatResponse(lease_expires_epoch=time.time() + 5, ttl_seconds=5)

    async def UnregisterWorker(self, request: Any, context: Any) -> Any:
        self._enter("UnregisterWorker", context)
        if self.workers.pop(request.worker_id, None) is None:
            raise worker_not_found(request.worker_id)
        return registry_pb2.UnregisterWorkerResponse()

    def count(self, method: str) -> int:
        return self.calls.count(method)


@asynccontextmanager
async def serving(fake: FakeRegistry, port: int = 0) -> AsyncIterator[str]:
    server = grpc.aio.server(interceptors=[RequestInterceptor(access_log=False)])
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(fake, server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    try:
        yield f"127.0.0.1:{bound}"
    finally:
        await server.stop(None)


def request(worker_id: str = "w-1", ttl: int = 5) -> registry_pb2.RegisterWorkerRequest:
    return registry_pb2.RegisterWorkerRequest(
        worker_id=worker_id,
        task_queue="orders",
        ttl_seconds=ttl,
        workflows=[resources_pb2.Workflow(workflow_type="order.v1")],
    )


async def until(predicate: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


# --- the keeper ------------------------------------------------------------------------------


def test_registers_heartbeats_and_unregisters_on_stop() -> None:
    async def scenario() -> None:
        fake = FakeRegistry()
        async with serving(fake) as address:
            keeper = RegistrationKeeper(
                request(), settings=ClientSettings(address=address, token="s3cret"), policy=FAST
            )
            assert await keeper.start() is True
            assert keeper.registered and keeper.worker is not None
            assert list(keeper.worker.workflows) == ["order.v1"]
            await until(lambda: fake.count("Heartbeat") >= 3)
            await keeper.stop()
            assert fake.workers == {}
            assert fake.calls[0] == "RegisterWorker" and fake.calls[-1] == "UnregisterWorker"
            assert set(fake.tokens) == {"Bearer s3cret"}
            beats = fake.count("Heartbeat")
            await asyncio.sleep(0.2)
            assert fake.count("Heartbeat") == beats  # nothing runs after stop
            await keeper.stop()  # idempotent

    asyncio.run(scenario())


def test_registers_again_when_the_registry_forgot_the_worker() -> None:
    async def scenario() -> None:
        fake = FakeRegistry()
        async with (
            serving(fake) as address,
            RegistrationKeeper(
                request(), settings=ClientSettings(address=address), policy=FAST
            ) as keeper,
        ):
            await until(lambda: fake.count("Heartbeat") >= 1)
            del fake.workers["w-1"]  # expired, or deleted by an operator
            await until(lambda: keeper.registrations == 2)
            assert "w-1" in fake.workers
            await until(lambda: fake.count("Heartbeat") >= 3)
            assert keeper.registered and keeper.last_error is None

    asyncio.run(scenario())


def test_retries_an_unreachable_registry_until_it_comes_up() -> None:
    async def scenario() -> None:
        port = free_port()
        keeper = RegistrationKeeper(
            request(), settings=ClientSettings(address=f"127.0.0.1:{port}"), policy=FAST
        )
        started = time.monotonic()
        assert await keeper.start() is False  # answers at once: not registered yet
        assert time.monotonic() - started < 2
        assert isinstance(keeper.last_error, RegistryUnavailable)
        fake = FakeRegistry()
        async with serving(fake, port):
            async with asyncio.timeout(10):
                worker = await keeper.wait_registered()
            assert worker.worker_id == "w-1" and "w-1" in fake.workers
            await keeper.stop()
            assert fake.workers == {}

    asyncio.run(scenario())


def test_a_refusal_at_start_surfaces_with_reason_and_field_violations() -> None:
    async def scenario() -> None:
        fake = FakeRegistry()
        violation = FieldViolation("workflows[0].input_schema/type", "bad type", "invalid_schema")
        fake.fail("RegisterWorker", invalid_fields("INVALID_REGISTRATION", [violation]))
        async with serving(fake) as address:
            keeper = RegistrationKeeper(
                request(), settings=ClientSettings(address=address), policy=FAST
            )
            with pytest.raises(RegistrationRefused) as raised:
                await keeper.start()
            error = raised.value
            assert error.code == grpc.StatusCode.INVALID_ARGUMENT
            assert error.reason == "INVALID_REGISTRATION"
            assert error.violations == [violation]
            assert "workflows[0].input_schema/type: bad type" in str(error)
            assert not error.retryable
            await asyncio.sleep(0.2)
            assert fake.calls == ["RegisterWorker"]  # given up, and no unregister attempted

    asyncio.run(scenario())


def test_transient_failures_are_retried_and_never_end_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        fake = FakeRegistry()
        fake.fail("RegisterWorker", unavailable("REGISTRY_WORKFLOW_UNAVAILABLE", "temporal down"))
        async with serving(fake) as address:
            keeper = RegistrationKeeper(
                request(), settings=ClientSettings(address=address), policy=FAST
            )
            assert await keeper.start() is False
            await until(lambda: keeper.registered)
            fake.fail(
                "Heartbeat",
                RuntimeError("a bug in the server"),  # INTERNAL: retried
                unavailable("REGISTRY_WORKFLOW_UNAVAILABLE", "temporal down"),
                RegistryError(grpc.StatusCode.PERMISSION_DENIED, "FORBIDDEN", "no scope"),
            )
            await until(lambda: not fake.failures["Heartbeat"])
            await until(lambda: keeper.registered and keeper.last_error is None, within=2)
            await keeper.stop()
        assert fake.count("RegisterWorker") == 3  # first refused, then ok, then after the refusal

    with caplog.at_level(logging.INFO, logger="registry.client.registration"):
        asyncio.run(scenario())
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "REGISTRY_WORKFLOW_UNAVAILABLE" in messages and "PERMISSION_DENIED" in messages


def test_stop_is_bounded_when_the_registry_is_gone() -> None:
    async def scenario() -> None:
        fake = FakeRegistry()
        async with serving(fake) as address:
            keeper = RegistrationKeeper(
                request(), settings=ClientSettings(address=address), policy=FAST
            )
            assert await keeper.start()
        started = time.monotonic()
        await keeper.stop()  # the server is down: unregistering fails, quietly
        assert time.monotonic() - started < FAST.unregister_timeout + 1

    asyncio.run(scenario())


def test_a_channel_passed_in_is_used_and_left_open() -> None:
    async def scenario() -> None:
        fake = FakeRegistry()
        async with serving(fake) as address, grpc.aio.insecure_channel(address) as channel:
            keeper = RegistrationKeeper(request("w-2"), channel=channel, policy=FAST)
            assert await keeper.start()
            await keeper.stop()
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            await stub.RegisterWorker(request("w-3"))  # still open
            assert set(fake.workers) == {"w-3"}
        with pytest.raises(ValueError, match="not both"):
            RegistrationKeeper(request(), settings=ClientSettings(), channel=channel)

    asyncio.run(scenario())


def test_register_worker_retries_for_a_while_then_says_unavailable() -> None:
    async def scenario() -> None:
        address = f"127.0.0.1:{free_port()}"
        async with grpc.aio.insecure_channel(address) as channel:
            started = time.monotonic()
            with pytest.raises(RegistryUnavailable) as raised:
                await register_worker(channel, request(), retry_for=0.3, policy=FAST)
            assert 0.2 <= time.monotonic() - started < 3
            assert raised.value.code == grpc.StatusCode.UNAVAILABLE
        fake = FakeRegistry()
        fake.fail("RegisterWorker", unavailable("X", "busy"), unavailable("X", "busy"))
        async with serving(fake) as address, grpc.aio.insecure_channel(address) as channel:
            response = await register_worker(channel, request(), retry_for=5, policy=FAST)
            assert response.worker.worker_id == "w-1"
            assert fake.count("RegisterWorker") == 3

    asyncio.run(scenario())


def test_registration_error_reads_a_plain_status_too() -> None:
    async def scenario() -> RegistrationError:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{free_port()}") as channel:
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            try:
                await stub.Heartbeat(registry_pb2.HeartbeatRequest(worker_id="x"), timeout=2)
            except grpc.RpcError as error:
                return RegistrationError.from_rpc_error(error)
        raise AssertionError("the call succeeded")

    error = asyncio.run(scenario())
    assert isinstance(error, RegistryUnavailable)
    assert error.reason == "" and error.violations == [] and error.message
    assert error.describe().startswith("UNAVAILABLE: ")
