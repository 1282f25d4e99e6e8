"""registry.schemas.compatibility: how an order workflow's input schema may evolve, the
wording of each break (exact strings), the keywords one by one, soundness against the engine
(hypothesis), and the work bound."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.schemas.compatibility import (
    MAX_REPORTED,
    Incompatibility,
    backward_breaks,
    forward_breaks,
    narrowings,
)
from registry.shared.schemas import InputValidator

Schema = dict[str, Any]

# --- the order workflow (order.v1) -----------------------------------------------------------

ORDER_V1: Schema = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://example.com/schemas/order.v1.json",
    "title": "order.v1",
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "pattern": "^ord_[a-z0-9]+$"},
        "amount": {"$ref": "#/$defs/money"},
        "currency": {"enum": ["EUR", "USD", "GBP"]},
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {"$ref": "#/$defs/line"},
        },
        "payment": {"anyOf": [{"$ref": "#/$defs/card"}, {"$ref": "#/$defs/iban"}]},
        "placed_at": {"type": "string"},
        "note": {"type": "string", "maxLength": 500, "description": "for the warehouse"},
    },
    "required": ["order_id", "amount", "currency", "items"],
    "$defs": {
        "money": {"type": "number", "minimum": 0, "multipleOf": 0.01},
        "line": {
            "type": "object",
            "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
            "required": ["sku", "qty"],
        },
        "card": {
            "type": "object",
            "properties": {
                "kind": {"const": "card"},
                "last4": {"type": "string", "pattern": "^[0-9]{4}$"},
            },
            "required": ["kind", "last4"],
        },
        "iban": {
            "type": "object",
            "properties": {"kind": {"const": "iban"}, "iban": {"type": "string"}},
            "required": ["kind", "iban"],
        },
    },
}
VOUCHER: Schema = {
    "type": "object",
    "properties": {"kind": {"const": "voucher"}, "code": {"type": "string"}},
    "required": ["kind", "code"],
}
ORDER_INPUT = {
    "order_id": "ord_42",
    "amount": 12.5,
    "currency": "EUR",
    "items": [{"sku": "tea", "qty": 2}],
    "payment": {"kind": "card", "last4": "4242"},
}


def closed(schema: Schema) -> Schema:
    return {**schema, "additionalProperties": False}


def changed(edit: Callable[[Schema], object], base: Schema = ORDER_V1) -> Schema:
    schema = copy.deepcopy(base)
    edit(schema)
    return schema


def props(schema: Schema) -> Schema:
    properties: Schema = schema["properties"]
    return properties


def defs(schema: Schema) -> Schema:
    definitions: Schema = schema["$defs"]
    return definitions


# (name, previous, candidate, backward breaks, forward breaks), as str(Incompatibility).
EVOLUTION: list[tuple[str, Schema, Schema, list[str], list[str]]] = [
    (
        "annotations only",
        ORDER_V1,
        changed(lambda s: props(s)["note"].update(description="printed", examples=["fragile"])),
        [],
        [],
    ),
    (
        "optional field of any value added",
        ORDER_V1,
        changed(lambda s: props(s).update(gift_wrap={"description": "anything"})),
        [],
        [],
    ),
    (
        # v1 is open: {"gift_wrap": "yes"} was valid, and no longer is.
        "optional typed field added to an open schema",
        ORDER_V1,
        changed(lambda s: props(s).update(gift_wrap={"type": "boolean"})),
        ["properties/gift_wrap: type narrowed (any to boolean)"],
        [],
    ),
    (
        "optional field added to a closed schema",
        closed(ORDER_V1),
        changed(lambda s: props(s).update(gift_wrap={"type": "boolean"}), closed(ORDER_V1)),
        [],
        ["properties/gift_wrap: property added (additional properties were closed)"],
    ),
    (
        "required added",
        ORDER_V1,
        changed(lambda s: s["required"].append("note")),
        ["properties/note: required added"],
        [],
    ),
    (
        "required removed",
        ORDER_V1,
        changed(lambda s: s["required"].remove("currency")),
        [],
        ["properties/currency: required removed"],
    ),
    (
        "enum value removed",
        ORDER_V1,
        changed(lambda s: props(s)["currency"].update(enum=["EUR", "USD"])),
        ['properties/currency/enum: value "GBP" removed'],
        [],
    ),
    (
        "enum value added",
        ORDER_V1,
        changed(lambda s: props(s)["currency"].update(enum=["EUR", "USD", "GBP", "JPY"])),
        [],
        ['properties/currency/enum: value "JPY" added'],
    ),
    (
        "type narrowed behind a $ref",
        ORDER_V1,
        changed(lambda s: defs(s)["money"].update(type="integer")),
        ["properties/amount: type narrowed (number to integer)"],
        [],
    ),
    (
        "type widened",
        ORDER_V1,
        changed(lambda s: defs(s)["line"]["properties"]["qty"].update(type="number")),
        [],
        ["properties/items/items/properties/qty: type widened (integer to number)"],
    ),
    (
        "maximum length lowered",
        ORDER_V1,
        changed(lambda s: props(s)["note"].update(maxLength=200)),
        ["properties/note: maxLength lowered (500 to 200)"],
        [],
    ),
    (
        "maximum items raised",
        ORDER_V1,
        changed(lambda s: props(s)["items"].update(maxItems=1000)),
        [],
        ["properties/items: maxItems raised (100 to 1000)"],
    ),
    (
        "maximum added",
        ORDER_V1,
        changed(lambda s: defs(s)["line"]["properties"]["qty"].update(maximum=1000)),
        ["properties/items/items/properties/qty: maximum added (1000)"],
        [],
    ),
    (
        "additionalProperties closed",
        ORDER_V1,
        closed(ORDER_V1),
        ["additional properties closed"],
        [],
    ),
    (
        "additionalProperties opened",
        closed(ORDER_V1),
        ORDER_V1,
        [],
        ["additional properties opened"],
    ),
    (
        "the $ref'd money schema: minimum made exclusive",
        ORDER_V1,
        changed(lambda s: defs(s).update(money={"type": "number", "exclusiveMinimum": 0})),
        ["properties/amount: exclusiveMinimum raised (>=0 to >0)"],
        ["properties/amount: multipleOf removed (0.01)"],
    ),
    (
        "anyOf branch added",
        ORDER_V1,
        changed(lambda s: props(s)["payment"]["anyOf"].append(VOUCHER)),
        [],
        ["properties/payment/anyOf/2: branch added"],
    ),
    (
        "anyOf branch removed",
        ORDER_V1,
        changed(lambda s: props(s)["payment"]["anyOf"].pop()),
        ["properties/payment/anyOf/1: branch removed"],
        [],
    ),
    (
        "anyOf branch narrowed",
        ORDER_V1,
        changed(lambda s: defs(s)["card"]["required"].append("holder")),
        ["properties/payment/anyOf/0/properties/holder: required added"],
        [],
    ),
    (
        "pattern changed",
        ORDER_V1,
        changed(lambda s: props(s)["order_id"].update(pattern="^ord_[0-9]+$")),
        ['properties/order_id: pattern changed ("^ord_[a-z0-9]+$" to "^ord_[0-9]+$")'],
        ['properties/order_id: pattern changed ("^ord_[a-z0-9]+$" to "^ord_[0-9]+$")'],
    ),
    (
        "format added",
        ORDER_V1,
        changed(lambda s: props(s)["placed_at"].update(format="date-time")),
        ['properties/placed_at: format added ("date-time")'],
        [],
    ),
    (
        "multipleOf coarser (0.01 to 0.05)",
        ORDER_V1,
        changed(lambda s: defs(s)["money"].update(multipleOf=0.05)),
        ["properties/amount: multipleOf changed (0.01 to 0.05)"],
        [],
    ),
    (
        "multipleOf finer (0.01 to 0.001)",
        ORDER_V1,
        changed(lambda s: defs(s)["money"].update(multipleOf=0.001)),
        [],
        ["properties/amount: multipleOf changed (0.01 to 0.001)"],
    ),
    (
        "several changes at once",
        ORDER_V1,
        changed(
            lambda s: (
                s["required"].append("payment"),
                props(s)["currency"].update(enum=["EUR"]),
                props(s)["note"].update(maxLength=100),
            )
        ),
        [
            "properties/payment: required added",
            'properties/currency/enum: value "USD" removed',
            'properties/currency/enum: value "GBP" removed',
            "properties/note: maxLength lowered (500 to 100)",
        ],
        [],
    ),
]


@pytest.mark.parametrize(
    ("previous", "candidate", "backward", "forward"),
    [case[1:] for case in EVOLUTION],
    ids=[case[0] for case in EVOLUTION],
)
def test_order_schema_evolution(
    previous: Schema, candidate: Schema, backward: list[str], forward: list[str]
) -> None:
    assert InputValidator(previous).is_valid(ORDER_INPUT)  # the cases are realistic
    assert [str(item) for item in backward_breaks(previous, candidate)] == backward
    assert [str(item) for item in forward_breaks(previous, candidate)] == forward


def test_a_recursive_schema_unchanged_is_compatible_and_a_deep_change_is_found() -> None:
    bundle = {
        "$defs": {
            "bundle": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string"},
                    "parts": {"type": "array", "items": {"$ref": "#/$defs/bundle"}},
                },
                "required": ["sku"],
            }
        },
        "$ref": "#/$defs/bundle",
    }
    renamed = {"$defs": {"kit": bundle["$defs"]["bundle"]}, "$ref": "#/$defs/kit"}
    renamed = json.loads(json.dumps(renamed).replace("#/$defs/bundle", "#/$defs/kit"))
    assert backward_breaks(bundle, renamed) == forward_breaks(bundle, renamed) == []
    deeper = changed(lambda s: defs(s)["bundle"]["properties"]["sku"].update(minLength=3), bundle)
    assert [str(i) for i in backward_breaks(bundle, deeper)] == [
        "properties/sku: minLength raised (0 to 3)"
    ]
    assert forward_breaks(bundle, deeper) == []


# --- wording -----------------------------------------------------------------------------


def test_incompatibility_reads_path_then_rule() -> None:
    assert str(Incompatibility("properties/amount", "required added")) == (
        "properties/amount: required added"
    )
    assert str(Incompatibility("", "additional properties closed")) == (
        "additional properties closed"
    )


def test_narrowings_is_backward_breaks() -> None:
    candidate = changed(lambda s: props(s)["note"].update(maxLength=5))
    assert narrowings(ORDER_V1, candidate) == backward_breaks(ORDER_V1, candidate)


def test_paths_escape_property_names_as_json_pointers() -> None:
    wide = {"properties": {"a/b": {"type": "string"}, "c~d": {}}}
    narrow = {"properties": {"a/b": {"type": "string", "maxLength": 3}, "c~d": {"type": "null"}}}
    assert [str(i) for i in narrowings(wide, narrow)] == [
        "properties/a~1b: maxLength added (3)",
        "properties/c~0d: type narrowed (any to null)",
    ]


def test_findings_are_deduplicated_capped_and_deterministic() -> None:
    names = [f"field_{n:02}" for n in range(80)]
    narrow = {"type": "object", "required": names}
    found = narrowings({"type": "object"}, narrow)
    assert len(found) == MAX_REPORTED
    assert str(found[0]) == "properties/field_00: required added"
    assert narrowings({"type": "object"}, narrow, limit=3) == found[:3]
    assert narrowings({"type": "object"}, narrow) == found
    shared = {"$defs": {"id": {"type": "string"}}, "properties": {"x": {"$ref": "#/$defs/id"}}}
    narrower = {
        "$defs": {"id": {"type": "string", "maxLength": 8}},
        "allOf": [{"properties": {"x": {"$ref": "#/$defs/id"}}}] * 2,
        "properties": {"x": {"$ref": "#/$defs/id"}},
    }
    assert [str(i) for i in narrowings(shared, narrower)] == [
        "properties/x: maxLength added (8)",
        "allOf/0/properties/x: maxLength added (8)",
        "allOf/1/properties/x: maxLength added (8)",
    ]


# --- keyword by keyword --------------------------------------------------------------------


_TUPLE = {"prefixItems": [{}, {"type": "string"}], "unevaluatedItems": {"type": "integer"}}
_ONLY_A = {"properties": {"a": {}}, "unevaluatedProperties": False}


def rules(wide: Any, narrow: Any) -> list[str]:
    return [str(item) for item in narrowings(wide, narrow)]


@pytest.mark.parametrize(
    ("wide", "narrow", "expected"),
    [
        # booleans and {}
        (True, {}, []),
        ({}, True, []),
        (False, {"type": "null"}, []),
        ({"type": "string"}, False, ["changed to false"]),
        (True, {"type": "string"}, ["type narrowed (any to string)"]),
        # type
        ({"type": "integer"}, {"type": "number"}, []),
        ({"type": ["integer", "string"]}, {"type": ["number", "string", "null"]}, []),
        ({"type": "number"}, {"type": "integer"}, ["type narrowed (number to integer)"]),
        ({"type": "string"}, {"type": "integer"}, ["type changed (string to integer)"]),
        # keywords that do not apply to the wider side's types
        ({"type": "number"}, {"minLength": 2, "required": ["a"], "minItems": 1}, []),
        ({"type": "string"}, {"minimum": 3, "multipleOf": 2}, []),
        # numbers: exclusive against inclusive, integers rounded inward
        ({"exclusiveMinimum": 0}, {"minimum": 0}, []),
        ({"minimum": 0}, {"exclusiveMinimum": 0}, ["exclusiveMinimum raised (>=0 to >0)"]),
        ({"type": "integer", "exclusiveMinimum": 0}, {"minimum": 1}, []),
        ({"type": "integer", "maximum": 9.5}, {"exclusiveMaximum": 10}, []),
        (
            {"type": "number", "maximum": 9.5},
            {"exclusiveMaximum": 9.5},
            ["exclusiveMaximum lowered (<=9.5 to <9.5)"],
        ),
        ({"maximum": 100}, {"maximum": 50}, ["maximum lowered (100 to 50)"]),
        ({"minimum": 1, "maximum": 5}, {"minimum": 0, "maximum": 10}, []),
        # multipleOf, as decimals
        ({"multipleOf": 0.02}, {"multipleOf": 0.01}, []),
        ({"multipleOf": 0.3}, {"multipleOf": 0.1}, []),
        ({"multipleOf": 0.01}, {"multipleOf": 0.02}, ["multipleOf changed (0.01 to 0.02)"]),
        ({"type": "integer"}, {"multipleOf": 1}, []),
        ({"type": "integer"}, {"multipleOf": 0.01}, []),
        ({"type": "integer"}, {"multipleOf": 2}, ["multipleOf added (2)"]),
        # strings
        ({"pattern": "^a"}, {"pattern": "^a"}, []),
        ({"pattern": "^a"}, {}, []),
        ({"type": "string"}, {"pattern": ".*"}, []),
        ({"type": "string"}, {"pattern": "^a"}, ['pattern added ("^a")']),
        ({"type": "string", "format": "email"}, {"format": "email"}, []),
        ({"format": "email"}, {"format": "uri"}, ['format changed ("email" to "uri")']),
        ({"minLength": 2, "maxLength": 4}, {"minLength": 1, "maxLength": 5}, []),
        # enum and const: decided by the engine, with the wider side's own keywords
        ({"enum": ["a", "b"]}, {"type": "string", "maxLength": 1}, []),
        ({"enum": [1, "long"], "type": "integer"}, {"maxLength": 1}, []),
        ({"enum": ["a", "bb"]}, {"maxLength": 1}, ['enum: value "bb" removed']),
        ({"const": 1}, {"enum": [1.0, 2]}, []),
        ({"const": True}, {"enum": [1]}, ["const: value true removed"]),
        ({"type": "string"}, {"enum": ["a"]}, ["enum added"]),
        ({"type": ["null", "boolean"]}, {"enum": [None, True, False]}, []),
        ({"type": "boolean"}, {"const": True}, ["const added"]),
        # objects
        ({"required": ["a"]}, {"required": ["a"]}, []),
        (
            {"type": "object", "minProperties": 1},
            {"minProperties": 2},
            ["minProperties raised (1 to 2)"],
        ),
        ({"required": ["a", "b"]}, {"minProperties": 2}, []),
        (
            {"properties": {"a": {}}, "additionalProperties": False},
            {"maxProperties": 1},
            [],
        ),
        (
            {"properties": {"a": {"type": "string"}}, "additionalProperties": False},
            {"additionalProperties": False, "properties": {"a": {}, "b": {}}},
            [],
        ),
        (
            {"properties": {"a": {}}},
            {"properties": {"a": {}}, "additionalProperties": {"type": "string"}},
            ["additionalProperties: type narrowed (any to string)"],
        ),
        (
            {"patternProperties": {"^x_": {"type": "string"}}},
            {"patternProperties": {"^x_": {"type": ["string", "null"]}}},
            [],
        ),
        (
            {"properties": {"x_a": {"type": "string"}}, "additionalProperties": False},
            {"patternProperties": {"^x_": {"type": "string"}}, "additionalProperties": False},
            [],
        ),
        (
            {"type": "object"},
            {"patternProperties": {"^x_": {"type": "string"}}},
            ["patternProperties/^x_: type narrowed (any to string)"],
        ),
        (
            {"properties": {"ab": {}, "b": {}}, "additionalProperties": False},
            {"propertyNames": {"maxLength": 1}},
            ['propertyNames: name "ab" refused'],
        ),
        ({"propertyNames": {"maxLength": 2}}, {"propertyNames": {"maxLength": 3}}, []),
        ({"type": "object"}, {"propertyNames": {"maxLength": 3}}, ["propertyNames added"]),
        ({"dependentRequired": {"a": ["b"]}}, {"dependentRequired": {"a": ["b"]}}, []),
        ({"required": ["b"]}, {"dependentRequired": {"a": ["b"]}}, []),
        (
            {"type": "object"},
            {"dependentRequired": {"a": ["b"]}},
            ['dependentRequired/a: "b" added'],
        ),
        (
            {"dependentSchemas": {"a": {"required": ["b"]}}},
            {"dependentSchemas": {"a": {"required": ["b"]}}},
            [],
        ),
        (
            {"type": "object"},
            {"dependentSchemas": {"a": {"required": ["b"]}}},
            ["dependentSchemas/a/properties/b: required added"],
        ),
        (
            {"properties": {"a": {}}, "additionalProperties": False},
            {"properties": {"a": {}}, "unevaluatedProperties": False},
            [],
        ),
        (
            {"type": "object"},
            {"allOf": [{"properties": {"a": {}}}], "unevaluatedProperties": False},
            ["unevaluatedProperties cannot be compared"],
        ),
        # arrays
        ({"items": {"type": "integer"}}, {"items": {"type": "number"}}, []),
        (
            {"items": {"type": "number"}},
            {"items": {"type": "integer"}},
            ["items: type narrowed (number to integer)"],
        ),
        (
            {"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
            {"prefixItems": [{"type": "string"}], "items": {"type": "number"}},
            [],
        ),
        (
            {"prefixItems": [{"type": "string"}]},
            {"prefixItems": [{"type": "integer"}]},
            ["prefixItems/0: type changed (string to integer)"],
        ),
        ({"type": "array"}, {"items": False}, ["items closed"]),
        ({"prefixItems": [{}], "items": False}, {"maxItems": 1}, []),
        ({"maxItems": 1}, {"uniqueItems": True}, []),
        ({"type": "array"}, {"uniqueItems": True}, ["uniqueItems added"]),
        ({"minItems": 2}, {"minItems": 1, "maxItems": 4}, ["maxItems added (4)"]),
        (
            {"contains": {"type": "integer"}, "minContains": 2},
            {"contains": {"type": "number"}},
            [],
        ),
        ({"type": "array"}, {"contains": {"type": "number"}}, ["contains added"]),
        (
            {"contains": {"const": 1}, "maxContains": 2},
            {"contains": {"const": 1}, "maxContains": 3},
            [],
        ),
        ({"maxItems": 2}, {"contains": {}, "minContains": 0, "maxContains": 2}, []),
        ({"items": {"type": "string"}}, {"unevaluatedItems": {"type": "string"}}, []),
        # unevaluated* beside an allOf/anyOf/$ref see what those evaluated: never split off
        (
            {**_TUPLE, "allOf": [{"items": {"minimum": 2}}]},
            _TUPLE,
            ["unevaluatedItems: type narrowed (any to integer)"],
        ),
        (
            {**_TUPLE, "anyOf": [{"items": True}, {"type": "array"}]},
            _TUPLE,
            [
                "anyOf/0/unevaluatedItems: type narrowed (any to integer)",
                "anyOf/1/unevaluatedItems: type narrowed (any to integer)",
            ],
        ),
        (
            {**_ONLY_A, "$ref": "#/$defs/b", "$defs": {"b": {"properties": {"b": {}}}}},
            _ONLY_A,
            [
                "properties/b: property removed (additional properties closed)",
                "additional properties closed",
            ],
        ),
        # combinators
        ({"allOf": [{"type": "string"}, {"maxLength": 3}]}, {"type": "string", "maxLength": 5}, []),
        (
            {"type": "string"},
            {"allOf": [{"type": "string"}, {"maxLength": 3}]},
            ["allOf/1: maxLength added (3)"],
        ),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, {"type": ["string", "null"]}, []),
        ({"type": "string"}, {"anyOf": [{"type": "integer"}, {"type": "string"}]}, []),
        (
            {"anyOf": [{"type": "string"}, {"type": "null"}]},
            {"type": "string"},
            ["anyOf/1: type changed (null to string)"],
        ),
        ({"type": "string"}, {"oneOf": [{"type": "string"}, {"type": "integer"}]}, []),
        (
            {"type": "string", "maxLength": 2},
            {"oneOf": [{"type": "string"}, {"maxLength": 3}]},
            ["oneOf: oneOf branches may overlap, cannot be compared"],
        ),
        ({"type": "string"}, {"not": {"type": "integer"}}, []),
        ({"not": {"const": "x"}}, {"not": {"const": "x"}}, []),
        ({}, {"not": {"const": "x"}}, ["not added, cannot be compared"]),
        (
            {"type": "object", "required": ["kind"], "properties": {"kind": {"const": "b"}}},
            {
                "not": {
                    "type": "object",
                    "required": ["kind"],
                    "properties": {"kind": {"enum": ["a"]}},
                }
            },
            [],
        ),
        (
            {"if": {"required": ["a"]}, "then": {"required": ["b"]}},
            {"if": {"required": ["a"]}, "then": {"required": ["b"]}},
            [],
        ),
        ({"required": ["a", "b"]}, {"if": {"required": ["a"]}, "then": {"required": ["b"]}}, []),
        (
            {"type": "object"},
            {"if": {"required": ["a"]}, "then": {"required": ["b"]}},
            ["if/then/else added, cannot be compared"],
        ),
        ({"$dynamicRef": "#meta"}, {"$dynamicRef": "#other"}, ["$dynamicRef cannot be compared"]),
        # references
        ({"type": "string"}, {"$ref": "#/$defs/missing"}, ["$ref cannot be resolved"]),
        (
            {"type": "string"},
            {
                "$defs": {"a/b": {"$ref": "#/$defs/c~0d"}, "c~d": {"$ref": "#/$defs/e%20f"}},
                "definitions": {"e f": {"type": "string"}},
                "$ref": "#/$defs/a~1b",
            },
            ["$ref cannot be resolved"],
        ),
        (
            {"type": "string"},
            {
                "$defs": {"a/b": {"$ref": "#/$defs/c~0d"}, "c~d": {"$ref": "#/definitions/e%20f"}},
                "definitions": {"e f": {"type": "string"}},
                "$ref": "#/$defs/a~1b",
            },
            [],
        ),
        (
            {"$defs": {"x": {"type": "integer"}}, "$ref": "#/$defs/x", "minimum": 1},
            {"type": "number", "minimum": 0},
            [],
        ),
        # unknown keywords on the narrower side
        ({"x-limit": 3}, {"x-limit": 3}, []),
        ({}, {"x-limit": 3}, ['unknown keyword "x-limit" cannot be compared']),
        # annotations
        ({"title": "a", "default": 1}, {"title": "b", "deprecated": True, "examples": [2]}, []),
    ],
)
def test_keyword(wide: Any, narrow: Any, expected: list[str]) -> None:
    assert rules(wide, narrow) == expected


def test_prefix_items_are_compared_where_draft_04_tools_ignore_them() -> None:
    """jsonsubschema (draft-04) calls this pair compatible."""
    assert rules({"prefixItems": [{"type": "string"}]}, {"prefixItems": [{"type": "integer"}]})


def test_one_of_with_a_discriminator_is_decided() -> None:
    card, iban = defs(ORDER_V1)["card"], defs(ORDER_V1)["iban"]
    one_of = {"oneOf": [card, iban]}
    assert narrowings(card, one_of) == []
    assert narrowings({"anyOf": [card, iban]}, one_of) == []
    loose_card = changed(lambda s: s["properties"]["last4"].pop("pattern"), card)
    assert rules(loose_card, one_of) == ['oneOf/0/properties/last4: pattern added ("^[0-9]{4}$")']


# --- soundness ---------------------------------------------------------------------------

_NAMES = st.sampled_from(["a", "b", "c"])
_VALUES: list[Any] = [None, True, False, 0, 1, 2, -1, 3, 0.5, 1.5, 0.01, 2.0, "", "a", "b"]
_VALUES += ["ab", "ba", "aa", "9", "2020-01-01", "a@b.c"]
_SCALARS = st.sampled_from(_VALUES)
_INSTANCES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_NAMES, inner, max_size=3),
    max_leaves=6,
)
_TYPES = st.sampled_from(["null", "boolean", "object", "array", "string", "integer", "number"])
_KEYWORD: Any = st.one_of(
    st.builds(lambda t: {"type": t}, _TYPES),
    st.builds(lambda t: {"type": sorted(set(t))}, st.lists(_TYPES, min_size=1, max_size=3)),
    st.builds(
        lambda v: {"enum": v}, st.lists(_SCALARS, min_size=1, max_size=4, unique_by=json.dumps)
    ),
    st.builds(lambda v: {"const": v}, _SCALARS),
    st.builds(
        lambda k, n: {k: n},
        st.sampled_from(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]),
        st.sampled_from([0, 1, 2, -1, 0.5, 1.5, 3]),
    ),
    st.builds(lambda n: {"multipleOf": n}, st.sampled_from([1, 2, 3, 0.5, 0.25, 0.01, 0.02])),
    st.builds(
        lambda k, n: {k: n},
        st.sampled_from(
            ["minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"]
        ),
        st.integers(0, 3),
    ),
    st.builds(lambda p: {"pattern": p}, st.sampled_from(["^a", "b$", "^[ab]*$", ".*", ""])),
    st.builds(lambda f: {"format": f}, st.sampled_from(["date", "email"])),
    st.just({"uniqueItems": True}),
    st.builds(lambda r: {"required": sorted(set(r))}, st.lists(_NAMES, max_size=2)),
    st.builds(lambda k, v: {"dependentRequired": {k: [v]}}, _NAMES, _NAMES),
    st.just({"$ref": "#/$defs/d"}),
    st.just({"title": "annotation"}),
)


def _merged(parts: list[Schema]) -> Schema:
    return {k: v for part in parts for k, v in part.items()}


_LEAF: Any = st.booleans() | st.lists(_KEYWORD, max_size=3).map(_merged)


def _extend(child: Any) -> Any:
    keyword = st.one_of(
        st.builds(lambda n, c: {"properties": {n: c}}, _NAMES, child),
        st.builds(lambda c: {"additionalProperties": c}, child),
        st.builds(lambda c: {"patternProperties": {"^a": c}}, child),
        st.builds(lambda c: {"propertyNames": c}, child),
        st.builds(lambda c: {"items": c}, child),
        st.builds(lambda a, b: {"prefixItems": [a, b]}, child, child),
        st.builds(
            lambda c, m: {"contains": c, **m},
            child,
            st.sampled_from([{}, {"minContains": 2}, {"maxContains": 1}, {"minContains": 0}]),
        ),
        st.builds(lambda a, b: {"allOf": [a, b]}, child, child),
        st.builds(lambda a, b: {"anyOf": [a, b]}, child, child),
        st.builds(lambda a, b: {"oneOf": [a, b]}, child, child),
        st.builds(lambda c: {"not": c}, child),
        st.builds(lambda a, b, c: {"if": a, "then": b, "else": c}, child, child, child),
        st.builds(lambda n, c: {"dependentSchemas": {n: c}}, _NAMES, child),
        st.builds(lambda c: {"unevaluatedProperties": c}, child),
        st.builds(lambda c: {"unevaluatedItems": c}, child),
        _KEYWORD,
    )
    return st.lists(keyword, min_size=1, max_size=3).map(_merged)


_SCHEMAS: Any = st.recursive(_LEAF, _extend, max_leaves=6)
# What `#/$defs/d` names: no reference in it, so none loops without descending.
_DEFINITIONS: Any = st.recursive(_LEAF, _extend, max_leaves=3).filter(
    lambda s: "$ref" not in json.dumps(s)
)


def _rooted(schema: Any, definition: Any) -> Any:
    return schema if isinstance(schema, bool) else {**schema, "$defs": {"d": definition}}


def _mutated(schema: Any, extra: Any, drop: int) -> Any:
    """`schema` with one keyword dropped and `extra`'s added: close pairs, often included."""
    if isinstance(schema, bool):
        return extra
    out = dict(schema)
    keys = sorted(k for k in out if k != "$defs")
    if drop and keys:
        out.pop(keys[drop % len(keys)])
    if isinstance(extra, dict):
        out.update(extra)
    return out


def _validator(schema: Any) -> InputValidator | None:
    document = schema if isinstance(schema, dict) else ({} if schema else {"not": {}})
    try:
        return InputValidator(document)
    except Exception:  # a generated schema the engine refuses: not a registrable one
        return None


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    wide=_SCHEMAS,
    other=_SCHEMAS,
    wide_definition=_DEFINITIONS,
    other_definition=_DEFINITIONS,
    how=st.integers(0, 3),
    extra=_LEAF,
    drop=st.integers(0, 5),
    instances=st.lists(_INSTANCES, min_size=5, max_size=25),
)
def test_no_narrowings_means_every_instance_of_the_wider_is_valid_under_the_narrower(
    wide: Any,
    other: Any,
    wide_definition: Any,
    other_definition: Any,
    how: int,
    extra: Any,
    drop: int,
    instances: list[Any],
) -> None:
    wide = _rooted(wide, wide_definition)
    if how == 0:
        narrow = _rooted(other, other_definition)
    else:
        narrow = _mutated(wide, extra if how < 3 else {}, drop if how == 1 else drop + 1)
    wide_check, narrow_check = _validator(wide), _validator(narrow)
    if wide_check is None or narrow_check is None:
        return
    found = narrowings(wide, narrow)
    assert bool(found) == bool(forward_breaks(narrow, wide))  # one analysis, two wordings
    if found:
        return
    for instance in instances:
        if wide_check.is_valid(instance):
            assert narrow_check.is_valid(instance), (wide, narrow, instance)


# --- the work bound ------------------------------------------------------------------------


def _chain(depth: int, leaf: Schema) -> Schema:
    """References nested `depth` deep, each a choice of two ways on: 2**depth paths."""
    definitions: Schema = {
        f"d{n}": {
            "anyOf": [
                {"$ref": f"#/$defs/d{n + 1}"},
                {"type": "object", "properties": {"x": {"$ref": f"#/$defs/d{n + 1}"}}},
                {"type": "array", "items": {"$ref": f"#/$defs/d{n + 1}"}},
            ]
        }
        for n in range(depth)
    }
    definitions[f"d{depth}"] = leaf
    return {"$defs": definitions, "$ref": "#/$defs/d0"}


def test_a_pathological_pair_is_too_complex_within_the_bound() -> None:
    wide = _chain(30, {"type": "string"})
    narrow = _chain(30, {"type": "string", "minLength": 1})
    started = time.perf_counter()
    found = narrowings(wide, narrow)
    elapsed = time.perf_counter() - started
    assert [str(i) for i in found] == ["too complex to decide (more than 10000 comparisons)"]
    assert elapsed < 0.2
    assert narrowings(wide, copy.deepcopy(wide)) == []  # equal documents: no work


def test_wide_alternatives_against_wide_alternatives_are_bounded() -> None:
    wide = {"anyOf": [{"type": "object", "required": [f"w{n}"]} for n in range(200)]}
    narrow = {"anyOf": [{"type": "object", "required": [f"n{n}"]} for n in range(200)]}
    started = time.perf_counter()
    found = narrowings(wide, narrow)
    assert time.perf_counter() - started < 0.2
    assert [str(i) for i in found] == ["too complex to decide (more than 10000 comparisons)"]
