"""Workflow input schemas (JSON Schema draft 2020-12): checking a registered schema, and
validating inputs against it. Server side only: the workflow sandbox never imports this.

Inputs are validated by jsonschema-rs (Rust), whose `pattern` and `patternProperties` run on
Rust's `regex` crate: matching takes time linear in the input whatever the pattern, since that
engine never backtracks. A pattern it cannot compile (lookaround and backreferences need
backtracking) is refused at registration with reason `unsupported_pattern`, as is anything
else the engine cannot compile. `format` is enforced, references are never fetched (the engine
runs offline, and registry.specs refuses non-local `$ref`s before a schema is compiled), a
schema is compiled once and cached, and a bad schema is reported as the registrant's mistake
(InvalidSchemaError), not the caller's.

The meta-schema check at registration runs on jsonschema-rs with jsonschema's (Python) format
checks; a schema it refuses goes through jsonschema (Python), which reports every violation at
its place in the schema. Its `regex` format asks the linear engine.

Some schemas still make validation costly (alternatives that share `$ref`s multiply, and
listing violations costs microseconds per error): `InputValidator.cost` is a static bound on
the work per input byte, which registry.validation uses to decide where a validation runs.
"""

from __future__ import annotations

import json
import math
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from functools import cache, lru_cache
from typing import Any, Final
from urllib.parse import unquote

import isoduration  # type: ignore[import-untyped]
import jsonschema_rs
from referencing import Registry
from rfc3339_validator import validate_rfc3339  # type: ignore[import-untyped]

from registry.shared.model import FieldViolation
from registry.shared.specs import json_pointer, measure_json_value, validate_input_schema

MAX_REPORTED_VIOLATIONS: Final = 50
MAX_INPUT_DEPTH: Final = 32  # what protobuf carries (registry.decoding); the engine recurses
MAX_INPUT_BYTES: Final = 2_000_000  # as json.dumps writes it; Temporal refuses larger payloads
MAX_DESCRIPTION_LENGTH: Final = 300  # messages quote schema values (enums, patterns)
MAX_PREVIEW_LENGTH: Final = 60  # characters of the input a message quotes
COMPILED_CACHE_SIZE: Final = 1024
# Checked as jsonschema (Python) checks them rather than as jsonschema-rs does: its date-time
# and time accept a leap second (":60"), which Python's datetime (and pydantic) cannot read,
# and its duration refuses fractional seconds ("PT1.5S"), which pydantic writes.
PYTHON_FORMATS: Final = ("date-time", "time", "duration")

UNSUPPORTED_PATTERN: Final = (
    "lookaround and backreferences are not supported: the registry matches patterns with a "
    "linear-time engine (Rust regex), which never backtracks"
)
INVALID_PATTERN: Final = (
    "is not a regular expression the registry can compile "
    "(ECMA 262 syntax, within the engine's size limits)"
)

# Only the bundled meta-schemas (jsonschema adds them); anything else is Unresolvable.
NO_RETRIEVAL_REGISTRY: Final[Registry[Any]] = Registry()

# The engine's regex options: Rust's linear-time engine (every compiled schema uses them, and
# registry.schemas.compatibility when it validates values).
LINEAR_REGEX: Final = jsonschema_rs.RegexOptions()
# Lookaround, backreferences, atomic groups and possessive quantifiers: what only a
# backtracking engine runs (a pattern without them that still fails is invalid or too large).
_BACKTRACKING_SYNTAX: Final = re.compile(r"\(\?<?[=!]|\(\?>|\\[1-9]|\\k<|[*+?}]\+")
_BACKTRACKING: Final = jsonschema_rs.FancyRegexOptions()
# Stands for the instance in the engine's messages (it would quote all of it); replaced by a
# short preview when a violation is reported.
_MASK: Final = "\x00instance\x00"


class InvalidSchemaError(ValueError):
    """A registered schema that can't be used: the registrant's mistake, not the caller's."""

    def __init__(self, violations: list[FieldViolation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))
        self.violations = violations


# --- patterns --------------------------------------------------------------------------------


def pattern_problem(pattern: str) -> tuple[str, str] | None:
    """Why the linear-time engine cannot use `pattern`, as (reason, description): it needs
    backtracking (`unsupported_pattern`), or it is not a usable regular expression at all
    (`invalid_schema`). None when the engine compiles it."""
    if _compiles(pattern, LINEAR_REGEX):
        return None
    if _BACKTRACKING_SYNTAX.search(pattern) and _compiles(pattern, _BACKTRACKING):
        return "unsupported_pattern", UNSUPPORTED_PATTERN
    return "invalid_schema", INVALID_PATTERN


def _compiles(
    pattern: str, options: jsonschema_rs.RegexOptions | jsonschema_rs.FancyRegexOptions
) -> bool:
    try:
        jsonschema_rs.Draft202012Validator({"pattern": pattern}, pattern_options=options)
    except jsonschema_rs.ValidationError:
        return False
    return True


class _PatternRefused(Exception):
    """Raised by the meta-schema's `regex` format check: args are (reason, description)."""


def _linear_regex(instance: object) -> bool:
    problem = pattern_problem(instance) if isinstance(instance, str) else None
    if problem is not None:
        raise _PatternRefused(*problem)
    return True


@cache
def _meta_validator() -> Any:
    """jsonschema's draft 2020-12 meta-schema validator, its `regex` format on the linear
    engine. Built on first use: jsonschema takes seconds to import (its `iri` checker builds a
    grammar), which the validation process, which never checks schemas, does without."""
    from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]

    formats = FormatChecker(formats=())
    formats.checkers = {
        **Draft202012Validator.FORMAT_CHECKER.checkers,
        "regex": (_linear_regex, _PatternRefused),
    }
    return Draft202012Validator(
        Draft202012Validator.META_SCHEMA, format_checker=formats, registry=NO_RETRIEVAL_REGISTRY
    )


@cache
def _meta_check() -> jsonschema_rs.Validator:
    """The same meta-schema on jsonschema-rs, its formats checked by the very functions
    _meta_validator uses: whether a schema passes, a few hundred times faster (a 2 KB schema
    in about 0.1 ms instead of 15 ms, a 250 KB one in 4 ms instead of 2 s). Only a schema it
    refuses goes through _meta_validator, for the list of violations."""
    checkers = _meta_validator().format_checker.checkers
    formats = {name: _format_predicate(*checker) for name, checker in checkers.items()}
    return jsonschema_rs.Draft202012Validator(
        {"$ref": "https://json-schema.org/draft/2020-12/schema"},
        formats=formats,
        validate_formats=True,
        offline=True,
    )


def _format_predicate(check: Any, raises: Any) -> Any:
    """A jsonschema format checker as a jsonschema-rs format: a plain predicate."""

    def predicate(value: object) -> bool:
        try:
            return bool(check(value))
        except raises:
            return False

    return predicate


def _date_time(value: object) -> bool:
    """jsonschema's `date-time` check (RFC 3339, no leap second)."""
    return not isinstance(value, str) or bool(validate_rfc3339(value.upper()))


def _time(value: object) -> bool:
    """jsonschema's `time` check: a date-time's time part."""
    return not isinstance(value, str) or _date_time("1970-01-01T" + value)


def _duration(value: object) -> bool:
    """jsonschema's `duration` check (ISO 8601, fractions allowed)."""
    if not isinstance(value, str):
        return True
    try:
        isoduration.parse_duration(value)
    except Exception:  # DurationParsingException, or whatever else a malformed value raises
        return False
    return value.endswith(tuple("DMYWHMS"))


# The formats checked as Python checks them (PYTHON_FORMATS), for every compiled schema.
ENGINE_FORMATS: Final = {"date-time": _date_time, "time": _time, "duration": _duration}


def _engine(schema: dict[str, Any]) -> jsonschema_rs.Validator:
    """The compiled validator (raises jsonschema_rs.ValidationError when it can't compile)."""
    return jsonschema_rs.Draft202012Validator(
        schema,
        formats=ENGINE_FORMATS,
        validate_formats=True,
        pattern_options=LINEAR_REGEX,
        mask=_MASK,
        offline=True,
    )


# --- checking schemas ------------------------------------------------------------------------


def check_schema(schema: dict[str, Any], path: str = "input_schema") -> list[FieldViolation]:
    """Violations that make `schema` unusable: registry.specs' structural rules, then the
    draft 2020-12 meta-schema (at `<path>/<JSON pointer into the schema>`). Never raises."""
    return validate_input_schema(schema, path) or check_meta_schema(schema, path)


def check_meta_schema(schema: dict[str, Any], path: str = "input_schema") -> list[FieldViolation]:
    """For a schema that already passed registry.specs' structural rules (as every spec that
    passed validate_workflow_spec has): the draft 2020-12 meta-schema (each `pattern` and
    `patternProperties` key must compile on the linear engine), then references that loop
    without descending into the input, then whatever else stops the engine compiling it."""
    violations = []
    if not _meta_check().is_valid(schema):
        violations = _report_meta(_meta_validator().iter_errors(schema), path)
    if not violations:
        violations = _SchemaGraph(schema).reference_violations(path)
    if not violations:
        try:
            _engine(schema)
        except jsonschema_rs.ValidationError as error:
            violations = [_compile_violation(error, path)]
    return violations


def _report_meta(errors: Iterable[Any], field: str) -> list[FieldViolation]:
    """Meta-schema errors as violations without duplicates (the meta-schema reaches some
    keywords by several paths), sorted by location (indexes numerically), capped. A refused
    `patternProperties` key is named in the field."""
    located: dict[tuple[Any, str], FieldViolation] = {}
    for error in errors:
        tokens = list(error.absolute_path)
        reason, message = "invalid_schema", _shorten(error.message)
        if isinstance(error.cause, _PatternRefused):
            reason, message = error.cause.args
        if list(error.relative_schema_path)[-2:-1] == ["propertyNames"]:
            tokens.append(error.instance)  # the key itself, not just its object
        violation = FieldViolation(json_pointer(field, tokens), message, reason)
        located.setdefault((_sort_key(tokens), message), violation)
    return [located[key] for key in sorted(located)[:MAX_REPORTED_VIOLATIONS]]


def _compile_violation(error: jsonschema_rs.ValidationError, field: str) -> FieldViolation:
    """What the engine refused to compile (only its first problem), at its place."""
    tokens = list(error.instance_path)
    kind = error.kind.name
    problem = pattern_problem(error.instance) if isinstance(error.instance, str) else None
    if kind == "format" and problem is not None:
        reason, description = problem
    elif kind == "$ref":
        reason, description = "unresolvable_ref", f"unresolvable reference: {error.message}"
    else:
        reason, description = "invalid_schema", error.message
    return FieldViolation(json_pointer(field, tokens), _shorten(description), reason)


# --- what references make of a schema --------------------------------------------------------

# Keywords that apply their subschemas to the instance itself (not to its members).
_IN_PLACE_ONE: Final = ("not", "if", "then", "else")
_IN_PLACE_LISTS: Final = ("allOf", "anyOf", "oneOf")
_IN_PLACE_MAPS: Final = ("dependentSchemas",)
# References and resources that only the engine resolves (dynamic scope, anchors, nested base
# URIs): the static bound gives up on a schema that has them.
_DYNAMIC: Final = ("$dynamicRef", "$dynamicAnchor", "$anchor", "$recursiveRef", "$recursiveAnchor")


class _SchemaGraph:
    """A schema's containers, and the targets of its plain `#/...` references."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.locations: dict[int, tuple[object, ...]] = {}
        self.static = True  # every reference is a JSON pointer from the root
        pending: list[tuple[Any, tuple[object, ...]]] = [(root, ())]
        while pending:
            node, tokens = pending.pop()
            self.locations[id(node)] = tokens
            items: Iterable[tuple[object, Any]]
            if isinstance(node, dict):
                if any(key in node for key in _DYNAMIC) or (node is not root and "$id" in node):
                    self.static = False
                items = node.items()
            else:
                items = enumerate(node)
            pending.extend(
                (value, (*tokens, key)) for key, value in items if isinstance(value, (dict, list))
            )

    def target(self, ref: object) -> Any:
        """The value a `#` or `#/...` reference names; None when it names nothing here."""
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
            return None
        node: Any = self.root
        for token in ref[2:].split("/") if ref != "#" else ():
            token = unquote(token).replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return None
        return node if isinstance(node, (dict, list)) else None

    def expanded_size(self) -> float:
        """About the bytes of the schema with each `$ref` replaced by its target, recursively:
        an upper bound on the subschemas one input value can meet. Infinite when references
        form a cycle, name nothing, or depend on what only the engine resolves."""
        if not self.static:
            return math.inf
        sizes: dict[int, float] = {}
        on_path: set[int] = set()
        stack: list[tuple[Any, Iterator[Any], list[float]]] = []

        def enter(node: Any) -> None:
            on_path.add(id(node))
            stack.append((node, iter(self._members(node)), [_own_size(node)]))

        enter(self.root)
        while stack:
            node, members, total = stack[-1]
            for member in members:
                if member is None:
                    return math.inf  # a reference that names nothing
                if id(member) in on_path:
                    return math.inf
                if id(member) in sizes:
                    total[0] += sizes[id(member)]
                    continue
                enter(member)
                break
            else:
                stack.pop()
                on_path.discard(id(node))
                sizes[id(node)] = total[0]
                if stack:
                    stack[-1][2][0] += total[0]
        return sizes[id(self.root)]

    def _members(self, node: Any) -> Iterator[Any]:
        values = node.values() if isinstance(node, dict) else node
        yield from (value for value in values if isinstance(value, (dict, list)))
        if isinstance(node, dict) and "$ref" in node:
            yield self.target(node["$ref"])

    def reference_violations(self, field: str) -> list[FieldViolation]:
        """`#/...` references that name nothing in the schema, else the first that leads back
        to where it started without descending into the input (`{"allOf": [{"$ref": "#"}]}`:
        an endless loop). Other references are left to the engine's compiler."""
        dangling = [
            FieldViolation(
                json_pointer(field, [*tokens, "$ref"]),
                f"unresolvable reference: {_shorten(ref)} names nothing in this schema",
                "unresolvable_ref",
            )
            for tokens, ref in self._refs()
            if ref.startswith("#/") and self.target(ref) is None
        ]
        return dangling[:MAX_REPORTED_VIOLATIONS] or self._cycle(field)

    def _cycle(self, field: str) -> list[FieldViolation]:
        done: set[int] = set()
        for start in [self.root, *(self.target(ref) for _, ref in self._refs())]:
            if not isinstance(start, dict) or id(start) in done:
                continue
            on_path: set[int] = {id(start)}
            stack: list[tuple[Any, Iterator[Any]]] = [(start, self._in_place(start))]
            while stack:
                node, successors = stack[-1]
                for successor in successors:
                    if id(successor) in on_path:
                        tokens = [*self.locations.get(id(node), ()), "$ref"]
                        if self.target(node.get("$ref")) is not successor:
                            tokens = list(self.locations.get(id(successor), ()))
                        message = (
                            "this reference leads back to itself without descending into "
                            "the input (an endless loop)"
                        )
                        return [
                            FieldViolation(json_pointer(field, tokens), message, "recursive_ref")
                        ]
                    if id(successor) not in done:
                        on_path.add(id(successor))
                        stack.append((successor, self._in_place(successor)))
                        break
                else:
                    stack.pop()
                    on_path.discard(id(node))
                    done.add(id(node))
        return []

    def _refs(self) -> Iterator[tuple[tuple[object, ...], str]]:
        """(location, reference) of every `$ref` string."""
        for tokens in self.locations.values():
            node = self._at(tokens)
            if isinstance(node, dict) and isinstance(node.get("$ref"), str):
                yield tokens, node["$ref"]

    def _at(self, tokens: tuple[object, ...]) -> Any:
        node: Any = self.root
        for token in tokens:
            node = node[token]
        return node

    def _in_place(self, schema: Any) -> Iterator[dict[str, Any]]:
        """The subschemas `schema` applies to the same instance, its `$ref` target included."""
        if not isinstance(schema, dict):
            return
        for keyword in _IN_PLACE_ONE:
            if isinstance(schema.get(keyword), dict):
                yield schema[keyword]
        for keyword in _IN_PLACE_LISTS:
            if isinstance(schema.get(keyword), list):
                yield from (s for s in schema[keyword] if isinstance(s, dict))
        for keyword in _IN_PLACE_MAPS:
            if isinstance(schema.get(keyword), dict):
                yield from (s for s in schema[keyword].values() if isinstance(s, dict))
        target = self.target(schema.get("$ref"))
        if isinstance(target, dict):
            yield target


def _own_size(node: dict[str, Any] | list[Any]) -> float:
    """Bytes of a container's scalars, keys and punctuation (its containers not included)."""
    size = 2
    values: Iterable[Any] = node
    if isinstance(node, dict):
        size += sum(len(key) + 4 for key in node)
        values = node.values()
    for value in values:
        if isinstance(value, str):
            size += len(value) + 3
        elif not isinstance(value, (dict, list)):
            size += 8
    return size


def schema_cost(schema: dict[str, Any]) -> float:
    """A static bound on the work one input byte can cause with `schema`, in schema bytes:
    its expanded size (registry.validation multiplies it by the input's size)."""
    return _SchemaGraph(schema).expanded_size()


# --- validating inputs -----------------------------------------------------------------------


class InputValidator:
    """Validates workflow inputs against one schema; build it with `compile_schema`."""

    def __init__(self, schema: dict[str, Any], canonical: str | None = None) -> None:
        try:
            self._engine = _engine(schema)
        except jsonschema_rs.ValidationError as error:
            raise InvalidSchemaError([_compile_violation(error, "input_schema")]) from None
        self.canonical = canonical or _canonical(schema)
        self.cost = schema_cost(schema)

    def __call__(self, instance: Any) -> list[FieldViolation]:
        """One violation per error (field `input/<pointer>`, reason the failing keyword),
        sorted by location then message, at most MAX_REPORTED_VIOLATIONS. Runs inline, without
        a bound: registry.validation decides where an input's validation may run."""
        return check_input(instance)[0] or self.violations(instance)

    def is_valid(self, instance: Any) -> bool:
        """Whether an input that check_input accepted fits the schema."""
        return bool(self._engine.is_valid(instance))

    def violations(self, instance: Any) -> list[FieldViolation]:
        """The violations of an input that check_input accepted (see __call__)."""
        if self._engine.is_valid(instance):
            return []
        return _report_input(self._engine.iter_errors(instance), instance)


def check_input(instance: Any) -> tuple[list[FieldViolation], int]:
    """What makes `instance` something the engine must not see (not plain JSON, nested more
    than MAX_INPUT_DEPTH deep, over MAX_INPUT_BYTES), and its size in bytes as JSON."""
    malformed, size = measure_json_value(
        instance, "input", max_depth=MAX_INPUT_DEPTH, max_bytes=MAX_INPUT_BYTES
    )
    return malformed[:MAX_REPORTED_VIOLATIONS], size


def compile_schema(schema: dict[str, Any]) -> InputValidator:
    """The cached validator for `schema`, keyed by its canonical JSON (at most
    COMPILED_CACHE_SIZE kept), and by the dict itself: the same (never mutated) dict, such as a
    catalogue's stored spec, skips the structural walk and the canonical dump on every start.
    Raises InvalidSchemaError if check_schema finds a problem."""
    known = _BY_IDENTITY.get(id(schema))
    if known is not None and known[0] is schema:
        _BY_IDENTITY.move_to_end(id(schema))
        return known[1]
    structural = validate_input_schema(schema)
    if structural:
        raise InvalidSchemaError(structural)
    validator = compile_canonical(_canonical(schema))
    _BY_IDENTITY[id(schema)] = (schema, validator)  # holding `schema` keeps its id unique
    if len(_BY_IDENTITY) > COMPILED_CACHE_SIZE:
        _BY_IDENTITY.popitem(last=False)
    return validator


_BY_IDENTITY: Final[OrderedDict[int, tuple[dict[str, Any], InputValidator]]] = OrderedDict()


@lru_cache(maxsize=COMPILED_CACHE_SIZE)
def compile_canonical(canonical: str) -> InputValidator:
    """compile_schema for a schema given as its canonical JSON (`InputValidator.canonical`)
    that passed registry.specs' structural rules."""
    schema = json.loads(canonical)
    violations = check_meta_schema(schema)
    if violations:
        raise InvalidSchemaError(violations)
    return InputValidator(schema, canonical)


def _canonical(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _report_input(
    errors: Iterable[jsonschema_rs.ValidationError], instance: Any
) -> list[FieldViolation]:
    """The engine's errors as violations without duplicates, sorted by location (indexes
    numerically) then message, capped; each message quotes at most a preview of the value."""
    located: dict[tuple[Any, str], tuple[list[Any], jsonschema_rs.ValidationError]] = {}
    for error in errors:
        tokens = list(error.instance_path)
        if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Required):
            tokens.append(error.kind.property)  # one error per missing name
        located.setdefault((_sort_key(tokens), error.message), (tokens, error))
    violations = []
    for key in sorted(located)[:MAX_REPORTED_VIOLATIONS]:
        tokens, error = located[key]
        message = error.message
        if _MASK in message:
            message = message.replace(_MASK, _preview(_value_at(instance, error.instance_path)))
        violations.append(
            FieldViolation(json_pointer("input", tokens), _shorten(message), error.kind.name)
        )
    return violations


def _value_at(instance: Any, path: Iterable[str | int]) -> Any:
    for token in path:
        instance = instance[token]
    return instance


def _preview(value: Any) -> str:
    """`value` as JSON, cut after MAX_PREVIEW_LENGTH characters (never all of a big value)."""
    text = ""
    for piece in _json_pieces(value):
        text += piece
        if len(text) > MAX_PREVIEW_LENGTH:
            return text[:MAX_PREVIEW_LENGTH] + "..."
    return text


def _json_pieces(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        yield "{"
        for i, (key, member) in enumerate(value.items()):
            yield ("," if i else "") + _json_scalar(key) + ":"
            yield from _json_pieces(member)
        yield "}"
    elif isinstance(value, list):
        yield "["
        for i, member in enumerate(value):
            if i:
                yield ","
            yield from _json_pieces(member)
        yield "]"
    else:
        yield _json_scalar(value)


def _json_scalar(value: Any) -> str:
    if isinstance(value, str):
        value = value[: MAX_PREVIEW_LENGTH + 1]
    return json.dumps(value, ensure_ascii=False)


def _shorten(message: str) -> str:
    if len(message) > MAX_DESCRIPTION_LENGTH:
        return message[: MAX_DESCRIPTION_LENGTH - 3] + "..."
    return message


def _sort_key(tokens: list[Any]) -> tuple[tuple[int, int, str], ...]:
    return tuple((1, 0, t) if isinstance(t, str) else (0, int(t), "") for t in tokens)
