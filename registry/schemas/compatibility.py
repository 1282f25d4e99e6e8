"""Whether one workflow input schema accepts every input another accepts, and if not, why.

`narrowings(wider, narrower)` answers "is wider ⊆ narrower?" (every instance valid under
`wider` is valid under `narrower`) with the ways it may fail. Compatibility modes use it both
ways: `backward_breaks` (previous ⊆ candidate: old clients and schedules keep working) and
`forward_breaks` (candidate ⊆ previous: old workers can run new inputs). Both word each rule
as the change from the previous schema to the candidate ("required added" in one,
"required removed" in the other), from one analysis and a wording flag.

Soundness comes first: an empty answer means inclusion holds. Where the analysis cannot prove
it, it reports why ("not changed, cannot be compared", "too complex to decide (...)"), so a
false alarm is possible, a false "compatible" is not. Keywords the wider side has and the
analysis ignores only make that side wider, which keeps the answer sound.

Decided exactly:
- a finite wider side (`enum`, `const`, or only `null`/`boolean` types): each value is validated
  against the narrower schema by jsonschema-rs with the registry's own engine settings, which
  covers every keyword on that side (a refused value: `value "JPY" removed`);
- `type` (integer within number), booleans and `{}`, `required`, `properties`,
  `additionalProperties` (false or a schema), `minimum`/`maximum`/`exclusive*` (integer bounds
  rounded inward), `minLength`/`maxLength`, `minItems`/`maxItems`, `minProperties`/
  `maxProperties`, `dependentRequired`, `items`/`prefixItems` position by position,
  `uniqueItems`, `allOf` and `$ref` on the narrower side, `anyOf` on the wider side (each
  branch must fit; a `oneOf` there is read as an `anyOf`, which is wider), local `$ref`s (JSON
  pointers, `~0`/`~1` and percent decoding) including recursive ones (a pair of subschemas met
  again deeper in the input is assumed to hold: coinduction).

Decided conservatively (sufficient conditions only; otherwise reported):
- `multipleOf` (the narrower's must divide the wider's as decimals, or an integer-only wider
  side and a step 1/k), `pattern` (equal, or `""`/`.*`), `format` (equal), `patternProperties`
  (equal pattern strings compared, others must fit), `propertyNames`, `dependentSchemas`,
  `contains`/`minContains`/`maxContains`, `unevaluatedProperties`/`unevaluatedItems` (decided
  when nothing but `properties`/`items` evaluates, else reported), `not` and `if`/`then`/`else`
  (equal without references, or provably disjoint types or values), `anyOf` on the narrower
  side (the wider side must fit one branch), `oneOf` there (one branch, the others provably
  disjoint), `allOf` on the wider side (merged keyword by keyword when that is safe, else one
  part must fit), `$dynamicRef` (only identical schemas), unknown keywords (equal values only).

Paths name subschemas by their keywords from the root, JSON-pointer escaped: `properties/amount`,
`items`, `prefixItems/0`, `""` for the root. A `$ref` adds nothing: a difference inside
`$defs/money` reached from `properties/price` is reported at `properties/price/...`, once per
place it is used. A branch of `anyOf`/`oneOf`/`allOf` is named by its index in the side that
has it (`anyOf/2: branch added`). The rule starts with the keyword it concerns
(`maximum lowered (100 to 50)`); a required property is reported at that property
(`properties/amount: required added`), a value of an enum at the keyword
(`properties/currency/enum: value "JPY" removed`).

Work is bounded (MAX_VISITS subschema pairs, MAX_VALUES values validated, MAX_NESTING deep):
past it the answer is one root finding, "too complex to decide (...)".

Why not the `jsonsubschema` package (IBM, evaluated at 0.0.8, June 2026; the releases before
it date from 2019 to 2023): it answers a boolean with no path or rule to show a user; it
implements draft-04 only, so `prefixItems` and `dependentRequired` are ignored and it calls
{"prefixItems": [{"type": "string"}]} a subschema of {"prefixItems": [{"type": "integer"}]};
it refuses recursive `$ref`s; and it decides `pattern` by regular-language intersection
(greenery), whose automata can grow exponentially on a hostile pattern inside the server.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final, Literal, TypeAlias, TypeGuard
from urllib.parse import unquote

import jsonschema_rs

# The engine settings inputs are validated with, so that "exact" means what the registry does.
from registry.shared.schemas import ENGINE_FORMATS, LINEAR_REGEX
from registry.shared.specs import json_pointer

MAX_REPORTED: Final = 50
MAX_VISITS: Final = 10_000  # subschema pairs compared (about 10 µs each)
MAX_VALUES: Final = 5_000  # enum values validated
MAX_NESTING: Final = 64  # pairs compared within one another (the Python stack)
MAX_CONJUNCTS: Final = 64  # parts of one `allOf` flattened on the wider side
MAX_SHOWN: Final = 40  # characters of a value or pattern a rule quotes

Schema: TypeAlias = Mapping[str, Any] | bool
_Path: TypeAlias = tuple[str, ...]
_Found: TypeAlias = tuple[_Path, str]  # an Incompatibility before its path is written

# Keywords that never refuse an instance. `content*` are annotations only in 2020-12 (the
# engine does not assert them); `$defs` are reached through `$ref`s.
_ANNOTATIONS: Final = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$schema",
        "$id",
        "$defs",
        "definitions",
        "$anchor",
        "$dynamicAnchor",
        "$vocabulary",
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
    }
)
_NUMBER: Final = frozenset({"integer", "fraction"})  # "number" is both
_ALL_KINDS: Final = frozenset({"null", "boolean", "object", "array", "string", *_NUMBER})
_KINDS: Final[Mapping[str, frozenset[str]]] = {
    "null": frozenset({"null"}),
    "boolean": frozenset({"boolean"}),
    "object": frozenset({"object"}),
    "array": frozenset({"array"}),
    "string": frozenset({"string"}),
    "integer": frozenset({"integer"}),
    "number": _NUMBER,
}
_OBJECT_KEYWORDS: Final = frozenset(
    {
        "properties",
        "patternProperties",
        "additionalProperties",
        "required",
        "minProperties",
        "maxProperties",
        "propertyNames",
        "dependentRequired",
        "dependentSchemas",
        "unevaluatedProperties",
    }
)
_ARRAY_KEYWORDS: Final = frozenset(
    {
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
        "unevaluatedItems",
    }
)
_STRING_KEYWORDS: Final = frozenset({"minLength", "maxLength", "pattern", "format"})
_NUMBER_KEYWORDS: Final = frozenset(
    {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
)
_GENERAL_KEYWORDS: Final = frozenset(
    {
        "type",
        "enum",
        "const",
        "$ref",
        "$dynamicRef",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
    }
)
_COMBINATORS: Final = frozenset({"$ref", "$dynamicRef", "allOf", "anyOf", "oneOf", "not", "if"})
_KNOWN: Final = (
    _OBJECT_KEYWORDS | _ARRAY_KEYWORDS | _STRING_KEYWORDS | _NUMBER_KEYWORDS | _GENERAL_KEYWORDS
)
# What evaluates properties or items besides properties/items themselves: where these are,
# unevaluated* cannot be read as additionalProperties/items.
_IN_PLACE: Final = (
    "$ref",
    "$dynamicRef",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentSchemas",
)
# Keywords that only mean something together: an `allOf` is merged only when each group comes
# from one part (`then` from one part and `if` from another would add a condition).
_TOGETHER: Final = (
    frozenset({"if", "then", "else"}),
    frozenset({"contains", "minContains", "maxContains"}),
)
_LOWER_MERGE: Final = frozenset({"minimum", "exclusiveMinimum", "minLength", "minItems"})
_UPPER_MERGE: Final = frozenset({"maximum", "exclusiveMaximum", "maxLength", "maxItems"})
# They see what the subschemas beside them evaluated: a node split into parts leaves them out
# (which only widens it), since alone they would refuse more.
_UNEVALUATED: Final = ("unevaluatedProperties", "unevaluatedItems")
_MATCH_ALL_PATTERNS: Final = frozenset({"", ".*"})
_EMPTY: Final[Mapping[str, Any]] = {}


@dataclass(frozen=True)
class Incompatibility:
    """One way the narrower schema may refuse an input the wider one accepts."""

    path: str  # slash-separated keywords from the root ("properties/amount"), "" for the root
    rule: str  # what changed, from the previous schema to the candidate

    def __str__(self) -> str:
        return f"{self.path}: {self.rule}" if self.path else self.rule


def narrowings(
    wider: Schema, narrower: Schema, *, limit: int = MAX_REPORTED
) -> list[Incompatibility]:
    """Every way `narrower` may refuse an input `wider` accepts, worded as changes from `wider`
    to `narrower`. [] means: every instance valid under `wider` is valid under `narrower`
    (decided exactly, or the analysis could prove it). At most `limit`, duplicates collapsed."""
    return _Analysis(wider, narrower, forward=False).run(limit)


def backward_breaks(
    previous: Schema, candidate: Schema, *, limit: int = MAX_REPORTED
) -> list[Incompatibility]:
    """Inputs `previous` accepted that `candidate` refuses ("required added")."""
    return _Analysis(previous, candidate, forward=False).run(limit)


def forward_breaks(
    previous: Schema, candidate: Schema, *, limit: int = MAX_REPORTED
) -> list[Incompatibility]:
    """Inputs `candidate` accepts that `previous` refuses, still worded as the change from
    `previous` to `candidate` ("required removed", 'value "JPY" added')."""
    return _Analysis(candidate, previous, forward=True).run(limit)


class _TooComplexError(Exception):
    """The work bound was reached; args[0] says which."""


# --- one side ------------------------------------------------------------------------------


class _Side:
    """One schema document: its root, where its subschemas are (for the engine's map of
    compiled subschemas, built on first use), and its local references."""

    def __init__(self, root: Schema) -> None:
        self.root = root
        self.pointers: dict[int, str] = {}
        self.nested_id = False
        self.dynamic = False  # a subschema compiled alone would start its dynamic scope there
        self._validators: Any = None
        self._compiled = False
        pending: list[tuple[Any, str]] = [(root, "#")]
        while pending:
            node, pointer = pending.pop()
            items: Iterable[tuple[object, Any]]
            if isinstance(node, Mapping):
                self.pointers.setdefault(id(node), pointer)
                self.nested_id |= node is not root and isinstance(node.get("$id"), str)
                self.dynamic |= "$dynamicRef" in node
                items = node.items()
            elif isinstance(node, list):
                items = enumerate(node)
            else:
                continue
            for key, value in items:
                if isinstance(value, (Mapping, list)):
                    token = str(key).replace("~", "~0").replace("/", "~1")
                    pending.append((value, f"{pointer}/{token}"))

    def resolve(self, ref: object) -> Schema | None:
        """The subschema a local `#...` reference names; None when it names none."""
        if not isinstance(ref, str) or not ref.startswith("#"):
            return None
        node: Any = self.root
        fragment = unquote(ref[1:])
        if fragment and not fragment.startswith("/"):
            return None  # an anchor: not resolved here
        for token in fragment.split("/")[1:] if fragment else ():
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return None
        return node if isinstance(node, (Mapping, bool)) else None

    def validator(self, node: Schema) -> Any:
        """The compiled validator of one of this document's subschemas; None for a subschema
        the analysis made up (a merge), in a document with `$dynamicRef`s, or in one the
        engine cannot compile."""
        pointer = self.pointers.get(id(node)) if isinstance(node, Mapping) else None
        if pointer is None or self.dynamic:
            return None
        if not self._compiled:
            self._compiled = True
            try:
                root = self.root if isinstance(self.root, (dict, bool)) else dict(self.root)
                self._validators = jsonschema_rs.validator_map_for(
                    root,
                    formats=ENGINE_FORMATS,
                    validate_formats=True,
                    pattern_options=LINEAR_REGEX,
                    offline=True,
                )
            except Exception:  # a schema the engine refuses: nothing decided exactly
                self._validators = None
        return None if self._validators is None else self._validators.get(pointer)


# --- the analysis ----------------------------------------------------------------------------


class _Analysis:
    """One question, wider ⊆ narrower, with its bounds, coinductive assumptions and wording."""

    def __init__(self, wider: Schema, narrower: Schema, *, forward: bool) -> None:
        self.w = _Side(wider)
        self.n = _Side(narrower)
        self.forward = forward  # wider is the candidate: word changes the other way round
        self.limit = MAX_REPORTED
        self.visits = 0
        self.values = 0
        self.nesting = 0
        self.proven: set[tuple[int, int, frozenset[str]]] = set()
        self.log: list[tuple[int, int, frozenset[str]]] = []
        self.active: dict[tuple[int, int, frozenset[str]], int] = {}
        self.made: list[Any] = []  # subschemas made here, kept alive: their ids are keys
        self.splits: dict[tuple[int, str], Any] = {}
        self.failed: dict[tuple[int, int, frozenset[str]], list[_Found]] = {}
        self.patterns: dict[str, Any] = {}
        self.canons: dict[int, Any] = {}
        self.references: dict[int, bool] = {}

    def run(self, limit: int) -> list[Incompatibility]:
        if limit < 1:
            raise ValueError("limit must be at least 1: an empty answer means compatible")
        if self.canon(self.w.root) == self.canon(self.n.root):
            return []
        if self.w.nested_id or self.n.nested_id:
            return [Incompatibility("", "nested $id cannot be compared")]
        self.limit = limit
        try:
            found = self.include(self.w.root, self.n.root, (), 0)
        except _TooComplexError as error:
            return [Incompatibility("", f"too complex to decide ({error.args[0]})")]
        except RecursionError:
            return [Incompatibility("", "too complex to decide (nesting)")]
        return [_incompatibility(*item) for item in dict.fromkeys(found)][: self.limit]

    # --- wording and bounds ---

    def say(self, backward: str, forward: str) -> str:
        """The rule as a change from previous to candidate: `backward` when wider is the
        previous schema, `forward` when it is the candidate."""
        return forward if self.forward else backward

    def changed(self, keyword: str, backward: str, forward: str, wide: str, narrow: str) -> str:
        """ "maximum lowered (100 to 50)": values in previous-to-candidate order."""
        if self.forward:
            return f"{keyword} {forward} ({narrow} to {wide})"
        return f"{keyword} {backward} ({wide} to {narrow})"

    def tick(self) -> None:
        self.visits += 1
        if self.visits > MAX_VISITS:
            raise _TooComplexError(f"more than {MAX_VISITS} comparisons")

    def canon(self, value: Any) -> Any:
        """_canon, remembered for the containers of either document (they live as long)."""
        if not isinstance(value, (Mapping, list)):
            return _canon(value)
        key = id(value)
        if key not in self.canons:
            if isinstance(value, list):
                self.canons[key] = ("l", tuple(self.canon(item) for item in value))
            else:
                items = sorted((str(k), self.canon(v)) for k, v in value.items())
                self.canons[key] = ("o", tuple(items))
        return self.canons[key]

    def same(self, one: Any, other: Any) -> bool:
        """Equal, with no reference whose meaning depends on the document around it."""
        return self.canon(one) == self.canon(other) and not self.refers(one)

    def refers(self, value: Any) -> bool:
        if not isinstance(value, (Mapping, list)):
            return False
        key = id(value)
        if key not in self.references:
            values = value.values() if isinstance(value, Mapping) else value
            direct = isinstance(value, Mapping) and ("$ref" in value or "$dynamicRef" in value)
            self.references[key] = direct or any(self.refers(v) for v in values)
        return self.references[key]

    def make(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        self.made.append(schema)
        return schema

    # --- the comparison ---

    def include(
        self, wide: Any, narrow: Any, path: _Path, depth: int, skip: frozenset[str] = frozenset()
    ) -> list[_Found]:
        """Why `wide` (of the wider document) may accept what `narrow` refuses. `depth`
        counts steps into the instance; `skip` names narrower keywords already handled."""
        self.tick()
        wide, narrow = self.plain(wide, self.w), self.plain(narrow, self.n)
        if wide is False or narrow is True:
            return []
        if not isinstance(narrow, Mapping):
            if narrow is False:
                return [_at(path, self.say("changed to false", "changed from false"))]
            return [_at(path, "not a schema, cannot be compared")]
        if not isinstance(wide, Mapping):
            wide = _EMPTY
        if not (narrow.keys() - skip - _ANNOTATIONS):
            return []
        key = (id(wide), id(narrow), skip)
        if key in self.proven:
            return []
        if key in self.failed:  # a failure stays one wherever it is met: only its place changes
            self.visits += len(self.failed[key]) // 8  # copying findings is work too
            return [((*path, *where), rule) for where, rule in self.failed[key]]
        if key in self.active:
            if depth > self.active[key]:
                return []  # met again deeper in the input: assumed to hold (coinduction)
            return [_at(path, "reference loop cannot be compared")]
        if self.nesting >= MAX_NESTING:
            raise _TooComplexError(f"nested more than {MAX_NESTING} deep")
        self.active[key] = depth
        self.nesting += 1
        mark = len(self.log)
        try:
            found = self.compare(wide, narrow, path, depth, skip)
        finally:
            self.nesting -= 1
            del self.active[key]
        if found:
            found = list(dict.fromkeys(found))[: self.limit]  # kept short at every level
            self.visits += len(found) // 8
            # What was proven meanwhile may rest on an assumption that just failed.
            self.proven.difference_update(self.log[mark:])
            del self.log[mark:]
            self.failed[key] = [(where[len(path) :], rule) for where, rule in found]
        else:
            self.proven.add(key)
            self.log.append(key)
        return found

    def plain(self, schema: Any, side: _Side) -> Any:
        """`schema` with references that have nothing beside them followed. On the wider side a
        reference that names nothing stands for `true` (wider); on the narrower side it stays,
        and is reported."""
        for _ in range(MAX_CONJUNCTS):
            if not (isinstance(schema, Mapping) and "$ref" in schema):
                return schema
            if schema.keys() - _ANNOTATIONS != {"$ref"}:
                return schema
            target = side.resolve(schema["$ref"])
            if target is None:
                return True if side is self.w else schema
            self.tick()
            schema = target
        return True if side is self.w else schema

    def compare(
        self,
        wide: Mapping[str, Any],
        narrow: Mapping[str, Any],
        path: _Path,
        depth: int,
        skip: frozenset[str],
    ) -> list[_Found]:
        for keyword in ("anyOf", "oneOf"):
            if isinstance(wide.get(keyword), list) and wide[keyword]:
                return self.wider_branches(wide, keyword, narrow, path, depth, skip)
        if "allOf" in wide or "$ref" in wide:
            return self.wider_conjunction(wide, narrow, path, depth, skip)
        exact = None if skip else self.exact(wide, narrow, path)
        if exact is not None:
            return exact
        if self.proven_by_values(wide, narrow):
            return []
        if not skip and self.same(wide, narrow):
            return []
        return self.keywords(wide, narrow, path, depth, skip)

    # --- the wider side's combinators ---

    def wider_branches(
        self,
        wide: Mapping[str, Any],
        keyword: str,
        narrow: Mapping[str, Any],
        path: _Path,
        depth: int,
        skip: frozenset[str],
    ) -> list[_Found]:
        """Each branch (with what sits beside the combinator) must fit: exact for anyOf, and
        sound for oneOf (whose instances are among anyOf's)."""
        joint = next(
            (k for k in (keyword, "anyOf", "oneOf") if isinstance(narrow.get(k), list)), None
        )
        if joint in skip:
            joint = None
        found: list[_Found] = []
        for index, part in enumerate(self.branch_parts(wide, keyword)):
            here = (*path, keyword, str(index))
            if joint is None:
                found += self.include(part, narrow, here, depth, skip)
                continue
            found += self.narrower_branches(part, narrow, joint, path, depth, index, here)
            found += self.include(part, narrow, here, depth, skip | {joint})
        return found

    def branch_parts(self, wide: Mapping[str, Any], keyword: str) -> list[Any]:
        """Each branch with what sits beside the combinator; the same objects every time, so
        that pairs made of them are remembered."""
        key = (id(wide), keyword)
        if key not in self.splits:
            rest = {k: v for k, v in wide.items() if k != keyword and k not in _UNEVALUATED}
            branches = wide[keyword]
            if rest.keys() - _ANNOTATIONS:
                branches = [self.make({"allOf": [rest, branch]}) for branch in branches]
            self.splits[key] = branches
        parts: list[Any] = self.splits[key]
        return parts

    def wider_conjunction(
        self,
        wide: Mapping[str, Any],
        narrow: Mapping[str, Any],
        path: _Path,
        depth: int,
        skip: frozenset[str],
    ) -> list[_Found]:
        """`allOf` (or a `$ref` with keywords beside it): the parts merged when that is safe,
        else it is enough that one part fits (each is wider than all of them)."""
        key = (id(wide), "allOf")
        if key not in self.splits:
            parts = self.conjuncts(wide)
            merged = _merge(parts) if parts is not None and len(parts) > 1 else None
            if parts is None or merged is False:
                self.splits[key] = False
            elif not parts:
                self.splits[key] = _EMPTY
            elif len(parts) == 1:
                self.splits[key] = parts[0]
            else:
                self.splits[key] = self.make(merged) if merged is not None else parts
        split = self.splits[key]
        if split is False:
            return []
        if not isinstance(split, list):
            return self.include(split, narrow, path, depth, skip)
        parts = split
        best: list[_Found] | None = None
        for part in parts:
            found = self.include(part, narrow, path, depth, skip)
            if not found:
                return []
            if best is None or len(found) < len(best):
                best = found
        return best or []

    def conjuncts(self, wide: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
        """The parts an `allOf`/`$ref` node is the conjunction of, flattened; None when one is
        `false`. Parts beyond MAX_CONJUNCTS are dropped (wider, so sound)."""
        parts: list[Mapping[str, Any]] = []
        pending: list[Any] = [wide]
        while pending and len(parts) < MAX_CONJUNCTS:
            self.tick()
            node = self.plain(pending.pop(), self.w)
            if node is False:
                return None
            if not isinstance(node, Mapping):
                continue
            if "allOf" in node and isinstance(node["allOf"], list):
                pending.extend(reversed(node["allOf"]))
            if "$ref" in node:
                target = self.w.resolve(node["$ref"])
                if target is not None:
                    pending.append(target)
            if "allOf" in node or "$ref" in node:
                dropped = ("allOf", "$ref", *_UNEVALUATED)
                node = self.make({k: v for k, v in node.items() if k not in dropped})
            if node.keys() - _ANNOTATIONS:
                parts.append(node)
        return parts

    # --- finite wider sides, decided by the engine ---

    def exact(
        self, wide: Mapping[str, Any], narrow: Mapping[str, Any], path: _Path
    ) -> list[_Found] | None:
        """A wider `const`/`enum`: each of its values that `wide` accepts, validated against
        `narrow`. None when the engine cannot answer (then the keywords are compared)."""
        if "const" in wide:
            keyword, values = "const", [wide["const"]]
        elif isinstance(wide.get("enum"), list):
            keyword, values = "enum", wide["enum"]
        else:
            return None
        check = self.n.validator(narrow)
        if check is None:
            return None
        own = self.w.validator(wide)
        found = []
        for value in values:
            self.count_value()
            if own is not None and not own.is_valid(value):
                continue
            if not check.is_valid(value):
                shown = _show(value)
                rule = self.say(f"value {shown} removed", f"value {shown} added")
                found.append(_at((*path, keyword), rule))
        return found

    def proven_by_values(self, wide: Mapping[str, Any], narrow: Mapping[str, Any]) -> bool:
        """Only null and booleans: the three values checked (a failure is worded by the
        keyword comparison that follows)."""
        kinds = _kinds(wide.get("type"))
        if not kinds <= {"null", "boolean"}:
            return False
        check = self.n.validator(narrow)
        if check is None:
            return False
        own = self.w.validator(wide)
        values = ([None] if "null" in kinds else []) + ([True, False] if "boolean" in kinds else [])
        for value in values:
            self.count_value()
            if (own is None or own.is_valid(value)) and not check.is_valid(value):
                return False
        return True

    def count_value(self) -> None:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _TooComplexError(f"more than {MAX_VALUES} values validated")

    # --- the narrower side's keywords ---

    def keywords(
        self,
        wide: Mapping[str, Any],
        narrow: Mapping[str, Any],
        path: _Path,
        depth: int,
        skip: frozenset[str],
    ) -> list[_Found]:
        kinds = _kinds(wide.get("type"))
        found: list[_Found] = []
        if "type" in narrow:
            allowed = _kinds(narrow["type"])
            if kinds - allowed:
                verb = ("narrowed", "widened") if kinds & allowed else ("changed", "changed")
                wide_type, narrow_type = _type_text(wide.get("type")), _type_text(narrow["type"])
                found.append(_at(path, self.changed("type", *verb, wide_type, narrow_type)))
            kinds &= allowed
        present = narrow.keys()
        if kinds & _NUMBER and present & _NUMBER_KEYWORDS:
            found += self.numbers(wide, narrow, path, kinds)
        if "string" in kinds and present & _STRING_KEYWORDS:
            found += self.strings(wide, narrow, path)
        if "object" in kinds and present & _OBJECT_KEYWORDS:
            found += self.objects(wide, narrow, path, depth)
        if "array" in kinds and present & _ARRAY_KEYWORDS:
            found += self.arrays(wide, narrow, path, depth)
        if present & {"enum", "const"}:
            found += self.values_kept(wide, narrow, path)
        if present & _COMBINATORS:
            found += self.narrower_combinators(wide, narrow, path, depth, skip)
        for keyword, value in narrow.items():
            if keyword in _KNOWN or keyword in _ANNOTATIONS or keyword in skip:
                continue
            if keyword in wide and self.canon(wide[keyword]) == self.canon(value):
                continue
            found.append(_at(path, f'unknown keyword "{keyword}" cannot be compared'))
        return found

    def bound(
        self,
        path: _Path,
        keyword: str,
        wide: Any,
        narrow: Any,
        *,
        upper: bool,
    ) -> list[_Found]:
        """A length or count bound: `narrow` must be no tighter than `wide` (None: none)."""
        if not _is_number(narrow):
            return []
        if _is_number(wide) and (wide <= narrow if upper else wide >= narrow):
            return []
        if not _is_number(wide):
            rule = f"{keyword} {self.say('added', 'removed')} ({_number(narrow)})"
        else:
            verbs = ("lowered", "raised") if upper else ("raised", "lowered")
            rule = self.changed(keyword, *verbs, _number(wide), _number(narrow))
        return [_at(path, rule)]

    def numbers(
        self, wide: Mapping[str, Any], narrow: Mapping[str, Any], path: _Path, kinds: frozenset[str]
    ) -> list[_Found]:
        integers = kinds & _NUMBER == {"integer"}
        found = []
        for upper, keywords in ((False, _LOWER_KEYWORDS), (True, _UPPER_KEYWORDS)):
            have = _tightest(wide, keywords, upper=upper, integers=integers)
            for keyword in keywords:
                need = _tightest(narrow, (keyword,), upper=upper, integers=integers)
                if need is None or _within(have, need, upper=upper):
                    continue
                found.append(_at(path, self.numeric_rule(keyword, have, need, upper=upper)))
        step = narrow.get("multipleOf")
        if _is_number(step) and step > 0:
            wide_step = wide.get("multipleOf")
            fits = _is_number(wide_step) and wide_step > 0 and _divides(step, wide_step)
            if not fits and integers:
                fits = _decimal(step).numerator == 1  # every integer is a multiple of 1/k
            if not fits:
                if _is_number(wide_step):
                    rule = self.changed(
                        "multipleOf", "changed", "changed", _number(wide_step), _number(step)
                    )
                else:
                    rule = f"multipleOf {self.say('added', 'removed')} ({_number(step)})"
                found.append(_at(path, rule))
        return found

    def numeric_rule(self, keyword: str, have: _Bound | None, need: _Bound, *, upper: bool) -> str:
        if have is None:
            return f"{keyword} {self.say('added', 'removed')} ({_number(need.shown)})"
        mixed = have.exclusive != need.exclusive
        verbs = ("lowered", "raised") if upper else ("raised", "lowered")
        return self.changed(keyword, *verbs, have.text(mixed, upper), need.text(mixed, upper))

    def strings(
        self, wide: Mapping[str, Any], narrow: Mapping[str, Any], path: _Path
    ) -> list[_Found]:
        found = self.bound(
            path, "minLength", wide.get("minLength", 0), narrow.get("minLength"), upper=False
        )
        found += self.bound(
            path, "maxLength", wide.get("maxLength"), narrow.get("maxLength"), upper=True
        )
        for keyword in ("pattern", "format"):
            need = narrow.get(keyword)
            if not isinstance(need, str) or (keyword == "pattern" and need in _MATCH_ALL_PATTERNS):
                continue
            have = wide.get(keyword)
            if have == need:
                continue
            if isinstance(have, str):
                rule = self.changed(keyword, "changed", "changed", _show(have), _show(need))
            else:
                rule = f"{keyword} {self.say('added', 'removed')} ({_show(need)})"
            found.append(_at(path, rule))
        return found

    # --- objects ---

    def objects(
        self, wide: Mapping[str, Any], narrow: Mapping[str, Any], path: _Path, depth: int
    ) -> list[_Found]:
        found: list[_Found] = []
        required = _names(wide.get("required"))
        for name in _names(narrow.get("required")):
            if name not in required:
                rule = self.say("required added", "required removed")
                found.append(_at((*path, "properties", name), rule))
        for name, schema in _mapping(narrow.get("properties")).items():
            member = self.member(wide, name)
            if member is not False:
                found += self.include(member, schema, (*path, "properties", name), depth + 1)
        if "patternProperties" in narrow:
            found += self.pattern_properties(wide, narrow, path, depth)
        closing = narrow.get("additionalProperties", True)
        if "unevaluatedProperties" in narrow and "additionalProperties" not in narrow:
            if not any(keyword in narrow for keyword in _IN_PLACE):
                closing = narrow["unevaluatedProperties"]
            elif narrow["unevaluatedProperties"] is not True:
                found.append(_at(path, "unevaluatedProperties cannot be compared"))
        if closing is not True:
            found += self.additional(wide, narrow, closing, path, depth)
        if "minProperties" in narrow:
            low = max(_count(wide.get("minProperties")), len(set(required)))
            found += self.bound(path, "minProperties", low, narrow["minProperties"], upper=False)
        if "maxProperties" in narrow:
            most = wide.get("maxProperties")
            if _closed(wide):
                properties = _mapping(wide.get("properties")).values()
                declared = sum(1 for s in properties if s is not False)
                most = declared if not _is_number(most) else min(most, declared)
            found += self.bound(path, "maxProperties", most, narrow["maxProperties"], upper=True)
        if "propertyNames" in narrow:
            found += self.property_names(wide, narrow, path, depth)
        if "dependentRequired" in narrow or "dependentSchemas" in narrow:
            found += self.dependencies(wide, narrow, path, depth, required)
        return found

    def member(self, wide: Mapping[str, Any], name: str) -> Any:
        """What `wide` allows as the value of property `name` (no more than that)."""
        properties = _mapping(wide.get("properties"))
        if name in properties:
            return properties[name]
        unknown = False
        for pattern, schema in _mapping(wide.get("patternProperties")).items():
            matched = self.matches(pattern, name)
            if matched:
                return schema
            unknown |= matched is None
        return True if unknown else wide.get("additionalProperties", True)

    def matches(self, pattern: str, name: str) -> bool | None:
        """Whether the engine's `pattern` matches `name`; None when it cannot compile it."""
        if pattern not in self.patterns:
            try:
                self.patterns[pattern] = jsonschema_rs.Draft202012Validator(
                    {"pattern": pattern}, pattern_options=LINEAR_REGEX
                )
            except Exception:
                self.patterns[pattern] = None
        check = self.patterns[pattern]
        return None if check is None else bool(check.is_valid(name))

    def pattern_properties(
        self, wide: Mapping[str, Any], narrow: Mapping[str, Any], path: _Path, depth: int
    ) -> list[_Found]:
        """A narrower pattern's schema: the same pattern on the wider side constrains every name
        it matches; otherwise each declared property it matches, and whatever else the wider
        side lets in, must fit it."""
        found: list[_Found] = []
        wide_patterns = _mapping(wide.get("patternProperties"))
        for pattern, schema in _mapping(narrow.get("patternProperties")).items():
            here = (*path, "patternProperties", pattern)
            if pattern in wide_patterns:
                found += self.include(wide_patterns[pattern], schema, here, depth + 1)
                continue
            for name, member in _mapping(wide.get("properties")).items():
                matched = self.matches(pattern, name)
                if matched is None:
                    found.append(_at(here, "patternProperties cannot be compared"))
                elif matched:
                    found += self.include(member, schema, (*path, "properties", name), depth + 1)
            for other, member in wide_patterns.items():
                found += self.include(
                    member, schema, (*path, "patternProperties", other), depth + 1
                )
            found += self.include(wide.get("additionalProperties", True), schema, here, depth + 1)
        return found

    def additional(
        self,
        wide: Mapping[str, Any],
        narrow: Mapping[str, Any],
        closing: Any,
        path: _Path,
        depth: int,
    ) -> list[_Found]:
        """`additionalProperties` (or an unevaluatedProperties that means the same): every
        property the wider side allows that the narrower neither declares nor matches."""
        found: list[_Found] = []
        declared = _mapping(narrow.get("properties"))
        patterns = _mapping(narrow.get("patternProperties"))
        for name, member in _mapping(wide.get("properties")).items():
            if name in declared or member is False:
                continue
            matched = [self.matches(pattern, name) for pattern in patterns]
            if any(matched):
                continue
            here = (*path, "properties", name)
            if None in matched:
                found.append(_at(here, "patternProperties cannot be compared"))
            elif closing is False:
                rule = self.say(
                    "property removed (additional properties closed)",
                    "property added (additional properties were closed)",
                )
                found.append(_at(here, rule))
            else:
                found += self.include(member, closing, here, depth + 1)
        # What else the wider side lets in: its other patterns' names, its additional ones.
        others: list[tuple[_Path, _Path, Any]] = []
        for pattern, member in _mapping(wide.get("patternProperties")).items():
            if pattern not in patterns:
                here = (*path, "patternProperties", pattern)
                others.append((here, here, member))
        extra = wide.get("additionalProperties", True)
        others.append((path, (*path, "additionalProperties"), extra))
        for where, here, member in others:
            if member is False:
                continue
            if closing is False:
                rule = self.say("additional properties closed", "additional properties opened")
                found.append(_at(where, rule))
            else:
                found += self.include(member, closing, here, depth + 1)
        return found

    def property_names(
        self, wide: Mapping[str, Any], narrow: Mapping[str, Any], path: _Path, depth: int
    ) -> list[_Found]:
        names = narrow.get("propertyNames", True)
        if names is True:
            return []
        here = (*path, "propertyNames")
        if "propertyNames" in wide:
            return self.include(wide["propertyNames"], names, here, depth + 1)
        check = self.n.validator(names) if names is not False else None
        if not _closed(wide) or (check is None and names is not False):
            return [_at(path, f"propertyNames {self.say('added', 'removed')}")]
        found = []
        for name, member in _mapping(wide.get("properties")).items():
            self.count_value()
            if member is not False and (check is None or not check.is_valid(name)):
                rule = self.say(f"name {_show(name)} refused", f"name {_show(name)} allowed")
                found.append(_at(here, rule))
        return found

    def dependencies(
        self,
        wide: Mapping[str, Any],
        narrow: Mapping[str, Any],
        path: _Path,
        depth: int,
        required: list[str],
    ) -> list[_Found]:
        found: list[_Found] = []
        wide_required = _mapping(wide.get("dependentRequired"))
        for name, needed in _mapping(narrow.get("dependentRequired")).items():
            if self.member(wide, name) is False:
                continue
            have = set(_names(wide_required.get(name))) | set(required)
            for other in _names(needed):
                if other not in have:
                    rule = self.say(f"{_show(other)} added", f"{_show(other)} removed")
                    found.append(_at((*path, "dependentRequired", name), rule))
        wide_schemas = _mapping(wide.get("dependentSchemas"))
        for name, schema in _mapping(narrow.get("dependentSchemas")).items():
            if self.member(wide, name) is False:
                continue
            here = (*path, "dependentSchemas", name)
            first: list[_Found] = []
            if name in wide_schemas:
                first = self.include(wide_schemas[name], schema, here, depth)
                if not first:
                    continue
            whole = self.include(wide, schema, here, depth)
            if whole:
                found += first or whole
        return found

    # --- arrays ---

    def arrays(
        self, wide: Mapping[str, Any], narrow: Mapping[str, Any], path: _Path, depth: int
    ) -> list[_Found]:
        found: list[_Found] = []
        wide_prefix = _list(wide.get("prefixItems"))
        narrow_prefix = _list(narrow.get("prefixItems"))
        wide_items = wide.get("items", True)
        cap = wide.get("maxItems")
        longest: float = cap if _is_number(cap) else math.inf
        if wide_items is False:
            longest = min(longest, len(wide_prefix))
        items_keyword, narrow_items = "items", narrow.get("items")
        if narrow_items is None and "unevaluatedItems" in narrow:
            simple = not any(k in narrow for k in (*_IN_PLACE, "contains"))
            if simple:
                items_keyword, narrow_items = "unevaluatedItems", narrow["unevaluatedItems"]
            elif narrow["unevaluatedItems"] is not True:
                found.append(_at(path, "unevaluatedItems cannot be compared"))
        if narrow_items is None:
            narrow_items = True
        shared = max(len(wide_prefix), len(narrow_prefix))
        for index in range(shared + 1):
            if index >= longest:
                break
            tail = index == shared
            wide_item = wide_prefix[index] if index < len(wide_prefix) else wide_items
            if self.plain(wide_item, self.w) is False:
                break  # no array of the wider side reaches this position
            narrow_item = narrow_prefix[index] if index < len(narrow_prefix) else narrow_items
            if index < len(narrow_prefix):
                here = (*path, "prefixItems", str(index))
            else:
                here = (*path, items_keyword)
            if narrow_item is False and index >= len(narrow_prefix):
                rule = self.say(f"{items_keyword} closed", f"{items_keyword} opened")
                found.append(_at(path, rule))
            elif narrow_item is not True:
                found += self.include(wide_item, narrow_item, here, depth + 1)
            if tail:
                break
        low = wide.get("minItems", 0)
        found += self.bound(path, "minItems", low, narrow.get("minItems"), upper=False)
        most = None if longest == math.inf else longest
        found += self.bound(path, "maxItems", most, narrow.get("maxItems"), upper=True)
        unique = narrow.get("uniqueItems") is True and wide.get("uniqueItems") is not True
        if unique and (most is None or most > 1):
            found.append(_at(path, f"uniqueItems {self.say('added', 'removed')}"))
        found += self.contains(wide, narrow, path, depth, most)
        return found

    def contains(
        self,
        wide: Mapping[str, Any],
        narrow: Mapping[str, Any],
        path: _Path,
        depth: int,
        most: float | None,
    ) -> list[_Found]:
        """At least minContains matches: the wider side's own contains must fit and demand as
        many. At most maxContains: the same contains and a lower maxContains, or arrays that
        short."""
        if "contains" not in narrow:
            return []
        least = narrow.get("minContains", 1)
        fewest = wide.get("minContains", 1)
        ok = not (_is_number(least) and least > 0)
        if not ok and "contains" in wide and _is_number(fewest) and fewest >= least:
            ok = not self.include(
                wide["contains"], narrow["contains"], (*path, "contains"), depth + 1
            )
        upto = narrow.get("maxContains")
        if ok and _is_number(upto):
            capped = most is not None and most <= upto
            same = "contains" in wide and self.same(wide["contains"], narrow["contains"])
            ok = capped or (
                same and _is_number(wide.get("maxContains")) and wide["maxContains"] <= upto
            )
        if ok:
            return []
        if "contains" in wide:
            return [_at(path, "contains changed, cannot be compared")]
        return [_at(path, f"contains {self.say('added', 'removed')}")]

    # --- enum, const and combinators on the narrower side ---

    def values_kept(
        self, wide: Mapping[str, Any], narrow: Mapping[str, Any], path: _Path
    ) -> list[_Found]:
        """A narrower enum/const where the engine could not decide: the wider side's own values
        must all be kept; a wider side without a finite list is reported."""
        found = []
        for keyword in ("const", "enum"):
            if keyword not in narrow:
                continue
            allowed = [narrow["const"]] if keyword == "const" else _list(narrow["enum"])
            kept = {self.canon(value) for value in allowed}
            if "const" in wide or isinstance(wide.get("enum"), list):
                source = "const" if "const" in wide else "enum"
                values = [wide["const"]] if source == "const" else wide["enum"]
                for value in values:
                    if self.canon(value) not in kept:
                        shown = _show(value)
                        rule = self.say(f"value {shown} removed", f"value {shown} added")
                        found.append(_at((*path, source), rule))
            else:
                found.append(_at(path, f"{keyword} {self.say('added', 'removed')}"))
        return found

    def narrower_combinators(
        self,
        wide: Mapping[str, Any],
        narrow: Mapping[str, Any],
        path: _Path,
        depth: int,
        skip: frozenset[str],
    ) -> list[_Found]:
        found: list[_Found] = []
        if "$ref" in narrow:
            target = self.n.resolve(narrow["$ref"])
            if target is None:
                found.append(_at(path, "$ref cannot be resolved"))
            else:
                found += self.include(wide, target, path, depth)
        if "$dynamicRef" in narrow:
            found.append(_at(path, "$dynamicRef cannot be compared"))
        for index, branch in enumerate(_list(narrow.get("allOf"))):
            found += self.include(wide, branch, (*path, "allOf", str(index)), depth)
        for keyword in ("anyOf", "oneOf"):
            if keyword in narrow and keyword not in skip:
                found += self.narrower_branches(wide, narrow, keyword, path, depth, None, path)
        if "not" in narrow:
            found += self.negation(wide, narrow["not"], path)
        if "if" in narrow:
            found += self.conditional(wide, narrow, path, depth)
        return found

    def narrower_branches(
        self,
        wide: Any,
        narrow: Mapping[str, Any],
        keyword: str,
        path: _Path,
        depth: int,
        index: int | None,
        here: _Path,
    ) -> list[_Found]:
        """`wide` must fit one branch of the narrower anyOf/oneOf (for oneOf, the others
        provably disjoint from it). `index`: the wider side's branch being matched, whose
        failure is reported against the branch at the same index, or as a branch removed."""
        branches = _list(narrow.get(keyword))
        results = []
        for position, branch in enumerate(branches):
            found = self.include(wide, branch, (*path, keyword, str(position)), depth)
            if not found:
                if keyword == "oneOf" and not self.exclusive(wide, branches, position):
                    return [_at((*path, keyword), "oneOf branches may overlap, cannot be compared")]
                return []
            results.append(found)
        if index is not None:
            if index < len(results):
                return results[index]
            return [_at(here, self.say("branch removed", "branch added"))]
        if not results:
            return [
                _at((*path, keyword), self.say("changed to no branch", "changed from no branch"))
            ]
        return min(results, key=len)

    def exclusive(self, wide: Any, branches: list[Any], chosen: int) -> bool:
        return all(
            self.disjoint(wide, self.w, branch, self.n)
            or self.disjoint(branches[chosen], self.n, branch, self.n)
            for position, branch in enumerate(branches)
            if position != chosen
        )

    def negation(self, wide: Mapping[str, Any], refused: Any, path: _Path) -> list[_Found]:
        if refused is False:
            return []
        if "not" in wide and self.same(wide["not"], refused):
            return []
        if self.disjoint(wide, self.w, refused, self.n):
            return []
        change = "changed" if "not" in wide else self.say("added", "removed")
        return [_at(path, f"not {change}, cannot be compared")]

    def conditional(
        self, wide: Mapping[str, Any], narrow: Mapping[str, Any], path: _Path, depth: int
    ) -> list[_Found]:
        """`if`/`then`/`else`: the same three without references, or both outcomes fit, or the
        wider side is provably within (or outside) the condition and that outcome fits."""
        keywords = ("if", "then", "else")
        if "if" in wide and all(
            self.same(wide.get(k, True), narrow.get(k, True)) for k in keywords
        ):
            return []
        then = self.include(wide, narrow.get("then", True), (*path, "then"), depth)
        otherwise = self.include(wide, narrow.get("else", True), (*path, "else"), depth)
        if not then and not otherwise:
            return []
        if not self.include(wide, narrow["if"], (*path, "if"), depth):
            return then
        if self.disjoint(wide, self.w, narrow["if"], self.n):
            return otherwise
        change = "changed" if "if" in wide else self.say("added", "removed")
        return [_at(path, f"if/then/else {change}, cannot be compared")]

    def disjoint(self, one: Any, one_side: _Side, other: Any, other_side: _Side) -> bool:
        """Whether no instance can be valid under both, proven from types, values, or a
        required property whose values differ (a discriminator)."""
        one, other = self.plain(one, one_side), self.plain(other, other_side)
        if one is False or other is False:
            return True
        if not isinstance(one, Mapping) or not isinstance(other, Mapping):
            return False
        common = _kinds(one.get("type")) & _kinds(other.get("type"))
        if not common:
            return True
        if self.values_disjoint(one, one_side, other, other_side):
            return True
        if common <= {"object"}:
            shared = set(_names(one.get("required"))) & set(_names(other.get("required")))
            for name in sorted(shared):
                left = _mapping(one.get("properties")).get(name, True)
                right = _mapping(other.get("properties")).get(name, True)
                left, right = self.plain(left, one_side), self.plain(right, other_side)
                if (
                    isinstance(left, Mapping)
                    and isinstance(right, Mapping)
                    and self.values_disjoint(left, one_side, right, other_side)
                ):
                    return True
        return False

    def values_disjoint(
        self, one: Mapping[str, Any], one_side: _Side, other: Mapping[str, Any], other_side: _Side
    ) -> bool:
        left, right = _finite(one), _finite(other)
        if left is not None and right is not None:
            return not ({self.canon(v) for v in left} & {self.canon(v) for v in right})
        for values, schema, side in ((left, other, other_side), (right, one, one_side)):
            check = side.validator(schema) if values is not None else None
            if check is not None and values is not None:
                for _ in values:
                    self.count_value()
                if not any(check.is_valid(value) for value in values):
                    return True
        return False


# --- numbers -------------------------------------------------------------------------------


_LOWER_KEYWORDS: Final = ("minimum", "exclusiveMinimum")
_UPPER_KEYWORDS: Final = ("maximum", "exclusiveMaximum")


@dataclass(frozen=True)
class _Bound:
    value: Fraction  # exact (a float's binary value), rounded inward for integers
    exclusive: bool
    shown: Any  # as the schema wrote it

    def text(self, mixed: bool, upper: bool) -> str:
        if not mixed:
            return _number(self.shown)
        sign = ("<" if upper else ">") + ("" if self.exclusive else "=")
        return sign + _number(self.shown)


def _tightest(
    schema: Mapping[str, Any], keywords: tuple[str, ...], *, upper: bool, integers: bool
) -> _Bound | None:
    best: _Bound | None = None
    for keyword in keywords:
        value = schema.get(keyword)
        if not _is_number(value):
            continue
        exclusive = keyword.startswith("exclusive")
        exact = Fraction(value)
        if integers:  # the nearest integer within, inclusive
            if upper:
                exact = Fraction(math.ceil(exact) - 1 if exclusive else math.floor(exact))
            else:
                exact = Fraction(math.floor(exact) + 1 if exclusive else math.ceil(exact))
            exclusive = False
        bound = _Bound(exact, exclusive, int(exact) if integers else value)
        if best is None or _tighter(bound, best, upper=upper):
            best = bound
    return best


def _tighter(one: _Bound, other: _Bound, *, upper: bool) -> bool:
    if one.value != other.value:
        return one.value < other.value if upper else one.value > other.value
    return one.exclusive and not other.exclusive


def _within(have: _Bound | None, need: _Bound, *, upper: bool) -> bool:
    """Whether every number within `have` is within `need`."""
    if have is None:
        return False
    if have.value != need.value:
        return have.value < need.value if upper else have.value > need.value
    return have.exclusive or not need.exclusive


def _decimal(value: float) -> Fraction:
    """A number as the decimal JSON wrote it (0.01 is 1/100, not its binary neighbour)."""
    return Fraction(value) if isinstance(value, int) else Fraction(repr(float(value)))


def _divides(step: float, wide_step: float) -> bool:
    """Whether every multiple of `wide_step` is a multiple of `step`, as decimals."""
    ratio = _decimal(wide_step) / _decimal(step)
    return ratio.denominator == 1


# --- helpers -------------------------------------------------------------------------------


def _at(path: _Path, rule: str) -> _Found:
    return path, rule


def _incompatibility(path: _Path, rule: str) -> Incompatibility:
    return Incompatibility(json_pointer("", path)[1:] if path else "", rule)


def _kinds(declared: object) -> frozenset[str]:
    if isinstance(declared, str):
        return _KINDS.get(declared, _ALL_KINDS)
    if isinstance(declared, list) and declared and all(t in _KINDS for t in declared):
        return frozenset().union(*(_KINDS[t] for t in declared))
    return _ALL_KINDS


def _type_names(kinds: frozenset[str]) -> list[str]:
    names: list[str] = [t for t in ("null", "boolean", "object", "array", "string") if t in kinds]
    if kinds >= _NUMBER:
        names.append("number")
    elif "integer" in kinds:
        names.append("integer")
    return names


def _type_text(declared: object) -> str:
    if isinstance(declared, str):
        return declared
    if isinstance(declared, list):
        return "|".join(str(t) for t in declared)
    return "any"


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _number(value: object) -> str:
    return json.dumps(value)


def _show(value: object) -> str:
    """A value as JSON, shortened to MAX_SHOWN characters."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _names(value: object) -> list[str]:
    return [name for name in _list(value) if isinstance(name, str)]


def _finite(schema: Mapping[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if isinstance(schema.get("enum"), list):
        return list(schema["enum"])
    return None


def _closed(schema: Mapping[str, Any]) -> bool:
    """Whether no property but the declared ones may appear."""
    patterns = _mapping(schema.get("patternProperties"))
    return schema.get("additionalProperties") is False and all(
        s is False for s in patterns.values()
    )


def _canon(value: Any) -> Any:
    """A value as JSON Schema compares it: 1 equals 1.0, true does not equal 1."""
    if isinstance(value, bool) or value is None:
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("#", Fraction(value) if math.isfinite(value) else repr(value))
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list):
        return ("l", tuple(_canon(item) for item in value))
    if isinstance(value, Mapping):
        return ("o", tuple(sorted((str(k), _canon(v)) for k, v in value.items())))
    return ("?", repr(value))


def _merge(parts: list[Mapping[str, Any]]) -> dict[str, Any] | Literal[False] | None:
    """One schema no narrower than the conjunction of `parts` (so it may stand for them on the
    wider side); False when they have no instance in common (types); None when not safe."""
    merged: dict[str, Any] = {}
    for together in _TOGETHER:
        if sum(1 for part in parts if part.keys() & together) > 1:
            return None
    for part in parts:
        for keyword, value in part.items():
            if keyword in _ANNOTATIONS:
                continue
            if keyword not in merged:
                merged[keyword] = value
            elif _canon(merged[keyword]) == _canon(value):
                continue
            elif keyword == "required":
                merged[keyword] = list(dict.fromkeys([*_names(merged[keyword]), *_names(value)]))
            elif keyword == "type":
                kinds = _kinds(merged[keyword]) & _kinds(value)
                if not kinds:
                    return False
                merged[keyword] = _type_names(kinds)
            elif keyword == "properties":
                both = dict(_mapping(merged[keyword]))
                for name, schema in _mapping(value).items():
                    both[name] = {"allOf": [both[name], schema]} if name in both else schema
                merged[keyword] = both
            elif keyword in _LOWER_MERGE and _is_number(merged[keyword]) and _is_number(value):
                merged[keyword] = max(merged[keyword], value)
            elif keyword in _UPPER_MERGE and _is_number(merged[keyword]) and _is_number(value):
                merged[keyword] = min(merged[keyword], value)
            else:
                return None
    return merged
