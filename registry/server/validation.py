"""Validating workflow inputs with a bound on the work, and never for long on the event loop.

jsonschema-rs holds the GIL while it validates (measured: a thread validating leaves the event
loop no turn), and some inputs are costly whatever the engine: alternatives that share `$ref`s
multiply (a chain of 20 `anyOf`s of two references to the next link: 8 ms for `is_valid`,
over a minute to list the errors), and listing violations costs about 10 µs per error,
anyOf/oneOf contexts included. So:

- an input whose static bound, `InputValidator.cost` times its size as JSON, is at most
  INLINE_COST_LIMIT is checked inline with `is_valid` (microseconds): a fitting input is done;
- anything else (a larger bound, or an input that does not fit, whose violations must be
  listed) runs in a validation process (registry.validation_worker) for at most
  VALIDATION_TIMEOUT_SECONDS; past that the process is killed and replaced, and the call
  answers RESOURCE_EXHAUSTED with reason VALIDATION_TOO_COSTLY. POOL_SIZE processes run such
  validations at once; one that waits longer than the timeout for a free process answers the
  same, so a flood of costly validations delays no cheap one and nothing else.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import grpc

from registry.server.errors import RegistryError
from registry.server.validation_worker import HEADER, frame
from registry.shared.model import FieldViolation
from registry.shared.schemas import InputValidator, InvalidSchemaError, check_input

INLINE_COST_LIMIT: Final = 10_000_000  # schema bytes (expanded) x input bytes: ~3 ms worst
VALIDATION_TIMEOUT_SECONDS: Final = 1.0
POOL_SIZE: Final = 2
STARTUP_TIMEOUT_SECONDS: Final = 30.0
_SOURCE_ROOT: Final = str(Path(__file__).resolve().parents[2])


async def validate_input(
    validator: InputValidator, instance: Any, pool: ValidationPool | None = None
) -> list[FieldViolation]:
    """`validator(instance)` within the bound: the violations (none when it fits). Raises
    RegistryError VALIDATION_TOO_COSTLY past the bound, InvalidSchemaError as compile does."""
    malformed, (violations,) = await validate_input_each([validator], instance, pool)
    return malformed or violations


async def validate_input_each(
    validators: Sequence[InputValidator], instance: Any, pool: ValidationPool | None = None
) -> tuple[list[FieldViolation], list[list[FieldViolation]]]:
    """validate_input for each validator (the schema versions a start must suit), the input
    checked and measured once: what makes the input unfit for any schema (not plain JSON,
    too deep, too large; then nothing else is checked), and one list of violations per
    validator."""
    malformed, size = check_input(instance)
    if malformed:
        return malformed, [[] for _ in validators]
    found: list[list[FieldViolation]] = []
    for validator in validators:
        if validator.cost * max(size, 1) <= INLINE_COST_LIMIT and validator.is_valid(instance):
            found.append([])
        else:
            found.append(await (pool or default_pool()).violations(validator, instance))
    return [], found


class ValidationPool:
    """Up to `size` validation processes, each used by one thread of the pool's own executor
    (so each process's parent-death signal is tied to a thread that lives as long as the pool).
    A process that overruns `timeout` is killed; the next call starts a new one."""

    def __init__(self, size: int = POOL_SIZE, timeout: float = VALIDATION_TIMEOUT_SECONDS) -> None:
        self.size = size
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="validation")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._processes: set[_Process] = set()

    async def violations(self, validator: InputValidator, instance: Any) -> list[FieldViolation]:
        loop = asyncio.get_running_loop()
        submitted = time.monotonic()
        try:
            status, violations = await loop.run_in_executor(
                self._executor, self._call, validator.canonical, instance, submitted
            )
        except _Overrun as overrun:
            raise too_costly(str(overrun), self.timeout) from None
        if status == "invalid_schema":
            raise InvalidSchemaError(violations)
        assert status == "ok", status
        return list(violations)

    def close(self) -> None:
        """Stop every process (a running validation fails) and the threads."""
        with self._lock:
            processes, self._processes = self._processes, set()
        for process in processes:
            process.kill()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def process_ids(self) -> list[int]:
        with self._lock:
            return sorted(process.pid for process in self._processes)

    def _call(self, canonical: str, instance: Any, submitted: float) -> tuple[str, Any]:
        if time.monotonic() - submitted > self.timeout:
            raise _Overrun(f"waited over {self.timeout:g} s for a free validation process")
        process: _Process | None = getattr(self._local, "process", None)
        if process is None:
            process = self._local.process = _Process()
            with self._lock:
                self._processes.add(process)
        try:
            answer: tuple[str, Any] = process.call((canonical, instance), self.timeout)
            return answer
        except BaseException:
            self._local.process = None
            with self._lock:
                self._processes.discard(process)
            process.kill()
            raise


def too_costly(detail: str, limit: float) -> RegistryError:
    message = (
        f"validating this input against the workflow type's input schema {detail} "
        f"(limit {limit:g} s of validation work); send a smaller or simpler input"
    )
    return RegistryError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "VALIDATION_TOO_COSTLY",
        message,
        [FieldViolation("input", message, "too_costly")],
        {"limit_seconds": f"{limit:g}"},
    )


_default: ValidationPool | None = None


def default_pool() -> ValidationPool:
    global _default
    if _default is None:
        _default = ValidationPool()
    return _default


class _Overrun(Exception):
    """The validation did not finish in time (the text says what took too long)."""


class _Process:
    """One validation process and its pipes (used by one thread at a time)."""

    def __init__(self) -> None:
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_SOURCE_ROOT, path]))}
        self._popen = subprocess.Popen(
            [sys.executable, "-m", "registry.server.validation_worker", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.pid = self._popen.pid
        try:
            ready = self._receive(time.monotonic() + STARTUP_TIMEOUT_SECONDS)
        except _Overrun:
            self.kill()
            raise RuntimeError("the validation process did not start") from None
        if ready != ("ready", []):
            self.kill()
            raise RuntimeError(f"the validation process answered {ready!r} on start")

    def call(self, request: tuple[str, Any], timeout: float) -> Any:
        assert self._popen.stdin is not None
        started = time.monotonic()
        try:
            self._popen.stdin.write(frame(request))
            self._popen.stdin.flush()
        except OSError as error:
            raise RuntimeError(f"the validation process is gone: {error}") from None
        return self._receive(started + timeout, f"took over {timeout:g} s")

    def kill(self) -> None:
        if self._popen.poll() is None:
            self._popen.kill()
        self._popen.wait()
        for stream in (self._popen.stdin, self._popen.stdout):
            if stream is not None:
                stream.close()

    def _receive(self, deadline: float, overrun: str = "did not start") -> Any:
        (length,) = HEADER.unpack(self._read(HEADER.size, deadline, overrun))
        return pickle.loads(self._read(length, deadline, overrun))

    def _read(self, count: int, deadline: float, overrun: str) -> bytes:
        assert self._popen.stdout is not None
        fd = self._popen.stdout.fileno()
        chunks: list[bytes] = []
        while count:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise _Overrun(overrun)
            chunk = os.read(fd, min(count, 1 << 20))
            if not chunk:
                raise RuntimeError(f"the validation process exited ({self._popen.wait()})")
            chunks.append(chunk)
            count -= len(chunk)
        return b"".join(chunks)
