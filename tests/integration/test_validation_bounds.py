"""Input validation stays linear and bounded end to end: a backtracking regex bomb answers at
once, a pattern the linear engine can't run is refused at registration, and a costly
validation is stopped at its limit while /health and reads answer promptly."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from integration.test_registry_api import BAD_REQUEST, error, unique, violation_fields

pytestmark = pytest.mark.integration


def register(http: httpx.Client, workflow_type: str, schema: dict[str, Any]) -> httpx.Response:
    body = {
        "worker_id": unique("validation"),
        "task_queue": unique("validation-q"),
        "workflows": [{"workflow_type": workflow_type, "input_schema": schema}],
    }
    return http.post("/registry/workers", json=body)


def chain(links: int) -> dict[str, Any]:
    """Each link is `anyOf` two references to the next: listing the errors takes minutes."""
    defs: dict[str, Any] = {
        f"l{i}": {"anyOf": [{"$ref": f"#/$defs/l{i + 1}"}, {"$ref": f"#/$defs/l{i + 1}"}]}
        for i in range(links)
    }
    defs[f"l{links}"] = {"type": "string"}
    return {"$ref": "#/$defs/l0", "$defs": defs}


def test_regex_bomb_answers_at_once_with_a_violation(http: httpx.Client) -> None:
    kind = unique("bomb")
    register(http, kind, {"properties": {"s": {"pattern": "^(a+)+$"}}}).raise_for_status()
    started = time.monotonic()
    response = http.post(
        f"/workflows/{kind}/start",
        json={"input": {"s": "a" * 10_000 + "!"}, "validate_only": True},
    )
    elapsed = time.monotonic() - started
    details = error(response, 400, 3, "INVALID_START")
    (violation,) = details[BAD_REQUEST]["field_violations"]
    assert (violation["field"], violation["reason"]) == ("input/s", "pattern")
    assert violation["description"].endswith('... does not match "^(a+)+$"')
    assert elapsed < 2  # Python's backtracking re: seconds at 25 characters, doubling per one
    assert http.get("/health").status_code == 200


def test_patterns_the_linear_engine_cannot_run_are_refused(http: httpx.Client) -> None:
    schema = {
        "properties": {"s": {"pattern": "^(?!admin).*$"}},
        "patternProperties": {"(a)\\1": {}},
    }
    details = error(register(http, unique("look"), schema), 400, 3, "INVALID_REGISTRATION")
    assert violation_fields(details) == [
        "workflows[0].input_schema/patternProperties/(a)\\1",
        "workflows[0].input_schema/properties/s/pattern",
    ]
    reasons = {v["reason"] for v in details[BAD_REQUEST]["field_violations"]}
    assert reasons == {"unsupported_pattern"}
    assert "linear-time" in details[BAD_REQUEST]["field_violations"][0]["description"]


def test_costly_validation_is_bounded_and_blocks_nothing(http: httpx.Client) -> None:
    kind, cheap = unique("costly"), unique("cheap")
    register(http, kind, chain(26)).raise_for_status()
    register(http, cheap, {"type": "object"}).raise_for_status()

    def costly_start() -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = http.post(f"/workflows/{kind}/start", json={"input": 1, "validate_only": True})
        return response, time.monotonic() - started

    probes: list[float] = []
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(costly_start)
        while not running.done():
            for path in ("/health", f"/registry/workflows/{cheap}"):
                started = time.monotonic()
                assert http.get(path).status_code == 200
                probes.append(time.monotonic() - started)
            time.sleep(0.05)
        response, elapsed = running.result()
    details = error(response, 429, 8, "VALIDATION_TOO_COSTLY")
    assert violation_fields(details) == ["input"]
    assert elapsed >= 1  # it ran up to its limit (1 s) ...
    assert len(probes) >= 6  # ... while the registry kept answering
    assert max(probes) < 0.5, probes
    # a fitting input of a cheap type is validated inline, then refused: nothing polls its queue
    fits = http.post(f"/workflows/{cheap}/start", json={"input": {}, "validate_only": True})
    assert error(fits, 503, 14, "NO_HEALTHY_WORKER")  # validated; no worker polls that queue
