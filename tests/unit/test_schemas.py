"""registry.shared.schemas: checking registered JSON Schemas and validating inputs against them.

Formats: jsonschema is installed with its `format-nongpl` extra, so date-time, time, uri,
hostname, duration, json-pointer and the rest are enforced as well as the formats that need
no extra package; the tests below check each against a bad and a good value.
"""

from __future__ import annotations

import math
import socket
import time
import urllib.request
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

from registry.shared import schemas
from registry.shared.model import FieldViolation
from registry.shared.schemas import (
    MAX_DESCRIPTION_LENGTH,
    MAX_INPUT_DEPTH,
    MAX_REPORTED_VIOLATIONS,
    NO_RETRIEVAL_REGISTRY,
    InputValidator,
    InvalidSchemaError,
    check_schema,
    compile_schema,
)
from registry.shared.specs import MAX_INPUT_SCHEMA_DEPTH

ENFORCED_FORMATS = {
    "date": "2024-02-30",
    "date-time": "yesterday",
    "time": "noon",
    "duration": "forever",
    "email": "not-an-email",
    "idn-email": "not-an-email",
    "hostname": "-bad-",
    "idn-hostname": "-bad-",
    "ipv4": "999.1.1.1",
    "ipv6": "zz::zz::1",
    "json-pointer": "no-leading-slash",
    "regex": "(unclosed",
    "uri": "not a uri",
    "uuid": "not-a-uuid",
}
GOOD_FORMAT_VALUES = {
    "date": "2024-02-29",
    "date-time": "2024-02-29T12:00:00Z",
    "time": "12:00:00Z",
    "duration": "P1DT2H",
    "email": "a@example.com",
    "idn-email": "a@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "10.0.0.1",
    "ipv6": "::1",
    "json-pointer": "/a/0",
    "regex": "^a+$",
    "uri": "https://example.com/x",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
}


ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["order_id", "items"],
    "additionalProperties": False,
    "properties": {
        "order_id": {"type": "string", "format": "uuid"},
        "email": {"type": "string", "format": "email"},
        "items": {
            "type": "array",
            "items": {"$ref": "#/$defs/item"},
        },
        "a/b": {"type": "integer"},
    },
    "$defs": {
        "item": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
        }
    },
}


def fields(violations: list[FieldViolation]) -> list[tuple[str, str]]:
    return [(v.field, v.reason) for v in violations]


def nested(depth: int, key: str = "not") -> dict[str, Any]:
    schema: dict[str, Any] = {}
    for _ in range(depth - 1):
        schema = {key: schema}
    return schema


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every test runs with the network and urlopen booby-trapped: any attempt fails it."""
    attempts: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(getattr(args[0], "full_url", repr(args)) if args else "?")
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


# --- check_schema ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        {},
        ORDER_SCHEMA,
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string"},
        {"$ref": "#/$defs/a", "$defs": {"a": {"$dynamicAnchor": "n", "$dynamicRef": "#n"}}},
        {"$id": "order.json", "type": "object"},
        {"pattern": "^[a-z]+$", "format": "date-time", "x-custom-keyword": [1, 2]},
    ],
)
def test_good_schemas(schema: dict[str, Any]) -> None:
    assert check_schema(schema) == []


# Values the meta-schema accepts for some keywords and refuses for others, formats included
# (URIs, URI references, anchors, linear and backtracking patterns).
_VALUES = st.sampled_from(
    [
        "string",
        "strin",
        "object",
        -1,
        0,
        2,
        1.5,
        True,
        None,
        [],
        ["a"],
        ["a", "a"],
        {},
        "order.json",
        "::not a uri",
        "https://example.com/s",
        "#/$defs/a",
        "#a",
        "a b",
        "^[a-z]+$",
        "(?=a)",
        "[a-",
        "(a)\\1",
        "1bad",
        "ok_anchor",
    ]
)
_KEYWORDS = st.sampled_from(
    [
        "type",
        "minLength",
        "maxItems",
        "required",
        "enum",
        "const",
        "$id",
        "$schema",
        "$anchor",
        "$dynamicAnchor",
        "$comment",
        "pattern",
        "format",
        "uniqueItems",
        "multipleOf",
        "title",
        "$vocabulary",
        "x-custom",
        "dependentRequired",
    ]
)
_SUBSCHEMA_KEYWORDS = st.sampled_from(
    ["properties", "patternProperties", "$defs", "items", "not", "allOf", "prefixItems"]
)


def _subschemas(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(["a", "b/c", "^x$", "(?<=x)", "[z-"])
    return st.one_of(
        st.tuples(_SUBSCHEMA_KEYWORDS, st.dictionaries(keys, children, max_size=2)),
        st.tuples(_SUBSCHEMA_KEYWORDS, st.lists(children, max_size=2)),
        st.tuples(_SUBSCHEMA_KEYWORDS, children),
    ).map(lambda pair: {pair[0]: pair[1]})


_SCHEMAS = st.recursive(
    st.dictionaries(_KEYWORDS, _VALUES, max_size=3) | st.booleans(),
    lambda children: st.builds(
        lambda base, sub: {**base, **sub} if isinstance(base, dict) else sub,
        st.dictionaries(_KEYWORDS, _VALUES, max_size=2),
        _subschemas(children),
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(_SCHEMAS)
def test_the_fast_meta_schema_check_agrees_with_jsonschema(schema: Any) -> None:
    """jsonschema-rs decides whether a schema passes the meta-schema; only a refused one goes
    through jsonschema (Python) for its violations. Both must agree, formats included."""
    if not isinstance(schema, dict):
        return
    refused_by_python = bool(list(schemas._meta_validator().iter_errors(schema)))
    assert schemas._meta_check().is_valid(schema) is not refused_by_python, schema


def test_meta_schema_errors_point_into_the_schema() -> None:
    schema = {
        "type": "strin",
        "properties": {"a": {"minimum": "x"}, "b/c": {"required": "yes"}},
        "items": [{"type": 3}],  # reached by several meta-schema paths: reported once
    }
    assert fields(check_schema(schema)) == [
        ("input_schema/items", "invalid_schema"),
        ("input_schema/properties/a/minimum", "invalid_schema"),
        ("input_schema/properties/b~1c/required", "invalid_schema"),
        ("input_schema/type", "invalid_schema"),
    ]
    (violation,) = check_schema(
        {"properties": {"a": {"minimum": "x"}}}, "workflows[1].input_schema"
    )
    assert violation.field == "workflows[1].input_schema/properties/a/minimum"
    assert violation.description == "'x' is not of type 'number'"


def test_invalid_regex_pattern_is_a_schema_error() -> None:
    assert fields(check_schema({"pattern": "(unclosed"})) == [
        ("input_schema/pattern", "invalid_schema")
    ]


def test_structural_rules_come_first() -> None:
    schema = {"type": "strin", "$ref": "http://127.0.0.1:1/x.json"}
    assert fields(check_schema(schema)) == [("input_schema/$ref", "remote_ref_refused")]
    too_deep = ("input_schema" + "/not" * MAX_INPUT_SCHEMA_DEPTH, "too_deep")
    assert fields(check_schema(nested(10_000))) == [too_deep]
    assert fields(check_schema([])) == [("input_schema", "invalid_type")]  # type: ignore[arg-type]
    assert fields(check_schema({"const": float("nan")})) == [("input_schema/const", "invalid_type")]


@pytest.mark.parametrize(
    "ref",
    [
        "http://127.0.0.1:1/x.json",
        "https://127.0.0.1:1/x.json",
        "file:///etc/passwd",
        "//127.0.0.1:1/x",
        "other.json#/a",
        "urn:x",
    ],
)
def test_remote_refs_are_refused_before_anything_is_fetched(
    ref: str, no_network: list[str]
) -> None:
    for keyword in ("$ref", "$dynamicRef"):
        assert fields(check_schema({keyword: ref})) == [
            (f"input_schema/{keyword}", "remote_ref_refused")
        ]
        with pytest.raises(InvalidSchemaError) as raised:
            compile_schema({"properties": {"a": {keyword: ref}}})
        assert fields(raised.value.violations) == [
            (f"input_schema/properties/a/{keyword}", "remote_ref_refused")
        ]
    assert no_network == []


def test_even_a_validator_built_directly_never_fetches(no_network: list[str]) -> None:
    schema = {"$ref": "http://127.0.0.1:1/x.json"}
    direct = Draft202012Validator(schema, registry=NO_RETRIEVAL_REGISTRY)
    with pytest.raises(Unresolvable):
        list(direct.iter_errors({}))
    with pytest.raises(InvalidSchemaError) as raised:
        InputValidator(schema)({})
    assert fields(raised.value.violations) == [("input_schema", "unresolvable_ref")]
    assert no_network == []


def test_jsonschema_alone_would_fetch(no_network: list[str]) -> None:
    """Why NO_RETRIEVAL_REGISTRY exists: without a registry, jsonschema calls urlopen."""
    with pytest.raises(Unresolvable):  # wraps the AssertionError raised by our trap
        list(Draft202012Validator({"$ref": "http://127.0.0.1:1/x.json"}).iter_errors({}))
    assert len(no_network) == 1 and "127.0.0.1:1" in no_network[0]


def test_bundled_meta_schemas_need_no_network(no_network: list[str]) -> None:
    assert check_schema({"$schema": "https://json-schema.org/draft/2020-12/schema"}) == []
    assert compile_schema({"$schema": "https://json-schema.org/draft/2020-12/schema"})(1) == []
    assert no_network == []


# --- compile_schema --------------------------------------------------------------------------


def test_empty_schema_accepts_anything() -> None:
    validate = compile_schema({})
    for instance in [None, 0, -1.5, "", "x" * 10_000, [], [1, [2]], {}, {"a": {"b": None}}, True]:
        assert validate(instance) == []


def test_compiled_once_and_cached_by_canonical_json() -> None:
    first = compile_schema({"type": "object", "properties": {"a": {}, "b": {}}})
    again = compile_schema({"properties": {"b": {}, "a": {}}, "type": "object"})
    assert again is first
    assert compile_schema({"type": "array"}) is not first
    assert schemas.compile_canonical.cache_info().maxsize == schemas.COMPILED_CACHE_SIZE


def test_invalid_schema_is_the_registrants_error() -> None:
    with pytest.raises(InvalidSchemaError) as raised:
        compile_schema({"type": "strin"})
    assert fields(raised.value.violations) == [("input_schema/type", "invalid_schema")]
    assert isinstance(raised.value, ValueError)
    assert "input_schema/type" in str(raised.value)


def test_dangling_local_ref_is_refused_at_registration() -> None:
    schema = {"properties": {"a": {"$ref": "#/$defs/missing"}}}
    assert fields(check_schema(schema)) == [("input_schema/properties/a/$ref", "unresolvable_ref")]
    with pytest.raises(InvalidSchemaError) as raised:
        compile_schema(schema)
    assert fields(raised.value.violations) == [
        ("input_schema/properties/a/$ref", "unresolvable_ref")
    ]


# --- validating inputs -----------------------------------------------------------------------


def test_valid_input() -> None:
    validate = compile_schema(ORDER_SCHEMA)
    order = {
        "order_id": "123e4567-e89b-12d3-a456-426614174000",
        "email": "a@example.com",
        "items": [{"name": "pen", "qty": 2}],
        "a/b": 3,
    }
    assert validate(order) == []


def test_errors_name_the_instance_location_and_keyword() -> None:
    validate = compile_schema(ORDER_SCHEMA)
    violations = validate(
        {
            "order_id": "nope",
            "email": "nope",
            "items": [{"name": 1}, {}, {"name": "x", "qty": 0}, *[{"name": "x"}] * 7, {"qty": 1}],
            "a/b": "3",
            "extra": True,
        }
    )
    assert fields(violations) == [
        ("input", "additionalProperties"),
        ("input/a~1b", "type"),
        ("input/email", "format"),
        ("input/items/0/name", "type"),
        ("input/items/1/name", "required"),
        ("input/items/2/qty", "minimum"),
        ("input/items/10/name", "required"),  # indexes sort numerically
        ("input/order_id", "format"),
    ]
    assert violations[4].description == '"name" is a required property'
    assert violations[-1].description == '"nope" is not a "uuid"'


def test_every_missing_property_is_named() -> None:
    validate = compile_schema({"required": ["b", "a", "c"]})
    assert fields(validate({"c": 1})) == [("input/a", "required"), ("input/b", "required")]
    assert fields(validate([])) == []  # required applies to objects only


def test_violations_are_sorted_then_capped() -> None:
    validate = compile_schema({"type": "array", "items": {"type": "string"}})
    violations = validate(list(range(500)))
    assert len(violations) == MAX_REPORTED_VIOLATIONS
    assert [v.field for v in violations] == [f"input/{i}" for i in range(50)]


def test_messages_quote_a_preview_of_the_input_and_are_capped() -> None:
    (violation,) = compile_schema({"maxLength": 3})("x" * 100_000)
    assert violation.reason == "maxLength"
    assert violation.description == f'"{"x" * 59}... is longer than 3 characters'
    (violation,) = compile_schema({"type": "string"})({"a": ["b" * 100], "c": 1})
    assert violation.description == f'{{"a":["{"b" * 53}... is not of type "string"'
    (violation,) = compile_schema({"pattern": "^" + "a" * 1000})("b")  # quotes the pattern
    assert violation.reason == "pattern"
    assert len(violation.description) == MAX_DESCRIPTION_LENGTH
    assert violation.description.startswith('"b" does not match "^aaa')
    assert violation.description.endswith("...")


@pytest.mark.parametrize("name", sorted(ENFORCED_FORMATS))
def test_enforced_formats(name: str) -> None:
    assert name in Draft202012Validator.FORMAT_CHECKER.checkers
    validate = compile_schema({"format": name})
    assert fields(validate(ENFORCED_FORMATS[name])) == [("input", "format")]
    assert validate(GOOD_FORMAT_VALUES[name]) == []
    assert validate(42) == []  # formats apply to strings only


def test_non_json_input_is_reported_not_raised() -> None:
    validate = compile_schema({"type": "object"})
    assert fields(validate({"a": float("nan"), "b": {1, 2}, "c": [b"x"]})) == [
        ("input/a", "invalid_type"),
        ("input/b", "invalid_type"),
        ("input/c/0", "invalid_type"),
    ]
    assert fields(validate({1: "x"})) == [("input", "invalid_type")]


def test_input_size_is_bounded() -> None:
    validate = compile_schema({})
    assert validate("x" * (schemas.MAX_INPUT_BYTES - 2)) == []
    assert fields(validate("x" * (schemas.MAX_INPUT_BYTES - 1))) == [("input", "too_long")]


def test_deep_input_is_bounded() -> None:
    recursive = compile_schema({"type": "array", "items": {"$ref": "#"}})
    value: list[Any] = []
    for _ in range(MAX_INPUT_DEPTH - 1):
        value = [value]
    assert recursive(value) == []  # as deep as protobuf allows: fine
    for _ in range(10_000):
        value = [value]
    (violation,) = recursive(value)
    assert violation.reason == "too_deep"


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ({"allOf": [{"$ref": "#"}]}, "input_schema/allOf/0/$ref"),
        (
            {
                "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"anyOf": [{"$ref": "#/$defs/a"}]}},
                "not": {"$ref": "#/$defs/a"},
            },
            "input_schema/$defs/b/anyOf/0/$ref",
        ),
        ({"$defs": {"a": {"not": {"$ref": "#/$defs/a"}}}}, "input_schema/$defs/a/not/$ref"),
    ],
)
def test_reference_cycles_are_refused_at_registration(schema: dict[str, Any], field: str) -> None:
    """The engine would call such a schema satisfied; the registry refuses the endless loop."""
    assert fields(check_schema(schema)) == [(field, "recursive_ref")]
    with pytest.raises(InvalidSchemaError):
        compile_schema(schema)


def test_recursion_that_descends_into_the_input_is_fine() -> None:
    tree = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"children": {"items": {"$ref": "#/$defs/node"}}},
                "anyOf": [{"required": ["children"]}, {"required": ["leaf"]}],
            }
        },
        "$ref": "#/$defs/node",
    }
    assert check_schema(tree) == []
    validate = compile_schema(tree)
    assert validate({"children": [{"leaf": 1}, {"children": []}]}) == []
    assert fields(validate({"children": [{}]})) == [("input/children/0", "anyOf")]


def test_deep_schema_within_the_limit_compiles_and_validates() -> None:
    validate = compile_schema(nested(MAX_INPUT_SCHEMA_DEPTH))
    assert [v.reason for v in validate(1)] == ["not"]


# --- hostile input never raises --------------------------------------------------------------


def nasty() -> list[Any]:
    deep: list[Any] = []
    for _ in range(10_000):
        deep = [deep]
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    return [
        None,
        True,
        2**64,
        10**5000,
        float("nan"),
        float("inf"),
        "\ud800",
        "x" * 100_000,  # bigger is fine but slow with "format": "regex" (re.compile)
        b"x",
        {1, 2},
        (1,),
        object(),
        [],
        {},
        {None: 1},
        {"$ref": "http://127.0.0.1:1/x"},
        {"$ref": "#/nowhere"},
        {"$id": "file:///etc/passwd"},
        {"$schema": "http://127.0.0.1:1/meta"},
        {"type": "strin"},
        {"pattern": "(("},
        {"type": ["string", 3]},
        {"enum": list(range(100_000))},
        {"allOf": [{"$ref": "#"}]},
        nested(10_000),
        {"items": deep},
        deep,
        cyclic,
        {"properties": {"\ud800": {"type": "string"}}},
    ]


def test_check_schema_never_raises() -> None:
    for schema in nasty():
        violations = check_schema(schema)
        assert isinstance(violations, list)
        for v in violations:
            assert isinstance(v, FieldViolation)
            (v.field + v.description).encode("utf-8")


def test_compile_schema_raises_only_invalid_schema_error() -> None:
    for schema in nasty():
        try:
            validate = compile_schema(schema)
        except InvalidSchemaError as error:
            assert error.violations
            continue
        for instance in nasty():
            try:
                violations = validate(instance)
            except InvalidSchemaError:
                continue
            assert isinstance(violations, list)
            assert len(violations) <= MAX_REPORTED_VIOLATIONS
            for v in violations:
                (v.field + v.description + v.reason).encode("utf-8")


def test_validators_never_raise_on_nasty_instances() -> None:
    for schema in [{}, ORDER_SCHEMA, {"format": "regex"}, {"items": {"$ref": "#"}}]:
        validate = compile_schema(schema)
        for instance in nasty():
            violations = validate(instance)
            assert all(isinstance(v, FieldViolation) for v in violations)


# --- the linear-time regex engine ------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ({"pattern": "(?=a)b"}, "input_schema/pattern"),
        ({"properties": {"s": {"pattern": "(?<!x)y"}}}, "input_schema/properties/s/pattern"),
        ({"patternProperties": {"^(a)\\1$": {}}}, "input_schema/patternProperties/^(a)\\1$"),
        ({"propertyNames": {"pattern": "(?!a)"}}, "input_schema/propertyNames/pattern"),
        ({"$defs": {"unused": {"pattern": "(a)\\1"}}}, "input_schema/$defs/unused/pattern"),
    ],
)
def test_patterns_needing_backtracking_are_refused_at_their_place(
    schema: dict[str, Any], field: str
) -> None:
    (violation,) = check_schema(schema)
    assert (violation.field, violation.reason) == (field, "unsupported_pattern")
    assert "lookaround and backreferences are not supported" in violation.description
    assert "linear-time" in violation.description
    with pytest.raises(InvalidSchemaError):
        compile_schema(schema)


def test_every_refused_pattern_is_reported_with_other_schema_errors() -> None:
    schema = {
        "type": "strin",
        "properties": {"a": {"pattern": "(?=a)"}, "b": {"pattern": "(unclosed"}},
        "patternProperties": {"(?<=x)": {}, "^ok$": {}},
    }
    assert fields(check_schema(schema)) == [
        ("input_schema/patternProperties/(?<=x)", "unsupported_pattern"),
        ("input_schema/properties/a/pattern", "unsupported_pattern"),
        ("input_schema/properties/b/pattern", "invalid_schema"),
        ("input_schema/type", "invalid_schema"),
    ]


def test_a_pattern_outside_the_meta_schema_is_refused_when_a_reference_compiles_it() -> None:
    schema = {"x-data": {"pattern": "(?=a)"}, "not": {"$ref": "#/x-data"}}
    assert fields(check_schema(schema)) == [("input_schema/x-data/pattern", "unsupported_pattern")]


@pytest.mark.parametrize("pattern", ["^(a+)+$", "^(a|aa)*$", "(\\w+\\s?)*$", "^\\p{L}+$", "a{2,5}"])
def test_backtracking_bombs_compile_and_match_in_linear_time(pattern: str) -> None:
    assert check_schema({"pattern": pattern}) == []
    validate = compile_schema({"properties": {"s": {"pattern": pattern}}})
    started = time.perf_counter()
    violations = validate({"s": "a" * 100_000 + "!"})
    assert time.perf_counter() - started < 0.5  # Python's re: ~2 s at 25 characters
    assert [v.reason for v in violations] in (["pattern"], [])


def test_pattern_problem_tells_unsupported_from_invalid() -> None:
    assert schemas.pattern_problem("^[a-z]+$") is None
    assert schemas.pattern_problem("(?=a)") == ("unsupported_pattern", schemas.UNSUPPORTED_PATTERN)
    assert schemas.pattern_problem("(") == ("invalid_schema", schemas.INVALID_PATTERN)
    assert schemas.pattern_problem("a{1000}{1000}") == ("invalid_schema", schemas.INVALID_PATTERN)


# --- formats ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "valid"),
    [
        ("date-time", "1998-12-31T23:59:60Z", False),  # Python's datetime can't hold a leap second
        ("time", "23:59:60Z", False),
        ("duration", "PT1.5S", True),  # as pydantic writes a timedelta
        ("email", "a..b@example.com", False),  # jsonschema-rs is stricter than jsonschema here
        ("hostname", "example.com.", False),
        ("regex", "\\Z", False),  # ECMA 262 syntax, not Python's
        ("regex", "(?=a)", True),  # a regex value is only parsed, never run
    ],
)
def test_format_differences_between_the_engines_are_resolved_strictly(
    name: str, value: str, valid: bool
) -> None:
    assert (compile_schema({"format": name})(value) == []) is valid


@pytest.mark.parametrize("name", schemas.PYTHON_FORMATS)
def test_python_checked_formats_agree_with_jsonschema(name: str) -> None:
    values = [
        "2024-02-29T12:00:00Z", "2024-02-29T12:00:00.5+05:30", "2024-02-30T12:00:00Z",
        "1998-12-31T23:59:60Z", "12:00:00Z", "23:59:60Z", "12:00:00", "noon", "P1D", "PT1.5S",
        "P1W", "P", "PT", "forever", "", "P1Y2M3DT4H5M6S", "2024-02-29t12:00:00z",
    ]  # fmt: skip
    checker = Draft202012Validator.FORMAT_CHECKER
    validate = compile_schema({"format": name})
    for value in values:
        assert (validate(value) == []) is checker.conforms(value, name), value


# --- the static cost bound -------------------------------------------------------------------


def chain(links: int) -> dict[str, Any]:
    """Each link is `anyOf` two references to the next: 2**links paths to the last."""
    defs: dict[str, Any] = {
        f"l{i}": {"anyOf": [{"$ref": f"#/$defs/l{i + 1}"}, {"$ref": f"#/$defs/l{i + 1}"}]}
        for i in range(links)
    }
    defs[f"l{links}"] = {"type": "string"}
    return {"$ref": "#/$defs/l0", "$defs": defs}


def test_cost_is_the_expanded_size_of_the_schema() -> None:
    plain = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert 30 < schemas.schema_cost(plain) < 100
    referenced = {"properties": {"a": {"$ref": "#/$defs/s"}, "b": {"$ref": "#/$defs/s"}}}
    referenced["$defs"] = {"s": {"type": "string", "pattern": "x" * 1000}}
    assert 3000 < schemas.schema_cost(referenced) < 3300  # the target counted per reference
    assert schemas.schema_cost(chain(10)) > 2**10 * 20
    assert schemas.schema_cost(chain(30)) > 2**30 * 20
    for unbounded in [
        {"items": {"$ref": "#"}},  # recursion: bounded by the input's depth, not statically
        {"$ref": "#/$defs/missing"},
        {"$defs": {"a": {"$anchor": "a"}}, "$ref": "#a"},
        {"properties": {"a": {"$id": "other.json", "$ref": "#/x"}}},
        {"$dynamicRef": "#x"},
    ]:
        assert schemas.schema_cost(unbounded) == math.inf, unbounded
    assert compile_schema(plain).cost == schemas.schema_cost(plain)


# --- inputs the engine must not see ----------------------------------------------------------


def test_lone_surrogates_are_refused_before_the_engine() -> None:
    validate = compile_schema({})
    assert fields(validate({"a": "\ud800", "b": {"\udfff": 1}, "c": "ok é"})) == [
        ("input/a", "invalid_characters"),
        ("input/b", "invalid_characters"),
    ]
    assert fields(check_schema({"properties": {"\ud800": {}}})) == [
        ("input_schema/properties", "invalid_characters")
    ]
