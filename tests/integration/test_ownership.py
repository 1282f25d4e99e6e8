"""Worker tokens cannot take over another principal's workers or workflow types.

A registry of its own, with principals configured as an operator would: `orders` (bound to
its queues and to `order.*`, the owner of every victim), `queue-a` (bound to one queue),
`prefix` (bound to `order.*`, the victim's own prefix: only ownership stops it), a plain
token of another principal (unbound, named by its hash), a client and an admin token, in the
config file and in a tokens file. Every caller tries every worker write against a fresh
victim, over native gRPC and HTTP/JSON through Envoy; after each refusal the victim is
checked intact (queue, schema, owner, worker), so later starts still reach its queue."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import yaml
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from temporal_registry.v1 import registry_pb2, registry_pb2_grpc, resources_pb2

from integration.stack import (
    ADMIN_TOKEN,
    CLIENT_TOKEN,
    Envoy,
    Registry,
    TemporalDevServer,
    wait_ready,
)
from integration.test_registry_durability import own_registry_settings
from registry.server.principals import derived_name

pytestmark = pytest.mark.integration

OWNER_TOKEN = "orders-team-token-0123456789"
QUEUE_A_TOKEN = "queue-a-token-0123456789"
PREFIX_TOKEN = "prefix-token-0123456789"
OTHER_TOKEN = "another-principal-token-0123456789"
SCHEMA = {"type": "object", "required": ["order_id"]}
HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
}


@dataclass(frozen=True)
class Caller:
    name: str
    token: str | None
    queue: str  # where its own workers poll: a queue its token may use
    move_to: str  # another queue it may use, to move the victim's type to


OWNER = Caller("owner", OWNER_TOKEN, "orders", "orders-2")
QUEUE_A = Caller("queue-bound", QUEUE_A_TOKEN, "queue-a", "queue-a")
PREFIX = Caller("prefix-bound", PREFIX_TOKEN, "prefix-q", "prefix-q")
OTHER = Caller("other-principal", OTHER_TOKEN, "evil", "evil")
CLIENT = Caller("client", CLIENT_TOKEN, "evil", "evil")
ADMIN = Caller("admin", ADMIN_TOKEN, "admin-q", "admin-q")
NOBODY = Caller("no-token", None, "evil", "evil")


@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    reason: str = ""
    field: str = ""  # the field violation a refusal names


OK = Outcome(grpc.StatusCode.OK)
NO_TOKEN = Outcome(grpc.StatusCode.UNAUTHENTICATED, "MISSING_TOKEN")
SCOPE = Outcome(grpc.StatusCode.PERMISSION_DENIED, "SCOPE_REQUIRED")
WORKER_NOT_OWNED = Outcome(grpc.StatusCode.PERMISSION_DENIED, "NOT_OWNER", "worker_id")
TYPE_NOT_OWNED = Outcome(
    grpc.StatusCode.PERMISSION_DENIED, "NOT_OWNER", "workflows[0].workflow_type"
)
QUEUE_REFUSED = Outcome(grpc.StatusCode.PERMISSION_DENIED, "QUEUE_NOT_ALLOWED", "task_queue")
TYPE_REFUSED = Outcome(
    grpc.StatusCode.PERMISSION_DENIED, "WORKFLOW_TYPE_NOT_ALLOWED", "workflows[0].workflow_type"
)

OPERATIONS = (
    "register",
    "register-off-binding",
    "re-register",
    "heartbeat",
    "unregister",
    "take-over-type",
    "move-queue",
)
# caller -> the outcome of each operation, in OPERATIONS order
MATRIX: dict[Caller, tuple[Outcome, ...]] = {
    NOBODY: (NO_TOKEN,) * 7,
    CLIENT: (SCOPE,) * 7,
    QUEUE_A: (OK, QUEUE_REFUSED, *(WORKER_NOT_OWNED,) * 3, QUEUE_REFUSED, TYPE_NOT_OWNED),
    PREFIX: (OK, TYPE_REFUSED, *(WORKER_NOT_OWNED,) * 3, TYPE_NOT_OWNED, TYPE_NOT_OWNED),
    OTHER: (OK, OK, *(WORKER_NOT_OWNED,) * 3, TYPE_NOT_OWNED, TYPE_NOT_OWNED),
    OWNER: (OK, QUEUE_REFUSED, OK, OK, OK, OK, OK),
    ADMIN: (OK,) * 7,
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Stack:
    registry: Registry
    envoy: Envoy


@pytest.fixture(scope="module")
def stack(workdir: Path, temporal: TemporalDevServer) -> Iterator[Stack]:
    tokens_file = workdir / "ownership-tokens.yaml"
    tokens_file.write_text(
        yaml.safe_dump(
            {"worker": [{"name": "prefix", "token": PREFIX_TOKEN, "workflow_types": ["order.*"]}]}
        )
    )
    auth = {
        "worker_tokens": [
            {
                "name": "orders",
                "token": OWNER_TOKEN,
                "task_queues": ["orders", "orders-*"],
                "workflow_types": ["order.*"],
            },
            {"name": "queue-a", "token": QUEUE_A_TOKEN, "task_queues": ["queue-a"]},
            OTHER_TOKEN,
        ],
        "client_tokens": CLIENT_TOKEN,
        "admin_tokens": ADMIN_TOKEN,
        "tokens_file": str(tokens_file),
    }
    registry = Registry(
        workdir, temporal.address, overrides={**own_registry_settings(), "auth": auth}
    )
    registry.start()
    envoy = Envoy(workdir, registry).start()
    try:
        wait_ready(envoy.http_url)
        yield Stack(registry, envoy)
    finally:
        envoy.stop()
        registry.stop()


# --- two transports: native gRPC and HTTP/JSON, both through Envoy ----------------------------


def registration(worker_id: str, queue: str, workflow_type: str, schema: Any) -> dict[str, Any]:
    return {
        "worker_id": worker_id,
        "task_queue": queue,
        "ttl_seconds": 60,
        "workflows": [{"workflow_type": workflow_type, "input_schema": schema}],
    }


class Transport:
    name = ""

    def register(self, token: str | None, body: dict[str, Any]) -> Outcome:
        raise NotImplementedError

    def heartbeat(self, token: str | None, worker_id: str) -> Outcome:
        raise NotImplementedError

    def unregister(self, token: str | None, worker_id: str) -> Outcome:
        raise NotImplementedError


class Grpc(Transport):
    name = "grpc"

    def __init__(self, channel: grpc.Channel) -> None:
        self._stub = registry_pb2_grpc.RegistryServiceStub(channel)

    def _call(self, method: Callable[..., Any], request: Any, token: str | None) -> Outcome:
        metadata = [("authorization", f"Bearer {token}")] if token else []
        try:
            method(request, metadata=metadata, timeout=30)
        except grpc.RpcError as error:
            status = rpc_status.from_call(error)  # type: ignore[arg-type]
            assert status is not None, error
            reason, fields = "", []
            for detail in status.details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    reason = info.reason
                elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    fields = [v.field for v in bad.field_violations]
            return Outcome(error.code(), reason, fields[0] if fields else "")  # type: ignore[attr-defined]
        return OK

    def register(self, token: str | None, body: dict[str, Any]) -> Outcome:
        request = json_format.ParseDict(body, registry_pb2.RegisterWorkerRequest())
        return self._call(self._stub.RegisterWorker, request, token)

    def heartbeat(self, token: str | None, worker_id: str) -> Outcome:
        request = registry_pb2.HeartbeatRequest(worker_id=worker_id)
        return self._call(self._stub.Heartbeat, request, token)

    def unregister(self, token: str | None, worker_id: str) -> Outcome:
        request = registry_pb2.UnregisterWorkerRequest(worker_id=worker_id)
        return self._call(self._stub.UnregisterWorker, request, token)


class Http(Transport):
    name = "http"

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def _outcome(self, response: httpx.Response) -> Outcome:
        if response.status_code == 200:
            return OK
        body = response.json()
        code = grpc.StatusCode(next(c.value for c in grpc.StatusCode if c.value[0] == body["code"]))
        assert HTTP_STATUS[code] == response.status_code, response.text
        details = {d["@type"].rsplit(".", 1)[-1]: d for d in body["details"]}
        assert details["ErrorInfo"]["domain"] == "temporal-registry"
        fields = [v["field"] for v in details.get("BadRequest", {}).get("field_violations", [])]
        return Outcome(code, details["ErrorInfo"]["reason"], fields[0] if fields else "")

    def _headers(self, token: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"} if token else {}

    def register(self, token: str | None, body: dict[str, Any]) -> Outcome:
        return self._outcome(
            self._client.post("/registry/workers", json=body, headers=self._headers(token))
        )

    def heartbeat(self, token: str | None, worker_id: str) -> Outcome:
        url = f"/registry/workers/{worker_id}/heartbeat"
        return self._outcome(self._client.post(url, json={}, headers=self._headers(token)))

    def unregister(self, token: str | None, worker_id: str) -> Outcome:
        url = f"/registry/workers/{worker_id}"
        return self._outcome(self._client.delete(url, headers=self._headers(token)))


@pytest.fixture(scope="module", params=["grpc", "http"])
def transport(request: pytest.FixtureRequest, stack: Stack) -> Iterator[Transport]:
    if request.param == "grpc":
        with grpc.insecure_channel(stack.envoy.grpc_target) as channel:
            yield Grpc(channel)
    else:
        with httpx.Client(base_url=stack.envoy.http_url, timeout=30) as client:
            yield Http(client)


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[registry_pb2_grpc.RegistryServiceStub]:
    with grpc.insecure_channel(stack.registry.grpc_target) as channel:
        yield registry_pb2_grpc.RegistryServiceStub(channel)


ADMIN_METADATA = [("authorization", f"Bearer {ADMIN_TOKEN}")]


def workflow(
    admin: registry_pb2_grpc.RegistryServiceStub, workflow_type: str
) -> resources_pb2.Workflow:
    request = registry_pb2.GetWorkflowRequest(workflow_type=workflow_type)
    response: resources_pb2.Workflow = admin.GetWorkflow(
        request, metadata=ADMIN_METADATA, timeout=10
    )
    return response


# --- the matrix -------------------------------------------------------------------------------


@dataclass
class Victim:
    worker_id: str
    workflow_type: str


def attempt(transport: Transport, caller: Caller, operation: str, victim: Victim) -> Outcome:
    mine = unique(f"{caller.name}-worker")
    own_type = unique("order.new") if caller in (OWNER, PREFIX) else unique("free.new")
    if operation == "register":
        return transport.register(caller.token, registration(mine, caller.queue, own_type, SCHEMA))
    if operation == "register-off-binding":
        body = registration(mine, "off-limits", unique("other.new"), SCHEMA)
        return transport.register(caller.token, body)
    if operation == "re-register":  # the victim's worker id, from the caller's own queue
        body = registration(victim.worker_id, caller.queue, own_type, SCHEMA)
        return transport.register(caller.token, body)
    if operation == "heartbeat":
        return transport.heartbeat(caller.token, victim.worker_id)
    if operation == "unregister":
        return transport.unregister(caller.token, victim.worker_id)
    if operation == "take-over-type":  # the victim's queue, its type, the schema dropped
        return transport.register(
            caller.token, registration(mine, "orders", victim.workflow_type, {})
        )
    if operation == "move-queue":  # the victim's type, unchanged, on the caller's queue
        body = registration(mine, caller.move_to, victim.workflow_type, SCHEMA)
        return transport.register(caller.token, body)
    raise AssertionError(operation)


CASES = [
    pytest.param(caller, operation, expected, id=f"{caller.name}-{operation}")
    for caller, outcomes in MATRIX.items()
    for operation, expected in zip(OPERATIONS, outcomes, strict=True)
]


@pytest.mark.parametrize(("caller", "operation", "expected"), CASES)
def test_who_may_write_which_worker_and_type(
    transport: Transport,
    admin: registry_pb2_grpc.RegistryServiceStub,
    caller: Caller,
    operation: str,
    expected: Outcome,
) -> None:
    victim = Victim(unique("orders-worker"), unique("order.victim") + ".v1")
    body = registration(victim.worker_id, "orders", victim.workflow_type, SCHEMA)
    assert transport.register(OWNER_TOKEN, body) == OK

    assert attempt(transport, caller, operation, victim) == expected

    if expected != OK:  # refused: the victim is exactly as its owner left it
        stored = workflow(admin, victim.workflow_type)
        assert stored.task_queue == "orders"
        assert json_format.MessageToDict(stored.input_schema) == SCHEMA
        assert stored.owner == "orders"
        assert [(w.worker_id, w.principal) for w in stored.workers] == [
            (victim.worker_id, "orders")
        ]


# --- ownership over time, and the admin's tools ------------------------------------------------


def test_owners_and_principals_are_shown_and_plain_tokens_named_by_hash(
    stack: Stack, admin: registry_pb2_grpc.RegistryServiceStub
) -> None:
    worker, kind = unique("plain"), unique("free.plain")
    with httpx.Client(base_url=stack.envoy.http_url, timeout=30) as http:
        response = http.post(
            "/registry/workers",
            json=registration(worker, "evil", kind, SCHEMA),
            headers={"authorization": f"Bearer {OTHER_TOKEN}"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["worker"]["principal"] == derived_name(OTHER_TOKEN)
        shown = http.get(
            f"/registry/workflows/{kind}", headers={"authorization": f"Bearer {CLIENT_TOKEN}"}
        ).json()
    assert shown["owner"] == derived_name(OTHER_TOKEN)
    assert OTHER_TOKEN not in str(shown)
    assert shown["workers"][0]["principal"] == derived_name(OTHER_TOKEN)


def test_ownership_outlives_the_owners_workers_until_an_admin_releases_it(
    stack: Stack, admin: registry_pb2_grpc.RegistryServiceStub
) -> None:
    worker, kind = unique("nightly"), unique("order.nightly") + ".v1"
    with httpx.Client(base_url=stack.envoy.http_url, timeout=30) as http:

        def as_(token: str) -> dict[str, str]:
            return {"authorization": f"Bearer {token}"}

        owner, other, admin_headers = as_(OWNER_TOKEN), as_(OTHER_TOKEN), as_(ADMIN_TOKEN)
        http.post(
            "/registry/workers",
            json=registration(worker, "orders", kind, SCHEMA),
            headers=owner,
        ).raise_for_status()
        http.delete(f"/registry/workers/{worker}", headers=owner).raise_for_status()

        # The owner's only worker is gone (a nightly job between runs): still the owner's.
        takeover = registration(unique("thief"), "evil", kind, {})
        refused = http.post("/registry/workers", json=takeover, headers=other)
        assert refused.status_code == 403, refused.text
        assert refused.json()["details"][0]["reason"] == "NOT_OWNER"
        assert "owned by principal orders" in refused.json()["message"]

        # An admin's replace names no configured principal: refused, naming the field.
        stored = http.get(f"/registry/workflows/{kind}", headers=admin_headers).json()
        spec = {k: stored[k] for k in ("task_queue", "input_schema")}
        typo = http.put(
            f"/registry/workflows/{kind}", json={**spec, "owner": "ordres"}, headers=admin_headers
        )
        assert typo.status_code == 400, typo.text
        assert typo.json()["details"][1]["field_violations"][0]["field"] == "workflow.owner"

        # A replace without owner keeps it; an empty owner releases the type.
        kept = http.put(f"/registry/workflows/{kind}", json=spec, headers=admin_headers)
        assert kept.json()["owner"] == "orders"
        released = http.put(
            f"/registry/workflows/{kind}", json={**spec, "owner": ""}, headers=admin_headers
        )
        assert released.status_code == 200 and released.json()["owner"] == ""
        claimed = http.post("/registry/workers", json=takeover, headers=other)
        assert claimed.status_code == 200, claimed.text
        now = http.get(f"/registry/workflows/{kind}", headers=admin_headers).json()
        assert (now["owner"], now["task_queue"]) == (derived_name(OTHER_TOKEN), "evil")

        # ...and an admin hands it back by name.
        back = http.put(
            f"/registry/workflows/{kind}",
            json={**spec, "owner": "orders"},
            headers=admin_headers,
        )
        assert back.json()["owner"] == "orders"


def test_a_refused_takeover_leaves_starts_on_the_owners_queue(
    stack: Stack, admin: registry_pb2_grpc.RegistryServiceStub
) -> None:
    """The issue's attack, end to end: unregister the owner's worker, then re-register its
    type elsewhere without a schema. Both are refused; a start still validates its input
    against the owner's schema."""
    worker, kind = unique("orders"), unique("order.attack") + ".v1"
    with httpx.Client(base_url=stack.envoy.http_url, timeout=30) as http:
        owner = {"authorization": f"Bearer {OWNER_TOKEN}"}
        other = {"authorization": f"Bearer {OTHER_TOKEN}"}
        client = {"authorization": f"Bearer {CLIENT_TOKEN}"}
        http.post(
            "/registry/workers", json=registration(worker, "orders", kind, SCHEMA), headers=owner
        ).raise_for_status()
        assert http.delete(f"/registry/workers/{worker}", headers=other).status_code == 403
        attack = registration(unique("evil"), "evil", kind, {})
        assert http.post("/registry/workers", json=attack, headers=other).status_code == 403
        start = http.post(
            f"/workflows/{kind}/start", json={"input": {}, "validate_only": True}, headers=client
        )
        assert start.status_code == 400, start.text  # still the owner's schema
        assert "order_id" in start.json()["message"]
        assert workflow(admin, kind).task_queue == "orders"
