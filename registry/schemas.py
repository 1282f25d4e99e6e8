"""Workflow input schemas (JSON Schema draft 2020-12): checking a registered schema, and
validating inputs against it. Server side only: the workflow sandbox never imports this.

Unlike the old implementation, references are never fetched (the registry has no retrieval, and
registry.specs refuses non-local `$ref`s before a schema is even compiled), `format` is
enforced, a schema is compiled once and cached, and a bad schema is reported as the
registrant's mistake (InvalidSchemaError), not the caller's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Final

# No stubs for jsonschema in the venv (types-jsonschema isn't a dev dependency).
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]
from referencing import Registry
from referencing.exceptions import Unresolvable

from registry.model import FieldViolation
from registry.specs import json_pointer, validate_input_schema, validate_json_value

MAX_REPORTED_VIOLATIONS: Final = 50
MAX_INPUT_DEPTH: Final = 32  # what protobuf carries (registry.decoding); jsonschema recurses
MAX_INPUT_BYTES: Final = 2_000_000  # as json.dumps writes it; Temporal refuses larger payloads
MAX_DESCRIPTION_LENGTH: Final = 300  # jsonschema messages quote instances and subschemas
COMPILED_CACHE_SIZE: Final = 1024

# Only the bundled meta-schemas (jsonschema adds them); anything else is Unresolvable.
NO_RETRIEVAL_REGISTRY: Final[Registry[Any]] = Registry()

_META_VALIDATOR: Final = Draft202012Validator(
    Draft202012Validator.META_SCHEMA,
    format_checker=Draft202012Validator.FORMAT_CHECKER,
    registry=NO_RETRIEVAL_REGISTRY,
)


class InvalidSchemaError(ValueError):
    """A registered schema that can't be used: the registrant's mistake, not the caller's."""

    def __init__(self, violations: list[FieldViolation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))
        self.violations = violations


def check_schema(schema: dict[str, Any], path: str = "input_schema") -> list[FieldViolation]:
    """Violations that make `schema` unusable: registry.specs' structural rules, then the
    draft 2020-12 meta-schema (at `<path>/<JSON pointer into the schema>`). Never raises."""
    return validate_input_schema(schema, path) or check_meta_schema(schema, path)


def check_meta_schema(schema: dict[str, Any], path: str = "input_schema") -> list[FieldViolation]:
    """The draft 2020-12 meta-schema alone, for a schema that already passed registry.specs'
    structural rules (as every spec that passed validate_workflow_spec has)."""
    return _report(_META_VALIDATOR.iter_errors(schema), path, "invalid_schema")


class InputValidator:
    """Validates workflow inputs against one schema; build it with `compile_schema`."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._validator = Draft202012Validator(
            schema,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
            registry=NO_RETRIEVAL_REGISTRY,
        )

    def __call__(self, instance: Any) -> list[FieldViolation]:
        """One violation per error (field `input/<pointer>`, reason the failing keyword),
        sorted by location then message, at most MAX_REPORTED_VIOLATIONS. Raises
        InvalidSchemaError only for a schema fault that shows only when an input reaches it: a
        dangling local `$ref`, or a `$ref` cycle that never descends into the input."""
        malformed = validate_json_value(
            instance, "input", max_depth=MAX_INPUT_DEPTH, max_bytes=MAX_INPUT_BYTES
        )
        if malformed:
            return malformed[:MAX_REPORTED_VIOLATIONS]
        try:
            return _report(self._validator.iter_errors(instance), "input")
        except Unresolvable as error:
            description = f"unresolvable reference: {error}"[:MAX_DESCRIPTION_LENGTH]
            fault = FieldViolation("input_schema", description, "unresolvable_ref")
        except RecursionError:  # e.g. {"allOf": [{"$ref": "#"}]}: input depth is bounded above
            description = "the schema refers to itself without descending into the input"
            fault = FieldViolation("input_schema", description, "recursive_ref")
        raise InvalidSchemaError([fault])


def compile_schema(schema: dict[str, Any]) -> InputValidator:
    """The cached validator for `schema`, keyed by its canonical JSON (at most
    COMPILED_CACHE_SIZE kept). Raises InvalidSchemaError if check_schema finds a problem."""
    structural = validate_input_schema(schema)
    if structural:
        raise InvalidSchemaError(structural)
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return _compile_canonical(canonical)


@lru_cache(maxsize=COMPILED_CACHE_SIZE)
def _compile_canonical(canonical: str) -> InputValidator:
    schema = json.loads(canonical)
    violations = check_meta_schema(schema)
    if violations:
        raise InvalidSchemaError(violations)
    return InputValidator(schema)


def _report(
    errors: Iterable[ValidationError], field: str, reason: str | None = None
) -> list[FieldViolation]:
    """Errors as violations without duplicates (the meta-schema reaches some keywords by
    several paths), sorted by location (indexes numerically) then message, capped."""
    located: dict[tuple[Any, str], FieldViolation] = {}
    for error in errors:
        tokens = [*error.absolute_path, *_missing_property(error)]
        message = error.message
        if len(message) > MAX_DESCRIPTION_LENGTH:
            message = message[: MAX_DESCRIPTION_LENGTH - 3] + "..."
        violation = FieldViolation(
            json_pointer(field, tokens), message, str(reason or error.validator)
        )
        located.setdefault((_sort_key(tokens), message), violation)
    return [located[key] for key in sorted(located)[:MAX_REPORTED_VIOLATIONS]]


def _missing_property(error: ValidationError) -> list[str]:
    """The property a `required` error is about (jsonschema yields one error per name)."""
    if error.validator != "required" or not isinstance(error.validator_value, list):
        return []
    required = error.validator_value
    for name in required:
        if isinstance(name, str) and error.message == f"{name!r} is a required property":
            return [name]
    return []


def _sort_key(tokens: list[Any]) -> tuple[tuple[int, int, str], ...]:
    return tuple((1, 0, t) if isinstance(t, str) else (0, int(t), "") for t in tokens)
