"""registry.shared.specs: structural validation of workflow specs and worker registrations.

Everything here must hold for hostile input: wrong types anywhere, huge or deeply nested
values, non-JSON values. The functions report violations; they never raise.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from registry.shared import specs
from registry.shared.model import (
    FieldViolation,
    InputWarningSpec,
    SearchAttributeSpec,
    WorkerRegistration,
    WorkflowSpec,
)
from registry.shared.specs import (
    MAX_INPUT_SCHEMA_BYTES,
    MAX_INPUT_SCHEMA_DEPTH,
    MAX_VIOLATIONS,
    SEARCH_ATTRIBUTE_TYPES,
    SYSTEM_SEARCH_ATTRIBUTES,
    effective_ttl,
    json_pointer,
    validate_input_schema,
    validate_json_value,
    validate_worker_registration,
    validate_workflow_spec,
)

# --- helpers ---------------------------------------------------------------------------------


def good_spec(**changes: Any) -> WorkflowSpec:
    spec = WorkflowSpec(
        workflow_type="orders.process.v1",
        task_queue="orders",
        version="1.2.3",
        description="Processes an order.\nSecond line\twith a tab.",
        input_schema={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "orders.json",
            "type": "object",
            "required": ["order_id"],
            "properties": {
                "order_id": {"type": "string", "format": "uuid"},
                "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
            },
            "$defs": {"item": {"type": "object", "properties": {"sku": {"type": "string"}}}},
        },
        schedule_input_warnings=[InputWarningSpec("order_id", "no order id: nothing to do")],
        search_attributes=[
            SearchAttributeSpec(f"Attr{kind}", kind, "a description")
            for kind in SEARCH_ATTRIBUTE_TYPES
        ],
        labels={"team": "payments", "app.kubernetes.io/name": "orders", "tier": ""},
    )
    return replace(spec, **changes)


def good_registration(**changes: Any) -> WorkerRegistration:
    registration = WorkerRegistration(
        worker_id="orders-worker@host-1:1234",
        task_queue="orders",
        environment="prod-eu_1.a",
        labels={"zone": "eu-west-1a"},
        ttl_seconds=60,
        workflows=[good_spec(), good_spec(workflow_type="orders.refund.v1", task_queue="")],
    )
    return replace(registration, **changes)


def spec_violations(**changes: Any) -> dict[str, str]:
    violations = validate_workflow_spec(good_spec(**changes), require_task_queue=True)
    return {v.field: v.reason for v in violations}


def registration_violations(**changes: Any) -> dict[str, str]:
    return {v.field: v.reason for v in validate_worker_registration(good_registration(**changes))}


def schema_violations(schema: object) -> dict[str, str]:
    return {v.field: v.reason for v in validate_input_schema(schema)}


def nested(depth: int, key: str = "not") -> dict[str, Any]:
    """A schema `depth` objects deep, built without recursion."""
    schema: dict[str, Any] = {}
    for _ in range(depth - 1):
        schema = {key: schema}
    return schema


def assert_well_formed(violations: object) -> None:
    assert isinstance(violations, list)
    assert len(violations) <= MAX_VIOLATIONS
    for v in violations:
        assert isinstance(v, FieldViolation)
        assert v.field and v.description and v.reason
        # Goes into a protobuf string: must encode as UTF-8 (no lone surrogates).
        (v.field + v.description + v.reason).encode("utf-8")
        assert len(v.field) < 5000 and len(v.description) < 1000


# --- the happy path --------------------------------------------------------------------------


def test_good_spec_and_registration_have_no_violations() -> None:
    assert validate_workflow_spec(good_spec(), require_task_queue=True) == []
    assert validate_worker_registration(good_registration()) == []


def test_minimal_spec_and_registration() -> None:
    assert validate_workflow_spec(WorkflowSpec("a"), require_task_queue=False) == []
    registration = WorkerRegistration("w", "q", workflows=[WorkflowSpec("a")])
    assert validate_worker_registration(registration) == []


def test_results_are_deterministic() -> None:
    bad = good_spec(workflow_type="", labels={"-x": "\x00", "y": 1}, input_schema={"$ref": "x"})
    first = validate_workflow_spec(bad, "w", require_task_queue=True)
    assert first and first == validate_workflow_spec(bad, "w", require_task_queue=True)


# --- identifiers and text --------------------------------------------------------------------


@pytest.mark.parametrize("field", ["workflow_type", "task_queue"])
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "required"),
        ("   ", "required"),
        ("x" * 200, None),
        ("x" * 201, "too_long"),
        ("a b", "invalid_characters"),
        ("a\tb", "invalid_characters"),
        ("a\nb", "invalid_characters"),
        ("a\x00b", "invalid_characters"),
        ("a\x7fb", "invalid_characters"),
        ("a\u200bb", "invalid_characters"),  # zero-width space
        ("a\u00a0b", "invalid_characters"),  # no-break space
        ("a\ud800b", "invalid_characters"),  # lone surrogate
        ("caf\u00e9.v1/x:y@z", None),
        (None, "invalid_type"),
        (5, "invalid_type"),
        (b"abc", "invalid_type"),
        (["abc"], "invalid_type"),
        ({"a": 1}, "invalid_type"),
    ],
)
def test_identifiers(field: str, value: object, reason: str | None) -> None:
    assert spec_violations(**{field: value}).get(field) == reason


@pytest.mark.parametrize("field", ["worker_id", "task_queue"])
def test_registration_identifiers(field: str) -> None:
    assert registration_violations(**{field: ""})[field] == "required"
    assert registration_violations(**{field: "a b"})[field] == "invalid_characters"
    assert registration_violations(**{field: "x" * 201})[field] == "too_long"
    assert registration_violations(**{field: 7})[field] == "invalid_type"


def test_task_queue_is_optional_unless_required() -> None:
    spec = good_spec(task_queue="")
    assert validate_workflow_spec(spec, require_task_queue=False) == []
    assert [v.reason for v in validate_workflow_spec(spec, require_task_queue=True)] == ["required"]
    bad = good_spec(task_queue="has space")
    assert validate_workflow_spec(bad, require_task_queue=False)[0].reason == "invalid_characters"


@pytest.mark.parametrize(("field", "limit"), [("version", 100), ("description", 2000)])
def test_free_text_limits(field: str, limit: int) -> None:
    assert spec_violations(**{field: "v" * limit}) == {}
    assert spec_violations(**{field: "v" * (limit + 1)}) == {field: "too_long"}
    assert spec_violations(**{field: "a\x1bb"}) == {field: "invalid_characters"}
    assert spec_violations(**{field: 1.5}) == {field: "invalid_type"}


def test_description_may_have_newlines_but_version_may_not() -> None:
    assert spec_violations(description="a\r\nb\tc") == {}
    assert spec_violations(version="1\n2") == {"version": "invalid_characters"}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", None),
        ("prod", None),
        ("Prod-EU_1.a", None),
        ("e" * 100, None),
        ("e" * 101, "too_long"),
        ("prod eu", "invalid_characters"),
        ("prod/eu", "invalid_characters"),
        ("pr\u00f6d", "invalid_characters"),
        (None, "invalid_type"),
    ],
)
def test_environment(value: object, reason: str | None) -> None:
    assert registration_violations(environment=value).get("environment") == reason


def test_path_prefixes_every_field() -> None:
    violations = validate_workflow_spec(
        good_spec(version=1, labels={"a b": "x"}), "workflows[3]", require_task_queue=True
    )
    assert {v.field for v in violations} == {"workflows[3].version", 'workflows[3].labels["a b"]'}


# --- labels ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("a", None),
        ("app.kubernetes.io/name", None),
        ("A9_b-c.d/e", None),
        ("k" * 63, None),
        ("k" * 64, "too_long"),
        ("", "required"),
        ("-a", "invalid_characters"),
        ("a-", "invalid_characters"),
        ("_a", "invalid_characters"),
        ("a b", "invalid_characters"),
        ("a:b", "invalid_characters"),
        ("\u00e9", "invalid_characters"),
    ],
)
def test_label_keys(key: str, reason: str | None) -> None:
    field = f"labels[{json.dumps(key)}]"
    assert spec_violations(labels={key: "v"}).get(field) == reason


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", None),
        ("v" * 256, None),
        ("v" * 257, "too_long"),
        ("a b / c:d", None),
        ("a\nb", "invalid_characters"),
        (None, "invalid_type"),
        (3, "invalid_type"),
        (["v"], "invalid_type"),
    ],
)
def test_label_values(value: object, reason: str | None) -> None:
    assert spec_violations(labels={"k": value}).get('labels["k"]') == reason


def test_label_count_and_container_type() -> None:
    assert spec_violations(labels={f"k{i}": "v" for i in range(64)}) == {}
    assert spec_violations(labels={f"k{i}": "v" for i in range(65)}) == {"labels": "too_long"}
    assert spec_violations(labels=["a", "b"]) == {"labels": "invalid_type"}
    assert spec_violations(labels="a=b") == {"labels": "invalid_type"}
    assert registration_violations(labels=None) == {"labels": "invalid_type"}


def test_ten_thousand_labels_give_one_violation_quickly() -> None:
    labels = {f"bad key {i}\x00": object() for i in range(10_000)}
    started = time.perf_counter()
    violations = validate_workflow_spec(good_spec(labels=labels), require_task_queue=True)
    assert [(v.field, v.reason) for v in violations] == [("labels", "too_long")]
    assert time.perf_counter() - started < 1


def test_non_string_label_keys() -> None:
    violations = spec_violations(labels={5: "v", 10**5000: "v", None: "v"})
    assert violations == {
        'labels["5"]': "invalid_type",
        'labels["<int>"]': "invalid_type",
        'labels["<NoneType>"]': "invalid_type",
    }


def test_huge_label_key_is_shortened_in_the_field_path() -> None:
    (violation,) = validate_workflow_spec(
        good_spec(labels={"k" * 1_000_000: "v"}), require_task_queue=True
    )
    assert violation.reason == "too_long"
    assert violation.field == 'labels["' + "k" * 64 + '..."]'


# --- search attributes -----------------------------------------------------------------------


def attribute_violations(*attributes: object) -> dict[str, str]:
    return spec_violations(search_attributes=list(attributes))


@pytest.mark.parametrize("kind", SEARCH_ATTRIBUTE_TYPES)
def test_every_search_attribute_type_is_accepted(kind: str) -> None:
    assert attribute_violations(SearchAttributeSpec("CustomerId", kind)) == {}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a", None),
        ("Customer_Id2", None),
        ("A" + "b" * 63, None),
        ("A" + "b" * 64, "invalid_characters"),
        ("", "required"),
        ("2fast", "invalid_characters"),
        ("_x", "invalid_characters"),
        ("has-dash", "invalid_characters"),
        ("has space", "invalid_characters"),
        ("WorkflowId", "not_allowed"),
        ("workflowid", "not_allowed"),
        ("EXECUTIONSTATUS", "not_allowed"),
        ("BuildIds", "not_allowed"),
        ("TemporalAnything", "not_allowed"),
        ("temporalLowercase", "not_allowed"),
        (None, "invalid_type"),
        (1, "invalid_type"),
    ],
)
def test_search_attribute_names(name: object, reason: str | None) -> None:
    field = "search_attributes[0].name"
    assert attribute_violations(SearchAttributeSpec(name, "Keyword")).get(field) == reason  # type: ignore[arg-type]


@pytest.mark.parametrize("name", SYSTEM_SEARCH_ATTRIBUTES)
def test_every_system_attribute_is_refused(name: str) -> None:
    violations = attribute_violations(SearchAttributeSpec(name.lower(), "Keyword"))
    assert violations == {"search_attributes[0].name": "not_allowed"}


def test_search_attribute_type_suggests_the_right_spelling() -> None:
    violations = validate_workflow_spec(
        good_spec(search_attributes=[SearchAttributeSpec("Customer", "keywordlist")]),
        require_task_queue=True,
    )
    assert [(v.field, v.reason) for v in violations] == [
        ("search_attributes[0].type", "not_allowed")
    ]
    assert "did you mean 'KeywordList'?" in violations[0].description


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("", "required"),
        ("String", "not_allowed"),
        ("x" * 10_000, "not_allowed"),
        (3, "invalid_type"),
    ],
)
def test_search_attribute_bad_types(kind: object, reason: str) -> None:
    violations = attribute_violations(SearchAttributeSpec("Customer", kind))  # type: ignore[arg-type]
    assert violations == {"search_attributes[0].type": reason}


def test_search_attribute_duplicates_ignore_case() -> None:
    violations = attribute_violations(
        SearchAttributeSpec("Customer", "Keyword"),
        SearchAttributeSpec("Other", "Int"),
        SearchAttributeSpec("CUSTOMER", "Keyword"),
    )
    assert violations == {"search_attributes[2].name": "duplicate"}


def test_search_attribute_list_shape() -> None:
    assert attribute_violations(*[SearchAttributeSpec(f"A{i}", "Int") for i in range(32)]) == {}
    many = [SearchAttributeSpec(f"A{i}", "Int") for i in range(33)]
    assert attribute_violations(*many) == {"search_attributes": "too_long"}
    assert spec_violations(search_attributes={"name": "A"}) == {"search_attributes": "invalid_type"}
    assert attribute_violations({"name": "A", "type": "Int"}, "A", None) == {
        "search_attributes[0]": "invalid_type",
        "search_attributes[1]": "invalid_type",
        "search_attributes[2]": "invalid_type",
    }
    long_description = SearchAttributeSpec("A", "Int", "d" * 501)
    assert attribute_violations(long_description) == {
        "search_attributes[0].description": "too_long"
    }


# --- schedule input warnings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("warning", "expected"),
    [
        (InputWarningSpec("a", "m"), {}),
        (InputWarningSpec("f" * 200, "m" * 500), {}),
        (InputWarningSpec("", "m"), {"schedule_input_warnings[0].field": "required"}),
        (InputWarningSpec(" \t", "m"), {"schedule_input_warnings[0].field": "required"}),
        (InputWarningSpec("a", "  "), {"schedule_input_warnings[0].message": "required"}),
        (InputWarningSpec("f" * 201, "m"), {"schedule_input_warnings[0].field": "too_long"}),
        (InputWarningSpec("a", "m" * 501), {"schedule_input_warnings[0].message": "too_long"}),
        (
            InputWarningSpec(1, None),
            {  # type: ignore[arg-type]
                "schedule_input_warnings[0].field": "invalid_type",
                "schedule_input_warnings[0].message": "invalid_type",
            },
        ),
        ({"field": "a", "message": "m"}, {"schedule_input_warnings[0]": "invalid_type"}),
    ],
)
def test_schedule_input_warnings(warning: object, expected: dict[str, str]) -> None:
    assert spec_violations(schedule_input_warnings=[warning]) == expected


def test_schedule_input_warning_count() -> None:
    warnings = [InputWarningSpec(f"f{i}", "m") for i in range(65)]
    assert spec_violations(schedule_input_warnings=warnings[:64]) == {}
    assert spec_violations(schedule_input_warnings=warnings) == {
        "schedule_input_warnings": "too_long"
    }
    assert spec_violations(schedule_input_warnings="x") == {
        "schedule_input_warnings": "invalid_type"
    }


# --- input schema ----------------------------------------------------------------------------


@pytest.mark.parametrize("schema", [[], "{}", None, 1, True, ({},)])
def test_input_schema_must_be_an_object(schema: object) -> None:
    assert schema_violations(schema) == {"input_schema": "invalid_type"}
    assert spec_violations(input_schema=schema) == {"input_schema": "invalid_type"}


def test_empty_schema_is_fine() -> None:
    assert validate_input_schema({}) == []


@pytest.mark.parametrize(
    "ref",
    [
        "http://127.0.0.1:1/x.json",
        "https://example.com/schema.json#/a",
        "file:///etc/passwd",
        "//host/x",
        "other.json#/a",
        "other.json",
        "urn:x",
        "/etc/passwd",
        "",
    ],
)
@pytest.mark.parametrize("keyword", ["$ref", "$dynamicRef"])
def test_non_local_references_are_refused(keyword: str, ref: str) -> None:
    schema = {"properties": {"a": {"items": [{}, {keyword: ref}]}}}
    assert schema_violations(schema) == {
        f"input_schema/properties/a/items/1/{keyword}": "remote_ref_refused"
    }
    assert schema_violations({keyword: ref}) == {f"input_schema/{keyword}": "remote_ref_refused"}


@pytest.mark.parametrize("ref", ["#", "#/$defs/a", "#/properties/a~1b", "#anchor"])
def test_local_references_are_accepted(ref: str) -> None:
    assert schema_violations({"$ref": ref, "$defs": {"a": {"$dynamicRef": ref}}}) == {}


def test_a_property_named_like_a_keyword_is_not_a_keyword() -> None:
    schema = {"properties": {"$ref": {"type": "string"}, "$id": {}, "$schema": {}}}
    assert schema_violations(schema) == {}


@pytest.mark.parametrize(
    ("dialect", "reason"),
    [
        ("https://json-schema.org/draft/2020-12/schema", None),
        ("https://json-schema.org/draft/2020-12/schema#", None),
        ("http://json-schema.org/draft-07/schema#", "not_allowed"),
        ("https://json-schema.org/draft/2019-09/schema", "not_allowed"),
        ("http://127.0.0.1:1/meta.json", "not_allowed"),
    ],
)
def test_schema_dialect(dialect: str, reason: str | None) -> None:
    assert schema_violations({"$schema": dialect}).get("input_schema/$schema") == reason


@pytest.mark.parametrize(
    ("identifier", "reason"),
    [
        ("orders.json", None),
        ("#anchor", None),
        ("sub/dir/item.json", None),
        ("http://example.com/x.json", "not_allowed"),
        ("https://example.com/x.json", "not_allowed"),
        ("file:///etc/passwd", "not_allowed"),
        ("urn:uuid:1234", "not_allowed"),
        ("//host/x", "not_allowed"),
    ],
)
def test_schema_ids(identifier: str, reason: str | None) -> None:
    schema = {"$defs": {"a": {"$id": identifier}}}
    assert schema_violations(schema).get("input_schema/$defs/a/$id") == reason


def test_schema_depth_limit() -> None:
    assert schema_violations(nested(MAX_INPUT_SCHEMA_DEPTH)) == {}
    violations = schema_violations(nested(MAX_INPUT_SCHEMA_DEPTH + 1))
    assert violations == {"input_schema" + "/not" * MAX_INPUT_SCHEMA_DEPTH: "too_deep"}


@pytest.mark.parametrize("key", ["not", "items"])
def test_ten_thousand_deep_schema_does_not_recurse(key: str) -> None:
    schema = nested(10_000, key)
    assert list(schema_violations(schema).values()) == ["too_deep"]
    violations = validate_workflow_spec(good_spec(input_schema=schema), require_task_queue=True)
    assert [v.reason for v in violations] == ["too_deep"]
    registration = good_registration(workflows=[good_spec(input_schema=schema)])
    assert [v.reason for v in validate_worker_registration(registration)] == ["too_deep"]


def test_deep_arrays_count_too() -> None:
    value: list[Any] = []
    for _ in range(10_000):
        value = [value]
    assert list(schema_violations({"enum": value}).values()) == ["too_deep"]


def test_schema_size_is_measured_like_json_dumps() -> None:
    def schema_of_size(size: int) -> dict[str, Any]:
        schema = {"description": ""}
        schema["description"] = "d" * (size - len(json.dumps(schema)))
        assert len(json.dumps(schema)) == size
        return schema

    assert schema_violations(schema_of_size(MAX_INPUT_SCHEMA_BYTES)) == {}
    assert schema_violations(schema_of_size(MAX_INPUT_SCHEMA_BYTES + 1)) == {
        "input_schema": "too_long"
    }
    # Escapes count as json.dumps writes them: "\u00e9" is six bytes, not one.
    escaped = {"description": "\u00e9" * (MAX_INPUT_SCHEMA_BYTES // 6)}
    assert schema_violations(escaped) == {"input_schema": "too_long"}


def test_size_matches_json_dumps_for_assorted_values() -> None:
    values: list[Any] = [
        {},
        [],
        {"a": [1, -2, 3.25, 1e300, -0.0, True, False, None, 'x"\\\n\u2028\u00e9']},
        {"nested": {"deeper": [[], [{}], {"k": []}]}, "": "", "~/": 2**53},
        [{"$ref": "#"}] * 3,
    ]
    for value in values:
        assert specs._scan_json(value, "", 64, None) == ([], len(json.dumps(value)))


def test_huge_schema_stops_early() -> None:
    schema = {"enum": list(range(5_000_000))}
    started = time.perf_counter()
    assert schema_violations(schema) == {"input_schema": "too_long"}
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), float("-inf"), {1, 2}, b"bytes", object(), (1, 2), 1 + 2j],
)
def test_non_json_values_in_the_schema(value: object) -> None:
    assert schema_violations({"properties": {"a": {"const": value}}}) == {
        "input_schema/properties/a/const": "invalid_type"
    }


def test_non_string_keys_and_huge_integers_in_the_schema() -> None:
    assert schema_violations({"properties": {1: {}}}) == {"input_schema/properties": "invalid_type"}
    # Struct numbers are doubles: integers are exact up to 2**53, and larger ones are refused.
    assert schema_violations({"maximum": 2**53, "minimum": -(2**53)}) == {}
    assert schema_violations({"maximum": 2**53 + 1}) == {"input_schema/maximum": "out_of_range"}
    assert schema_violations({"maximum": 10**5000}) == {"input_schema/maximum": "out_of_range"}


def test_schema_pointers_are_escaped() -> None:
    schema = {"properties": {"a/b~c": {"$ref": "x"}}}
    assert schema_violations(schema) == {
        "input_schema/properties/a~1b~0c/$ref": "remote_ref_refused"
    }


def test_custom_field_name_for_schema_violations() -> None:
    (violation,) = validate_input_schema({"$ref": "x"}, "workflows[2].input_schema")
    assert violation.field == "workflows[2].input_schema/$ref"


def test_validate_json_value() -> None:
    def check(value: object, max_depth: int = 3, max_bytes: int = 1000) -> list[tuple[str, str]]:
        violations = validate_json_value(value, "input", max_depth=max_depth, max_bytes=max_bytes)
        return [(v.field, v.reason) for v in violations]

    assert check({"a": [1, "x", None, 2.5]}) == []
    assert check({"a": [[[1]]]}) == [("input/a/0/0", "too_deep")]
    assert check({"a": float("nan")}) == [("input/a", "invalid_type")]
    assert check("x" * 10, max_bytes=12) == []
    assert check("x" * 11, max_bytes=12) == [("input", "too_long")]


def test_shared_structures_cannot_blow_up_the_walk() -> None:
    """A value sharing sub-objects (impossible from JSON, easy in Python) can be exponentially
    large when walked; the size limit still stops it early."""
    value: list[Any] = []
    for _ in range(MAX_INPUT_SCHEMA_DEPTH - 2):
        value = [value, value]  # 2**30 nodes as a tree, within the depth limit
    started = time.perf_counter()
    assert validate_json_value(value, "input", max_depth=100, max_bytes=10_000) == [
        FieldViolation("input", "must be at most 10000 bytes as JSON", "too_long")
    ]
    assert list(schema_violations({"enum": value}).values()) == ["too_long"]
    assert time.perf_counter() - started < 1


def test_json_pointer() -> None:
    assert json_pointer("input", ["items", 0, "a/b", "~"]) == "input/items/0/a~1b/~0"
    assert json_pointer("input", []) == "input"
    assert json_pointer("x", ["\ud800"]) == "x/\\ud800"


# --- worker registrations --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ttl", "reason"),
    [
        (0, None),
        (5, None),
        (60, None),
        (86_400, None),
        (4, "out_of_range"),
        (1, "out_of_range"),
        (-1, "out_of_range"),
        (86_401, "out_of_range"),
        (10**100, "out_of_range"),
        (True, "invalid_type"),
        (False, "invalid_type"),
        ("60", "invalid_type"),
        (60.0, "invalid_type"),
        (None, "invalid_type"),
    ],
)
def test_ttl(ttl: object, reason: str | None) -> None:
    assert registration_violations(ttl_seconds=ttl).get("ttl_seconds") == reason


def test_effective_ttl() -> None:
    assert effective_ttl(0) == specs.DEFAULT_TTL_SECONDS == 60
    assert effective_ttl(5) == 5
    assert effective_ttl(86_400) == 86_400


def test_workflow_count() -> None:
    assert registration_violations(workflows=[]) == {"workflows": "required"}
    many = [WorkflowSpec(f"wf{i}") for i in range(201)]
    assert registration_violations(workflows=many[:200]) == {}
    assert registration_violations(workflows=many) == {"workflows": "too_long"}
    assert registration_violations(workflows={"a": 1}) == {"workflows": "invalid_type"}
    assert registration_violations(workflows=None) == {"workflows": "invalid_type"}


def test_worker_workflows_are_checked_with_their_index() -> None:
    workflows = [
        WorkflowSpec("a"),
        WorkflowSpec("b", task_queue="orders"),  # same as the worker: fine
        WorkflowSpec("c", task_queue="elsewhere"),
        WorkflowSpec("a"),
        {"workflow_type": "d"},
        WorkflowSpec("e", labels={"bad key": "v"}, input_schema={"$ref": "http://x"}),
        WorkflowSpec(""),
    ]
    assert registration_violations(workflows=workflows) == {
        "workflows[2].task_queue": "not_allowed",
        "workflows[3].workflow_type": "duplicate",
        "workflows[4]": "invalid_type",
        'workflows[5].labels["bad key"]': "invalid_characters",
        "workflows[5].input_schema/$ref": "remote_ref_refused",
        "workflows[6].workflow_type": "required",
    }


def test_oversized_registration_is_refused_alone_and_quickly() -> None:
    schema = {"description": "d" * (MAX_INPUT_SCHEMA_BYTES - 100)}
    workflows = [WorkflowSpec(f"wf{i}", input_schema=schema) for i in range(200)]
    started = time.perf_counter()
    violations = validate_worker_registration(
        good_registration(workflows=workflows, ttl_seconds=-1)
    )
    assert [(v.field, v.reason) for v in violations] == [("registration", "too_long")]
    assert time.perf_counter() - started < 1
    # Three such schemas still fit in 1 MiB.
    assert validate_worker_registration(good_registration(workflows=workflows[:3])) == []


def test_wrong_top_level_objects() -> None:
    (violation,) = validate_workflow_spec({"workflow_type": "a"}, require_task_queue=True)  # type: ignore[arg-type]
    assert (violation.field, violation.reason) == ("spec", "invalid_type")
    (violation,) = validate_workflow_spec(None, "workflows[0]", require_task_queue=True)  # type: ignore[arg-type]
    assert (violation.field, violation.reason) == ("workflows[0]", "invalid_type")
    (violation,) = validate_worker_registration({"worker_id": "w"})  # type: ignore[arg-type]
    assert (violation.field, violation.reason) == ("registration", "invalid_type")


def test_violations_are_capped() -> None:
    schema = {"properties": {f"p{i}": {"$ref": f"http://x/{i}"} for i in range(1000)}}
    violations = validate_workflow_spec(good_spec(input_schema=schema), require_task_queue=True)
    assert len(violations) == MAX_VIOLATIONS
    workflows = [WorkflowSpec(f"w {i}", labels={"-": "\x00"}) for i in range(200)]
    assert len(validate_worker_registration(good_registration(workflows=workflows))) == 100


# --- hostile input never raises --------------------------------------------------------------


def nasty_values() -> list[object]:
    deep_dict = nested(10_000)
    deep_list: list[Any] = []
    for _ in range(10_000):
        deep_list = [deep_list]
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    cyclic_list: list[Any] = []
    cyclic_list.append(cyclic_list)
    return [
        None,
        True,
        0,
        -1,
        2**64,
        10**5000,
        float("nan"),
        float("-inf"),
        1e308,
        "",
        " ",
        "\x00",
        "\ud800",
        "x" * 1_000_000,
        b"\xff",
        bytearray(b"x"),
        [],
        [None],
        ["x"] * 10_000,
        {},
        {None: None},
        {1: 2},
        {"$ref": "http://127.0.0.1:1/x"},
        {f"k{i}": i for i in range(10_000)},
        {"a": {1, 2}},
        {1, 2},
        frozenset(),
        (1, 2),
        object(),
        WorkflowSpec,
        WorkflowSpec("x"),
        SearchAttributeSpec("A", "Int"),
        InputWarningSpec("a", "b"),
        deep_dict,
        deep_list,
        cyclic,
        cyclic_list,
        1 + 2j,
        Path("/etc/passwd"),
        type,
    ]


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(WorkflowSpec)])
def test_workflow_spec_never_raises(field: str) -> None:
    for value in nasty_values():
        spec = replace(good_spec(), **{field: value})
        for require in (True, False):
            assert_well_formed(validate_workflow_spec(spec, "w[0]", require_task_queue=require))
        nested_value = (
            [value] if field in ("search_attributes", "schedule_input_warnings") else None
        )
        if nested_value is not None:
            spec = replace(good_spec(), **{field: nested_value})
            assert_well_formed(validate_workflow_spec(spec, require_task_queue=True))
        assert_well_formed(validate_input_schema({"const": value, "x": [value]}))
        assert_well_formed(validate_input_schema(value))
        assert_well_formed(validate_json_value(value, "in", max_depth=100, max_bytes=10**6))


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(WorkerRegistration)])
def test_worker_registration_never_raises(field: str) -> None:
    for value in nasty_values():
        registration = replace(good_registration(), **{field: value})
        assert_well_formed(validate_worker_registration(registration))
        for nested_value in ([value], [value, value], [good_spec(), value]):
            registration = replace(good_registration(), workflows=nested_value)
            assert_well_formed(validate_worker_registration(registration))


def test_nested_dataclass_fields_never_raise() -> None:
    for value in nasty_values():
        attribute = SearchAttributeSpec(value, value, value)  # type: ignore[arg-type]
        warning = InputWarningSpec(value, value)  # type: ignore[arg-type]
        spec = good_spec(search_attributes=[attribute], schedule_input_warnings=[warning])
        assert_well_formed(validate_workflow_spec(spec, require_task_queue=True))
        worker = good_registration(workflows=[spec, good_spec(workflow_type=value)])
        assert_well_formed(validate_worker_registration(worker))


# --- the workflow sandbox --------------------------------------------------------------------


def test_specs_imports_only_sandbox_safe_modules() -> None:
    tree = ast.parse(Path(specs.__file__).read_text())
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    allowed = {"__future__", "json", "json.encoder", "math", "re", "collections.abc"}
    allowed |= {"dataclasses", "typing"}
    assert imported <= allowed | {"registry.shared.model"}


# Run at import, so importing this module inside the sandbox runs the code under its
# restrictions (calls it traps, such as datetime.now(), would fail prepare_workflow). The
# sandbox doesn't trap everything (os.environ, time.time at import), hence the import check.
_SANDBOX_SMOKE = validate_worker_registration(
    WorkerRegistration("w", "q", workflows=[WorkflowSpec("a b", input_schema={"$ref": "http://x"})])
)


@workflow.defn(sandboxed=True)
class _SpecsInSandbox:
    @workflow.run
    async def run(self) -> int:
        return len(_SANDBOX_SMOKE)


def test_specs_load_and_run_in_the_workflow_sandbox() -> None:
    assert len(_SANDBOX_SMOKE) == 2
    definition = workflow._Definition.must_from_class(_SpecsInSandbox)

    async def prepare() -> None:
        # Imports this module (and so registry.specs) afresh inside a sandbox.
        SandboxedWorkflowRunner().prepare_workflow(definition)

    asyncio.run(prepare())
