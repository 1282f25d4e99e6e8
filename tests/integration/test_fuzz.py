"""Fuzzing through Envoy with schemathesis, from the served /openapi.json, against a stack of
its own, with requests that fit the schema and requests that don't: no request may end in a
server error or a 429, and every error body is a google.rpc.Status.

Every operation of the API (checked against the descriptors' HTTP routes) gets schemathesis'
two phases: coverage (every parameter at its boundaries, missing, of the wrong type: int64
extremes, empty strings, ...; deterministic) and fuzzing (hypothesis, derandomized). Random
names reach little past NOT_FOUND, so coverage cases, and half the fuzzed ones, name what the
stack has: a workflow type with a polling worker, a worker, a schedule. That is how a
registered type with `catchup_window_seconds` 2**63-1 (once an OverflowError, 500) is sent.

503 is allowed where it is the contract (UNAVAILABLE, e.g. no healthy worker for a start),
500-502 and 504 never. Examples are derandomized: every run sends the same requests."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from google.protobuf.descriptor import Descriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from integration.hostile import rpcs
from integration.stack import ADMIN_HEADERS, own_stack, start_echo_worker
from integration.test_registry_api import unique

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 20  # fuzzed, per generation mode
# Each accepted shutdown hands the registry workflow over to a new run (about a second).
FEWER_EXAMPLES = {"POST /registry/shutdown": 3}
QUEUE = "fuzz-q"
# What the stack has, substituted for generated names in half of the examples.
KNOWN = {"workflow_type": "fuzz.v1", "worker_id": "fuzz-w", "schedule_id": "fuzz-s"}
ROUTES = {f"{rpc.verb.upper()} {rpc.template}": rpc for rpc in rpcs()}


@pytest.fixture(scope="module")
def fuzz_stack(workdir: Path) -> Iterator[str]:
    own = workdir / unique("fuzz")
    own.mkdir()
    with own_stack(own) as (temporal, _, envoy):
        worker = start_echo_worker(own, temporal.address, QUEUE)
        try:
            with httpx.Client(base_url=envoy.http_url, headers=ADMIN_HEADERS, timeout=30) as http:
                _populate(http)
            yield envoy.http_url
        finally:
            worker.stop()


def _populate(http: httpx.Client) -> None:
    registration = {
        "worker_id": KNOWN["worker_id"],
        "task_queue": QUEUE,
        "ttl_seconds": 3600,
        "workflows": [{"workflow_type": KNOWN["workflow_type"]}],
    }
    response = http.post("/registry/workers", json=registration)
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 60  # until the poller view has the worker
    schedule = {"workflow_type": KNOWN["workflow_type"], "interval_seconds": 3600, "paused": True}
    while (
        response := http.post(f"/schedules/{KNOWN['schedule_id']}", json=schedule)
    ).status_code == 503:
        assert time.monotonic() < deadline, response.text
        time.sleep(0.5)
    assert response.status_code == 200, response.text


def named_as_known(case: Any) -> Any:
    """The case, naming what the stack has wherever it names a workflow type, worker or
    schedule with a string (not for DELETE: the next operations still need them; not where
    a coverage case varies that very name)."""
    if case.method.upper() == "DELETE":
        return case
    varied = str(getattr(case.meta.phase.data, "description", "")) if case.meta else ""
    for name, value in KNOWN.items():
        if f"'{name}'" in varied:
            continue
        for container in (case.path_parameters, case.body):
            if isinstance(container, dict) and isinstance(container.get(name), str):
                container[name] = value
    return case


def declared_only(value: Any, descriptor: Descriptor | None) -> Any:
    """`value` (a JSON request body) without the members its message does not declare: the
    OpenAPI document leaves additionalProperties open, but the contract refuses unknown
    fields, so a positive example must not have them. JSON values and maps are left alone."""
    if (
        descriptor is None
        or descriptor.full_name.startswith("google.protobuf.")
        or not isinstance(value, dict)
    ):
        return value
    fields = {**descriptor.fields_by_name, **{f.json_name: f for f in descriptor.fields}}
    out = {}
    for key, item in value.items():
        fd = fields.get(key)
        if fd is None:
            continue
        inner = fd.message_type
        if inner is None or inner.GetOptions().map_entry:
            out[key] = item
        elif fd.is_repeated:
            out[key] = [declared_only(i, inner) for i in item] if isinstance(item, list) else item
        else:
            out[key] = declared_only(item, inner)
    return out


def body_type(case: Any) -> Descriptor | None:
    """The message of an operation's JSON body (None: no body)."""
    rpc = ROUTES[f"{case.method.upper()} {case.operation.path}"]
    if not rpc.body:
        return None
    if rpc.body == "*":
        return rpc.request
    return rpc.request.fields_by_name[rpc.body].message_type


# A blocking query may wait up to 300s: accepted waits are cut to this, so none outlasts the
# request timeout (waits the registry refuses are sent as generated).
LONGEST_WAIT = "1s"
WATCH = "GET /registry/watch"


def bounded(case: Any) -> Any:
    """The case with an accepted blocking-query wait shortened to LONGEST_WAIT."""
    query = case.query if isinstance(case.query, dict) else {}
    wait = query.get("wait")
    if isinstance(wait, str) and wait.endswith("s"):
        try:
            seconds = float(wait[:-1])
        except ValueError:
            return case
        if 1 < seconds <= 300:
            query["wait"] = LONGEST_WAIT
    return case


def check(case: Any, base_url: str) -> int:
    if f"{case.method.upper()} {case.operation.path}" == WATCH:
        return check_watch(case, base_url)
    response = bounded(case).call(base_url=base_url, timeout=30, headers=ADMIN_HEADERS)
    status: int = response.status_code
    where = f"{case.method} {case.formatted_path} {case.body!r:.300}"
    assert status not in (429, 500, 501, 502, 504), f"{where}: {status} {response.text}"
    if status >= 400:
        body = response.json()
        assert isinstance(body.get("code"), int) and body["code"] != 0, f"{where}: {response.text}"
        assert isinstance(body.get("message"), str), f"{where}: {response.text}"
        assert isinstance(body.get("details", []), list), f"{where}: {response.text}"
    return status


def check_watch(case: Any, base_url: str) -> int:
    """A watch streams for as long as it is read: its status and first line (an event, or
    the error) are enough."""
    where = f"{case.method} {case.formatted_path} {case.query!r:.300}"
    headers = httpx.Headers(case.headers or {})
    headers.update(ADMIN_HEADERS)
    with httpx.stream(
        "GET", f"{base_url}{case.formatted_path}", params=case.query, headers=headers, timeout=30
    ) as response:
        first = next(response.iter_lines(), "")
    status = response.status_code
    assert status not in (429, 500, 501, 502, 504), f"{where}: {status} {first}"
    body = json.loads(first)
    if status >= 400:
        assert isinstance(body.get("code"), int) and body["code"] != 0, f"{where}: {first}"
    else:
        assert body["type"].startswith("TYPE_"), f"{where}: {first}"
    return status


def fuzz(operation: Any, mode: GenerationMode, base_url: str, statuses: Counter[Any]) -> None:
    """Up to EXAMPLES_PER_OPERATION fuzzed requests of one kind to one operation."""

    def prepared(pair: tuple[Any, bool]) -> Any:
        case, known = pair
        if mode is GenerationMode.POSITIVE:
            case.body = declared_only(case.body, body_type(case))
        return named_as_known(case) if known else case

    cases = st.tuples(operation.as_strategy(generation_mode=mode), st.booleans()).map(prepared)

    @given(case=cases)
    @settings(
        max_examples=FEWER_EXAMPLES.get(operation.label, EXAMPLES_PER_OPERATION),
        deadline=None,
        database=None,
        derandomize=True,  # the same examples every run: CI stays reproducible
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        statuses[mode, check(case, base_url)] += 1

    try:
        run()
    except Unsatisfiable:  # nothing to get wrong (e.g. GET /health has no inputs)
        assert mode is GenerationMode.NEGATIVE


def coverage(schema: Any, operation: Any, base_url: str, statuses: Counter[Any]) -> None:
    """Every coverage case of one operation, positive and negative."""
    for case in schema.iter_coverage_cases(
        operation,
        generation_modes=list(GenerationMode),
        generation_config=schema.config.generation_for(operation=operation),
    ):
        statuses[case.meta.generation.mode, check(named_as_known(case), base_url)] += 1


@pytest.fixture(scope="module")
def schema(fuzz_stack: str) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_stack}/openapi.json")


# What the operations answered, by generation mode and HTTP status, over the module.
STATUSES: Counter[tuple[GenerationMode, int]] = Counter()
FUZZED: set[str] = set()


def test_every_operation_is_fuzzed(schema: Any) -> None:
    assert {result.ok().label for result in schema.get_all_operations()} == set(ROUTES)


@pytest.mark.parametrize("label", sorted(ROUTES))
def test_no_server_errors_and_every_error_is_a_status(
    fuzz_stack: str, schema: Any, label: str
) -> None:
    (operation,) = [r.ok() for r in schema.get_all_operations() if r.ok().label == label]
    coverage(schema, operation, fuzz_stack, STATUSES)
    for mode in GenerationMode:
        fuzz(operation, mode, fuzz_stack, STATUSES)
    FUZZED.add(label)


def test_both_kinds_were_sent_and_the_registry_is_ready(fuzz_stack: str) -> None:
    if set(ROUTES) != FUZZED:
        pytest.skip("only with every operation fuzzed in this session")
    # Valid requests succeed, invalid ones are refused.
    positive_ok = STATUSES[GenerationMode.POSITIVE, 200]
    negative_refused = sum(
        n for (mode, code), n in STATUSES.items() if mode is GenerationMode.NEGATIVE and code == 400
    )
    assert positive_ok > 100 and negative_refused > 200, STATUSES
    assert httpx.get(f"{fuzz_stack}/ready").status_code == 200
