"""Shared, spaced reads that start after their caller asked (registry.fresh_reads)."""

from __future__ import annotations

import asyncio
import time

import pytest

from registry.server.fresh_reads import FreshReads


class Counter:
    def __init__(self, seconds: float = 0.01, fail: bool = False) -> None:
        self.calls = 0
        self.seconds = seconds
        self.fail = fail

    async def __call__(self) -> None:
        self.calls += 1
        await asyncio.sleep(self.seconds)
        if self.fail:
            raise RuntimeError("no answer")


def test_concurrent_callers_share_reads() -> None:
    """The first caller's read started after the others asked: they share the next one."""

    async def scenario() -> int:
        reads: FreshReads[str, None] = FreshReads(spacing=0.1)
        fetch = Counter()
        await asyncio.gather(*(reads.read("q", fetch) for _ in range(50)))
        return fetch.calls

    assert asyncio.run(scenario()) == 2


def test_a_caller_gets_a_read_that_started_after_it_asked_at_most_every_spacing() -> None:
    async def scenario() -> tuple[int, float]:
        reads: FreshReads[str, None] = FreshReads(spacing=0.3)
        fetch = Counter()
        await reads.read("q", fetch)
        began = time.monotonic()
        await reads.read("q", fetch)  # the first read is too old: a second one, spaced
        return fetch.calls, time.monotonic() - began

    calls, waited = asyncio.run(scenario())
    assert calls == 2
    assert 0.25 <= waited < 1.0


def test_a_read_in_flight_that_started_before_the_call_does_not_count() -> None:
    async def scenario() -> int:
        reads: FreshReads[str, None] = FreshReads(spacing=0.0)
        fetch = Counter(seconds=0.1)
        first = asyncio.ensure_future(reads.read("q", fetch))
        await asyncio.sleep(0.05)  # the first read is in flight, started before this call
        await reads.read("q", fetch)
        await first
        return fetch.calls

    assert asyncio.run(scenario()) == 2


def test_keys_are_independent() -> None:
    async def scenario() -> int:
        reads: FreshReads[str, None] = FreshReads(spacing=10)
        fetch = Counter()
        await asyncio.gather(reads.read("a", fetch), reads.read("b", fetch))
        return fetch.calls

    assert asyncio.run(scenario()) == 2


def test_every_caller_of_a_failed_read_sees_its_error() -> None:
    async def scenario() -> list[BaseException | None]:
        reads: FreshReads[str, None] = FreshReads(spacing=0.0)
        fetch = Counter(fail=True)
        return await asyncio.gather(
            *(reads.read("q", fetch) for _ in range(3)), return_exceptions=True
        )

    outcomes = asyncio.run(scenario())
    assert [type(o) for o in outcomes] == [RuntimeError] * 3


@pytest.mark.filterwarnings("error")
def test_a_failed_read_nobody_awaits_any_more_is_not_reported_as_unretrieved() -> None:
    async def scenario() -> None:
        reads: FreshReads[str, None] = FreshReads(spacing=0.0)
        caller = asyncio.ensure_future(reads.read("q", Counter(fail=True)))
        await asyncio.sleep(0)
        caller.cancel()
        await asyncio.sleep(0.05)

    asyncio.run(scenario())


def test_callers_get_the_result_of_the_read_they_joined() -> None:
    """The first caller's read began before the others asked: they share the next read, and
    each gets the result of its own."""

    async def scenario() -> list[int]:
        reads: FreshReads[str, int] = FreshReads(spacing=0.0)
        started = 0

        async def fetch() -> int:
            nonlocal started
            started += 1
            await asyncio.sleep(0.01)
            return started

        joined = await asyncio.gather(*(reads.read("q", fetch) for _ in range(3)))
        return [*joined, await reads.read("q", fetch)]

    assert asyncio.run(scenario()) == [1, 2, 2, 3]
