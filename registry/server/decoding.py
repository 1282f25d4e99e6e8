"""The request boundary below the handlers: why a request's protobuf bytes do not decode,
found by walking the wire format against the request's descriptor, and the rules every
decoded request obeys whatever its RPC (enum values that exist, Durations and Timestamps in
their range, finite numbers in JSON values).

grpc decodes a request before any interceptor or handler code runs, and a DecodeError there
answers UNKNOWN with protobuf's text. registry.interceptors wraps each method's deserializer
so a refused request reaches the error boundary instead, which answers INVALID_ARGUMENT
`MALFORMED_REQUEST` with one violation per bad field found here. upb only says that a
message failed ("String field had bad UTF-8", "Exceeded upb_DecodeOptions_MaxDepth"); the
walk says where. It runs only for requests that need it, iteratively, in time linear in
their size, and never raises on hostile bytes.

JSON values (google.protobuf.Struct, Value, ListValue) nest at most MAX_JSON_DEPTH levels.
That is the transport's limit, not a choice: upb, protobuf C++ (Envoy's transcoder) and the
other runtimes refuse messages nested more than 100 levels deep, a JSON object level costs
three protobuf levels in a Struct (Struct, map entry, Value), and the deepest JSON value in
any request or response of the API sits two messages down
(`ListWorkflowsResponse.workflows[].input_schema`, `CreateScheduleResponse.schedule.input`,
`StartWorkflowRequest.search_attributes[k]`). Python's upb has one knob,
`google._upb._message.SetAllowOversizeProtos`: process-wide, it jumps from 100 to 65,535
levels, where a 310 KB request overflows the C stack and kills the process, and every
client's decoder would still refuse the deeper responses.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from registry.shared.model import FieldViolation
from registry.shared.schemas import MAX_INPUT_DEPTH
from registry.shared.specs import MAX_INPUT_SCHEMA_DEPTH, json_pointer

MAX_JSON_DEPTH: Final = min(MAX_INPUT_DEPTH, MAX_INPUT_SCHEMA_DEPTH)
MAX_VIOLATIONS: Final = 100
MAX_DURATION_SECONDS: Final = 315_576_000_000  # google.protobuf.Duration: ±10,000 years
MIN_TIMESTAMP_SECONDS: Final = -62_135_596_800  # 0001-01-01T00:00:00Z
MAX_TIMESTAMP_SECONDS: Final = 253_402_300_799  # 9999-12-31T23:59:59Z
_MAX_NANOS: Final = 999_999_999
_MAX_GROUP_DEPTH: Final = 100  # upb's nesting limit, for unknown groups

STRUCT: Final = "google.protobuf.Struct"
VALUE: Final = "google.protobuf.Value"
LIST_VALUE: Final = "google.protobuf.ListValue"
DURATION: Final = "google.protobuf.Duration"
TIMESTAMP: Final = "google.protobuf.Timestamp"
_JSON_TYPES: Final = frozenset({STRUCT, VALUE, LIST_VALUE})

_VARINT, _FIXED64, _LENGTH, _START_GROUP, _END_GROUP, _FIXED32 = 0, 1, 2, 3, 4, 5
_FD = FieldDescriptor
_VARINT_TYPES: Final = frozenset(
    {
        _FD.TYPE_INT32,
        _FD.TYPE_INT64,
        _FD.TYPE_UINT32,
        _FD.TYPE_UINT64,
        _FD.TYPE_SINT32,
        _FD.TYPE_SINT64,
        _FD.TYPE_BOOL,
        _FD.TYPE_ENUM,
    }
)
_FIXED64_TYPES: Final = frozenset({_FD.TYPE_FIXED64, _FD.TYPE_SFIXED64, _FD.TYPE_DOUBLE})
_FIXED32_TYPES: Final = frozenset({_FD.TYPE_FIXED32, _FD.TYPE_SFIXED32, _FD.TYPE_FLOAT})
# Value.number_value (field 2, fixed64) holding an infinity or a NaN: exponent bits all set.
# A cheap scan of a decoded request's bytes; a match (or a false one) gets the full walk.
_NON_FINITE_CANDIDATE: Final = re.compile(rb"\x11.{6}[\xf0-\xff][\x7f\xff]", re.DOTALL)

MALFORMED = "is truncated or not a valid protobuf encoding"
BAD_UTF8 = "must be valid UTF-8"
NON_FINITE = "must be a finite number (not NaN or an infinity)"


def too_deep(limit: int = MAX_JSON_DEPTH) -> str:
    """The description of a JSON value nested past `limit` (registry.specs says the same)."""
    return f"must not be nested more than {limit} levels deep"


def may_hold_non_finite_numbers(data: bytes) -> bool:
    """Whether a decoded request's bytes might hold a NaN or an infinity in a JSON value
    (which JSON cannot express, so no handler expects one): False is certain."""
    return _NON_FINITE_CANDIDATE.search(data) is not None


# --- the wire walk ----------------------------------------------------------------------------


@dataclass
class _Frame:
    """A message being walked: bytes [pos, end) of `data`."""

    descriptor: Descriptor
    pos: int
    end: int
    path: str  # field path of this message ("" for the request itself)
    kind: str  # "message", "entry" (a map entry), or one of the JSON types
    json_depth: int = 0  # containers (Struct, ListValue) from the JSON value's root, inclusive
    counts: dict[int, int] = field(default_factory=dict)  # occurrences of repeated fields


def wire_violations(
    data: bytes, descriptor: Descriptor, *, max_json_depth: int = MAX_JSON_DEPTH
) -> list[FieldViolation]:
    """What keeps `data` from being a valid `descriptor` message, one violation per bad field:
    strings that are not UTF-8, JSON values nested past `max_json_depth`, numbers in JSON values
    that are not finite, and bytes that are truncated or not protobuf. A problem outside any
    field (the request's own bytes) has the field "". Empty when nothing is wrong."""
    out: list[FieldViolation] = []
    kind = _kind(descriptor)
    stack = [_Frame(descriptor, 0, len(data), "", kind, int(kind in (STRUCT, LIST_VALUE)))]
    while stack and len(out) < MAX_VIOLATIONS:
        frame = stack[-1]
        if frame.pos >= frame.end:
            stack.pop()
            continue
        child = _step(data, frame, out, max_json_depth)
        if child is not None:
            stack.append(child)
    return out[:MAX_VIOLATIONS]


def _step(
    data: bytes, frame: _Frame, out: list[FieldViolation], max_json_depth: int
) -> _Frame | None:
    """Walk one field of `frame`: record its problems, and return the submessage to walk
    next, if any. A frame whose bytes can't be read further is closed (pos = end)."""
    tag = _varint(data, frame.pos, frame.end)
    if tag is None or tag[0] >> 3 == 0 or tag[0] > 0xFFFFFFFF:
        _malformed(frame, frame.path, out)
        return None
    number, wire_type = tag[0] >> 3, tag[0] & 7
    frame.pos = tag[1]
    fd = frame.descriptor.fields_by_number.get(number)
    if fd is None or wire_type not in _wire_types(fd):  # unknown: kept by upb, never read
        if not _skip(data, frame, number, wire_type):
            _malformed(frame, frame.path, out)
        return None
    packed = wire_type == _LENGTH and fd.type not in (_FD.TYPE_STRING, _FD.TYPE_BYTES)
    packed = packed and fd.type != _FD.TYPE_MESSAGE
    name = _field_path(frame, fd, packed=packed)
    if wire_type != _LENGTH:
        value_at = frame.pos
        if not _skip(data, frame, number, wire_type):
            _malformed(frame, name, out)
            return None
        if frame.kind == VALUE and fd.name == "number_value":
            (number_value,) = struct.unpack_from("<d", data, value_at)
            if not math.isfinite(number_value):
                out.append(FieldViolation(name, NON_FINITE, "invalid_type"))
        return None
    length = _varint(data, frame.pos, frame.end)
    if length is None or length[1] + length[0] > frame.end:
        _malformed(frame, name, out)
        return None
    body_start, body_end = length[1], length[1] + length[0]
    frame.pos = body_end
    if fd.type == _FD.TYPE_STRING:
        is_key = frame.kind == "entry" and fd.number == 1  # told by _entry_path
        if not is_key and not _is_utf8(data[body_start:body_end]):
            out.append(FieldViolation(name, BAD_UTF8, "invalid_utf8"))
        return None
    if packed:
        if not _packed_ok(data, body_start, body_end, fd.type):
            out.append(FieldViolation(name, MALFORMED, "malformed"))
        return None
    if fd.type == _FD.TYPE_BYTES:
        return None
    message_type = fd.message_type
    assert message_type is not None  # TYPE_MESSAGE
    kind = _kind(message_type)
    depth = frame.json_depth + (kind in (STRUCT, LIST_VALUE))
    if depth > max_json_depth:
        out.append(FieldViolation(name, too_deep(max_json_depth), "too_deep"))
        return None
    if kind == "entry":
        name = _entry_path(data, body_start, body_end, frame, fd, out)
    return _Frame(message_type, body_start, body_end, name, kind, depth)


def _malformed(frame: _Frame, name: str, out: list[FieldViolation]) -> None:
    """Record that `name` can't be read, and close the frame: nothing after it is readable."""
    out.append(FieldViolation(name, MALFORMED, "malformed"))
    frame.pos = frame.end


def _kind(descriptor: Descriptor) -> str:
    if descriptor.full_name in _JSON_TYPES:
        return descriptor.full_name
    return "entry" if descriptor.GetOptions().map_entry else "message"


def _field_path(frame: _Frame, fd: FieldDescriptor, *, packed: bool) -> str:
    """The name a violation in this field gets: `workflows[0]`, `spec.intervals[1]`, or a JSON
    pointer inside a JSON value (`input/items/0`). A map entry's key and value, and a Value's
    members, are named after the entry or the Value; a packed run after its field."""
    if frame.kind in ("entry", VALUE, STRUCT):
        return frame.path  # Struct.fields entries get their key in _entry_path
    if frame.kind == LIST_VALUE:
        return json_pointer(frame.path, [_next_index(frame, fd)])
    name = f"{frame.path}.{fd.name}" if frame.path else fd.name
    is_map = fd.message_type is not None and fd.message_type.GetOptions().map_entry
    if fd.is_repeated and not is_map and not packed:
        return f"{name}[{_next_index(frame, fd)}]"
    return name


def _next_index(frame: _Frame, fd: FieldDescriptor) -> int:
    index = frame.counts.get(fd.number, 0)
    frame.counts[fd.number] = index + 1
    return index


def _entry_path(
    data: bytes,
    start: int,
    end: int,
    frame: _Frame,
    fd: FieldDescriptor,
    out: list[FieldViolation],
) -> str:
    """A map entry's name: `labels["k"]`, or `input/k` for a Struct member. The key is found
    by a look into the entry (the walk of the entry itself reports what else is wrong)."""
    key = _entry_key(data, start, end)
    text = key.decode("utf-8", "backslashreplace") if key is not None else ""
    if frame.kind == STRUCT:
        name = json_pointer(frame.path, [text])
    else:
        base = f"{frame.path}.{fd.name}" if frame.path else fd.name
        name = f"{base}[{json.dumps(text)}]"
    if key is not None and not _is_utf8(key):
        out.append(FieldViolation(name, "keys " + BAD_UTF8, "invalid_utf8"))
    return name


def _entry_key(data: bytes, pos: int, end: int) -> bytes | None:
    """The last string key (field 1) of a map entry, if the entry reads that far."""
    key = None
    while pos < end:
        tag = _varint(data, pos, end)
        if tag is None:
            return key
        pos = tag[1]
        if tag[0] != (1 << 3 | _LENGTH):
            skipped = _skip_value(data, pos, end, tag[0] >> 3, tag[0] & 7)
            if skipped is None:
                return key
            pos = skipped
            continue
        length = _varint(data, pos, end)
        if length is None or length[1] + length[0] > end:
            return key
        key = data[length[1] : length[1] + length[0]]
        pos = length[1] + length[0]
    return key


@cache
def _wire_types(fd: FieldDescriptor) -> frozenset[int]:
    """The wire types upb reads into this field; any other makes it an unknown field."""
    if fd.type in _VARINT_TYPES:
        single = _VARINT
    elif fd.type in _FIXED64_TYPES:
        single = _FIXED64
    elif fd.type in _FIXED32_TYPES:
        single = _FIXED32
    elif fd.type == _FD.TYPE_GROUP:
        single = _START_GROUP
    else:
        return frozenset({_LENGTH})
    return frozenset({single, _LENGTH}) if fd.is_repeated else frozenset({single})


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int] | None:
    """(value, position after it), or None when truncated or longer than 10 bytes."""
    result = shift = 0
    while pos < end and shift < 70:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    return None


def _skip(data: bytes, frame: _Frame, number: int, wire_type: int) -> bool:
    after = _skip_value(data, frame.pos, frame.end, number, wire_type)
    if after is None:
        return False
    frame.pos = after
    return True


def _skip_value(data: bytes, pos: int, end: int, number: int, wire_type: int) -> int | None:
    """The position after a field's value, or None when it is truncated or malformed."""
    if wire_type == _VARINT:
        value = _varint(data, pos, end)
        return None if value is None else value[1]
    if wire_type in (_FIXED64, _FIXED32):
        after = pos + (8 if wire_type == _FIXED64 else 4)
        return after if after <= end else None
    if wire_type == _LENGTH:
        length = _varint(data, pos, end)
        if length is None or length[1] + length[0] > end:
            return None
        return length[1] + length[0]
    if wire_type == _START_GROUP:
        return _skip_group(data, pos, end, number)
    return None  # an end group without its start, or wire types 6 and 7


def _skip_group(data: bytes, pos: int, end: int, number: int) -> int | None:
    """The position after the end-group tag that closes group `number`."""
    open_groups = [number]
    while pos < end:
        tag = _varint(data, pos, end)
        if tag is None or tag[0] >> 3 == 0:
            return None
        pos, inner, wire_type = tag[1], tag[0] >> 3, tag[0] & 7
        if wire_type == _END_GROUP:
            if inner != open_groups.pop():
                return None
            if not open_groups:
                return pos
        elif wire_type == _START_GROUP:
            if len(open_groups) >= _MAX_GROUP_DEPTH:
                return None
            open_groups.append(inner)
        else:
            after = _skip_value(data, pos, end, inner, wire_type)
            if after is None:
                return None
            pos = after
    return None


def _packed_ok(data: bytes, pos: int, end: int, field_type: int) -> bool:
    if field_type in _FIXED64_TYPES:
        return (end - pos) % 8 == 0
    if field_type in _FIXED32_TYPES:
        return (end - pos) % 4 == 0
    while pos < end:
        value = _varint(data, pos, end)
        if value is None:
            return False
        pos = value[1]
    return True


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- rules of decoded requests ------------------------------------------------------------


def field_violations(message: Message) -> list[FieldViolation]:
    """What protobuf accepts but no request may carry: enum numbers the enum does not define
    (proto3 keeps them), and Durations or Timestamps outside their types' documented ranges
    (which would overflow Python's timedelta and datetime). JSON values are not walked here."""
    out: list[FieldViolation] = []
    for path, fd, value in _checked_values(message, ""):
        if fd.enum_type is not None:
            if fd.enum_type.values_by_number.get(value) is None:
                names = ", ".join(v.name for v in fd.enum_type.values)
                out.append(FieldViolation(path, f"must be one of {names}", "invalid_enum"))
        elif fd.message_type is not None and fd.message_type.full_name == DURATION:
            if not _duration_ok(value.seconds, value.nanos):
                description = (
                    f"must be a duration between -{MAX_DURATION_SECONDS}s and "
                    f"{MAX_DURATION_SECONDS}s, with nanos of the same sign below 1e9"
                )
                out.append(FieldViolation(path, description, "out_of_range"))
        elif not (
            MIN_TIMESTAMP_SECONDS <= value.seconds <= MAX_TIMESTAMP_SECONDS
            and 0 <= value.nanos <= _MAX_NANOS
        ):
            description = "must be a time between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z"
            out.append(FieldViolation(path, description, "out_of_range"))
    return out[:MAX_VIOLATIONS]


def _duration_ok(seconds: int, nanos: int) -> bool:
    return (
        abs(seconds) <= MAX_DURATION_SECONDS
        and abs(nanos) <= _MAX_NANOS
        and not (seconds > 0 > nanos or seconds < 0 < nanos)
    )


def _checked_values(message: Message, path: str) -> Iterator[tuple[str, FieldDescriptor, Any]]:
    """(path, field, value) of every enum, Duration and Timestamp set in `message`."""
    for fd in _checked_fields(message.DESCRIPTOR):
        name = f"{path}.{fd.name}" if path else fd.name
        value = getattr(message, fd.name)
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            value_fd = fd.message_type.fields_by_name["value"]
            for key in value:
                entry = f"{name}[{json.dumps(str(key))}]"
                yield from _checked_value(entry, value_fd, value[key])
        elif fd.is_repeated:
            for i, item in enumerate(value):
                yield from _checked_value(f"{name}[{i}]", fd, item)
        elif fd.message_type is None or message.HasField(fd.name):
            yield from _checked_value(name, fd, value)


def _checked_value(path: str, fd: FieldDescriptor, value: Any) -> Iterator[tuple[str, Any, Any]]:
    if fd.message_type is None or fd.message_type.full_name in (DURATION, TIMESTAMP):
        yield path, fd, value
    else:
        yield from _checked_values(value, path)


@cache
def _checked_fields(descriptor: Descriptor) -> tuple[FieldDescriptor, ...]:
    """The fields of `descriptor` that are, or lead to, enums, Durations or Timestamps."""
    return tuple(fd for fd in descriptor.fields if _leads_to_checked(fd, frozenset()))


def _leads_to_checked(fd: FieldDescriptor, seen: frozenset[str]) -> bool:
    if fd.type == _FD.TYPE_ENUM:
        return True
    if fd.message_type is None:
        return False
    name = fd.message_type.full_name
    if name in (DURATION, TIMESTAMP):
        return True
    if name in _JSON_TYPES or name in seen:
        return False
    return any(_leads_to_checked(inner, seen | {name}) for inner in fd.message_type.fields)
