"""One log line per change of a repeating condition (registry.state_log)."""

from __future__ import annotations

import logging

import grpc
import pytest
from temporalio.service import RPCError, RPCStatusCode

from registry.server.errors import RegistryError
from registry.server.state_log import StateLog, summary


def test_a_condition_is_logged_when_it_starts_changes_and_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="test.state")
    state = StateLog(logging.getLogger("test.state"), "refresh")
    for _ in range(30):  # an outage: the same failure every period
        state.failed(RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b""))
    state.failed(RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b""))
    state.ok()
    state.ok()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "refresh: UNAVAILABLE: connection refused"),
        ("WARNING", "refresh: NOT_FOUND: workflow not found"),
        ("INFO", "refresh: recovered"),
    ]
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            RegistryError(grpc.StatusCode.UNAVAILABLE, "TEMPORAL_UNAVAILABLE", "gone"),
            "TEMPORAL_UNAVAILABLE: gone",
        ),
        (
            RuntimeError("Failed client connect\n  more detail"),
            "RuntimeError: Failed client connect",
        ),
        (TimeoutError(), "TimeoutError"),
    ],
)
def test_a_failure_is_summarised_on_one_line(error: BaseException, line: str) -> None:
    assert summary(error) == line
