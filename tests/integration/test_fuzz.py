"""Fuzzing through Envoy with schemathesis, from the served /openapi.json, against a stack of
its own (the generated writes register, schedule and provision at random), with requests
that fit the schema and requests that don't: no request may end in a server error, and
every error body is a google.rpc.Status.

503 is allowed where it is the contract (UNAVAILABLE, e.g. no healthy worker for a start),
500-502 and 504 never."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from integration.stack import ADMIN_HEADERS, own_stack
from integration.test_registry_api import unique

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def fuzz_stack(workdir: Path) -> Iterator[str]:
    own = workdir / unique("fuzz")
    own.mkdir()
    with own_stack(own) as (_, _, envoy):
        yield envoy.http_url


def check(case: Any, base_url: str) -> int:
    response = case.call(base_url=base_url, timeout=30, headers=ADMIN_HEADERS)
    status: int = response.status_code
    where = f"{case.method} {case.formatted_path}"
    assert status not in (500, 501, 502, 504), f"{where}: {status} {response.text}"
    if status >= 400:
        body = response.json()
        assert isinstance(body.get("code"), int) and body["code"] != 0, f"{where}: {response.text}"
        assert isinstance(body.get("message"), str), f"{where}: {response.text}"
        assert isinstance(body.get("details", []), list), f"{where}: {response.text}"
    return status


def fuzz(operation: Any, mode: GenerationMode, base_url: str, statuses: Counter[Any]) -> None:
    """Up to EXAMPLES_PER_OPERATION requests of one kind to one operation."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
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


def test_no_server_errors_and_every_error_is_a_status(fuzz_stack: str) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_stack}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    statuses: Counter[tuple[GenerationMode, int]] = Counter()
    for operation, mode in itertools.product(operations, GenerationMode):
        fuzz(operation, mode, fuzz_stack, statuses)
    # Both kinds were really sent: valid requests succeed, invalid ones are refused.
    positive_ok = statuses[GenerationMode.POSITIVE, 200]
    negative_refused = sum(
        n for (mode, code), n in statuses.items() if mode is GenerationMode.NEGATIVE and code == 400
    )
    assert positive_ok > 50 and negative_refused > 100, statuses
