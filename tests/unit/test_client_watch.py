"""Watching the catalogue from the client side (registry.client.watch): how watch items
change a local copy (CatalogState), where a watch resumes after a broken stream and when it
must start over (WatchCursor), and the whole loop (CatalogWatch, CatalogMirror) against a
scripted RegistryService stub: streams that end, fail UNAVAILABLE, or are ABORTED with
RESYNC_REQUIRED."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, resources_pb2

from registry import worker
from registry.cli import build_parser
from registry.client.commands import event_json, event_line
from registry.client.connection import ClientSettings, RegistryCallError, open_channel
from registry.client.watch import (
    CatalogMirror,
    CatalogState,
    CatalogWatch,
    Resync,
    WatchCursor,
    WatchItem,
    WatchPolicy,
    watch,
)
from registry.worker import RegistryPlugin

E = registry_pb2.CatalogEvent
NO_WAIT = WatchPolicy(backoff_base=0.0)


def workflow_event(
    kind: int, workflow_type: str, revision: int, *, healthy: bool = True, **fields: Any
) -> registry_pb2.CatalogEvent:
    return E(
        type=kind,  # type: ignore[arg-type]
        revision=revision,
        resume_token=f"t{revision}",
        workflow=resources_pb2.Workflow(workflow_type=workflow_type, healthy=healthy, **fields),
    )


def worker_event(kind: int, worker_id: str, revision: int) -> registry_pb2.CatalogEvent:
    return E(
        type=kind,  # type: ignore[arg-type]
        revision=revision,
        resume_token=f"t{revision}",
        worker=resources_pb2.Worker(worker_id=worker_id, task_queue="orders"),
    )


def synced(revision: int) -> registry_pb2.CatalogEvent:
    return E(type=E.TYPE_SYNCED, revision=revision, resume_token=f"t{revision}")


def rpc_error(code: grpc.StatusCode, message: str, reason: str = "") -> grpc.aio.AioRpcError:
    """A failed call as grpc.aio raises it, with an ErrorInfo when `reason` is given."""
    details = []
    if reason:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="temporal-registry"))
        details.append(detail)
    status = status_pb2.Status(code=code.value[0], message=message, details=details)
    trailing = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, details=message)


def resync_required() -> grpc.aio.AioRpcError:
    return rpc_error(grpc.StatusCode.ABORTED, "the token is too old", "RESYNC_REQUIRED")


# --- CatalogState ------------------------------------------------------------------------------


def test_a_snapshot_shows_only_once_whole_then_changes_apply_as_they_come() -> None:
    state = CatalogState()
    snapshot = [
        workflow_event(E.TYPE_WORKFLOW_ADDED, "order.v1", 7),
        workflow_event(E.TYPE_WORKFLOW_ADDED, "order.report.v1", 7),
        worker_event(E.TYPE_WORKER_REGISTERED, "orders-1", 7),
    ]
    assert [state.apply(event) for event in snapshot] == [False, False, False]
    assert (state.workflows, state.workers, state.synced) == ({}, {}, False)  # not yet whole

    assert state.apply(synced(7)) is True
    assert sorted(state.workflows) == ["order.report.v1", "order.v1"]
    assert list(state.workers) == ["orders-1"]
    assert (state.synced, state.revision) == (True, 7)

    assert state.apply(
        workflow_event(E.TYPE_WORKFLOW_DISABLED, "order.v1", 8, disabled_reason="maintenance")
    )
    assert state.workflows["order.v1"].disabled_reason == "maintenance"
    assert state.apply(workflow_event(E.TYPE_WORKFLOW_HEALTH_CHANGED, "order.v1", 9, healthy=False))
    assert state.workflows["order.v1"].healthy is False
    assert state.apply(worker_event(E.TYPE_WORKER_REGISTERED, "orders-2", 10))
    assert state.apply(worker_event(E.TYPE_WORKER_EXPIRED, "orders-1", 11))
    assert state.apply(
        E(
            type=E.TYPE_WORKFLOW_REMOVED,
            revision=12,
            workflow=resources_pb2.Workflow(workflow_type="order.report.v1"),
        )
    )
    assert (list(state.workflows), list(state.workers), state.revision) == (
        ["order.v1"],
        ["orders-2"],
        12,
    )
    # The SYNCED after a reconnection's replay changes nothing it already had.
    assert state.apply(synced(12)) is False
    assert state.apply(worker_event(E.TYPE_WORKER_UNREGISTERED, "orders-2", 13))
    assert state.workers == {}


def test_after_a_resync_the_last_whole_copy_stays_until_the_new_one_is_whole() -> None:
    state = CatalogState()
    for event in (
        workflow_event(E.TYPE_WORKFLOW_ADDED, "old.v1", 3),
        workflow_event(E.TYPE_WORKFLOW_ADDED, "kept.v1", 3),
        synced(3),
    ):
        state.apply(event)

    assert state.apply(Resync("the token is too old")) is True
    assert state.synced is False
    assert state.apply(workflow_event(E.TYPE_WORKFLOW_ADDED, "kept.v1", 20)) is False
    assert state.apply(workflow_event(E.TYPE_WORKFLOW_ADDED, "new.v1", 20)) is False
    assert sorted(state.workflows) == ["kept.v1", "old.v1"]  # the last whole copy, meanwhile

    assert state.apply(synced(20)) is True
    assert sorted(state.workflows) == ["kept.v1", "new.v1"]  # old.v1 went while away
    assert (state.synced, state.revision) == (True, 20)
    assert state.apply(Resync("again")) is True and state.apply(Resync("and again")) is False


def test_an_event_type_this_client_does_not_know_changes_nothing() -> None:
    state = CatalogState()
    state.apply(synced(1))
    unknown = E(type=99, revision=2)  # type: ignore[arg-type]  # a newer server's
    assert state.apply(unknown) is False
    assert (state.workflows, state.workers, state.revision) == ({}, {}, 1)


# --- WatchCursor -------------------------------------------------------------------------------


def test_a_snapshots_tokens_are_trusted_only_once_it_is_whole() -> None:
    cursor = WatchCursor()
    assert cursor.request().resume_token == ""
    cursor.received(workflow_event(E.TYPE_WORKFLOW_ADDED, "order.v1", 5))
    assert cursor.token == ""  # resuming from here could skip the rest of the snapshot
    cursor.received(synced(5))
    assert cursor.token == "t5"
    cursor.received(worker_event(E.TYPE_WORKER_REGISTERED, "orders-1", 6))
    assert cursor.token == "t6"
    assert cursor.ended(RegistryCallError(grpc.StatusCode.UNAVAILABLE, "down")) is None
    assert cursor.ended(None) is None  # closed by the server: resume too
    assert cursor.request().resume_token == "t6"
    # A resumed stream: every event's token counts at once, replayed or live.
    cursor.received(worker_event(E.TYPE_WORKER_EXPIRED, "orders-1", 7))
    assert cursor.token == "t7"
    assert cursor.ended(RegistryCallError(grpc.StatusCode.INTERNAL, "reset")) is None
    assert cursor.request().resume_token == "t7"


def test_a_snapshot_broken_halfway_starts_over_with_a_resync() -> None:
    cursor = WatchCursor()
    cursor.request()
    assert cursor.ended(None) is None  # nothing delivered yet: just try again
    cursor.request()
    cursor.received(workflow_event(E.TYPE_WORKFLOW_ADDED, "order.v1", 5))
    resync = cursor.ended(RegistryCallError(grpc.StatusCode.UNAVAILABLE, "down"))
    assert isinstance(resync, Resync) and "before the catalogue's state was complete" in (
        resync.reason
    )
    assert cursor.request().resume_token == ""


def test_resync_required_starts_over_and_refusals_raise() -> None:
    cursor = WatchCursor("t41")
    assert cursor.request().resume_token == "t41"
    required = RegistryCallError(grpc.StatusCode.ABORTED, "the token is too old", "RESYNC_REQUIRED")
    assert cursor.ended(required) == Resync("the token is too old")
    assert cursor.request().resume_token == ""
    # ABORTED for another reason is retried from where it was.
    cursor.received(synced(50))
    assert cursor.ended(RegistryCallError(grpc.StatusCode.ABORTED, "conflict")) is None
    assert cursor.token == "t50"
    for code in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.UNIMPLEMENTED,
    ):
        refusal = RegistryCallError(code, "no")
        with pytest.raises(RegistryCallError) as raised:
            cursor.ended(refusal)
        assert raised.value is refusal


# --- the loop, against a scripted stub ---------------------------------------------------------


class Stream:
    """One WatchCatalog call: its events, then an error (or the end of the stream)."""

    def __init__(self, events: list[registry_pb2.CatalogEvent], error: Any = None) -> None:
        self.events, self.error, self.cancelled = events, error, False

    def __aiter__(self) -> AsyncIterator[registry_pb2.CatalogEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[registry_pb2.CatalogEvent]:
        for event in self.events:
            yield event
        if self.error is not None:
            raise self.error
        if self.error is None and not self.events:
            await asyncio.Event().wait()  # an open stream with nothing to say

    def cancel(self) -> bool:
        self.cancelled = True
        return True


class ScriptedRegistry:
    """A RegistryService stub whose WatchCatalog answers one scripted Stream per call."""

    def __init__(self, *streams: Stream) -> None:
        self.streams = list(streams)
        self.requests: list[str] = []

    def WatchCatalog(self, request: registry_pb2.WatchCatalogRequest) -> Stream:
        self.requests.append(request.resume_token)
        return self.streams.pop(0)


def describe(item: WatchItem) -> str:
    if isinstance(item, Resync):
        return "RESYNC"
    subject = item.workflow.workflow_type or item.worker.worker_id
    return f"{E.Type.Name(item.type).removeprefix('TYPE_')} {subject}".strip()


async def take(items: AsyncIterator[WatchItem], count: int) -> list[str]:
    return [describe(await anext(items)) for _ in range(count)]


def test_the_watch_resumes_after_failures_and_starts_over_when_told_to() -> None:
    registry = ScriptedRegistry(
        Stream(  # the snapshot, a change, then the registry goes away
            [
                workflow_event(E.TYPE_WORKFLOW_ADDED, "order.v1", 5),
                synced(5),
                worker_event(E.TYPE_WORKER_REGISTERED, "orders-1", 6),
            ],
            rpc_error(grpc.StatusCode.UNAVAILABLE, "connection refused"),
        ),
        Stream([worker_event(E.TYPE_WORKER_EXPIRED, "orders-1", 7), synced(7)]),  # then closed
        Stream([], resync_required()),
        Stream([workflow_event(E.TYPE_WORKFLOW_ADDED, "order.v2", 9), synced(9)]),
        Stream([]),
    )
    retries: list[tuple[str | None, float]] = []
    watching = watch(
        registry,  # type: ignore[arg-type]
        policy=NO_WAIT,
        on_retry=lambda error, delay: retries.append((error and error.code.name, delay)),
    )

    async def scenario() -> list[str]:
        items = aiter(watching)
        seen = await take(items, 8)
        assert watching.resume_token == "t9"
        await items.aclose()
        return seen

    assert asyncio.run(scenario()) == [
        "WORKFLOW_ADDED order.v1",
        "SYNCED",
        "WORKER_REGISTERED orders-1",
        "WORKER_EXPIRED orders-1",
        "SYNCED",
        "RESYNC",
        "WORKFLOW_ADDED order.v2",
        "SYNCED",
    ]
    assert registry.requests == ["", "t6", "t7", ""]  # resumed twice, then started over
    assert retries == [("UNAVAILABLE", 0.0), (None, 0.0), ("ABORTED", 0.0)]
    assert (watching.reconnections, watching.resyncs) == (3, 1)


def test_a_refused_watch_raises_the_registrys_status() -> None:
    registry = ScriptedRegistry(
        Stream([], rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "resume_token: not a token"))
    )

    async def scenario() -> None:
        async for _ in watch(registry, resume_token="garbage", policy=NO_WAIT):  # type: ignore[arg-type]
            pass

    with pytest.raises(RegistryCallError) as raised:
        asyncio.run(scenario())
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert registry.requests == ["garbage"]


def test_a_consumer_that_stops_iterating_cancels_the_call() -> None:
    stream = Stream([synced(1), synced(2)])
    watching = CatalogWatch(ScriptedRegistry(stream), policy=NO_WAIT)  # type: ignore[arg-type]

    async def scenario() -> None:
        async for _ in watching:
            break

    asyncio.run(scenario())
    assert stream.cancelled and watching.resume_token == "t1"


def test_the_mirror_converges_and_its_waits_wake_on_changes() -> None:
    later = asyncio.Event()

    class Later(Stream):
        async def _events(self) -> AsyncIterator[registry_pb2.CatalogEvent]:
            await later.wait()
            async for event in super()._events():
                yield event

    registry = ScriptedRegistry(
        Stream(
            [workflow_event(E.TYPE_WORKFLOW_ADDED, "order.v1", 3), synced(3)],
            rpc_error(grpc.StatusCode.UNAVAILABLE, "gone"),
        ),
        Later([worker_event(E.TYPE_WORKER_REGISTERED, "orders-1", 4)]),
        Stream([]),
    )

    async def scenario() -> None:
        async with CatalogMirror(channel=registry, policy=NO_WAIT) as mirror:  # type: ignore[arg-type]
            async with asyncio.timeout(5):
                await mirror.synced()
                assert (list(mirror.workflows), mirror.workers, mirror.revision) == (
                    ["order.v1"],
                    {},
                    3,
                )
                waiting = asyncio.create_task(mirror.wait_for(lambda m: "orders-1" in m.workers))
                await asyncio.sleep(0.01)
                assert not waiting.done()
                later.set()
                await waiting
            assert mirror.revision == 4 and mirror.watch is not None
            assert mirror.watch.resume_token == "t4"
        assert not mirror.running
        with pytest.raises(RuntimeError, match="not running"):
            await mirror.changed()

    asyncio.run(scenario())
    assert registry.requests[:2] == ["", "t3"]  # resumed after the failure


def test_a_wait_begun_before_the_mirror_starts_waits_for_it() -> None:
    """As an activity of a worker whose plugin has not started the mirror yet."""
    registry = ScriptedRegistry(
        Stream([workflow_event(E.TYPE_WORKFLOW_ADDED, "order.v1", 3), synced(3)]), Stream([])
    )
    mirror = CatalogMirror(channel=registry, policy=NO_WAIT)  # type: ignore[arg-type]

    async def scenario() -> None:
        waiting = asyncio.create_task(mirror.synced())
        await asyncio.sleep(0.01)
        assert not waiting.done()
        await mirror.start()
        async with asyncio.timeout(5):
            await waiting
        assert list(mirror.workflows) == ["order.v1"]
        await mirror.stop()
        with pytest.raises(RuntimeError, match="not running"):
            await mirror.changed()  # stopped: no change will come, no wait for ever
        assert list(mirror.workflows) == ["order.v1"]  # the copy stays readable

    asyncio.run(scenario())


def test_a_refused_mirror_stops_and_its_waits_raise_why() -> None:
    registry = ScriptedRegistry(
        Stream([], rpc_error(grpc.StatusCode.PERMISSION_DENIED, "needs the client scope"))
    )

    async def scenario() -> None:
        async with CatalogMirror(channel=registry) as mirror:  # type: ignore[arg-type]
            with pytest.raises(RegistryCallError) as raised:
                async with asyncio.timeout(5):
                    await mirror.synced()
            assert raised.value.code == grpc.StatusCode.PERMISSION_DENIED
            assert mirror.error is raised.value and not mirror.running

    asyncio.run(scenario())


# --- what `temporal-registry workflows watch` prints ----------------------------------------


def test_each_item_is_one_line_of_text_or_json() -> None:
    added = workflow_event(E.TYPE_WORKFLOW_ADDED, "order.v1", 42, task_queue="orders", enabled=True)
    assert event_line(added) == "r42 WORKFLOW_ADDED order.v1 queue=orders enabled=yes healthy=yes"
    disabled = workflow_event(
        E.TYPE_WORKFLOW_DISABLED,
        "order.v1",
        43,
        task_queue="orders",
        disabled_reason="maintenance window",
    )
    assert event_line(disabled) == (
        "r43 WORKFLOW_DISABLED order.v1 queue=orders enabled=no healthy=yes - maintenance window"
    )
    sick = workflow_event(
        E.TYPE_WORKFLOW_HEALTH_CHANGED,
        "order.v1",
        44,
        healthy=False,
        task_queue="orders",
        enabled=True,
        health_reasons=["0 of 1 workers healthy", "no pollers"],
    )
    assert event_line(sick).endswith("healthy=no - 0 of 1 workers healthy; no pollers")
    removed = E(
        type=E.TYPE_WORKFLOW_REMOVED,
        revision=45,
        workflow=resources_pb2.Workflow(workflow_type="order.v1"),
    )
    assert event_line(removed) == "r45 WORKFLOW_REMOVED order.v1"
    worker = resources_pb2.Worker(
        worker_id="orders-1",
        task_queue="orders",
        healthy=True,
        workflows=["order.v1", "order.report.v1"],
    )
    registered = E(type=E.TYPE_WORKER_REGISTERED, revision=46, worker=worker)
    assert event_line(registered) == (
        "r46 WORKER_REGISTERED orders-1 queue=orders healthy=yes workflows=order.v1,order.report.v1"
    )
    gone = E(type=E.TYPE_WORKER_UNREGISTERED, revision=47, worker=worker)
    assert event_line(gone) == (
        "r47 WORKER_UNREGISTERED orders-1 queue=orders workflows=order.v1,order.report.v1"
    )
    assert event_line(synced(47)) == "r47 SYNCED"
    assert event_line(E(type=99, revision=48)) == "r48 99"  # type: ignore[arg-type]
    assert event_line(Resync("the token is too old")) == "- RESYNC - the token is too old"

    line = event_json(registered)
    assert "\n" not in line
    document = json.loads(line)  # as the HTTP API prints it: int64 as a string, every field
    assert {key: document[key] for key in ("type", "revision", "resume_token")} == {
        "type": "TYPE_WORKER_REGISTERED",
        "revision": "46",
        "resume_token": "",
    }
    assert "workflow" not in document  # a message field is there only when set
    assert document["worker"]["workflows"] == ["order.v1", "order.report.v1"]
    assert (document["worker"]["healthy"], document["worker"]["labels"]) == (True, {})
    assert json.loads(event_json(Resync("gone"))) == {"type": "RESYNC", "reason": "gone"}


def test_the_watch_command_takes_a_resume_token_and_stops_when_synced_if_asked() -> None:
    args = build_parser().parse_args(
        ["workflows", "watch", "--resume-token", "t7", "--until-synced", "-o", "json"]
    )
    assert (args.resume_token, args.until_synced, args.output) == ("t7", True, "json")
    args = build_parser().parse_args(["workflows", "watch"])
    assert (args.resume_token, args.until_synced, args.output) == (None, False, "table")


# --- the worker plugin ---------------------------------------------------------------------------


def test_the_worker_plugin_mirrors_the_catalogue_only_when_asked() -> None:
    assert worker.CatalogMirror is CatalogMirror  # importable from registry.worker
    assert RegistryPlugin().catalog is None
    plugin = RegistryPlugin(ClientSettings(token="w" * 20), mirror_catalog=True)
    assert isinstance(plugin.catalog, CatalogMirror) and not plugin.catalog.running
    watcher = ClientSettings(token="c" * 20)
    assert isinstance(RegistryPlugin(mirror_catalog=watcher).catalog, CatalogMirror)


# --- the token on every kind of call ----------------------------------------------------------


def test_the_channel_sends_the_token_on_unary_and_streaming_calls() -> None:
    """open_channel's token reaches a server-streaming call too (grpc.aio files a client
    interceptor under one kind of call only): a real grpc.aio server on loopback."""
    seen: dict[str, str] = {}

    def authorization(context: grpc.aio.ServicerContext) -> str:  # type: ignore[type-arg]
        return dict(context.invocation_metadata() or ()).get("authorization", "")  # type: ignore[arg-type]

    async def status(request: Any, context: Any) -> registry_pb2.GetRegistryStatusResponse:
        seen["unary"] = authorization(context)
        return registry_pb2.GetRegistryStatusResponse()

    async def events(request: Any, context: Any) -> AsyncIterator[registry_pb2.CatalogEvent]:
        seen["stream"] = authorization(context)
        yield synced(1)

    handler = grpc.method_handlers_generic_handler(
        "temporal_registry.v1.RegistryService",
        {
            "GetRegistryStatus": grpc.unary_unary_rpc_method_handler(
                status,
                request_deserializer=registry_pb2.GetRegistryStatusRequest.FromString,
                response_serializer=registry_pb2.GetRegistryStatusResponse.SerializeToString,
            ),
            "WatchCatalog": grpc.unary_stream_rpc_method_handler(
                events,
                request_deserializer=registry_pb2.WatchCatalogRequest.FromString,
                response_serializer=registry_pb2.CatalogEvent.SerializeToString,
            ),
        },
    )

    async def scenario() -> None:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers([handler])
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            settings = ClientSettings(address=f"127.0.0.1:{port}", token="t" * 20)
            async with open_channel(settings) as channel:
                stub = registry_pb2_grpc.RegistryServiceStub(channel)
                await stub.GetRegistryStatus(registry_pb2.GetRegistryStatusRequest(), timeout=5)
                async with asyncio.timeout(5):
                    async for item in watch(channel):
                        assert describe(item) == "SYNCED"
                        break
        finally:
            await server.stop(None)

    asyncio.run(scenario())
    assert seen == {"unary": "Bearer " + "t" * 20, "stream": "Bearer " + "t" * 20}
