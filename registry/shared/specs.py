"""Structural validation of what clients send: workflow specs and worker registrations.

Used by the gRPC server before it sends anything to Temporal, and (its JSON value and number
checks) by the shards' operation checks (registry.catalog.op_fields). It must therefore load in
Temporal's workflow sandbox: standard library only (no time, random, os or IO), deterministic,
and it never raises on hostile input. Values arrive from JSON, so every field may have the
wrong Python type; that is reported as a violation (reason `invalid_type`), never raised.

Field paths are dotted with `[i]` indexes and `labels["key"]` for map keys; a location inside a
JSON value is appended as a JSON pointer (`workflows[0].input_schema/properties/a/$ref`).
Nested JSON is walked iteratively, so no input can cause a RecursionError, and every walk stops
early once a size limit is passed, so the work is bounded by the limits, not by the payload.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import fields, is_dataclass
from json.encoder import encode_basestring_ascii
from typing import Any, Final, TypeAlias

from registry.shared.model import (
    FieldViolation,
    InputWarningSpec,
    SearchAttributeSpec,
    WorkerRegistration,
    WorkflowSpec,
)

MAX_IDENTIFIER_LENGTH: Final = 200  # workflow_type, task_queue, worker_id
MAX_VERSION_LENGTH: Final = 100
MAX_DESCRIPTION_LENGTH: Final = 2000
MAX_ENVIRONMENT_LENGTH: Final = 100
MAX_LABELS: Final = 64
MAX_LABEL_KEY_LENGTH: Final = 63
MAX_LABEL_VALUE_LENGTH: Final = 256
MAX_SEARCH_ATTRIBUTES: Final = 32
MAX_SEARCH_ATTRIBUTE_DESCRIPTION_LENGTH: Final = 500
MAX_INPUT_WARNINGS: Final = 64
MAX_INPUT_WARNING_FIELD_LENGTH: Final = 200
MAX_INPUT_WARNING_MESSAGE_LENGTH: Final = 500
MAX_INPUT_SCHEMA_BYTES: Final = 256 * 1024  # len(json.dumps(schema))
MAX_INPUT_SCHEMA_DEPTH: Final = 32  # nesting of objects and arrays; `{}` has depth 1 (see
# registry.decoding: the deepest JSON value every protobuf decoder on the path accepts)
MAX_WORKFLOWS_PER_WORKER: Final = 200
MAX_REGISTRATION_BYTES: Final = 1024 * 1024  # Temporal warns at 256 KiB, fails at 2 MB
# Bounds of registry.shard_max_bytes. At the smallest, an empty shard still holds the largest
# worker registration and a type with the largest schema (after the room kept for remembered
# writes, registry.catalog.engine.Limits); the largest stays far below Temporal's 2 MiB.
MIN_SHARD_BYTES: Final = 512 * 1024
MAX_SHARD_BYTES: Final = 1_500_000
MIN_TTL_SECONDS: Final = 5
MAX_TTL_SECONDS: Final = 86_400
DEFAULT_TTL_SECONDS: Final = 60  # what ttl_seconds == 0 means
MAX_VIOLATIONS: Final = 100  # reported per call; the rest are dropped
# JSON numbers travel as doubles (google.protobuf.Struct), which hold integers exactly only up
# to 2**53: larger ones are refused rather than silently rounded.
MAX_EXACT_INTEGER: Final = 2**53

SEARCH_ATTRIBUTE_TYPES: Final = (
    "Keyword",
    "KeywordList",
    "Text",
    "Int",
    "Double",
    "Bool",
    "Datetime",
)
SYSTEM_SEARCH_ATTRIBUTES: Final = (
    "WorkflowId",
    "RunId",
    "WorkflowType",
    "ExecutionStatus",
    "StartTime",
    "CloseTime",
    "ExecutionTime",
    "ExecutionDuration",
    "TaskQueue",
    "BatcherUser",
    "TemporalChangeVersion",
    "BinaryChecksums",
    "BuildIds",
    "HistoryLength",
    "HistorySizeBytes",
    "StateTransitionCount",
    "TemporalScheduledById",
    "TemporalScheduledStartTime",
    "TemporalSchedulePaused",
    "TemporalNamespaceDivision",
    "TemporalPauseInfo",
    "TemporalWorkerDeploymentVersion",
    "TemporalWorkerDeployment",
    "TemporalWorkflowVersioningBehavior",
    "ParentWorkflowId",
    "ParentRunId",
    "RootWorkflowId",
    "RootRunId",
)
RESERVED_SEARCH_ATTRIBUTE_PREFIX: Final = "Temporal"
JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

_SYSTEM_NAMES = frozenset(name.casefold() for name in SYSTEM_SEARCH_ATTRIBUTES)
_TYPES_BY_FOLDED_NAME = {name.casefold(): name for name in SEARCH_ATTRIBUTE_TYPES}
_ENVIRONMENT = re.compile(r"[A-Za-z0-9._-]*")
_LABEL_KEY = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?")
_SEARCH_ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# C0/C1 controls and lone surrogates (which can't be encoded as UTF-8, so not sent on the wire)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_EXCEPT_NEWLINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_MAX_PATH_TOKEN = 64  # longer keys are shortened in field paths


def is_finite_number(value: object) -> bool:
    """An int or float, not a bool, that is finite as a float (math.isfinite raises
    OverflowError on an int too large for a float: that is not finite either)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def effective_ttl(seconds: int) -> int:
    """A registration's TTL in seconds: 0 means the default."""
    return seconds or DEFAULT_TTL_SECONDS


def validate_workflow_spec(
    spec: WorkflowSpec, path: str = "", *, require_task_queue: bool
) -> list[FieldViolation]:
    """Violations in one workflow spec; `path` prefixes every field (`workflows[3]`)."""
    if not isinstance(spec, WorkflowSpec):
        return [_invalid_type(path or "spec", "a WorkflowSpec object")]
    out = _identifier(spec.workflow_type, _join(path, "workflow_type"), required=True)
    out += _identifier(spec.task_queue, _join(path, "task_queue"), required=require_task_queue)
    out += _text(spec.version, _join(path, "version"), MAX_VERSION_LENGTH)
    out += _text(spec.description, _join(path, "description"), MAX_DESCRIPTION_LENGTH, lines=True)
    out += validate_input_schema(spec.input_schema, _join(path, "input_schema"))
    out += _input_warnings(spec.schedule_input_warnings, _join(path, "schedule_input_warnings"))
    out += _search_attributes(spec.search_attributes, _join(path, "search_attributes"))
    out += _labels(spec.labels, _join(path, "labels"))
    return out[:MAX_VIOLATIONS]


def validate_worker_registration(registration: WorkerRegistration) -> list[FieldViolation]:
    """Violations in a worker registration, its workflow specs included (`workflows[i].…`).

    An oversized registration is refused with that single violation, before anything else is
    looked at, so the work done here stays bounded whatever a client sends.
    """
    if not isinstance(registration, WorkerRegistration):
        return [_invalid_type("registration", "a WorkerRegistration object")]
    size = _scan_json(registration, "", MAX_INPUT_SCHEMA_DEPTH + 8, MAX_REGISTRATION_BYTES)[1]
    if size > MAX_REGISTRATION_BYTES:
        return [_too_large("registration", MAX_REGISTRATION_BYTES)]
    out = _identifier(registration.worker_id, "worker_id", required=True)
    out += _identifier(registration.task_queue, "task_queue", required=True)
    out += _text(
        registration.environment,
        "environment",
        MAX_ENVIRONMENT_LENGTH,
        valid=_ENVIRONMENT.fullmatch,
        rule="may contain only letters, digits, '.', '_' and '-'",
    )
    out += _labels(registration.labels, "labels")
    out += _ttl(registration.ttl_seconds)
    out += _worker_workflows(registration.workflows, registration.task_queue)
    return out[:MAX_VIOLATIONS]


def validate_input_schema(schema: object, field: str = "input_schema") -> list[FieldViolation]:
    """The structural rules for a registered JSON Schema (not its meaning: see registry.schemas).

    It must be a JSON object of at most MAX_INPUT_SCHEMA_BYTES as `json.dumps` writes it, nested
    at most MAX_INPUT_SCHEMA_DEPTH deep, with only local `$ref`/`$dynamicRef`s, no `$id` that
    names a resource elsewhere and no `$schema` other than draft 2020-12. Keywords are looked for
    in every object, including data such as `const` values: stricter than needed, never looser.
    """
    if not isinstance(schema, dict):
        return [_invalid_type(field, "a JSON object")]
    return _json_violations(
        schema, field, MAX_INPUT_SCHEMA_DEPTH, MAX_INPUT_SCHEMA_BYTES, _schema_keywords
    )


def validate_json_value(
    value: object, field: str, *, max_depth: int, max_bytes: int
) -> list[FieldViolation]:
    """Violations that make `value` something other than plain JSON of at most `max_bytes` (as
    `json.dumps` writes it) nested at most `max_depth` deep: non-JSON types (sets, bytes,
    objects, non-string keys), NaN and infinities, integers beyond ±2**53 (not exact as
    doubles). Field names are `field` plus a JSON pointer."""
    return measure_json_value(value, field, max_depth=max_depth, max_bytes=max_bytes)[0]


def measure_json_value(
    value: object, field: str, *, max_depth: int, max_bytes: int
) -> tuple[list[FieldViolation], int]:
    """validate_json_value's violations, and the size of `value` as `json.dumps` writes it
    (exact when there are no violations)."""
    violations, size = _scan_json(value, field, max_depth, max_bytes)
    return ([_too_large(field, max_bytes)] if size > max_bytes else violations), size


def json_pointer(field: str, tokens: Iterable[object]) -> str:
    """`field` followed by a JSON pointer to `tokens` (`input/items/0`); long keys shortened."""
    return field + "".join("/" + _pointer_token(token) for token in tokens)


# --- fields ----------------------------------------------------------------------------------


def _identifier(value: object, field: str, *, required: bool) -> list[FieldViolation]:
    return _text(
        value,
        field,
        MAX_IDENTIFIER_LENGTH,
        required=required,
        valid=lambda s: s.isprintable() and " " not in s,
        rule="may contain only printable characters and no whitespace",
    )


def _text(
    value: object,
    field: str,
    max_length: int,
    *,
    required: bool = False,
    lines: bool = False,
    valid: Callable[[str], object] | None = None,
    rule: str = "",
) -> list[FieldViolation]:
    """A string field: type, then presence (blank counts as missing), length, characters.
    Without `valid`, control characters are refused (tab and newlines allowed with `lines`)."""
    if not isinstance(value, str):
        return [_invalid_type(field, "a string")]
    if not value.strip():
        if required:
            return [FieldViolation(field, "is required and must not be blank", "required")]
        if not value:
            return []
    if len(value) > max_length:
        return [FieldViolation(field, f"must be at most {max_length} characters", "too_long")]
    if valid is None:
        control = _CONTROL_EXCEPT_NEWLINES if lines else _CONTROL
        valid, rule = (lambda s: not control.search(s)), "must not contain control characters"
    if not valid(value):
        return [FieldViolation(field, rule, "invalid_characters")]
    return []


def _labels(labels: object, field: str) -> list[FieldViolation]:
    if not isinstance(labels, dict):
        return [_invalid_type(field, "an object of string values")]
    if len(labels) > MAX_LABELS:
        return [FieldViolation(field, f"must have at most {MAX_LABELS} entries", "too_long")]
    out: list[FieldViolation] = []
    for key, value in labels.items():
        entry = f"{field}[{json.dumps(_shorten(_display(key)))}]"
        if not isinstance(key, str):
            out.append(_invalid_type(entry, "a string key"))
            continue
        if not key:
            out.append(FieldViolation(entry, "label keys must not be empty", "required"))
        elif len(key) > MAX_LABEL_KEY_LENGTH:
            out.append(
                FieldViolation(
                    entry,
                    f"label keys must be at most {MAX_LABEL_KEY_LENGTH} characters",
                    "too_long",
                )
            )
        elif not _LABEL_KEY.fullmatch(key):
            message = (
                "label keys may contain only letters, digits, '.', '_', '/' and '-',"
                " and must start and end with a letter or digit"
            )
            out.append(FieldViolation(entry, message, "invalid_characters"))
        out += _text(value, entry, MAX_LABEL_VALUE_LENGTH)
    return out


def _search_attributes(attributes: object, field: str) -> list[FieldViolation]:
    items = _list_of(attributes, field, SearchAttributeSpec, MAX_SEARCH_ATTRIBUTES)
    if isinstance(items, FieldViolation):
        return [items]
    out: list[FieldViolation] = []
    seen: set[str] = set()
    for i, attribute in enumerate(items):
        item = f"{field}[{i}]"
        if not isinstance(attribute, SearchAttributeSpec):
            out.append(_invalid_type(item, "a SearchAttributeSpec object"))
            continue
        out += _search_attribute_name(attribute.name, f"{item}.name", seen)
        out += _search_attribute_type(attribute.type, f"{item}.type")
        out += _text(
            attribute.description, f"{item}.description", MAX_SEARCH_ATTRIBUTE_DESCRIPTION_LENGTH
        )
    return out


def _search_attribute_name(name: object, field: str, seen: set[str]) -> list[FieldViolation]:
    if not isinstance(name, str):
        return [_invalid_type(field, "a string")]
    if not name:
        return [FieldViolation(field, "is required", "required")]
    if not _SEARCH_ATTRIBUTE_NAME.fullmatch(name):
        message = "must start with a letter and have at most 64 letters, digits and '_'"
        return [FieldViolation(field, message, "invalid_characters")]
    folded = name.casefold()
    if folded in _SYSTEM_NAMES:
        return [FieldViolation(field, f"{name} is a Temporal system attribute", "not_allowed")]
    if folded.startswith(RESERVED_SEARCH_ATTRIBUTE_PREFIX.casefold()):
        message = f"names starting with {RESERVED_SEARCH_ATTRIBUTE_PREFIX!r} are reserved"
        return [FieldViolation(field, message, "not_allowed")]
    if folded in seen:
        return [FieldViolation(field, f"{name} is declared twice (ignoring case)", "duplicate")]
    seen.add(folded)
    return []


def _search_attribute_type(value: object, field: str) -> list[FieldViolation]:
    if not isinstance(value, str):
        return [_invalid_type(field, "a string")]
    if not value:
        return [FieldViolation(field, "is required", "required")]
    if value in SEARCH_ATTRIBUTE_TYPES:
        return []
    message = "must be one of " + ", ".join(SEARCH_ATTRIBUTE_TYPES)
    if len(value) <= 20 and value.casefold() in _TYPES_BY_FOLDED_NAME:
        message += f"; did you mean {_TYPES_BY_FOLDED_NAME[value.casefold()]!r}?"
    return [FieldViolation(field, message, "not_allowed")]


def _input_warnings(warnings: object, field: str) -> list[FieldViolation]:
    items = _list_of(warnings, field, InputWarningSpec, MAX_INPUT_WARNINGS)
    if isinstance(items, FieldViolation):
        return [items]
    out: list[FieldViolation] = []
    for i, warning in enumerate(items):
        item = f"{field}[{i}]"
        if not isinstance(warning, InputWarningSpec):
            out.append(_invalid_type(item, "an InputWarningSpec object"))
            continue
        out += _text(warning.field, f"{item}.field", MAX_INPUT_WARNING_FIELD_LENGTH, required=True)
        out += _text(
            warning.message,
            f"{item}.message",
            MAX_INPUT_WARNING_MESSAGE_LENGTH,
            required=True,
            lines=True,
        )
    return out


def _ttl(seconds: object) -> list[FieldViolation]:
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return [_invalid_type("ttl_seconds", "an integer")]
    if seconds != 0 and not MIN_TTL_SECONDS <= seconds <= MAX_TTL_SECONDS:
        message = (
            f"must be between {MIN_TTL_SECONDS} and {MAX_TTL_SECONDS},"
            f" or 0 for the default ({DEFAULT_TTL_SECONDS})"
        )
        return [FieldViolation("ttl_seconds", message, "out_of_range")]
    return []


def _worker_workflows(workflows: object, task_queue: object) -> list[FieldViolation]:
    items = _list_of(workflows, "workflows", WorkflowSpec, MAX_WORKFLOWS_PER_WORKER)
    if isinstance(items, FieldViolation):
        return [items]
    if not items:
        return [FieldViolation("workflows", "at least one workflow is required", "required")]
    out: list[FieldViolation] = []
    seen: set[str] = set()
    for i, spec in enumerate(items):
        item = f"workflows[{i}]"
        out += validate_workflow_spec(spec, item, require_task_queue=False)
        if not isinstance(spec, WorkflowSpec):
            continue
        if isinstance(spec.task_queue, str) and spec.task_queue not in ("", task_queue):
            message = "must be empty or equal to the worker's task_queue"
            out.append(FieldViolation(f"{item}.task_queue", message, "not_allowed"))
        if isinstance(spec.workflow_type, str):
            if spec.workflow_type in seen:
                message = "this workflow type is already declared by this worker"
                out.append(FieldViolation(f"{item}.workflow_type", message, "duplicate"))
            seen.add(spec.workflow_type)
    return out


def _list_of(value: object, field: str, kind: type, max_items: int) -> list[Any] | FieldViolation:
    """`value` if it is a list of at most `max_items`, else the violation (items not checked)."""
    if not isinstance(value, list):
        return _invalid_type(field, f"a list of {kind.__name__} objects")
    if len(value) > max_items:
        return FieldViolation(field, f"must have at most {max_items} entries", "too_long")
    return value


# --- JSON values -----------------------------------------------------------------------------

_Location: TypeAlias = tuple[Any, object] | None  # (parent location, key or index)
# Checks one JSON object: (key, description, reason) for each bad member.
_ObjectCheck: TypeAlias = Callable[[dict[str, Any]], list[tuple[str, str, str]]]


def _scan_json(
    root: object,
    field: str,
    max_depth: int,
    max_bytes: int | None,
    check_object: _ObjectCheck | None = None,
) -> tuple[list[FieldViolation], int]:
    """Walk a JSON value iteratively: (violations, size). The size is exactly `len(json.dumps(
    root))` when there are no violations, else a lower bound; the walk stops once it passes
    `max_bytes`. Dataclass instances count as objects of their fields. Locations are kept as
    linked (parent, token) pairs and turned into field names only for violations."""
    violations: list[FieldViolation] = []
    limit = math.inf if max_bytes is None else max_bytes
    containers: list[tuple[Any, _Location, int]] = []  # still to walk, with location and depth

    def name(location: _Location) -> str:
        tokens: list[object] = []
        while location is not None:
            location, token = location
            tokens.append(token)
        return json_pointer(field, reversed(tokens))

    def visit(value: object, location: _Location, depth: int) -> int:
        """The size of a scalar; 0 for a container (queued) or a violation (recorded)."""
        if isinstance(value, str):
            if _encodable(value):
                return _string_size(value, max_bytes)
            violations.append(_not_unicode(name(location)))
            return 0
        if value is None or value is True:
            return 4
        if value is False:
            return 5
        if isinstance(value, int):
            if abs(value) <= MAX_EXACT_INTEGER:
                return len(int.__repr__(value))
            message = "integers must be between -2**53 and 2**53 (JSON numbers travel as doubles)"
            violations.append(FieldViolation(name(location), message, "out_of_range"))
        elif isinstance(value, float):
            if math.isfinite(value):
                return len(float.__repr__(value))
            violations.append(_invalid_type(name(location), "a finite number (not NaN)"))
        elif not isinstance(value, (dict, list)) and (
            not is_dataclass(value) or isinstance(value, type)
        ):
            violations.append(_invalid_type(name(location), "a JSON value"))
        elif depth > max_depth:
            message = f"must not be nested more than {max_depth} levels deep"
            violations.append(FieldViolation(name(location), message, "too_deep"))
        else:
            containers.append((value, location, depth))
        return 0

    size = visit(root, None, 1)
    while containers and size <= limit and len(violations) < MAX_VIOLATIONS:
        value, location, depth = containers.pop()
        container = value if isinstance(value, (dict, list)) else _fields(value)
        size += 2 + 2 * max(len(container) - 1, 0)  # brackets and ', ' separators
        if size > limit:
            break  # before touching the items of a huge container
        queued = len(containers)
        if isinstance(container, list):
            for index, item in enumerate(container):
                size += visit(item, (location, index), depth + 1)
                if size > limit:
                    break
        elif not all(isinstance(key, str) for key in container):
            violations.append(_invalid_type(name(location), "an object with string keys"))
        elif not all(_encodable(key) for key in container):
            violations.append(_not_unicode(name(location)))
        else:
            for key, description, reason in check_object(container) if check_object else ():
                violations.append(FieldViolation(name((location, key)), description, reason))
            for key, item in container.items():
                size += _string_size(key, max_bytes) + 2 + visit(item, (location, key), depth + 1)
                if size > limit:
                    break
        containers[queued:] = reversed(containers[queued:])  # walk children in order
    return violations[:MAX_VIOLATIONS], size


def _json_violations(
    value: object,
    field: str,
    max_depth: int,
    max_bytes: int,
    check_object: _ObjectCheck | None = None,
) -> list[FieldViolation]:
    """The walk's violations, or just "too large" when the size limit is passed."""
    violations, size = _scan_json(value, field, max_depth, max_bytes, check_object)
    return [_too_large(field, max_bytes)] if size > max_bytes else violations


def _string_size(text: str, max_bytes: int | None) -> int:
    """Bytes json.dumps writes for `text`; a lower bound for one already over `max_bytes`."""
    if max_bytes is not None and len(text) > max_bytes:
        return len(text) + 2
    return len(encode_basestring_ascii(text))


def _encodable(text: str) -> bool:
    """Whether `text` can be written as UTF-8 (no lone surrogate): it can't travel otherwise."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _not_unicode(field: str) -> FieldViolation:
    message = "must be valid Unicode text (a lone surrogate cannot be encoded as UTF-8)"
    return FieldViolation(field, message, "invalid_characters")


def _fields(instance: Any) -> dict[str, object]:
    return {f.name: getattr(instance, f.name) for f in fields(instance)}


def _schema_keywords(schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Keywords that could make a validator look outside the schema itself."""
    out: list[tuple[str, str, str]] = []
    for keyword in ("$ref", "$dynamicRef"):
        ref = schema.get(keyword)
        if isinstance(ref, str) and not ref.startswith("#"):
            message = "only local references ('#...') are allowed; nothing is ever fetched"
            out.append((keyword, message, "remote_ref_refused"))
    identifier = schema.get("$id")
    if isinstance(identifier, str) and (
        _URI_SCHEME.match(identifier) or identifier.startswith("//")
    ):
        message = "must not be an absolute URI (it could name a resource to fetch)"
        out.append(("$id", message, "not_allowed"))
    dialect = schema.get("$schema")
    if isinstance(dialect, str) and dialect.removesuffix("#") != JSON_SCHEMA_DIALECT:
        message = f"only {JSON_SCHEMA_DIALECT} (draft 2020-12) is supported"
        out.append(("$schema", message, "not_allowed"))
    return out


# --- helpers ---------------------------------------------------------------------------------


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _display(key: object) -> str:
    """A key or index as text, without trusting its type (str() of a huge int raises)."""
    if isinstance(key, str):
        return key
    if type(key) is int and abs(key) <= MAX_EXACT_INTEGER:
        return str(key)
    return f"<{type(key).__name__}>"


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_PATH_TOKEN else text[:_MAX_PATH_TOKEN] + "..."


def _pointer_token(token: object) -> str:
    text = _shorten(_display(token)).replace("~", "~0").replace("/", "~1")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")  # no lone surrogates


def _invalid_type(field: str, expected: str) -> FieldViolation:
    return FieldViolation(field, f"must be {expected}", "invalid_type")


def _too_large(field: str, limit: int) -> FieldViolation:
    return FieldViolation(field, f"must be at most {limit} bytes as JSON", "too_long")
