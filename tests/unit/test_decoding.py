"""registry.server.decoding: where a request's protobuf bytes go wrong, and the rules every decoded
request obeys. The walk must name the field upb refused, for every kind of refusal, and never
raise or recurse on hostile bytes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from temporal_registry.v1 import (
    dispatch_pb2,
    registry_pb2,
    resources_pb2,
    schedules_pb2,
    search_attributes_pb2,
    system_pb2,
)

from registry.server import decoding
from registry.server.decoding import (
    BAD_UTF8,
    MALFORMED,
    MAX_JSON_DEPTH,
    NON_FINITE,
    field_violations,
    may_hold_non_finite_numbers,
    too_deep,
    wire_violations,
)
from registry.shared.schemas import MAX_INPUT_DEPTH
from registry.shared.specs import MAX_INPUT_SCHEMA_DEPTH, validate_json_value

API_FILES = (
    dispatch_pb2,
    registry_pb2,
    resources_pb2,
    schedules_pb2,
    search_attributes_pb2,
    system_pb2,
)


# --- a tiny protobuf encoder, to write what no well-behaved client would -----------------------


def varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def ld(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return tag(number, 2) + varint(len(payload)) + payload


def nested_object(depth: int) -> bytes:
    """A Struct `{"a": {"a": ... {}}}` of `depth` levels, written outside in (linear time)."""
    heads: list[bytes] = []
    size = 0  # of the Struct inside
    for _ in range(depth - 1):
        value = 1 + len(varint(size)) + size  # Value.struct_value
        entry = 3 + 1 + len(varint(value)) + value  # key "a", then the Value
        heads.append(tag(1, 2) + varint(entry) + ld(1, b"a") + tag(2, 2) + varint(value))
        heads[-1] += tag(5, 2) + varint(size)
        size = 1 + len(varint(entry)) + entry
    return b"".join(reversed(heads))


def nested_array(depth: int) -> bytes:
    """A ListValue `[[...[]]]` of `depth` levels."""
    array = b""
    for _ in range(depth - 1):
        array = ld(1, ld(6, array))  # ListValue.values: Value.list_value
    return array


def violations(data: bytes, descriptor: Descriptor) -> list[tuple[str, str, str]]:
    return [(v.field, v.description, v.reason) for v in wire_violations(data, descriptor)]


def refused_by_protobuf(data: bytes, message_type: type[Message]) -> bool:
    try:
        message_type.FromString(data)
    except DecodeError:
        return True
    return False


REGISTER = registry_pb2.RegisterWorkerRequest
START = dispatch_pb2.StartWorkflowRequest


# --- bad UTF-8 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"\xff", b"\xc0\xaf", b"a\x80b", b"\x00\xff", b"\xed\xa0\x80"])
def test_bad_utf8_in_a_string_field_is_named(raw: bytes) -> None:
    data = ld(1, raw)
    assert refused_by_protobuf(data, registry_pb2.GetWorkerRequest)
    assert violations(data, registry_pb2.GetWorkerRequest.DESCRIPTOR) == [
        ("worker_id", BAD_UTF8, "invalid_utf8")
    ]


def test_bad_utf8_in_query_fields_is_named_after_the_good_ones() -> None:
    data = ld(3, b"queue") + ld(2, b"\x00\xff") + tag(1, 0) + varint(10)
    assert refused_by_protobuf(data, registry_pb2.ListWorkersRequest)
    assert violations(data, registry_pb2.ListWorkersRequest.DESCRIPTOR) == [
        ("page_token", BAD_UTF8, "invalid_utf8")
    ]


def test_nested_repeated_and_map_fields_get_their_paths() -> None:
    workflow = (
        ld(1, b"ok.v1")
        + ld(9, ld(1, b"team") + ld(2, b"\xff"))  # labels["team"] value
        + ld(7, ld(1, b"Good") + ld(2, b"Keyword"))  # search_attributes[0]
        + ld(7, ld(1, b"Bad\xfe"))  # search_attributes[1].name
    )
    data = ld(1, b"w-1") + ld(6, ld(1, b"first.v1")) + ld(6, workflow) + ld(4, ld(1, b"\xff"))
    assert refused_by_protobuf(data, REGISTER)
    assert violations(data, REGISTER.DESCRIPTOR) == [
        ('workflows[1].labels["team"]', BAD_UTF8, "invalid_utf8"),
        ("workflows[1].search_attributes[1].name", BAD_UTF8, "invalid_utf8"),
        ('labels["\\\\xff"]', "keys " + BAD_UTF8, "invalid_utf8"),
    ]


def test_bad_utf8_inside_json_values_gets_a_json_pointer() -> None:
    items = ld(1, ld(3, b"fine")) + ld(1, ld(3, b"\xff"))  # ["fine", "\xff"]
    struct = ld(1, ld(1, b"items") + ld(2, ld(6, items))) + ld(1, ld(1, b"k\xff") + ld(2, b""))
    data = ld(1, b"order.v1") + ld(2, ld(5, struct))
    assert refused_by_protobuf(data, START)
    assert violations(data, START.DESCRIPTOR) == [
        ("input/items/1", BAD_UTF8, "invalid_utf8"),
        ("input/k\\xff", "keys " + BAD_UTF8, "invalid_utf8"),
    ]


# --- nesting ------------------------------------------------------------------------------------


def test_the_limit_is_the_one_validation_documents() -> None:
    assert MAX_JSON_DEPTH == MAX_INPUT_DEPTH == MAX_INPUT_SCHEMA_DEPTH == 32


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 40, 100, 5000])
def test_a_schema_nested_too_deep_is_named_where_it_passes_the_limit(depth: int) -> None:
    data = ld(1, b"w-1") + ld(2, b"q") + ld(6, ld(1, b"deep.v1") + ld(5, nested_object(depth)))
    assert refused_by_protobuf(data, REGISTER) == (depth > 33)  # upb's limit is in between
    pointer = "/a" * MAX_JSON_DEPTH
    assert violations(data, REGISTER.DESCRIPTOR) == [
        (f"workflows[0].input_schema{pointer}", too_deep(), "too_deep")
    ]


def test_the_walk_names_the_same_place_validation_does() -> None:
    value: Any = {}
    for _ in range(MAX_JSON_DEPTH):
        value = {"a": value}
    (validated,) = validate_json_value(value, "input", max_depth=MAX_JSON_DEPTH, max_bytes=1 << 20)
    data = ld(2, ld(5, nested_object(MAX_JSON_DEPTH + 1)))
    (walked,) = wire_violations(data, START.DESCRIPTOR)
    assert walked == validated


def test_arrays_and_values_count_levels_as_json_does() -> None:
    data = ld(2, ld(6, nested_array(MAX_JSON_DEPTH + 1)))  # input: [[[...]]]
    assert violations(data, START.DESCRIPTOR) == [
        ("input" + "/0" * MAX_JSON_DEPTH, too_deep(), "too_deep")
    ]
    assert violations(ld(2, ld(6, nested_array(MAX_JSON_DEPTH))), START.DESCRIPTOR) == []


def test_a_deep_memo_value_is_named_with_its_key() -> None:
    entry = ld(1, b"note") + ld(2, ld(5, nested_object(60)))
    data = ld(1, b"order.v1") + ld(7, entry)
    assert refused_by_protobuf(data, START)
    (violation,) = wire_violations(data, START.DESCRIPTOR)
    assert violation.field.startswith('memo["note"]/a/a') and violation.reason == "too_deep"


def test_a_very_deep_request_is_walked_without_recursion_in_linear_time() -> None:
    data = ld(2, ld(5, nested_object(100_000)))  # ~1.8 MB, far past any C stack
    started = time.perf_counter()
    assert [v.reason for v in wire_violations(data, START.DESCRIPTOR)] == ["too_deep"]
    assert time.perf_counter() - started < 2


# --- broken bytes -------------------------------------------------------------------------------


def test_a_truncated_field_is_named() -> None:
    whole = REGISTER(worker_id="w-1", task_queue="queue").SerializeToString()
    data = whole[:-2]
    assert refused_by_protobuf(data, REGISTER)
    assert violations(data, REGISTER.DESCRIPTOR) == [("task_queue", MALFORMED, "malformed")]


def test_a_truncated_nested_message_is_named_at_the_deepest_field_it_reached() -> None:
    message = REGISTER(worker_id="w-1")
    message.workflows.add(workflow_type="a.v1", description="some words")
    inner = message.workflows[0].SerializeToString()
    data = ld(1, b"w-1") + tag(6, 2) + varint(len(inner)) + inner[:-3]
    assert refused_by_protobuf(data, REGISTER)
    assert violations(data, REGISTER.DESCRIPTOR) == [("workflows[0]", MALFORMED, "malformed")]


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xff\xff",  # a tag that never ends
        b"\x00",  # field number 0
        b"\x0f",  # wire type 7
        b"\x0c",  # an end group that was never started
        tag(99, 1) + b"\x00\x00",  # a fixed64 cut short
        tag(99, 3) + ld(1, b"x"),  # a group that never ends
        b"\xff" * 11,  # a varint longer than 10 bytes
    ],
)
def test_garbage_outside_any_field_is_a_problem_of_the_request(data: bytes) -> None:
    assert refused_by_protobuf(data, REGISTER)
    assert violations(data, REGISTER.DESCRIPTOR) == [("", MALFORMED, "malformed")]


def test_unknown_fields_and_wrong_wire_types_are_what_protobuf_ignores() -> None:
    data = (
        ld(1, b"w-1")
        + tag(2, 0)  # task_queue as a varint: an unknown field to upb
        + varint(5)
        + tag(99, 3)  # an unknown group, properly closed, with a nested one
        + tag(5, 3)
        + tag(5, 4)
        + tag(99, 4)
        + tag(98, 5)
        + b"\x00\x00\x00\x00"
    )
    assert not refused_by_protobuf(data, REGISTER)
    assert violations(data, REGISTER.DESCRIPTOR) == []


def test_packed_scalars_are_checked() -> None:
    good = schedules_pb2.CreateScheduleRequest(fire_offsets_seconds=[1, 300]).SerializeToString()
    assert violations(good, schedules_pb2.CreateScheduleRequest.DESCRIPTOR) == []
    bad = ld(6, b"\x01\xff")  # the second varint never ends
    assert refused_by_protobuf(bad, schedules_pb2.CreateScheduleRequest)
    assert violations(bad, schedules_pb2.CreateScheduleRequest.DESCRIPTOR) == [
        ("fire_offsets_seconds", MALFORMED, "malformed")
    ]


def test_violations_are_capped() -> None:
    data = b"".join(ld(3, b"\xff") for _ in range(500))  # environment, 500 times
    assert len(wire_violations(data, REGISTER.DESCRIPTOR)) == decoding.MAX_VIOLATIONS


# --- non-finite numbers -------------------------------------------------------------------------


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_in_json_values_are_found(number: float) -> None:
    message = START(workflow_type="order.v1")
    message.input.struct_value.fields["amount"].number_value = number
    message.memo["m"].list_value.values.add().number_value = 1.5
    data = message.SerializeToString()
    assert may_hold_non_finite_numbers(data)
    assert violations(data, START.DESCRIPTOR) == [("input/amount", NON_FINITE, "invalid_type")]


def test_finite_numbers_are_not_suspect() -> None:
    message = START(workflow_type="order.v1")
    for i, number in enumerate((0.0, -1.5, 1e308, -1e-308, 2**53)):
        message.input.struct_value.fields[str(i)].number_value = number
    assert not may_hold_non_finite_numbers(message.SerializeToString())


# --- rules of decoded requests ------------------------------------------------------------------


def test_undefined_enum_numbers_are_refused() -> None:
    assert field_violations(registry_pb2.ListWorkflowsRequest(view=2)) == []
    (violation,) = field_violations(registry_pb2.ListWorkflowsRequest(view=7))
    assert violation.field == "view" and violation.reason == "invalid_enum"
    assert "WORKFLOW_VIEW_BASIC" in violation.description
    start = START(id_conflict_policy=3, id_reuse_policy=-1)  # type: ignore[arg-type]
    assert [v.field for v in field_violations(start)] == ["id_reuse_policy"]


@pytest.mark.parametrize(
    ("seconds", "nanos", "ok"),
    [
        (3600, 0, True),
        (0, -5, True),
        (decoding.MAX_DURATION_SECONDS, 999_999_999, True),
        (decoding.MAX_DURATION_SECONDS + 1, 0, False),
        (2**63 - 1, 0, False),
        (-(2**63), 0, False),
        (1, -1, False),
        (-1, 1, False),
        (0, 1_000_000_000, False),
    ],
)
def test_durations_must_be_in_range(seconds: int, nanos: int, ok: bool) -> None:
    message = START()
    message.execution_timeout.seconds = seconds
    message.execution_timeout.nanos = nanos
    found = [(v.field, v.reason) for v in field_violations(message)]
    assert found == ([] if ok else [("execution_timeout", "out_of_range")])


def test_unset_durations_and_messages_without_rules_are_not_looked_at() -> None:
    assert field_violations(START(workflow_type="x")) == []
    assert decoding._checked_fields(registry_pb2.HeartbeatRequest.DESCRIPTOR) == ()


# --- the transport limit holds everywhere -------------------------------------------------------


def json_positions(
    descriptor: Descriptor, prefix: tuple[FieldDescriptor, ...] = ()
) -> Iterator[tuple[FieldDescriptor, ...]]:
    """Every path of fields from `descriptor` to a Struct, Value or ListValue field."""
    for fd in descriptor.fields:
        target = fd.message_type
        if target is not None and target.GetOptions().map_entry:
            target = target.fields_by_name["value"].message_type
        if target is None or target in (f.message_type for f in prefix):
            continue
        path = (*prefix, fd)
        if target.full_name in (decoding.STRUCT, decoding.VALUE, decoding.LIST_VALUE):
            yield path
        else:
            yield from json_positions(target, path)


def deepest_json(kind: str, depth: int) -> dict[str, Any] | list[Any]:
    """The costliest JSON value of `depth` levels for protobuf: objects, a number at the
    bottom (a Value inside the innermost Struct); in an array for a ListValue."""
    levels = depth - 1 if kind == decoding.LIST_VALUE else depth
    value: dict[str, Any] = {"leaf": 1.5}
    for _ in range(levels - 1):
        value = {"a": value}
    return value if kind != decoding.LIST_VALUE else [value]


def message_with_json_at(
    message_type: type[Message], path: tuple[FieldDescriptor, ...], depth: int
) -> Message:
    message = message_type()
    target: Any = message
    for fd in path[:-1]:
        container = getattr(target, fd.name)
        if fd.message_type.GetOptions().map_entry:
            target = container["k"]
        elif fd.is_repeated:
            target = container.add()
        else:
            target = container
    last = path[-1]
    holder: Any = getattr(target, last.name)
    if last.message_type.GetOptions().map_entry:
        holder = holder["k"]
    elif last.is_repeated:
        holder = holder.add()
    kind = holder.DESCRIPTOR.full_name
    value = deepest_json(kind, depth)
    json_format.ParseDict(value, holder, max_recursion_depth=10_000)
    return message


def all_api_messages() -> Iterator[type[Message]]:
    for module in API_FILES:
        for name in module.DESCRIPTOR.message_types_by_name:
            yield getattr(module, name)


def test_every_json_value_of_the_api_at_the_limit_decodes_in_every_message() -> None:
    """Requests and responses: what the registry accepts, every client can read back."""
    checked = 0
    for message_type in all_api_messages():
        for path in json_positions(message_type.DESCRIPTOR):
            message = message_with_json_at(message_type, path, MAX_JSON_DEPTH)
            data = message.SerializeToString()
            where = f"{message_type.DESCRIPTOR.name}.{'.'.join(f.name for f in path)}"
            assert not refused_by_protobuf(data, message_type), where
            assert wire_violations(data, message_type.DESCRIPTOR) == [], where
            checked += 1
    assert checked >= 14  # input_schema, input, search_attributes, memo, in many messages


def test_one_level_more_is_refused_by_the_walk_everywhere() -> None:
    for message_type in all_api_messages():
        for path in json_positions(message_type.DESCRIPTOR):
            message = message_with_json_at(message_type, path, MAX_JSON_DEPTH + 1)
            found = wire_violations(message.SerializeToString(), message_type.DESCRIPTOR)
            assert [v.reason for v in found] == ["too_deep"], (message_type, path)


def test_a_struct_in_a_struct_value_map_is_no_deeper_than_json_says() -> None:
    schema = struct_pb2.Struct()
    json_format.ParseDict(json.loads('{"a": [{"b": {}}]}'), schema)
    data = REGISTER(workflows=[resources_pb2.Workflow(input_schema=schema)]).SerializeToString()
    assert wire_violations(data, REGISTER.DESCRIPTOR, max_json_depth=4) == []
    (violation,) = wire_violations(data, REGISTER.DESCRIPTOR, max_json_depth=3)
    assert violation.field == "workflows[0].input_schema/a/0/b"
