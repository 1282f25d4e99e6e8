"""Awaiting one thing unless another happens first: a startup step unless the worker it
needs stops, starting the dev stack unless Ctrl-C comes, registering unless told to stop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class Interrupted(Exception):
    """The interrupt completed before the work did (the work was cancelled)."""


async def run_until(work: Awaitable[T], interrupt: Awaitable[object]) -> T:
    """The result of work, unless interrupt completes first: then work is cancelled and
    Interrupted raised (bound both with asyncio.timeout). An interrupt given as a
    coroutine is cancelled on the way out; one given as a task or future is left alone
    (it belongs to the caller, e.g. a worker that must keep running)."""
    work_task = asyncio.ensure_future(work)
    interrupt_task = asyncio.ensure_future(interrupt)
    owned = [interrupt_task] if interrupt_task is not interrupt else []
    try:
        await asyncio.wait({work_task, interrupt_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work_task, *owned):
            task.cancel()
        await asyncio.gather(work_task, *owned, return_exceptions=True)
    if work_task.done() and not work_task.cancelled():
        return work_task.result()
    raise Interrupted
