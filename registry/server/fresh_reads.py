"""Reads of remote state (a task queue's pollers, a registry workflow's current run) that a
caller needs to have *started after it asked*, shared by concurrent callers and spaced, so a
flood of callers cannot flood Temporal: one read in flight per key, and reads of a key start at
most every `spacing` seconds. Every caller gets the result of the read it joined."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
R = TypeVar("R")


class FreshReads(Generic[K, R]):
    def __init__(self, spacing: float) -> None:
        self._spacing = spacing
        self._reads: dict[K, asyncio.Task[R]] = {}
        self._started: dict[K, float] = {}  # time.monotonic() when the key's last read began

    def started(self, key: K) -> float:
        """When the key's last read began (time.monotonic()), -inf if never."""
        return self._started.get(key, -math.inf)

    async def read(self, key: K, fetch: Callable[[], Awaitable[R]]) -> R:
        """The result of a read of key that started after this call (raising what it
        raised): join one in flight that is recent enough, else wait for the one in
        flight and the spacing, then start one that later callers join."""
        called = time.monotonic()
        while True:
            task = self._reads.get(key)
            if task is not None and self.started(key) >= called:
                return await asyncio.shield(task)
            if task is not None and not task.done():
                await asyncio.wait([task])  # too old for this caller: a new one follows
                continue
            delay = self.started(key) + self._spacing - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            self._started[key] = time.monotonic()
            self._reads[key] = asyncio.ensure_future(fetch())
            self._reads[key].add_done_callback(_retrieved)

    def cancel(self) -> None:
        for task in self._reads.values():
            task.cancel()


def _retrieved(task: asyncio.Task[object]) -> None:
    """Mark the outcome as retrieved: a read nobody awaits any more may fail quietly (the
    callers that awaited it got its error)."""
    if not task.cancelled():
        task.exception()
