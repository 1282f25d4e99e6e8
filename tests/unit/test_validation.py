"""registry.server.validation: inline only when the static bound is small, else a validation process
with a time limit; the event loop keeps running meanwhile. These tests start real processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from registry.server.errors import RegistryError
from registry.server.validation import INLINE_COST_LIMIT, ValidationPool, validate_input
from registry.shared.schemas import compile_schema

ORDER = {
    "type": "object",
    "required": ["order_id"],
    "properties": {"order_id": {"type": "string", "pattern": "^(a+)+$"}, "qty": {"minimum": 1}},
}


def chain(links: int) -> dict[str, Any]:
    defs: dict[str, Any] = {
        f"l{i}": {"anyOf": [{"$ref": f"#/$defs/l{i + 1}"}, {"$ref": f"#/$defs/l{i + 1}"}]}
        for i in range(links)
    }
    defs[f"l{links}"] = {"type": "string"}
    return {"$ref": "#/$defs/l0", "$defs": defs}


@pytest.fixture
def pool() -> Iterator[ValidationPool]:
    pool = ValidationPool(size=1, timeout=0.5)
    yield pool
    pool.close()


def test_a_cheap_fitting_input_is_checked_inline(pool: ValidationPool) -> None:
    validator = compile_schema(ORDER)
    assert validator.cost * 100 <= INLINE_COST_LIMIT
    assert asyncio.run(validate_input(validator, {"order_id": "aaaa"}, pool)) == []
    assert pool.process_ids() == []  # no process was needed


def test_violations_are_listed_in_the_process_as_inline(pool: ValidationPool) -> None:
    validator = compile_schema(ORDER)
    bad = {"order_id": "a" * 50 + "!", "qty": 0}
    listed = asyncio.run(validate_input(validator, bad, pool))
    assert listed == validator(bad)
    assert [(v.field, v.reason) for v in listed] == [
        ("input/order_id", "pattern"),
        ("input/qty", "minimum"),
    ]
    assert len(pool.process_ids()) == 1
    malformed = asyncio.run(validate_input(validator, {"order_id": float("nan")}, pool))
    assert [(v.field, v.reason) for v in malformed] == [("input/order_id", "invalid_type")]


def test_costly_validation_is_stopped_and_the_loop_keeps_running(pool: ValidationPool) -> None:
    validator = compile_schema(chain(26))  # listing its errors takes minutes
    assert validator.cost > INLINE_COST_LIMIT

    async def scenario() -> tuple[RegistryError, float, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        started = time.monotonic()
        with pytest.raises(RegistryError) as raised:
            await validate_input(validator, 1, pool)
        elapsed = time.monotonic() - started
        ticking.cancel()
        return raised.value, elapsed, ticks

    error, elapsed, ticks = asyncio.run(scenario())
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.reason == "VALIDATION_TOO_COSTLY"
    assert [(v.field, v.reason) for v in error.violations] == [("input", "too_costly")]
    assert "took over 0.5 s" in error.message
    assert 0.5 <= elapsed < 5  # the limit, plus starting the process
    assert ticks >= 20  # the event loop ran all along
    assert pool.process_ids() == []  # the overrunning process was killed
    cheap = compile_schema({"type": "integer"})
    assert [v.reason for v in asyncio.run(validate_input(cheap, "x", pool))] == ["type"]


def test_waiting_for_a_busy_pool_is_bounded_too(pool: ValidationPool) -> None:
    costly = compile_schema(chain(26))

    async def two() -> list[BaseException | list[Any]]:
        return await asyncio.gather(
            validate_input(costly, 1, pool), validate_input(costly, 1, pool), return_exceptions=True
        )

    first, second = asyncio.run(two())
    assert isinstance(first, RegistryError) and isinstance(second, RegistryError)
    messages = sorted([first.message, second.message])
    assert "took over 0.5 s" in messages[0] or "took over 0.5 s" in messages[1]
    assert any("waited over 0.5 s for a free validation process" in m for m in messages)
