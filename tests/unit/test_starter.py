"""The request ids the registry gives Temporal for idempotent starts (registry.starter)."""

from __future__ import annotations

import pytest

from registry.dispatch.temporal import SAME_ATTEMPT, client_request_id, temporal_request_id


@pytest.mark.parametrize(
    "request_id",
    ["checkout-7f3a", "a:b:c", "registry-start:0123:x", " spaced out ", "é" * 200],
)
def test_every_attempt_carries_the_client_request_id(request_id: str) -> None:
    for attempt in ("0f" * 16, SAME_ATTEMPT):
        assert client_request_id(temporal_request_id(request_id, attempt)) == request_id


def test_attempts_at_one_request_are_told_apart() -> None:
    assert temporal_request_id("r", "a1") != temporal_request_id("r", "b2")
    assert temporal_request_id("r", SAME_ATTEMPT) == temporal_request_id("r", SAME_ATTEMPT)


@pytest.mark.parametrize(
    "start_request_id", ["checkout-7f3a", "0b5e2f3c-5d1c-4a7e-9a55-7d1f0c1e2a3b", "registry-start:"]
)
def test_a_request_id_the_registry_did_not_make_is_the_client_request_id_itself(
    start_request_id: str,
) -> None:
    """Runs an earlier registry version started with the bare request id stay retryable."""
    assert client_request_id(start_request_id) == start_request_id
