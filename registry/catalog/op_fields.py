"""Reading a shard operation's fields without trusting them: the shape checks every decide
function (registry.catalog.shard_rules, registry.dispatch.claims) makes before it decides.

An operation is plain JSON from a registry update (`{"id", "op", ...fields}`). The
server checked the request's syntax before it built the operation, so these checks do not
repeat it (a syntax rule tightened later must not change what a replayed history decides);
they only make sure a decide function never raises and never stores anything but plain JSON
of the types it relies on. Anything else (a missing field, a wrong type, NaN, an integer past
2**53, a lone surrogate, nesting deeper than MAX_OP_DEPTH, a non-string key) is one refusal,
INVALID_ARGUMENT with reason INVALID_OPERATION, naming each bad field: the op's own names
(`worker.ttl`, `seen["w1"]`), with a JSON pointer inside a JSON value (`schema/properties/a`).

Standard library and registry.shared only, deterministic: it runs in the workflow sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from registry.catalog.engine import Decision, Refusal, View
from registry.shared.specs import is_finite_number, validate_json_value

INVALID_OPERATION: Final = "INVALID_OPERATION"
# Nesting an operation may have: a JSON Schema (registry.shared.specs allows 32 levels) sits
# one level down. Far below what would make json (or the payload converter) recurse too deep.
MAX_OP_DEPTH: Final = 64
# Bytes of one field as JSON: more than an update may carry (Temporal refuses 2 MB payloads).
MAX_FIELD_BYTES: Final = 2 * 1024 * 1024
MAX_SHOWN_LENGTH: Final = 200  # characters of a key quoted in a message
MAX_REPORTED: Final = 10  # bad entries of one map or list reported


def violation(field: str, description: str, reason: str) -> dict[str, str]:
    return {"field": field, "description": description, "reason": reason}


def summary(violations: list[dict[str, str]]) -> str:
    """An error message for violations: the first one, and how many more (as
    registry.shared.model.violations_summary)."""
    first = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return f"{first['field']}: {first['description']}{more}"


def malformed(violations: list[dict[str, str]]) -> Refusal:
    return Refusal("INVALID_ARGUMENT", INVALID_OPERATION, summary(violations), tuple(violations))


def shown(value: object, limit: int = MAX_SHOWN_LENGTH) -> str:
    """A key for a message, never str() of a hostile value (a huge int's str() raises)."""
    return repr(value[:limit]) if isinstance(value, str) else f"<{type(value).__name__}>"


def entry_name(field: str, key: str) -> str:
    """`field["key"]`, the path of one entry of a map (as registry.shared.specs names labels),
    a long key shortened."""
    return f"{field}[{json.dumps(key if len(key) <= 64 else key[:64] + '...')}]"


# A kind's rule for one operation name: the operation's fields, the shard's view, now.
Rule = Callable[["Fields", View, float], "Decision | Refusal"]


def decide_op(
    op: Mapping[str, Any], view: View, now: float, rules: Mapping[str, Rule]
) -> Decision | Refusal:
    """A decide function over `rules`: check the operation is plain JSON, then run the rule
    its "op" names (an unknown name is a malformed operation)."""
    fields = read_op(op)
    if isinstance(fields, Refusal):
        return fields
    name = op.get("op")
    rule = rules.get(name) if isinstance(name, str) else None
    if rule is None:
        return malformed([violation("op", "must be one of " + ", ".join(rules), "invalid")])
    return rule(fields, view, now)


def read_op(op: object) -> Fields | Refusal:
    """The operation's fields, or the refusal of an operation that is not plain JSON."""
    if not isinstance(op, Mapping) or not all(isinstance(key, str) for key in op):
        return malformed([violation("op", "must be a JSON object", "invalid_type")])
    violations = []
    for name, value in op.items():
        for v in validate_json_value(
            value, name, max_depth=MAX_OP_DEPTH, max_bytes=MAX_FIELD_BYTES
        ):
            violations.append(violation(v.field, v.description, v.reason))
    if violations:
        return malformed(violations)
    return Fields(op)


class Fields:
    """Typed reads of one JSON object's fields. A missing or mistyped field is recorded in
    `violations` (shared with nested objects) and read as a harmless stand-in, so a decide
    function reads every field, then refuses once if anything was wrong."""

    def __init__(
        self, source: object, path: str = "", violations: list[dict[str, str]] | None = None
    ) -> None:
        self._source: Mapping[str, Any] = source if isinstance(source, Mapping) else {}
        self._path = path
        self.violations: list[dict[str, str]] = [] if violations is None else violations

    def has(self, field: str) -> bool:
        return field in self._source

    def name(self, field: str) -> str:
        return f"{self._path}.{field}" if self._path else field

    def refusal(self) -> Refusal | None:
        return malformed(self.violations) if self.violations else None

    def bad(self, field: str, expected: str) -> None:
        self.violations.append(violation(self.name(field), f"must be {expected}", "invalid_type"))

    def _get(self, field: str) -> tuple[bool, Any]:
        if field not in self._source:
            self.violations.append(violation(self.name(field), "is required", "required"))
            return False, None
        return True, self._source[field]

    def text(self, field: str, *, nonempty: bool = False) -> str:
        found, value = self._get(field)
        if found and not (isinstance(value, str) and (value or not nonempty)):
            self.bad(field, "a non-empty string" if nonempty else "a string")
        return value if found and isinstance(value, str) else ""

    def optional_text(self, field: str) -> str | None:
        """A string or null."""
        found, value = self._get(field)
        if found and value is not None and not isinstance(value, str):
            self.bad(field, "a string or null")
        return value if isinstance(value, str) else None

    def flag(self, field: str) -> bool:
        found, value = self._get(field)
        if found and not isinstance(value, bool):
            self.bad(field, "a boolean")
        return value is True

    def optional_flag(self, field: str) -> bool | None:
        """A boolean or null."""
        found, value = self._get(field)
        if found and value is not None and not isinstance(value, bool):
            self.bad(field, "a boolean or null")
        return value if isinstance(value, bool) else None

    def whole(self, field: str, low: int, high: int) -> int:
        """An integer (not a bool) from low to high."""
        found, value = self._get(field)
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        if found and not ok:
            self.bad(field, f"an integer from {low} to {high}")
        return value if found and ok else low

    def number(self, field: str, *, positive: bool = False) -> float:
        """A finite number >= 0 (> 0 when positive), as a float."""
        found, value = self._get(field)
        ok = is_finite_number(value) and (value > 0 if positive else value >= 0)
        if found and not ok:
            self.bad(field, f"a finite number {'> 0' if positive else '>= 0'}")
        return float(value) if found and ok else 1.0

    def texts(self, field: str, *, min_items: int = 0, max_items: int | None = None) -> list[str]:
        """A list of strings, min_items to max_items long."""
        found, value = self._get(field)
        if not found:
            return []
        high = max_items if max_items is not None else MAX_FIELD_BYTES
        if not (
            isinstance(value, list)
            and min_items <= len(value) <= high
            and all(isinstance(item, str) for item in value)
        ):
            count = f"{min_items}-{max_items} " if max_items is not None else ""
            self.bad(field, f"a list of {count}strings")
            return []
        return list(value)

    def wholes(self, field: str, low: int, high: int, *, max_items: int) -> list[int]:
        """A list of at most max_items integers (not bools), each from low to high."""
        found, value = self._get(field)
        if not found:
            return []
        if not (
            isinstance(value, list)
            and len(value) <= max_items
            and all(
                isinstance(item, int) and not isinstance(item, bool) and low <= item <= high
                for item in value
            )
        ):
            self.bad(field, f"a list of at most {max_items} integers from {low} to {high}")
            return []
        return list(value)

    def text_map(self, field: str) -> dict[str, str]:
        """An object of string values."""
        found, value = self._get(field)
        if found and not (
            isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values())
        ):
            self.bad(field, "an object of string values")
            return {}
        return dict(value) if found else {}

    def json_object(self, field: str) -> dict[str, Any]:
        """Any JSON object (read_op checked it is plain JSON)."""
        found, value = self._get(field)
        if found and not isinstance(value, Mapping):
            self.bad(field, "a JSON object")
        return dict(value) if found and isinstance(value, Mapping) else {}

    def nested(self, field: str) -> Fields:
        """A nested object's fields; its violations are recorded here."""
        found, value = self._get(field)
        if found and not isinstance(value, Mapping):
            self.bad(field, "a JSON object")
        return Fields(value, self.name(field), self.violations)

    def objects(self, field: str) -> list[Fields]:
        """A list of objects, each item's fields named `field[i].…`."""
        found, value = self._get(field)
        if not found:
            return []
        if not isinstance(value, list):
            self.bad(field, "a list of JSON objects")
            return []
        items = []
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                self.bad(f"{field}[{i}]", "a JSON object")
            items.append(Fields(item, self.name(f"{field}[{i}]"), self.violations))
        return items
