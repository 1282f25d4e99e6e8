"""Tracing is optional: off by default, and a clear error when on without the otel extra."""

from __future__ import annotations

import sys

import pytest

from registry.server.config import TracingConfig
from registry.server.tracing import TracingUnavailable, setup_tracing


def test_off_by_default() -> None:
    assert TracingConfig().enabled is False
    assert setup_tracing(TracingConfig()) is None


def test_on_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import fails as if absent
    with pytest.raises(TracingUnavailable, match=r"temporal-registry\[otel\]"):
        setup_tracing(TracingConfig(enabled=True, exporter="console"))


def test_on_with_the_extra_gives_both_interceptors() -> None:
    tracing = setup_tracing(TracingConfig(enabled=True, exporter="console"))
    assert tracing is not None
    try:
        assert tracing.server_interceptor is not None
        assert type(tracing.temporal_interceptor).__name__ == "TracingInterceptor"
    finally:
        tracing.shutdown()
