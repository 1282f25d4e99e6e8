"""A real Temporal worker for the dispatch tests: a dynamic workflow that answers any
workflow type with its input, after sleeping `hold_seconds` when the input asks for it.

Run as `python -m integration.echo_worker ADDRESS TASK_QUEUE` (from tests/)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RawValue
from temporalio.worker import Worker


@workflow.defn(dynamic=True, sandboxed=False)
class Echo:
    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> Any:
        value = workflow.payload_converter().from_payload(args[0].payload) if args else None
        if isinstance(value, dict) and isinstance(value.get("hold_seconds"), (int, float)):
            await workflow.sleep(timedelta(seconds=value["hold_seconds"]))
        return value


async def main(address: str, task_queue: str) -> None:
    client = await Client.connect(address)
    async with Worker(client, task_queue=task_queue, workflows=[Echo]):
        print("echo worker polling", task_queue, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
