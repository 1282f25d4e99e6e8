"""Hostile inputs for every field of every RPC, generated from the descriptors.

Each RPC has a valid seed request (SEEDS, below; a test checks that every RPC has one and
that each seed is accepted). Every field of its request type, nested messages included, gets
the hostile values of its kind: empty, too long, control characters, invalid UTF-8, the wrong
type, nested too deep, out of range, undefined enum values, malformed Durations... one field at
a time, each as an HTTP/JSON request on the RPC's `google.api.http` route (path, query or
body, as Envoy's transcoder maps it) and as raw protobuf bytes over gRPC. On top, per RPC:
garbage and truncated bytes, unknown JSON fields, a body that is not a JSON object.

Each case says what a correct registry answers (`Expect`): REFUSE_FIELD, a 400 /
INVALID_ARGUMENT naming the field; REFUSE, any 4xx / non-OK code; REFUSE_DOCUMENT, Envoy's
own 400 for a body that is no JSON it can transcode; EITHER, anything but a server error, and
a refusal with 400 / INVALID_ARGUMENT names the field (the rest of the seed is valid, so only
the hostile field can be at fault).
"""

from __future__ import annotations

import copy
import enum
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from google.api import annotations_pb2, field_behavior_pb2
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import (
    Descriptor,
    FieldDescriptor,
    MethodDescriptor,
    ServiceDescriptor,
)
from google.protobuf.message import Message
from temporal_registry.v1 import (
    dispatch_pb2,
    registry_pb2,
    schedules_pb2,
    schemas_pb2,
    search_attributes_pb2,
    system_pb2,
)
from unit.test_decoding import ld, nested_array, nested_object, tag, varint

from registry.server.decoding import MAX_JSON_DEPTH

API_MODULES = (
    system_pb2,
    registry_pb2,
    dispatch_pb2,
    schedules_pb2,
    schemas_pb2,
    search_attributes_pb2,
)
FD = FieldDescriptor
JSON_TYPES = ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue")
DURATION = "google.protobuf.Duration"
MAX_NESTING = 3  # message levels below the request whose fields get cases
LONG_TEXT = "x" * 20_000
LONG_PATH_ID = "x" * 10_000
CONTROL = "a\x00b\x1b[31m\u202e\ud7ff"
BAD_UTF8 = b"\xff\xfe\xc0\xaf"
# Stands for BAD_UTF8 in a JSON request; replaced in the encoded body or URL.
BAD_UTF8_MARK = "\u2603hostile-bad-utf8\u2603"
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


class Expect(enum.Enum):
    REFUSE_FIELD = "a 400 / INVALID_ARGUMENT naming the field"
    REFUSE = "a 4xx / a refusal"
    # Envoy's transcoder refuses the JSON document before the registry sees it: a body that
    # is not UTF-8, nested past ~100 levels, or a list where an object goes. Its message names
    # the parent field, or none.
    REFUSE_DOCUMENT = "a 4xx google.rpc.Status from Envoy (naming no field)"
    EITHER = "no server error; a 400 names the field"


# --- the RPCs and their routes ---------------------------------------------------------------


@dataclass(frozen=True)
class Rpc:
    service: ServiceDescriptor
    method: MethodDescriptor
    verb: str
    template: str
    body: str  # "*", "" or a field name

    @property
    def name(self) -> str:
        return f"{self.service.name}.{self.method.name}"

    @property
    def grpc_path(self) -> str:
        return f"/{self.service.full_name}/{self.method.name}"

    @property
    def request(self) -> Descriptor:
        return self.method.input_type

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"\{([^}=]+)", self.template))

    def new_request(self) -> Message:
        return message_factory.GetMessageClass(self.request)()

    def placement(self, field: str) -> str:
        """Where the transcoder takes a top-level field from: path, query or body."""
        if field in self.path_params:
            return "path"
        if self.body == "*" or self.body == field:
            return "body"
        return "query"


def rpcs() -> list[Rpc]:
    found = []
    for module in API_MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                rule = method.GetOptions().Extensions[annotations_pb2.http]
                verb = rule.WhichOneof("pattern")
                assert verb is not None, method.full_name
                found.append(Rpc(service, method, verb, getattr(rule, verb), rule.body))
    return found


# --- fields -----------------------------------------------------------------------------------

Step = str | int  # a field name, or an index into a repeated field


@dataclass(frozen=True)
class Target:
    """A field of a request, reached through `path` (names and indexes)."""

    path: tuple[Step, ...]
    fd: FieldDescriptor

    @property
    def display(self) -> str:
        """The field path the registry names in its violations."""
        out = ""
        for step in self.path:
            if isinstance(step, int):
                out += f"[{step}]"
            else:
                out += f".{step}" if out else step
        return out

    @property
    def top(self) -> str:
        return str(self.path[0])

    @property
    def is_map(self) -> bool:
        return self.fd.message_type is not None and self.fd.message_type.GetOptions().map_entry

    @property
    def message_name(self) -> str:
        return self.fd.message_type.full_name if self.fd.message_type is not None else ""


def targets(descriptor: Descriptor, prefix: tuple[Step, ...] = ()) -> Iterator[Target]:
    """Every input field of `descriptor`, and of the messages in it (first item of a repeated
    one), down to MAX_NESTING levels; output-only fields are ignored by the registry."""
    for fd in descriptor.fields:
        behaviors = fd.GetOptions().Extensions[field_behavior_pb2.field_behavior]
        if field_behavior_pb2.OUTPUT_ONLY in behaviors:
            continue
        target = Target((*prefix, fd.name), fd)
        yield target
        inner = fd.message_type
        nested = (
            inner is not None
            and not target.is_map
            and inner.full_name not in (*JSON_TYPES, DURATION)
            and len(prefix) < 2 * MAX_NESTING
        )
        if nested:
            assert inner is not None
            yield from targets(inner, (*target.path, 0) if fd.is_repeated else target.path)


# --- cases ------------------------------------------------------------------------------------

Json = dict[str, Any]
HttpMutation = Callable[[Json], None]  # changes the seed's JSON in place
GrpcMutation = Callable[[Message], bytes]  # the request's bytes, from the seed's message


@dataclass(frozen=True)
class Case:
    rpc: Rpc
    target: Target | None  # None: the request as a whole
    kind: str
    expect: Expect
    http: HttpMutation | None = None  # None: no HTTP variant
    grpc: GrpcMutation | None = None  # None: no gRPC variant
    raw_body: bytes | None = None  # an HTTP body sent as is
    query: str = ""  # added to the HTTP request's query string

    @property
    def id(self) -> str:
        where = self.target.display if self.target and self.target.path else "request"
        return f"{self.rpc.name}:{where}:{self.kind}"


def cases(rpc: Rpc) -> list[Case]:
    out: list[Case] = []
    for target in targets(rpc.request):
        out += field_cases(rpc, target)
    out += request_cases(rpc)
    return out


def field_cases(rpc: Rpc, target: Target) -> list[Case]:
    fd, place = target.fd, rpc.placement(target.top)
    nested = len(target.path) > 1
    make = _CaseMaker(rpc, target)
    if place == "path" and fd.type != FD.TYPE_STRING:  # a number in the path
        return [
            make("not_a_number", Expect.EITHER, http=set_to(target, "seven")),
            make("out_of_range", Expect.EITHER, http=set_to(target, "99999999999")),
            make("negative", Expect.EITHER, http=set_to(target, "-1")),
            make("empty", Expect.EITHER, grpc=cleared(target)),
            make("negative", Expect.EITHER, grpc=set_value(target, -1)),
            make("largest", Expect.EITHER, grpc=set_value(target, 2**31 - 1)),
        ]
    if place == "path":
        return [
            make("empty", Expect.EITHER, http=set_to(target, "")),
            make("too_long", Expect.EITHER, http=set_to(target, LONG_PATH_ID)),
            make("control", Expect.EITHER, http=set_to(target, CONTROL)),
            make("bad_utf8", Expect.REFUSE_FIELD, http=set_to(target, BAD_UTF8_MARK)),
            make("bad_utf8", Expect.REFUSE_FIELD, grpc=raw_field(target, ld_bytes(BAD_UTF8))),
            make("empty", Expect.EITHER, grpc=cleared(target)),
            make("too_long", Expect.EITHER, grpc=set_value(target, LONG_PATH_ID)),
            make("control", Expect.EITHER, grpc=set_value(target, CONTROL)),
        ]
    query = place == "query"
    if target.is_map:
        return map_cases(make, target)
    if fd.message_type is not None:
        return message_cases(make, target, query)
    if fd.is_repeated:
        return repeated_scalar_cases(make, target, query)
    if fd.type == FD.TYPE_STRING:
        out = [
            make("empty", Expect.EITHER, http=remove(target), grpc=cleared(target)),
            make("bad_utf8", Expect.REFUSE_FIELD, grpc=raw_field(target, ld_bytes(BAD_UTF8))),
            make("wrong_wire_type", Expect.EITHER, grpc=raw_field(target, varint_bytes(7))),
        ]
        # A body that is not UTF-8 is not JSON: Envoy refuses it whole (no field to name).
        bad_http = Expect.REFUSE_FIELD if query else Expect.REFUSE_DOCUMENT
        out.append(make("bad_utf8", bad_http, http=set_to(target, BAD_UTF8_MARK)))
        if not nested or not query:
            out += [
                make(
                    "too_long",
                    Expect.EITHER,
                    http=set_to(target, LONG_TEXT),
                    grpc=set_value(target, LONG_TEXT),
                ),
                make(
                    "control",
                    Expect.EITHER,
                    http=set_to(target, CONTROL),
                    grpc=set_value(target, CONTROL),
                ),
            ]
        if not query:
            out.append(make("wrong_type", Expect.REFUSE_FIELD, http=set_to(target, {"a": 1})))
            out.append(make("wrong_type_number", Expect.REFUSE_FIELD, http=set_to(target, 12)))
        return out
    if fd.type == FD.TYPE_BOOL:
        return [
            make("wrong_type", Expect.REFUSE_FIELD, http=set_to(target, "maybe")),
            make("yes", Expect.EITHER, http=set_to(target, "yes")),  # Envoy reads yes/no too
            make("wrong_wire_type", Expect.EITHER, grpc=raw_field(target, ld_bytes(b"x"))),
            make("out_of_range", Expect.EITHER, grpc=raw_field(target, varint_bytes(2))),
        ]
    if fd.type == FD.TYPE_ENUM:
        return [
            make("unknown_name", Expect.REFUSE_FIELD, http=set_to(target, "NOT_A_VALUE")),
            make(
                "undefined_number",
                Expect.REFUSE_FIELD,
                http=set_to(target, 99),
                grpc=set_value(target, 99),
            ),
            make("negative", Expect.REFUSE_FIELD, grpc=set_value(target, -1)),
        ]
    if fd.type in (FD.TYPE_INT32, FD.TYPE_INT64):
        low, high = INT32 if fd.type == FD.TYPE_INT32 else INT64
        wide = fd.type == FD.TYPE_INT64
        out = [
            make("wrong_type", Expect.REFUSE_FIELD, http=set_to(target, "abc")),
            make("fraction", Expect.REFUSE_FIELD, http=set_to(target, 1.5)),
            make(
                "max",
                Expect.EITHER,
                http=set_to(target, str(high) if wide else high),
                grpc=set_value(target, high),
            ),
            make(
                "min",
                Expect.EITHER,
                http=set_to(target, str(low) if wide else low),
                grpc=set_value(target, low),
            ),
            make("negative", Expect.EITHER, http=set_to(target, -1), grpc=set_value(target, -1)),
            make("wrong_wire_type", Expect.EITHER, grpc=raw_field(target, ld_bytes(b"x"))),
        ]
        overflow = str(high + 1) if wide else high + 1
        out.append(make("overflow", Expect.REFUSE_FIELD, http=set_to(target, overflow)))
        return out
    if fd.type == FD.TYPE_DOUBLE:
        return [make("wrong_type", Expect.REFUSE_FIELD, http=set_to(target, "abc"))]
    raise AssertionError(f"no hostile values for {target.display} ({fd.type})")


def message_cases(make: _CaseMaker, target: Target, query: bool) -> list[Case]:
    fd, name = target.fd, target.message_name
    wrong_wire = make("wrong_wire_type", Expect.EITHER, grpc=raw_field(target, varint_bytes(1)))
    truncated = make("truncated", Expect.REFUSE_FIELD, grpc=raw_field(target, tag_ld_truncated()))
    if name == DURATION:
        return [
            make("wrong_type", Expect.REFUSE_FIELD, http=set_to(target, "abc")),
            make("huge", Expect.REFUSE_FIELD, http=set_to(target, "1e30s")),
            make("out_of_range", Expect.REFUSE_FIELD, http=set_to(target, "315576000001s")),
            make(
                "negative",
                Expect.EITHER,
                http=set_to(target, "-5s"),
                grpc=set_duration(target, -5, 0),
            ),
            make("max_seconds", Expect.REFUSE_FIELD, grpc=set_duration(target, 2**63 - 1, 0)),
            make("mixed_signs", Expect.REFUSE_FIELD, grpc=set_duration(target, 5, -1)),
            truncated,
        ]
    if name in JSON_TYPES:
        return json_value_cases(make, target)
    out = [wrong_wire, truncated]
    if not query:
        out.append(make("wrong_type", Expect.REFUSE_FIELD, http=set_to(target, "x")))
        if fd.is_repeated:
            out.append(make("wrong_item_type", Expect.REFUSE_FIELD, http=set_to(target, [7])))
            out.append(make("empty", Expect.EITHER, http=set_to(target, []), grpc=cleared(target)))
            out.append(make("many", Expect.EITHER, http=many(target, 300)))
        else:
            out.append(make("wrong_type_list", Expect.REFUSE_DOCUMENT, http=set_to(target, [])))
    return out


def json_value_cases(make: _CaseMaker, target: Target) -> list[Case]:
    """input_schema (a Struct), input (a Value), and Value map entries."""
    is_struct = target.message_name == "google.protobuf.Struct"

    def deep(depth: int) -> Any:
        value: Any = {}
        for _ in range(depth - 1):
            value = {"a": value}
        return value

    struct_bytes: Callable[[int], bytes] = nested_object
    value_bytes: Callable[[bytes], bytes] = (lambda s: s) if is_struct else (lambda s: ld(5, s))
    out = [
        make(
            "too_deep_by_one",
            Expect.REFUSE_FIELD,
            http=set_to(target, deep(MAX_JSON_DEPTH + 1)),
            grpc=raw_field(target, ld_bytes(value_bytes(struct_bytes(MAX_JSON_DEPTH + 1)))),
        ),
        make(
            "too_deep",
            Expect.REFUSE_FIELD,
            http=set_to(target, deep(60)),
            grpc=raw_field(target, ld_bytes(value_bytes(struct_bytes(5_000)))),
        ),
        # Past ~100 levels Envoy refuses the JSON document itself, without naming the field.
        make("far_too_deep", Expect.REFUSE_DOCUMENT, http=set_to(target, deep(150))),
        make(
            "bad_utf8_key",
            Expect.REFUSE_FIELD,
            grpc=raw_field(target, ld_bytes(value_bytes(ld(1, ld(1, BAD_UTF8) + ld(2, b""))))),
        ),
        make(
            "non_finite",
            Expect.REFUSE_FIELD,
            grpc=raw_field(
                target,
                ld_bytes(
                    value_bytes(ld(1, ld(1, b"n") + ld(2, tag(2, 1) + b"\x00" * 6 + b"\xf0\x7f")))
                ),
            ),
        ),
        make("wrong_wire_type", Expect.EITHER, grpc=raw_field(target, varint_bytes(1))),
        make("truncated", Expect.REFUSE_FIELD, grpc=raw_field(target, tag_ld_truncated())),
    ]
    if is_struct:
        out.append(make("wrong_type", Expect.REFUSE_FIELD, http=set_to(target, "x")))
        out.append(make("wrong_type_list", Expect.REFUSE_DOCUMENT, http=set_to(target, [1])))
    else:
        out.append(
            make(
                "deep_array",
                Expect.REFUSE_FIELD,
                grpc=raw_field(target, ld_bytes(ld(6, nested_array(60)))),
            )
        )
        out.append(make("scalar", Expect.EITHER, http=set_to(target, "x")))
    return out


def map_cases(make: _CaseMaker, target: Target) -> list[Case]:
    value_fd = target.fd.message_type.fields_by_name["value"]
    out = [
        make("wrong_type", Expect.REFUSE_FIELD, http=set_to(target, ["k"])),
        make(
            "bad_utf8_key",
            Expect.REFUSE_FIELD,
            grpc=raw_field(target, ld_bytes(ld(1, BAD_UTF8) + ld(2, b""))),
        ),
        make("empty_key", Expect.EITHER, http=set_to(target, {"": "v"})),
        make("many", Expect.EITHER, http=set_to(target, {f"k{i}": "v" for i in range(1000)})),
    ]
    if value_fd.type == FD.TYPE_STRING:
        out += [
            # Envoy answered 500 "Wire format was corrupt" for an object as a label value.
            make("object_value", Expect.REFUSE_FIELD, http=set_to(target, {"k": {}})),
            make("number_value", Expect.REFUSE_FIELD, http=set_to(target, {"k": 5})),
            make(
                "bad_utf8_value",
                Expect.REFUSE_FIELD,
                grpc=raw_field(target, ld_bytes(ld(1, b"k") + ld(2, BAD_UTF8))),
            ),
        ]
    else:  # google.protobuf.Value
        deep: Any = {}
        for _ in range(MAX_JSON_DEPTH):
            deep = {"a": deep}
        out += [
            make(
                "too_deep_value",
                Expect.REFUSE_FIELD,
                http=set_to(target, {"k": deep}),
                grpc=raw_field(target, ld_bytes(ld(1, b"k") + ld(2, ld(5, nested_object(60))))),
            ),
            make(
                "bad_utf8_value",
                Expect.REFUSE_FIELD,
                grpc=raw_field(target, ld_bytes(ld(1, b"k") + ld(2, ld(3, BAD_UTF8)))),
            ),
        ]
    return out


def repeated_scalar_cases(make: _CaseMaker, target: Target, query: bool) -> list[Case]:
    fd = target.fd
    out = [make("wrong_wire_type", Expect.EITHER, grpc=raw_field(target, fixed32_bytes()))]
    if fd.type == FD.TYPE_STRING:
        out += [
            make("bad_utf8_item", Expect.REFUSE_FIELD, grpc=raw_field(target, ld_bytes(BAD_UTF8))),
            make(
                "long_item",
                Expect.EITHER,
                http=set_to(target, [LONG_TEXT]),
                grpc=set_value(target, [LONG_TEXT]),
            ),
            make("many", Expect.EITHER, http=set_to(target, [f"i{i}" for i in range(1000)])),
        ]
        if not query:
            out.append(make("wrong_item_type", Expect.REFUSE_FIELD, http=set_to(target, [{}])))
            out.append(make("wrong_type", Expect.REFUSE_FIELD, http=set_to(target, {"a": 1})))
        return out
    assert fd.type == FD.TYPE_INT64, target.display
    return [
        *out,
        make("wrong_item_type", Expect.REFUSE_FIELD, http=set_to(target, ["abc"])),
        make(
            "extremes",
            Expect.EITHER,
            http=set_to(target, [str(INT64[1]), str(INT64[0])]),
            grpc=set_value(target, [INT64[1], INT64[0]]),
        ),
        make(
            "truncated_packed", Expect.REFUSE_FIELD, grpc=raw_field(target, ld_bytes(b"\x01\xff"))
        ),
        make("many", Expect.EITHER, http=set_to(target, list(range(1, 1001)))),
    ]


def request_cases(rpc: Rpc) -> list[Case]:
    """The request as a whole: bytes that are not protobuf, bodies that are not JSON objects,
    and a field that does not exist (top level and nested)."""
    target = None
    out = [
        Case(rpc, target, "garbage", Expect.REFUSE, grpc=lambda _: b"\xff\xff\xff\xff"),
        Case(
            rpc,
            target,
            "bad_tag",
            Expect.REFUSE,
            grpc=lambda seed: seed.SerializeToString() + b"\x0f",
        ),
    ]
    unknown = "hostile_unknown_field"
    query_target = Target((unknown,), rpc.request.fields[0]) if rpc.request.fields else None
    out.append(
        Case(
            rpc, query_target, "unknown_query_parameter", Expect.REFUSE_FIELD, query=f"{unknown}=1"
        )
    )
    if rpc.body:
        out += [
            Case(rpc, target, "not_json", Expect.REFUSE_DOCUMENT, raw_body=b"garbage"),
            Case(rpc, target, "json_array", Expect.REFUSE_DOCUMENT, raw_body=b"[1, 2]"),
            Case(rpc, target, "truncated_json", Expect.REFUSE_DOCUMENT, raw_body=b'{"a": '),
        ]
        body_fields = [f for f in rpc.request.fields if rpc.placement(f.name) == "body"]
        if body_fields:
            top = Target((unknown,), body_fields[0])
            out.append(
                Case(rpc, top, "unknown_field", Expect.REFUSE_FIELD, http=set_to(top, {"x": 1}))
            )
        for fd in body_fields:  # and inside the first message of the body
            inner = fd.message_type
            skipped = (*JSON_TYPES, DURATION)
            if inner is None or inner.GetOptions().map_entry or inner.full_name in skipped:
                continue
            path = (fd.name, 0, unknown) if fd.is_repeated else (fd.name, unknown)
            nested = Target(path, fd)
            out.append(
                Case(rpc, nested, "unknown_field", Expect.REFUSE_FIELD, http=set_to(nested, 1))
            )
            break
    return out


# --- mutations --------------------------------------------------------------------------------


class _CaseMaker:
    def __init__(self, rpc: Rpc, target: Target) -> None:
        self.rpc, self.target = rpc, target

    def __call__(
        self,
        kind: str,
        expect: Expect,
        *,
        http: HttpMutation | None = None,
        grpc: GrpcMutation | None = None,
    ) -> Case:
        return Case(self.rpc, self.target, kind, expect, http=http, grpc=grpc)


def _walk_json(seed: Json, path: tuple[Step, ...]) -> tuple[Any, Step]:
    """The container holding the field at `path` (created as needed), and its key."""
    node: Any = seed
    for step, following in itertools.pairwise(path):
        if isinstance(step, int):
            while len(node) <= step:
                node.append({})
            if not isinstance(node[step], dict):
                node[step] = {}
        else:
            default: Any = [] if isinstance(following, int) else {}
            if not isinstance(node.get(step), type(default)):
                node[step] = default
        node = node[step]
    return node, path[-1]


def set_to(target: Target, value: Any) -> HttpMutation:
    def mutate(seed: Json) -> None:
        node, key = _walk_json(seed, target.path)
        node[key] = copy.deepcopy(value)

    return mutate


def remove(target: Target) -> HttpMutation:
    def mutate(seed: Json) -> None:
        node, key = _walk_json(seed, target.path)
        node.pop(key, None)

    return mutate


def many(target: Target, count: int) -> HttpMutation:
    """`count` copies of the seed's first item (or of `{}`)."""

    def mutate(seed: Json) -> None:
        node, key = _walk_json(seed, target.path)
        items = node.get(key) or [{}]
        node[key] = [copy.deepcopy(items[0]) for _ in range(count)]

    return mutate


def _message_at(message: Message, path: tuple[Step, ...]) -> tuple[Message, FieldDescriptor]:
    """The message holding the last field of `path` (items created as needed), and the field."""
    node: Any = message
    for step, following in itertools.pairwise(path):
        if isinstance(step, int):
            while len(node) <= step:
                node.add()
            node = node[step]
        elif not isinstance(following, int):
            node = getattr(node, step)
        else:
            node = getattr(node, step)
    return node, node.DESCRIPTOR.fields_by_name[str(path[-1])]


def set_value(target: Target, value: Any) -> GrpcMutation:
    def mutate(message: Message) -> bytes:
        holder, fd = _message_at(message, target.path)
        if fd.is_repeated:
            getattr(holder, fd.name)[:] = value
        else:
            setattr(holder, fd.name, value)
        return message.SerializeToString()

    return mutate


def set_duration(target: Target, seconds: int, nanos: int) -> GrpcMutation:
    def mutate(message: Message) -> bytes:
        holder, fd = _message_at(message, target.path)
        duration = getattr(holder, fd.name)
        duration.seconds, duration.nanos = seconds, nanos
        return message.SerializeToString()

    return mutate


def cleared(target: Target) -> GrpcMutation:
    def mutate(message: Message) -> bytes:
        holder, fd = _message_at(message, target.path)
        holder.ClearField(fd.name)
        return message.SerializeToString()

    return mutate


# The bytes of one field after its tag's field number: a function of the field number.
RawField = Callable[[int], bytes]


def ld_bytes(payload: bytes) -> RawField:
    return lambda number: ld(number, payload)


def varint_bytes(value: int) -> RawField:
    return lambda number: tag(number, 0) + varint(value)


def fixed32_bytes() -> RawField:
    return lambda number: tag(number, 5) + b"\x00\x00\x00\x00"


def tag_ld_truncated() -> RawField:
    """A length-delimited field claiming more bytes than follow (the end of the request)."""
    return lambda number: tag(number, 2) + varint(50) + b"\x0a\x01"


def raw_field(target: Target, raw: RawField) -> GrpcMutation:
    """The request with the field at `target` replaced by raw bytes (written last, so a
    singular field takes that value, and an enclosing message is re-encoded around it)."""

    def encode(message: Message, path: tuple[Step, ...]) -> bytes:
        fd = message.DESCRIPTOR.fields_by_name[str(path[0])]
        if len(path) == 1:
            message.ClearField(fd.name)
            return message.SerializeToString() + raw(fd.number)
        if fd.is_repeated:
            index = path[1]
            assert isinstance(index, int)
            items = getattr(message, fd.name)
            while len(items) <= index:
                items.add()
            inner = encode(items[index], path[2:])
            del items[index]
            return message.SerializeToString() + ld(fd.number, inner)
        inner = encode(getattr(message, fd.name), path[1:])
        message.ClearField(fd.name)
        return message.SerializeToString() + ld(fd.number, inner)

    return lambda message: encode(message, target.path)


# --- requests ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    body: bytes | None


def http_request(rpc: Rpc, request: Json) -> HttpRequest:
    """The HTTP request Envoy transcodes into `request` on the RPC's route."""
    request = dict(request)
    path = rpc.template
    for param in rpc.path_params:
        value = request.pop(param, "")
        path = path.replace("{" + param + "}", _url_text(value), 1)
    if rpc.body == "*":
        body: Any = request
        query: Json = {}
    elif rpc.body:
        body, query = request.pop(rpc.body, {}), request
    else:
        body, query = None, request
    params = []
    for name, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            text = json.dumps(item) if isinstance(item, bool) else item
            params.append(f"{quote(name)}={_url_text(text)}")
    url = path + ("?" + "&".join(params) if params else "")
    return HttpRequest(rpc.verb.upper(), url, None if body is None else json_body(body))


def json_body(value: Any) -> bytes:
    encoded = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return encoded.replace(BAD_UTF8_MARK.encode(), BAD_UTF8)


def _url_text(value: Any) -> str:
    text = str(value)
    if text == BAD_UTF8_MARK:
        return quote(BAD_UTF8)
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def grpc_request(rpc: Rpc, seed: Json) -> Message:
    message = rpc.new_request()
    json_format.ParseDict(seed, message)
    return message
