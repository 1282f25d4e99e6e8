"""Every RPC, every route, every field, with hostile values (integration.hostile generates the
cases from the descriptors), through Envoy as HTTP/JSON and straight to the registry as raw
gRPC bytes, against a stack of its own with a real worker polling. No answer may be a server
error (gRPC: UNKNOWN or INTERNAL); every HTTP error is a google.rpc.Status; a refusal for a
bad field names the field; and after each RPC's cases the registry is still ready and takes
writes."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from temporal_registry.v1 import registry_pb2

from integration.hostile import (
    Case,
    Expect,
    HttpRequest,
    Json,
    Rpc,
    cases,
    grpc_request,
    http_request,
    rpcs,
)
from integration.stack import ADMIN_HEADERS, ADMIN_TOKEN, own_stack, start_echo_worker
from registry.server.decoding import MAX_JSON_DEPTH

pytestmark = pytest.mark.integration

QUEUE = "hostile-q"
SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}, "amount": {"type": "integer"}},
    "required": ["order_id"],
}
HOUR_AGO = "2026-01-01T00:00:00Z"
NOW_ISH = "2026-01-01T01:00:00Z"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
SERVER_ERRORS = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)
# Cases with these RPCs run only when a correct registry must refuse them: an accepted
# ShutdownRegistry hands the registry workflow over to a new run each time.
DISRUPTIVE = ("RegistryService.ShutdownRegistry",)


def workflow(workflow_type: str, **extra: Any) -> Json:
    return {"workflow_type": workflow_type, "input_schema": SCHEMA, **extra}


def registration(worker_id: str, *workflows: Json) -> Json:
    return {
        "worker_id": worker_id,
        "task_queue": QUEUE,
        "ttl_seconds": 3600,
        "workflows": list(workflows),
    }


SEED_WORKFLOW = workflow(
    "hostile.v1",
    version="1",
    description="a type the hostile cases start",
    schedule_input_warnings=[{"field": "amount", "message": "schedules should set it"}],
    search_attributes=[{"name": "OrderId", "type": "Keyword", "description": "the order"}],
    labels={"team": "qa"},
)
SCHEDULE = {
    "workflow_type": "hostile.v1",
    "input": {"order_id": "o-1"},
    "interval_seconds": 3600,
    "paused": True,
}

# A valid request of every RPC; the hostile cases change one field at a time.
SEEDS: dict[str, Json | Callable[[Stack], Json]] = {
    "SystemService.GetHealth": {},
    "SystemService.GetReadiness": {},
    "RegistryService.GetRegistryStatus": {},
    "RegistryService.RegisterWorker": {
        "worker_id": "hostile-reg",
        "task_queue": QUEUE,
        "environment": "test",
        "labels": {"team": "qa"},
        "ttl_seconds": 600,
        "workflows": [
            workflow(
                "hostile-reg.v1",
                version="2",
                description="registered by the hostile cases",
                schedule_input_warnings=[{"field": "amount", "message": "set it"}],
                search_attributes=[{"name": "OrderId", "type": "Keyword", "description": "d"}],
                labels={"k": "v"},
                enabled=True,
            )
        ],
    },
    "RegistryService.Heartbeat": {"worker_id": "hostile-seed"},
    "RegistryService.UnregisterWorker": {"worker_id": "hostile-gone"},
    "RegistryService.ListWorkers": {
        "page_size": 10,
        "task_queue": QUEUE,
        "workflow_type": "hostile.v1",
    },
    "RegistryService.GetWorker": {"worker_id": "hostile-seed"},
    "RegistryService.ListWorkflows": {
        "page_size": 10,
        "label_selector": "team=qa",
        "enabled": True,
        "healthy": True,
        "view": "WORKFLOW_VIEW_BASIC",
    },
    "RegistryService.GetWorkflow": {"workflow_type": "hostile.v1"},
    "RegistryService.WatchCatalog": {},
    "RegistryService.CreateWorkflow": {
        "workflow": {**SEED_WORKFLOW, "workflow_type": "hostile-created.v1", "task_queue": QUEUE},
        "validate_only": True,
    },
    "RegistryService.ReplaceWorkflow": {
        "workflow_type": "hostile-ops.v1",
        # No workflow.workflow_type: the path's is used (it would have to match).
        "workflow": {k: v for k, v in SEED_WORKFLOW.items() if k != "workflow_type"}
        | {"task_queue": QUEUE},
        "validate_only": True,
    },
    "RegistryService.DeleteWorkflow": {"workflow_type": "hostile-del.v1", "allow_missing": True},
    "RegistryService.EnableWorkflow": {"workflow_type": "hostile-ops.v1"},
    "RegistryService.DisableWorkflow": {
        "workflow_type": "hostile-ops.v1",
        "reason": "hostile cases",
    },
    "RegistryService.ShutdownRegistry": {"reason": "hostile cases"},
    "DispatchService.StartWorkflow": {
        "workflow_type": "hostile.v1",
        "input": {"order_id": "o-1", "amount": 5},
        "workflow_id": "hostile-start",
        "request_id": "hostile-request",
        "search_attributes": {"OrderId": "o-1"},
        "memo": {"by": "hostile"},
        "label_selector": "",
        "id_conflict_policy": "WORKFLOW_ID_CONFLICT_POLICY_FAIL",
        "id_reuse_policy": "WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE",
        "execution_timeout": "3600s",
        "run_timeout": "600s",
        "validate_only": True,
    },
    "DispatchService.Run": {
        "workflow_type": "agent.run.v1",
        "agent_id": "hostile-agent",
        "workspace": "/tmp/hostile",
        "prompt": "p",
        "agent_acp_provider": "x",
        "chain": [{"agent_id": "hostile-agent", "prompt": "q"}],
        "chain_mode": "append",
        "name": "Hostile Run",
        "request_id": "hostile-run",
    },
    "DispatchService.ClaimWorkflowId": {"name": "Hostile Report", "request_id": "hostile-claim"},
    "DispatchService.ResetWorkflowId": {"name": "Hostile Report"},
    "DispatchService.ListWorkflowIds": {"page_size": 10},
    "ScheduleService.CreateSchedule": {
        "schedule_id": "hostile-new-s",
        "workflow_type": "hostile.v1",
        "workflow_id": "hostile-new-run",
        "input": {"order_id": "o-1", "amount": 1},
        "start_at": "2030-01-01T00:00:00Z",
        "end_at": "2031-01-01T00:00:00Z",
        "overlap_policy": "skip",
        "search_attributes": {"OrderId": "o-1"},
        "note": "n",
        "spec": {
            "calendars": [
                {
                    "second": "0",
                    "minute": "0",
                    "hour": "9",
                    "day_of_month": "1",
                    "month": "1",
                    "year": "2030",
                    "day_of_week": "*",
                    "comment": "c",
                }
            ],
            "intervals": [{"every_seconds": 7200, "offset_seconds": 60}],
            "exclude_calendars": [{"hour": "3"}],
            "cron_expressions": ["0 12 * * MON"],
            "jitter_seconds": 5,
            "time_zone_name": "Europe/Paris",
        },
        "catchup_window_seconds": 600,
        "pause_on_failure": True,
        "remaining_actions": 3,
        "paused": True,
        "label_selector": "",
    },
    "ScheduleService.GetSchedule": {"schedule_id": "hostile-s"},
    "ScheduleService.ListSchedules": {"page_size": 10, "workflow_type": "hostile.v1"},
    "ScheduleService.UpdateSchedule": lambda stack: {
        "schedule_id": "hostile-s",
        "conflict_token": stack.conflict_token("hostile-s"),
        "workflow_type": "hostile.v1",
        "workflow_id": "hostile-s-run",
        "input": {"order_id": "o-1"},
        "interval_seconds": 3600,
        "start_at": "2030-01-01T00:00:00Z",
        "end_at": "2031-01-01T00:00:00Z",
        "spec": {"intervals": [{"every_seconds": 7200}]},
        "overlap_policy": "buffer_one",
        "search_attributes": {"OrderId": "o-1"},
        "catchup_window_seconds": 600,
        "remaining_actions": 5,
        "follow_task_queue": True,
    },
    "ScheduleService.PauseSchedule": {"schedule_id": "hostile-s", "note": "paused"},
    "ScheduleService.UnpauseSchedule": {"schedule_id": "hostile-s", "note": "unpaused"},
    "ScheduleService.TriggerSchedule": {"schedule_id": "hostile-s", "overlap_policy": "allow_all"},
    "ScheduleService.BackfillSchedule": {
        "schedule_id": "hostile-s",
        "start_at": HOUR_AGO,
        "end_at": NOW_ISH,
        "overlap_policy": "skip",
    },
    "ScheduleService.DeleteSchedule": {"schedule_id": "hostile-gone-s"},
    "SchemaService.ListSchemaVersions": {"workflow_type": "hostile.v1"},
    "SchemaService.GetSchemaVersion": {"workflow_type": "hostile.v1", "version": 1},
    "SchemaService.CheckCompatibility": {
        "workflow_type": "hostile.v1",
        "input_schema": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        "mode": "COMPATIBILITY_MODE_FULL_TRANSITIVE",
    },
    "SchemaService.CreateSchemaVersion": {
        "workflow_type": "hostile.v1",
        "input_schema": {"type": "object", "required": ["order_id"]},
        "override_reason": "approved by the hostile cases",
        "validate_only": True,
    },
    "SchemaService.GetCompatibility": {"workflow_type": "hostile.v1"},
    "SchemaService.SetCompatibility": {
        "workflow_type": "hostile.v1",
        "mode": "COMPATIBILITY_MODE_UNSPECIFIED",
    },
    "SearchAttributeService.ListDeclaredSearchAttributes": {},
    "SearchAttributeService.ListTemporalSearchAttributes": {},
    "SearchAttributeService.ReconcileSearchAttributes": {
        "mode": "validate",
        "attributes": ["OrderId"],
        "confirm": False,
    },
}
# Fields that exclude a field: left out of the seed when that field gets the hostile value.
EXCLUDED_BY = {
    ("ScheduleService.CreateSchedule", "fire_offsets_seconds"): (
        "interval_seconds",
        "spec",
        "start_at",
        "end_at",
    ),
    ("DispatchService.StartWorkflow", "name"): ("workflow_id",),
}
# What a seed consumes, made again before it is sent.
PREPARE: dict[str, Callable[[Stack], None]] = {
    "RegistryService.UnregisterWorker": lambda stack: stack.write(
        "/registry/workers", registration("hostile-gone", workflow("hostile-gone.v1"))
    ),
    "ScheduleService.DeleteSchedule": lambda stack: stack.ensure_schedule("hostile-gone-s"),
    "ScheduleService.CreateSchedule": lambda stack: stack.delete_schedule("hostile-new-s"),
}


@dataclass
class Stack:
    http: httpx.Client
    channel: grpc.Channel
    timings: dict[str, float] = field(default_factory=dict)

    def write(self, url: str, body: Json) -> Json:
        response = self.http.post(url, json=body)
        assert response.status_code == 200, response.text
        result: Json = response.json()
        return result

    def ensure_schedule(self, schedule_id: str) -> None:
        response = self.http.post(f"/schedules/{schedule_id}", json=SCHEDULE)
        assert response.status_code in (200, 409), response.text

    def delete_schedule(self, schedule_id: str) -> None:
        response = self.http.delete(f"/schedules/{schedule_id}")
        assert response.status_code in (200, 404), response.text

    def conflict_token(self, schedule_id: str) -> str:
        response = self.http.get(f"/schedules/{schedule_id}")
        assert response.status_code == 200, response.text
        token: str = response.json()["conflict_token"]
        return token

    def seed(self, rpc: Rpc, case: Case | None = None) -> Json:
        seed = SEEDS[rpc.name]
        request = seed(self) if callable(seed) else copy.deepcopy(seed)
        if case is not None and case.target is not None:
            for name in EXCLUDED_BY.get((rpc.name, case.target.top), ()):
                request.pop(name, None)
        return request

    def send_http(self, request: HttpRequest, *, streaming: bool = False) -> httpx.Response:
        """The answer; of a stream (a watch), its status and first line."""
        if not streaming:
            return self.http.request(
                request.method,
                request.url,
                content=request.body,
                headers={"content-type": "application/json"} if request.body is not None else {},
            )
        with self.http.stream(
            request.method,
            request.url,
            content=request.body,
            headers={"content-type": "application/json"} if request.body is not None else {},
        ) as response:
            first = next(response.iter_lines(), "")
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=first.encode(),
            request=response.request,
        )

    def send_grpc(self, rpc: Rpc, data: bytes) -> tuple[grpc.StatusCode, str, list[str]]:
        """The status; of a stream (a watch), once its first message came."""
        metadata = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
        try:
            if rpc.method.server_streaming:
                stream = self.channel.unary_stream(rpc.grpc_path)(
                    data, timeout=30, metadata=metadata
                )
                next(stream)
                stream.cancel()
            else:
                self.channel.unary_unary(rpc.grpc_path)(data, timeout=30, metadata=metadata)
        except grpc.RpcError as error:
            status = rpc_status.from_call(error)
            fields = []
            for detail in status.details if status else ():
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad_request = error_details_pb2.BadRequest()
                    detail.Unpack(bad_request)
                    fields += [v.field for v in bad_request.field_violations]
            return error.code(), error.details() or "", fields
        return grpc.StatusCode.OK, "", []


@pytest.fixture(scope="module")
def stack(workdir: Path) -> Iterator[Stack]:
    own = workdir / "hostile"
    own.mkdir()
    with own_stack(own) as (temporal, registry, envoy):
        worker = start_echo_worker(own, temporal.address, QUEUE)
        try:
            with (
                httpx.Client(base_url=envoy.http_url, timeout=60, headers=ADMIN_HEADERS) as http,
                grpc.insecure_channel(registry.grpc_target) as channel,
            ):
                result = Stack(http, channel)
                _seed_the_registry(result)
                yield result
        finally:
            worker.stop()


def _seed_the_registry(stack: Stack) -> None:
    stack.write(
        "/registry/workers",
        registration(
            "hostile-seed",
            SEED_WORKFLOW,
            workflow("hostile-ops.v1"),
            workflow("hostile-del.v1"),
            {"workflow_type": "agent.run.v1"},
        ),
    )
    # The poller view catches up with the new worker within one refresh.
    deadline = time.monotonic() + 60
    while True:
        response = stack.http.post(
            "/workflows/hostile.v1/start",
            json={"input": {"order_id": "o"}, "validate_only": True},
        )
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            break
        time.sleep(0.5)
    stack.ensure_schedule("hostile-s")


@pytest.fixture(autouse=True)
def still_ready_and_writable(stack: Stack) -> Iterator[None]:
    yield
    assert stack.http.get("/ready").status_code == 200
    worker = registration("hostile-after", workflow("hostile-after.v1"))
    stack.write("/registry/workers", worker)
    assert stack.http.delete("/registry/workers/hostile-after").status_code == 200


def test_every_rpc_has_a_seed_and_cases_for_every_field() -> None:
    assert sorted(SEEDS) == sorted(rpc.name for rpc in rpcs())
    for rpc in rpcs():
        generated = cases(rpc)
        covered = {case.target.path for case in generated if case.target is not None}
        for fd in rpc.request.fields:
            assert (fd.name,) in covered, f"{rpc.name}.{fd.name} has no hostile case"
        assert any(case.grpc for case in generated) and any(
            case.http or case.raw_body or case.query for case in generated
        ), rpc.name


RPCS = {rpc.name: rpc for rpc in rpcs()}


@pytest.mark.parametrize("name", sorted(RPCS))
def test_hostile_http(stack: Stack, name: str) -> None:
    rpc = RPCS[name]
    failures = _run(stack, rpc, "http")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", sorted(RPCS))
def test_hostile_grpc(stack: Stack, name: str) -> None:
    rpc = RPCS[name]
    failures = _run(stack, rpc, "grpc")
    assert not failures, "\n".join(failures)


def _run(stack: Stack, rpc: Rpc, transport: str) -> list[str]:
    """Every case of `rpc` over `transport`: the failures, one line each."""
    failures = []
    disruptive = rpc.name in DISRUPTIVE
    if not disruptive:
        if rpc.name in PREPARE:
            PREPARE[rpc.name](stack)
        failures += _seed_accepted(stack, rpc, transport)
    for case in cases(rpc):
        if disruptive and case.expect is Expect.EITHER:
            continue
        if transport == "http" and (case.http or case.raw_body is not None or case.query):
            failures += _http_case(stack, case)
        elif transport == "grpc" and case.grpc:
            failures += _grpc_case(stack, case)
    return failures


def _seed_accepted(stack: Stack, rpc: Rpc, transport: str) -> list[str]:
    seed = stack.seed(rpc)
    if transport == "http":
        response = stack.send_http(http_request(rpc, seed), streaming=rpc.method.server_streaming)
        ok, answer = response.status_code == 200, f"{response.status_code} {response.text[:300]}"
    else:
        code, message, _ = stack.send_grpc(rpc, grpc_request(rpc, seed).SerializeToString())
        ok, answer = code == grpc.StatusCode.OK, f"{code.name} {message}"
    return [] if ok else [f"{rpc.name}: the seed itself is refused over {transport}: {answer}"]


def _http_case(stack: Stack, case: Case) -> list[str]:
    seed = stack.seed(case.rpc, case)
    if case.http is not None:
        case.http(seed)
    request = http_request(case.rpc, seed)
    if case.raw_body is not None:
        request = HttpRequest(request.method, request.url, case.raw_body)
    if case.query:
        separator = "&" if "?" in request.url else "?"
        request = HttpRequest(request.method, request.url + separator + case.query, request.body)
    response = stack.send_http(request, streaming=case.rpc.method.server_streaming)
    status = response.status_code
    where = f"{case.id} over HTTP: {status} {response.text[:300]!r}"
    if status >= 500 and status != 503:
        return [f"{where}: a server error"]
    if status == 429:
        return [f"{where}: 429 is no answer to a client mistake"]
    if status < 400:
        return (
            []
            if case.expect is Expect.EITHER
            else [f"{where}: accepted, expected {case.expect.value}"]
        )
    try:
        body = response.json()
    except ValueError:
        return [f"{where}: not a google.rpc.Status"]
    if not (
        isinstance(body, dict)
        and isinstance(body.get("code"), int)
        and body["code"] != 0
        and isinstance(body.get("message"), str)
        and isinstance(body.get("details", []), list)
    ):
        return [f"{where}: not a google.rpc.Status"]
    if case.expect is Expect.REFUSE_FIELD and status != 400:
        return [f"{where}: expected {case.expect.value}"]
    if status == 400 and case.target is not None and case.expect is not Expect.REFUSE_DOCUMENT:
        fields = [
            v.get("field", "")
            for d in body.get("details", [])
            if d.get("@type") == BAD_REQUEST
            for v in d.get("field_violations", [])
        ]
        if not _names(case, fields, body["message"]):
            return [f"{where}: does not name {case.target.display}"]
    return []


def _grpc_case(stack: Stack, case: Case) -> list[str]:
    assert case.grpc is not None
    data = case.grpc(grpc_request(case.rpc, stack.seed(case.rpc, case)))
    code, message, fields = stack.send_grpc(case.rpc, data)
    where = f"{case.id} over gRPC: {code.name} {message[:300]!r}"
    if code in SERVER_ERRORS:
        return [f"{where}: a server error"]
    if case.expect is Expect.REFUSE_FIELD and code != grpc.StatusCode.INVALID_ARGUMENT:
        return [f"{where}: expected {case.expect.value}"]
    if case.expect in (Expect.REFUSE, Expect.REFUSE_DOCUMENT) and code == grpc.StatusCode.OK:
        return [f"{where}: accepted, expected {case.expect.value}"]
    named = case.target is None or _names(case, fields, message)
    if code == grpc.StatusCode.INVALID_ARGUMENT and not named:
        assert case.target is not None
        return [f"{where}: does not name {case.target.display} (violations: {fields})"]
    return []


# A field the registry names by another path: ReplaceWorkflow copies the path's workflow_type
# into the workflow it validates.
ALSO_NAMED = {("RegistryService.ReplaceWorkflow", "workflow_type"): "workflow.workflow_type"}


def _names(case: Case, fields: list[str], message: str) -> bool:
    """Whether a refusal names the case's field: a violation at it or inside it, or (Envoy's
    own refusals carry no violations) the field's name in the message."""
    assert case.target is not None
    display = case.target.display
    alias = ALSO_NAMED.get((case.rpc.name, display))
    if alias and any(f == alias or f.startswith(alias + "/") for f in fields):
        return True
    if any(
        f == display or f.startswith((display + ".", display + "[", display + "/")) for f in fields
    ):
        return True
    return not fields and str(case.target.path[-1]) in message


def test_oversized_bodies_are_refused_with_413(stack: Stack) -> None:
    """gateway.max_request_bytes (1 MiB): bigger bodies never reach the registry."""
    padding = "x" * (1 << 20)
    for url, body in (
        (
            "/registry/workers",
            {**registration("hostile-big", workflow("hostile-big.v1")), "environment": padding},
        ),
        ("/workflow-ids/claim", {"name": "Big", "hostile_padding": padding}),
    ):
        response = stack.http.post(url, json=body)
        assert response.status_code == 413, (url, response.status_code, response.text[:200])
        assert response.json()["code"] != 0


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "bearer not-a-token",
        "Bearer " + "x" * 4096,
        ADMIN_TOKEN,
    ],
)
def test_hostile_tokens_are_unauthenticated(stack: Stack, authorization: str) -> None:
    headers = {"authorization": authorization} if authorization else {}
    response = httpx.get(f"{stack.http.base_url}/registry/status", headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == 16
    call = stack.channel.unary_unary("/temporal_registry.v1.RegistryService/GetRegistryStatus")
    with pytest.raises(grpc.RpcError) as raised:
        call(b"", timeout=10, metadata=(("authorization", authorization),) if authorization else ())
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_pathological_pattern_answers_at_once(stack: Stack) -> None:
    """`^(a+)+$` backtracks exponentially in Python's re; validation must stay linear."""
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}}
    stack.write(
        "/registry/workers",
        registration("hostile-redos", workflow("hostile-redos.v1", input_schema=schema)),
    )
    started = time.monotonic()
    response = stack.http.post(
        "/workflows/hostile-redos.v1/start",
        json={"input": {"s": "a" * 27 + "!"}, "validate_only": True},
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 400, response.text
    assert elapsed < 2, f"validation took {elapsed:.1f} s"


def test_the_issue_reports_cases_answer_400(stack: Stack) -> None:
    """The 500s of the hostile run that found them, one by one."""
    for url in (
        "/registry/workers/%ff",
        "/registry/workers/%c0%af",
        "/registry/workers/a%80b",
        "/registry/workers?page_token=%00%ff",
        "/registry/workers?task_queue=%ff",
        "/registry/workflows?label_selector=%ff",
    ):
        response = stack.http.get(url)
        assert response.status_code == 400, (url, response.text)
        assert response.json()["details"][0]["reason"] == "MALFORMED_REQUEST"
    deep: Json = {}
    for _ in range(33):
        deep = {"a": deep}
    for url, body, field_name in (
        (
            "/registry/workers",
            registration("hostile-deep", workflow("hostile-deep.v1", input_schema=deep)),
            "workflows[0].input_schema",
        ),
        ("/workflows/hostile.v1/start", {"input": deep, "validate_only": True}, "input"),
        (
            "/schedules/hostile-overflow",
            {**SCHEDULE, "catchup_window_seconds": "9223372036854775807"},
            "catchup_window_seconds",
        ),
    ):
        response = stack.http.post(url, json=body)
        assert response.status_code == 400, (url, response.text)
        (bad_request,) = [d for d in response.json()["details"] if d["@type"] == BAD_REQUEST]
        assert bad_request["field_violations"][0]["field"].startswith(field_name), response.text


def nest(levels: int) -> Json:
    """A JSON object `levels` deep, with a number at the bottom."""
    value: Json = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_depth_at_the_limit_round_trips_through_every_transport(stack: Stack) -> None:
    """JSON values 32 levels deep are accepted and read back, through Envoy and over gRPC."""
    schema = {"type": "object", "$defs": {"x": nest(MAX_JSON_DEPTH - 2)}}
    stack.write(
        "/registry/workers",
        registration("hostile-at-limit", workflow("hostile-limit.v1", input_schema=schema)),
    )
    response = stack.http.get("/registry/workflows/hostile-limit.v1")
    assert response.status_code == 200, response.text
    assert response.json()["input_schema"] == schema
    listed = stack.http.get("/registry/workflows")
    assert listed.status_code == 200, listed.text
    call = stack.channel.unary_unary("/temporal_registry.v1.RegistryService/ListWorkflows")
    raw = call(b"", timeout=30, metadata=(("authorization", f"Bearer {ADMIN_TOKEN}"),))
    listed_over_grpc = registry_pb2.ListWorkflowsResponse.FromString(raw)  # upb, as clients
    assert "hostile-limit.v1" in [w.workflow_type for w in listed_over_grpc.workflows]

    workflow_input = {"order_id": "o", "deep": nest(MAX_JSON_DEPTH - 1)}
    start = stack.http.post(
        "/workflows/hostile.v1/start", json={"input": workflow_input, "validate_only": True}
    )
    assert start.status_code == 200, start.text
    stack.write("/schedules/hostile-deep-s", {**SCHEDULE, "input": workflow_input})
    described = stack.http.get("/schedules/hostile-deep-s")
    assert described.status_code == 200, described.text
    assert described.json()["input"] == workflow_input
    one_more = {"order_id": "o", "deep": nest(MAX_JSON_DEPTH)}
    for url, body in (
        ("/workflows/hostile.v1/start", {"input": one_more, "validate_only": True}),
        ("/schedules/hostile-deeper-s", {**SCHEDULE, "input": one_more}),
    ):
        response = stack.http.post(url, json=body)
        assert response.status_code == 400, response.text
