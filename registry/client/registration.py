"""Keeping a worker registered: register over gRPC, heartbeat in the background, register
again when the registry forgot the worker, back off while it is unreachable, unregister on
the way out. The Python worker helper (registry.worker) and the manifest sidecar
(`temporal-registry register`) both run a RegistrationKeeper.

The policy (heartbeat interval, backoff, which failures are worth retrying) is plain
functions at the top of the module; the keeper only sequences calls.

    keeper = RegistrationKeeper(request, settings=ClientSettings.from_env())
    await keeper.start()      # raises RegistrationRefused if the registry says no
    ...
    await keeper.stop()       # unregisters, best effort, bounded
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Protocol

import grpc
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, resources_pb2

from registry.client.connection import ClientSettings, RegistryCallError, open_channel

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS: Final = 60  # what the registry assumes for ttl_seconds == 0

# Worth retrying: the registry (or Temporal behind it) is down, slow, overloaded or restarting.
RETRYABLE_CODES: Final = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
    }
)


# --- policy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeeperPolicy:
    """Timings of a RegistrationKeeper (seconds)."""

    # Heartbeat every ttl * interval_fraction, kept within [min_interval, max_interval].
    interval_fraction: float = 1 / 3
    min_interval: float = 1.0
    max_interval: float = 60.0
    # Retry delays grow from backoff_base, doubling, up to backoff_cap, with jitter.
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    # Deadline of one RegisterWorker or Heartbeat call.
    call_timeout: float = 10.0
    # Deadline of the UnregisterWorker call on stop.
    unregister_timeout: float = 5.0


class Backoff(Protocol):
    """What backoff_delay reads of a policy (KeeperPolicy, the catalogue watch's WatchPolicy)."""

    @property
    def backoff_base(self) -> float: ...

    @property
    def backoff_cap(self) -> float: ...


def heartbeat_interval(ttl_seconds: int, policy: KeeperPolicy = KeeperPolicy()) -> float:
    """Seconds between heartbeats for a lease of `ttl_seconds` (0: the registry's default):
    a fraction of the TTL, so a lease survives a couple of lost heartbeats."""
    ttl = ttl_seconds if ttl_seconds > 0 else DEFAULT_TTL_SECONDS
    interval = ttl * policy.interval_fraction
    return max(policy.min_interval, min(policy.max_interval, interval))


def backoff_delay(
    attempt: int,
    policy: Backoff = KeeperPolicy(),
    *,
    cap: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number `attempt` (0 for the first retry): exponential
    from backoff_base up to `cap` (default backoff_cap), jittered within its upper half so
    a fleet that lost the registry together doesn't come back in step."""
    ceiling = policy.backoff_cap if cap is None else cap
    exponent = min(max(attempt, 0), 32)  # 2**32 * base is past any sensible cap
    delay = min(ceiling, policy.backoff_base * (1 << exponent))
    return delay / 2 + rng() * delay / 2


def is_retryable(code: grpc.StatusCode) -> bool:
    """Whether a call that failed with `code` may succeed later without anyone changing
    anything: unavailability, timeouts, overload. INVALID_ARGUMENT, PERMISSION_DENIED,
    UNAUTHENTICATED, FAILED_PRECONDITION and the rest are refusals."""
    return code in RETRYABLE_CODES


# --- errors ------------------------------------------------------------------------------


class RegistrationError(RegistryCallError):
    """A registry call of the keeper that failed; RegistryUnavailable when retrying may
    help, RegistrationRefused when it won't."""

    @property
    def retryable(self) -> bool:
        return is_retryable(self.code)

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> RegistrationError:
        failure = RegistryCallError.from_rpc_error(error)
        kind = RegistryUnavailable if is_retryable(failure.code) else RegistrationRefused
        return kind(failure.code, failure.message, failure.reason, failure.violations)


class RegistrationRefused(RegistrationError):
    """The registry refused the registration (bad request, token or state): retrying the
    same request won't help."""


class RegistryUnavailable(RegistrationError):
    """The registry could not be reached or did not answer in time."""


# --- calls -------------------------------------------------------------------------------


async def register_worker(
    channel: grpc.aio.Channel,
    request: registry_pb2.RegisterWorkerRequest,
    *,
    retry_for: float = 0.0,
    policy: KeeperPolicy = KeeperPolicy(),
) -> registry_pb2.RegisterWorkerResponse:
    """Register once, retrying retryable failures for up to `retry_for` seconds. Raises
    RegistrationRefused for a refusal, RegistryUnavailable when time ran out."""
    stub = registry_pb2_grpc.RegistryServiceStub(channel)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + retry_for
    attempt = 0
    while True:
        try:
            response: registry_pb2.RegisterWorkerResponse = await stub.RegisterWorker(
                request, timeout=policy.call_timeout
            )
            return response
        except grpc.RpcError as rpc_error:
            error = RegistrationError.from_rpc_error(rpc_error)
        if not error.retryable:
            raise error
        delay = backoff_delay(attempt, policy)
        if loop.time() + delay > deadline:
            raise error
        log.info("registry unavailable (%s); retrying in %.1f s", error.code.name, delay)
        await asyncio.sleep(delay)
        attempt += 1


# --- the keeper --------------------------------------------------------------------------


class RegistrationKeeper:
    """Keeps one worker registration alive in the background.

    Give it the registry (`settings`, default ClientSettings.from_env(), or an open
    `channel` it will not close) and the RegisterWorkerRequest. `start()` registers and
    starts heartbeating every heartbeat_interval(ttl); `stop()` unregisters. In between:

    - a Heartbeat answered NOT_FOUND (the registry expired or forgot the worker) registers
      again at once;
    - an unreachable or overloaded registry is retried with jittered exponential backoff
      (capped at the heartbeat interval while registered, so the lease is renewed as soon
      as the registry is back);
    - a refusal before the first success ends the keeper (start() or wait_registered()
      raises it; otherwise it is logged); one after the worker was once registered (a
      token revoked, a schema the registry no longer accepts) is logged and retried at
      the backoff cap.

    Nothing raises out of the background task; it logs. Use `async with` or start/stop.
    """

    def __init__(
        self,
        request: registry_pb2.RegisterWorkerRequest,
        *,
        settings: ClientSettings | None = None,
        channel: grpc.aio.Channel | None = None,
        policy: KeeperPolicy = KeeperPolicy(),
    ) -> None:
        if settings is not None and channel is not None:
            raise ValueError("give settings or channel, not both")
        self.request = request
        self.policy = policy
        self.interval = heartbeat_interval(request.ttl_seconds, policy)
        self._settings = settings
        self._channel = channel
        self._owns_channel = channel is None
        self._task: asyncio.Task[None] | None = None
        self._first_attempt: asyncio.Event | None = None
        self._registered_event: asyncio.Event | None = None
        self._refusal: RegistrationRefused | None = None
        self._attempted = False
        self.registered = False
        """Whether the last call told us the registry knows the worker."""
        self.worker: resources_pb2.Worker | None = None
        """The worker as the registry last stored it."""
        self.last_error: RegistrationError | None = None
        """The last failure, cleared by the next success."""
        self.registrations = 0
        """Successful RegisterWorker calls (the first, and every re-registration)."""

    @property
    def worker_id(self) -> str:
        return self.request.worker_id

    async def __aenter__(self) -> RegistrationKeeper:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> bool:
        """Start keeping the registration and wait for the first attempt's answer (bounded
        by policy.call_timeout). True when registered. Raises RegistrationRefused, and keeps
        nothing running, when the registry refused it. False when the registry could not be
        reached or did not answer: registration goes on in the background."""
        if self._task is not None:
            raise RuntimeError("already started")
        if self._channel is None:
            self._channel = open_channel(self._settings or ClientSettings.from_env())
        self._first_attempt = asyncio.Event()
        self._registered_event = asyncio.Event()
        self._task = asyncio.create_task(self._keep(), name=f"registry-keeper-{self.worker_id}")
        await self._first_attempt.wait()
        if self._refusal is not None:
            await self.stop(unregister=False)
            raise self._refusal
        return self.registered

    async def wait_registered(self) -> resources_pb2.Worker:
        """Wait until the worker is registered (bound it with asyncio.timeout); the stored
        worker. Raises RegistrationRefused when the registry refused the first registration."""
        if self._registered_event is None or self._task is None:
            raise RuntimeError("not started")
        if self._refusal is not None:
            raise self._refusal
        registered = asyncio.create_task(self._registered_event.wait())
        try:
            await asyncio.wait([registered, self._task], return_when=asyncio.FIRST_COMPLETED)
        finally:
            registered.cancel()
        if self._refusal is not None:
            raise self._refusal
        if self.worker is None:
            raise RuntimeError("stopped before the worker was registered")
        return self.worker

    async def stop(self, *, unregister: bool = True) -> None:
        """Stop heartbeating and, unless told not to, unregister (best effort: at most
        policy.unregister_timeout seconds, failures logged). Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        channel = self._channel
        if channel is None:
            return
        try:
            if unregister and self._attempted:
                await self._unregister(channel)
        finally:
            self.registered = False
            if self._owns_channel:
                self._channel = None
                await channel.close(None)

    async def _unregister(self, channel: grpc.aio.Channel) -> None:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        request = registry_pb2.UnregisterWorkerRequest(worker_id=self.worker_id)
        try:
            await stub.UnregisterWorker(request, timeout=self.policy.unregister_timeout)
            log.info("unregistered worker %s", self.worker_id)
        except grpc.RpcError as rpc_error:
            error = RegistrationError.from_rpc_error(rpc_error)
            if error.code == grpc.StatusCode.NOT_FOUND:
                log.info("worker %s was not registered any more", self.worker_id)
            else:
                log.warning("could not unregister worker %s: %s", self.worker_id, error)

    async def _keep(self) -> None:
        """The background loop: register until registered, then heartbeat."""
        assert self._channel is not None
        stub = registry_pb2_grpc.RegistryServiceStub(self._channel)
        heartbeat = registry_pb2.HeartbeatRequest(worker_id=self.worker_id)
        attempt = 0
        while True:
            try:
                if self.registered:
                    await stub.Heartbeat(heartbeat, timeout=self.policy.call_timeout)
                    self.last_error = None
                else:
                    self._attempted = True
                    response = await stub.RegisterWorker(
                        self.request, timeout=self.policy.call_timeout
                    )
                    self._on_registered(response)
                attempt = 0
                delay = self.interval
            except asyncio.CancelledError:
                raise
            except grpc.RpcError as rpc_error:
                error = RegistrationError.from_rpc_error(rpc_error)
                if self._refused_at_start(error):
                    return
                delay = self._on_failure(error, attempt)
                attempt += 1
            except Exception:  # a bug must not take the worker down with it
                log.exception("registration keeper for %s failed; retrying", self.worker_id)
                delay = backoff_delay(attempt, self.policy)
                attempt += 1
            finally:
                if self._first_attempt is not None:
                    self._first_attempt.set()
            if delay > 0:
                await asyncio.sleep(delay)

    def _on_registered(self, response: registry_pb2.RegisterWorkerResponse) -> None:
        again = self.registrations > 0
        self.registered = True
        self.worker = response.worker
        self.last_error = None
        self.registrations += 1
        if self._registered_event is not None:
            self._registered_event.set()
        log.info(
            "%s worker %s on task queue %s (%s); heartbeat every %.1f s",
            "registered again" if again else "registered",
            self.worker_id,
            self.request.task_queue,
            ", ".join(response.worker.workflows) or "no workflow types",
            self.interval,
        )
        if response.affected_schedules:
            log.warning(
                "schedules whose input no longer fits the new input schema: %s",
                ", ".join(response.affected_schedules),
            )

    def _refused_at_start(self, error: RegistrationError) -> bool:
        """A refusal before the worker was ever registered ends the loop: the caller of
        start() or wait_registered() gets it."""
        if self.registrations > 0 or error.retryable:
            return False
        self._refusal = RegistrationRefused(
            error.code, error.message, error.reason, error.violations
        )
        self.last_error = self._refusal
        log.error("registry refused worker %s: %s", self.worker_id, error.describe())
        return True

    def _on_failure(self, error: RegistrationError, attempt: int) -> float:
        """Log a failed call and decide how long to wait before the next one."""
        self.last_error = error
        if self.registered and error.code == grpc.StatusCode.NOT_FOUND:
            log.warning(
                "registry no longer knows worker %s (%s); registering again",
                self.worker_id,
                error.message,
            )
            self.registered = False
            return 0.0
        if error.retryable:
            cap = self.interval if self.registered else None
            delay = backoff_delay(attempt, self.policy, cap=cap)
            log.warning(
                "registry call for worker %s failed (%s); retrying in %.1f s",
                self.worker_id,
                error.describe(),
                delay,
            )
            return delay
        log.error(
            "registry refused worker %s: %s; retrying in %.0f s",
            self.worker_id,
            error.describe(),
            self.policy.backoff_cap,
        )
        self.registered = False
        return self.policy.backoff_cap
