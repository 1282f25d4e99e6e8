"""The orders worker: a Temporal worker that runs `order.v1` and `order.report.v1` on the
task queue `orders` and keeps them registered with temporal-registry (RegistryPlugin).

    export REGISTRY_TOKEN=...          # the line `make run` prints (a worker token is enough)
    .venv/bin/python examples/python-worker/worker.py

Temporal is TEMPORAL_ADDRESS (default 127.0.0.1:7233, the dev server of `make run`) in
TEMPORAL_NAMESPACE (default `default`); the registry is REGISTRY_ADDRESS (default
127.0.0.1:8080) with REGISTRY_TOKEN. Ctrl-C (or SIGTERM) stops it: running tasks finish,
then the worker unregisters.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.worker import Worker

from registry.worker import RegistrationRefused, RegistryPlugin, registry_metadata

TASK_QUEUE = "orders"


@dataclass
class Order:
    order_id: str
    amount_cents: int


@activity.defn
async def place_order(order: Order) -> str:
    print(f"ran order {order.order_id}: {order.amount_cents} cents", flush=True)
    return f"order {order.order_id} placed"


@registry_metadata(
    version="1",
    labels={"team": "orders"},
    search_attributes={"OrderId": "Keyword"},
    schedule_input_warnings={"order_id": "a scheduled order needs a fixed order_id"},
)
@workflow.defn(name="order.v1")
class OrderWorkflow:
    """Takes an order from payment to delivery."""  # the description the registry shows

    @workflow.run
    async def run(self, order: Order) -> str:  # Order's JSON Schema is the input schema
        return await workflow.execute_activity(
            place_order, order, start_to_close_timeout=timedelta(seconds=10)
        )


@dataclass
class Report:
    day: str = ""  # YYYY-MM-DD; empty: the day before the run was scheduled (or started)


@activity.defn
async def summarise_orders(day: str) -> str:
    print(f"ran report for {day}", flush=True)
    return f"report for {day}"


# Temporal sets it on every run a schedule starts, backfilled ones included.
SCHEDULED_AT = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


@registry_metadata(version="1", labels={"team": "orders"})
@workflow.defn(name="order.report.v1")
class ReportWorkflow:
    """Summarises one day's orders."""

    @workflow.run
    async def run(self, report: Report) -> str:
        scheduled = workflow.info().typed_search_attributes.get(SCHEDULED_AT)
        day = report.day or ((scheduled or workflow.now()) - timedelta(days=1)).date().isoformat()
        return await workflow.execute_activity(
            summarise_orders, day, start_to_close_timeout=timedelta(seconds=10)
        )


async def main() -> int:
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    # The registration's progress (registered, heartbeat trouble, unregistered) is logged.
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    address = os.environ.get("TEMPORAL_ADDRESS", "127.0.0.1:7233")
    namespace = os.environ.get("TEMPORAL_NAMESPACE", "default")
    try:
        client = await Client.connect(address, namespace=namespace)
    except RuntimeError as error:
        print(f"cannot reach Temporal at {address}: {error}", file=sys.stderr)
        return 1
    worker = Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[OrderWorkflow, ReportWorkflow],
        activities=[place_order, summarise_orders],
        plugins=[RegistryPlugin(ttl_seconds=30, environment="dev")],
        graceful_shutdown_timeout=timedelta(seconds=5),  # running activities may finish
    )
    print(f"polling task queue {TASK_QUEUE} on {address} (Ctrl-C stops)", flush=True)
    running = asyncio.create_task(worker.run())  # registers, then polls and heartbeats
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not running.done():
        print("stopping: finishing running tasks, then unregistering", flush=True)
        await worker.shutdown()
    try:
        await running
    except RegistrationRefused:  # a bad token or schema; the refusal is logged above
        return 1
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
