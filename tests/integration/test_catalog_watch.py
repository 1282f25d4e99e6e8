"""Issue 15 end to end: conditional reads (ETag, If-None-Match, 304), blocking queries
(?wait=&revision=), and WatchCatalog (native gRPC and newline-delimited JSON through Envoy),
on a real Temporal dev server, real registry processes and real Envoy."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, resources_pb2

from integration.conftest import ECHO_QUEUE
from integration.stack import ADMIN_TOKEN, Registry, TemporalDevServer, authorized
from integration.test_registry_durability import own_registry_settings, running
from registry.client.connection import RegistryCallError

pytestmark = pytest.mark.integration

AUTH = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
SHIPMENT_SCHEMA = {
    "type": "object",
    "properties": {"shipment_id": {"type": "string"}},
    "required": ["shipment_id"],
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_type(http: httpx.Client, workflow_type: str) -> None:
    response = http.post(
        "/registry/workflows",
        json={
            "workflow_type": workflow_type,
            "task_queue": "shipping",
            "input_schema": SHIPMENT_SCHEMA,
        },
    )
    assert response.status_code == 200, response.text


def violations(error: grpc.RpcError) -> tuple[str, list[str]]:
    """The ErrorInfo reason of a failed call and the fields its violations name."""
    failure = RegistryCallError.from_rpc_error(error)
    return failure.reason, [v.field for v in failure.violations]


# --- conditional reads ---------------------------------------------------------------------


def test_a_list_answers_304_to_the_etag_it_gave_until_the_catalogue_changes(
    http: httpx.Client,
) -> None:
    create_type(http, unique("first.v1"))
    first = http.get("/registry/workflows")
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    body = first.json()
    assert body["etag"] == etag and int(body["revision"]) > 0 and body["not_modified"] is False

    again = http.get("/registry/workflows", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag

    create_type(http, unique("etag.v1"))
    changed = http.get("/registry/workflows", headers={"If-None-Match": etag})
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] != etag
    assert int(changed.json()["revision"]) > int(body["revision"])


def test_a_get_answers_304_and_grpc_gets_not_modified(
    http: httpx.Client, registry_channel: grpc.Channel
) -> None:
    workflow_type = unique("conditional.v1")
    create_type(http, workflow_type)
    got = http.get(f"/registry/workflows/{workflow_type}")
    assert got.status_code == 200, got.text
    cached = http.get(
        f"/registry/workflows/{workflow_type}", headers={"If-None-Match": got.headers["etag"]}
    )
    assert cached.status_code == 304 and cached.content == b""

    stub = registry_pb2_grpc.RegistryServiceStub(authorized(registry_channel))
    answer, call = stub.ListWorkflows.with_call(registry_pb2.ListWorkflowsRequest())
    etag = dict(call.initial_metadata())["etag"]
    assert answer.etag == etag
    not_modified, call = stub.ListWorkflows.with_call(
        registry_pb2.ListWorkflowsRequest(if_none_match=etag)
    )
    assert not_modified.not_modified and not not_modified.workflows
    assert not_modified.etag == etag and not_modified.revision == answer.revision
    assert dict(call.initial_metadata())["x-registry-not-modified"] == "true"


# --- blocking queries ----------------------------------------------------------------------


def test_a_blocking_query_answers_as_soon_as_the_revision_passes(http: httpx.Client) -> None:
    revision = http.get("/registry/workflows").json()["revision"]
    workflow_type = unique("blocking.v1")
    timer = threading.Timer(0.5, create_type, (http, workflow_type))
    started = time.monotonic()
    timer.start()
    try:
        answer = http.get(
            "/registry/workflows",
            params={"wait": "20s", "revision": str(revision)},
            timeout=30,
        )
    finally:
        timer.join()
    took = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert int(answer.json()["revision"]) > int(revision)
    assert workflow_type in {w["workflow_type"] for w in answer.json()["workflows"]}
    assert took < 5, took


def test_a_blocking_query_that_sees_no_change_answers_when_the_wait_ends(
    http: httpx.Client,
) -> None:
    first = http.get("/registry/workers")
    started = time.monotonic()
    answer = http.get(
        "/registry/workers", params={"wait": "1s"}, headers={"If-None-Match": first.headers["etag"]}
    )
    took = time.monotonic() - started
    assert answer.status_code == 304
    assert 0.9 < took < 5, took


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"wait": "301s", "revision": "1"}, "wait"),
        ({"wait": "5s"}, "wait"),
        ({"revision": "1"}, "revision"),
        ({"wait": "1s", "revision": "999999999"}, "revision"),
        ({"wait": "-1s", "revision": "1"}, "wait"),
    ],
)
def test_bad_blocking_queries_name_the_field(
    http: httpx.Client, params: dict[str, str], field: str
) -> None:
    answer = http.get("/registry/workflows", params=params)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["code"] == 3
    bad = [d for d in body["details"] if d["@type"].endswith("BadRequest")]
    assert [v["field"] for v in bad[0]["field_violations"]] == [field], body


def test_a_page_token_of_another_query_is_refused(http: httpx.Client) -> None:
    for n in range(3):
        create_type(http, unique(f"paged{n}.v1"))
    token = http.get("/registry/workflows", params={"page_size": "1"}).json()["next_page_token"]
    assert token
    answer = http.get(
        "/registry/workflows", params={"page_token": token, "label_selector": "team=other"}
    )
    assert answer.status_code == 400, answer.text
    assert "page_token" in answer.text


# --- watching ------------------------------------------------------------------------------


def watch(channel: grpc.Channel, resume_token: str = "") -> Any:
    stub = registry_pb2_grpc.RegistryServiceStub(channel)
    return stub.WatchCatalog(
        registry_pb2.WatchCatalogRequest(resume_token=resume_token), metadata=AUTH, timeout=60
    )


def until(events: Iterator[registry_pb2.CatalogEvent], wanted: Any) -> list[Any]:
    """Events up to the first that `wanted` accepts (included)."""
    seen = []
    for event in events:
        seen.append(event)
        if wanted(event):
            return seen
    raise AssertionError(f"the stream ended before the wanted event: {seen[-5:]}")


Event = registry_pb2.CatalogEvent


def register(http: httpx.Client, worker_id: str, workflow_type: str) -> None:
    response = http.post(
        "/registry/workers",
        json={
            "worker_id": worker_id,
            "task_queue": "shipping",
            "workflows": [{"workflow_type": workflow_type, "input_schema": SHIPMENT_SCHEMA}],
        },
    )
    assert response.status_code == 200, response.text


def test_a_watch_sends_the_state_then_each_change_and_resumes_after_a_token(
    http: httpx.Client, registry_channel: grpc.Channel
) -> None:
    known = unique("known.v1")
    create_type(http, known)
    stream = watch(registry_channel)
    opening = until(stream, lambda e: e.type == Event.TYPE_SYNCED)
    assert known in {e.workflow.workflow_type for e in opening if e.workflow.workflow_type}
    assert all(
        e.type in (Event.TYPE_WORKFLOW_ADDED, Event.TYPE_WORKER_REGISTERED) for e in opening[:-1]
    )
    assert opening[-1].resume_token

    worker_id, workflow_type = unique("packer"), unique("pack.v1")
    register(http, worker_id, workflow_type)
    seen = until(
        stream,
        lambda e: e.type == Event.TYPE_WORKER_REGISTERED and e.worker.worker_id == worker_id,
    )
    assert any(
        e.type == Event.TYPE_WORKFLOW_ADDED and e.workflow.workflow_type == workflow_type
        for e in seen
    )
    token = seen[-1].resume_token
    assert http.delete(f"/registry/workers/{worker_id}").status_code == 200
    gone = until(stream, lambda e: e.worker.worker_id == worker_id)[-1]
    assert gone.type == Event.TYPE_WORKER_UNREGISTERED
    assert (
        http.post(f"/registry/workflows/{workflow_type}/disable", json={"reason": "r"}).status_code
        == 200
    )
    disabled = until(
        stream,
        lambda e: (
            e.workflow.workflow_type == workflow_type
            and e.type != Event.TYPE_WORKFLOW_HEALTH_CHANGED
        ),
    )[-1]
    assert disabled.type == Event.TYPE_WORKFLOW_DISABLED
    assert disabled.workflow.disabled_reason == "r"
    stream.cancel()

    resumed = watch(registry_channel, token)
    replayed = until(resumed, lambda e: e.type == Event.TYPE_SYNCED)
    kinds = [(e.type, e.worker.worker_id or e.workflow.workflow_type) for e in replayed]
    assert (Event.TYPE_WORKER_UNREGISTERED, worker_id) in kinds
    assert (Event.TYPE_WORKFLOW_DISABLED, workflow_type) in kinds
    assert all(
        e.type != Event.TYPE_WORKFLOW_ADDED or e.workflow.workflow_type != known for e in replayed
    )
    resumed.cancel()


def test_a_bad_or_unusable_resume_token_is_refused_clearly(registry_channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as bad:
        next(iter(watch(registry_channel, "not-a-token")))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(bad.value) == ("INVALID_RESUME_TOKEN", ["resume_token"])

    synced = until(watch(registry_channel), lambda e: e.type == Event.TYPE_SYNCED)[-1]
    import base64

    body = json.loads(
        base64.urlsafe_b64decode(synced.resume_token + "=" * (-len(synced.resume_token) % 4))
    )
    body["p"] = {kind: [r + 1000 for r in revisions] for kind, revisions in body["p"].items()}
    ahead = base64.urlsafe_b64encode(json.dumps(body).encode()).decode()
    with pytest.raises(grpc.RpcError) as future:
        next(iter(watch(registry_channel, ahead)))
    assert future.value.code() == grpc.StatusCode.ABORTED
    assert violations(future.value)[0] == "RESYNC_REQUIRED"


def test_a_watch_through_envoy_streams_newline_delimited_json(http: httpx.Client) -> None:
    workflow_type = unique("ndjson.v1")
    with http.stream("GET", "/registry/watch", timeout=30) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        for line in lines:
            if json.loads(line)["type"] == "TYPE_SYNCED":
                break
        create_type(http, workflow_type)
        for line in lines:
            event = json.loads(line)
            if event["workflow"].get("workflow_type") == workflow_type:
                assert event["type"] == "TYPE_WORKFLOW_ADDED"
                assert event["resume_token"] and event["revision"]
                break


def test_a_worker_whose_lease_lapses_turns_its_type_unhealthy_for_watchers(
    http: httpx.Client, registry_channel: grpc.Channel, echo: None
) -> None:
    """A real worker polls ECHO_QUEUE; a registered worker on it with a 5 s lease makes the
    type healthy, and its lease lapsing (no heartbeat, no write) makes it unhealthy."""
    workflow_type = unique("lapsing.v1")
    stream = watch(registry_channel)
    until(stream, lambda e: e.type == Event.TYPE_SYNCED)
    response = http.post(
        "/registry/workers",
        json={
            "worker_id": unique("lapsing"),
            "task_queue": ECHO_QUEUE,
            "ttl_seconds": 5,
            "workflows": [{"workflow_type": workflow_type}],
        },
    )
    assert response.status_code == 200, response.text

    def about(healthy: bool) -> Any:
        return lambda e: e.workflow.workflow_type == workflow_type and e.workflow.healthy is healthy

    until(stream, about(True))
    started = time.monotonic()
    flipped = until(stream, about(False))[-1]
    assert flipped.type == Event.TYPE_WORKFLOW_HEALTH_CHANGED
    assert flipped.resume_token
    assert any("0 of 1 worker healthy" in reason for reason in flipped.workflow.health_reasons)
    assert time.monotonic() - started < 15
    stream.cancel()


def test_changes_through_one_replica_reach_watchers_of_another(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    """Two registry processes on one registry: a watcher on the second sees a write made
    through the first, and resumes on the first from a token the second gave."""
    shared = own_registry_settings()
    first = Registry(workdir, temporal.address, overrides=shared)
    second = Registry(workdir, temporal.address, overrides=shared)
    with (
        running(first) as writer,
        running(second),
        grpc.insecure_channel(first.grpc_target) as to_first,
        grpc.insecure_channel(second.grpc_target) as to_second,
    ):
        stream = watch(to_second)
        synced = until(stream, lambda e: e.type == Event.TYPE_SYNCED)[-1]
        workflow_type = unique("replicated.v1")
        writer.CreateWorkflow(
            registry_pb2.CreateWorkflowRequest(
                workflow=resources_pb2.Workflow(workflow_type=workflow_type, task_queue="q")
            )
        )
        added = until(stream, lambda e: e.workflow.workflow_type == workflow_type)[-1]
        assert added.type == Event.TYPE_WORKFLOW_ADDED
        stream.cancel()

        resumed = watch(to_first, synced.resume_token)
        replayed = until(resumed, lambda e: e.type == Event.TYPE_SYNCED)
        # what changed since the token; health is told again whole when it changed meanwhile
        assert [
            e.workflow.workflow_type
            for e in replayed
            if e.type != Event.TYPE_WORKFLOW_HEALTH_CHANGED and e.workflow.workflow_type
        ] == [workflow_type]
        resumed.cancel()


def test_a_watch_needs_a_client_token(registry_channel: grpc.Channel) -> None:
    stub = registry_pb2_grpc.RegistryServiceStub(registry_channel)
    with pytest.raises(grpc.RpcError) as refused:
        next(iter(stub.WatchCatalog(registry_pb2.WatchCatalogRequest(), timeout=10)))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
