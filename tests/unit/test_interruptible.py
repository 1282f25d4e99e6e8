"""Awaiting work unless something else happens first (registry.interruptible), and the
runtime's use of it: startup steps that need the embedded worker give up when it stops
or stalls, so the runtime retries instead of waiting for ever."""

from __future__ import annotations

import asyncio

import pytest

from registry.runtime import _while_running
from registry.shared.interruptible import Interrupted, run_until


async def forever() -> None:
    await asyncio.Event().wait()


async def value_after(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "started"


def test_the_step_result_is_returned_while_the_worker_runs() -> None:
    async def scenario() -> str:
        worker = asyncio.create_task(forever())
        try:
            return await _while_running(worker, value_after(0.01), 5)
        finally:
            worker.cancel()

    assert asyncio.run(scenario()) == "started"


def test_a_failed_worker_fails_the_step_with_its_error() -> None:
    async def failing_worker() -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("namespace not found")

    async def scenario() -> None:
        step = asyncio.ensure_future(forever())
        try:
            await _while_running(asyncio.create_task(failing_worker()), step, 5)
        finally:
            assert step.cancelled()

    with pytest.raises(RuntimeError, match="namespace not found"):
        asyncio.run(scenario())


def test_a_worker_that_stops_cleanly_still_fails_the_step() -> None:
    async def scenario() -> None:
        await _while_running(asyncio.create_task(asyncio.sleep(0)), forever(), 5)

    with pytest.raises(RuntimeError, match="stopped during startup"):
        asyncio.run(scenario())


def test_a_stalled_step_times_out() -> None:
    async def scenario() -> None:
        worker = asyncio.create_task(forever())
        try:
            await _while_running(worker, forever(), 0.05)
        finally:
            worker.cancel()

    with pytest.raises(TimeoutError, match=r"within 0\.05 s"):
        asyncio.run(scenario())


def test_an_interrupt_cancels_the_work_and_only_the_interrupts_it_owns() -> None:
    async def scenario() -> None:
        stop = asyncio.Event()
        work = asyncio.ensure_future(forever())
        asyncio.get_running_loop().call_later(0.01, stop.set)
        with pytest.raises(Interrupted):
            await run_until(work, stop.wait())
        assert work.cancelled()

        callers_task = asyncio.create_task(asyncio.sleep(0.01))
        assert await run_until(value_after(0), callers_task) == "started"
        assert not callers_task.cancelled()  # the caller's task keeps running
        await callers_task

    asyncio.run(scenario())
