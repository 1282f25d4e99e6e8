#!/usr/bin/env python3
"""Input validation: the registry's path (jsonschema-rs, linear-time regex, bounded) against
the old one (jsonschema, Python's backtracking re), in process, no stack needed.

The work of a validate_only start's validation: a 2 KB schema and a 4 KB input, timed per
validation, interleaved so both engines see the same machine:

- valid input:   registry.validation.validate_input (size walk, then `is_valid` inline) against
                 jsonschema's `iter_errors` (what the registry did before);
- invalid input: the same input with three violations (listed in the validation process by
                 the registry; inline by jsonschema);
- regex bomb:    `^(a+)+$` against "a" * n + "!", once per engine (jsonschema at a small n).

It prints p50/p99 of each (target: under 0.5 ms of registry CPU for the valid case).

    .venv/bin/python bench/validation.py [--validations 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import time
from collections.abc import Callable
from typing import Any

from benchlib import LatencySummary
from jsonschema import Draft202012Validator

from registry.server.validation import default_pool, validate_input
from registry.shared.schemas import compile_schema

TARGET_MS = 0.5
ITEM = {
    "type": "object",
    "required": ["sku", "quantity", "unit_price_cents"],
    "additionalProperties": False,
    "properties": {
        "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4,8}$"},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 10000},
        "unit_price_cents": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 20},
    },
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "order.v1",
    "description": "An order to fulfil: who ordered it, what, where it goes and when.",
    "type": "object",
    "required": ["order_id", "customer", "items", "currency", "placed_at"],
    "additionalProperties": False,
    "properties": {
        "order_id": {"type": "string", "format": "uuid"},
        "customer": {
            "type": "object",
            "required": ["id", "email"],
            "properties": {
                "id": {"type": "string", "pattern": "^c-[a-z0-9]{6,32}$"},
                "email": {"type": "string", "format": "email"},
                "name": {"type": "string", "maxLength": 200},
                "phone": {"type": "string", "pattern": "^\\+?[0-9 ()-]{6,20}$"},
            },
        },
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": 500,
            "items": {"$ref": "#/$defs/item"},
        },
        "currency": {"enum": ["EUR", "USD", "GBP", "CHF", "JPY", "SEK", "NOK", "DKK", "PLN"]},
        "placed_at": {"type": "string", "format": "date-time"},
        "deliver_by": {"type": "string", "format": "date"},
        "shipping": {
            "type": "object",
            "required": ["country", "postcode", "street"],
            "properties": {
                "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
                "postcode": {"type": "string", "maxLength": 12},
                "street": {"type": "string", "maxLength": 200},
                "city": {"type": "string", "maxLength": 100},
            },
        },
        "priority": {"oneOf": [{"const": "standard"}, {"const": "express"}]},
        "notes": {"type": "string", "maxLength": 2000},
        "hold_seconds": {"type": "number", "minimum": 0},
    },
    "$defs": {"item": ITEM},
}
INPUT: dict[str, Any] = {
    "order_id": "123e4567-e89b-12d3-a456-426614174000",
    "customer": {"id": "c-abc123", "email": "a@example.com", "name": "Ada", "phone": "+44 20 1"},
    "items": [
        {
            "sku": f"ABC-{1000 + i}",
            "name": f"item {i}",
            "quantity": i % 7 + 1,
            "unit_price_cents": 199 * i,
            "tags": ["blue", "large"],
        }
        for i in range(33)
    ],
    "currency": "EUR",
    "placed_at": "2026-11-26T12:00:00Z",
    "deliver_by": "2026-12-01",
    "shipping": {"country": "GB", "postcode": "SW1A 1AA", "street": "1 Road", "city": "London"},
    "priority": "express",
    "notes": "leave at the door",
}


def invalid_input() -> dict[str, Any]:
    bad = copy.deepcopy(INPUT)
    bad["currency"] = "XXX"
    bad["items"][3]["sku"] = "nope"
    del bad["customer"]["email"]
    return bad


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validations", type=int, default=2000, help="timed validations each")
    parser.add_argument("--warmup", type=int, default=100, help="untimed validations first")
    return parser.parse_args(argv)


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    schema_bytes, input_bytes = len(json.dumps(SCHEMA)), len(json.dumps(INPUT))
    print(f"schema {schema_bytes} bytes, input {input_bytes} bytes")
    old = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
    new = compile_schema(SCHEMA)
    bad = invalid_input()
    loop = asyncio.new_event_loop()

    def registry(instance: Any) -> Callable[[], object]:
        return lambda: loop.run_until_complete(validate_input(new, instance))

    def jsonschema(instance: Any) -> Callable[[], object]:
        return lambda: list(old.iter_errors(instance))

    assert loop.run_until_complete(validate_input(new, INPUT)) == []
    assert len(loop.run_until_complete(validate_input(new, bad))) == 3
    assert len(list(old.iter_errors(bad))) == 3
    cases = {
        "valid, registry": registry(INPUT),
        "valid, jsonschema": jsonschema(INPUT),
        "invalid, registry": registry(bad),
        "invalid, jsonschema": jsonschema(bad),
    }
    for call in cases.values():
        for _ in range(args.warmup):
            call()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.validations):
        for name, call in cases.items():
            times[name].append(timed(call))
    summaries = {name: LatencySummary.of(values) for name, values in times.items()}
    for name, summary in summaries.items():
        print(f"{name:22} {summary.line()}")

    bomb = {"properties": {"s": {"pattern": "^(a+)+$"}}}
    old_bomb = Draft202012Validator(bomb)
    new_bomb = compile_schema(bomb)
    old_ms = timed(lambda: list(old_bomb.iter_errors({"s": "a" * 20 + "!"}))) * 1000
    long = {"s": "a" * 100_000 + "!"}
    new_ms = timed(lambda: loop.run_until_complete(validate_input(new_bomb, long))) * 1000
    print(
        f"regex bomb: jsonschema {old_ms:.1f} ms at 21 characters (doubling per character), "
        f"registry {new_ms:.2f} ms at 100,001 characters"
    )
    valid = summaries["valid, registry"]
    verdict = "met" if valid.p50_ms < TARGET_MS else "MISSED"
    ratio = summaries["valid, jsonschema"].p50_ms / valid.p50_ms
    print(
        f"validation: valid p50 {valid.p50_ms:.3f} ms p99 {valid.p99_ms:.3f} ms "
        f"(target < {TARGET_MS} ms: {verdict}), {ratio:.0f}x faster than jsonschema; "
        f"invalid p50 {summaries['invalid, registry'].p50_ms:.3f} ms "
        f"(jsonschema {summaries['invalid, jsonschema'].p50_ms:.3f} ms)"
    )
    default_pool().close()
    loop.close()


if __name__ == "__main__":
    main()
