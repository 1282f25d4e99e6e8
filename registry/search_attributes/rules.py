"""Search attribute provisioning rules, as plain functions: what a set of declarations
needs from the namespace, what conflicts, and whether the namespace has the slots; what the
catalogue declares; and a reconcile request parsed (parse_reconcile) then planned against
the namespace (plan_reconcile). No I/O: registry.search_attributes.temporal does the talking.

Temporal's SQL visibility stores (the dev server's SQLite included) give each custom
attribute type a fixed number of slots; Elasticsearch has no per-type limit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

import grpc
from temporal_registry.v1 import search_attributes_pb2 as pb

from registry.search_attributes.workflow import AttributeChange
from registry.server.errors import RegistryError, invalid_fields
from registry.shared.model import FieldViolation, StoredWorkflow

# Slots per type of Temporal's SQL visibility (measured on the dev server: adding one more
# fails with "cannot have more than N search attribute of type T").
SQL_SLOTS: Final = {
    "Bool": 3,
    "Datetime": 3,
    "Double": 3,
    "Int": 3,
    "Keyword": 10,
    "KeywordList": 3,
    "Text": 3,
}
# Temporal's IndexedValueType names, and ours.
TEMPORAL_TYPE_NAMES: Final = {
    "INDEXED_VALUE_TYPE_TEXT": "Text",
    "INDEXED_VALUE_TYPE_KEYWORD": "Keyword",
    "INDEXED_VALUE_TYPE_INT": "Int",
    "INDEXED_VALUE_TYPE_DOUBLE": "Double",
    "INDEXED_VALUE_TYPE_BOOL": "Bool",
    "INDEXED_VALUE_TYPE_DATETIME": "Datetime",
    "INDEXED_VALUE_TYPE_KEYWORD_LIST": "KeywordList",
}

MODES: Final = ("validate", "ensure", "replace")


@dataclass(frozen=True)
class Declaration:
    """An attribute a registration declares, and where (for field violations)."""

    name: str
    type: str
    field: str


@dataclass
class ProvisioningPlan:
    missing: dict[str, str] = field(default_factory=dict)  # name -> type, to create
    violations: list[FieldViolation] = field(default_factory=list)  # conflicts
    budget: list[str] = field(default_factory=list)  # why the slots don't suffice


def plan_provisioning(
    declarations: Iterable[Declaration],
    custom: Mapping[str, str],
    system: Mapping[str, str],
    slots: Mapping[str, int] | None,
) -> ProvisioningPlan:
    """Which declared attributes to create, which conflict (with the namespace, or with
    each other), and whether the missing ones fit the slots (None: no per-type limit)."""
    plan = ProvisioningPlan()
    declared: dict[str, Declaration] = {}
    for declaration in declarations:
        first = declared.setdefault(declaration.name, declaration)
        existing = custom.get(declaration.name) or system.get(declaration.name)
        if first.type != declaration.type:
            message = (
                f"{declaration.name} is declared as {first.type} at {first.field} "
                f"and as {declaration.type} here"
            )
            plan.violations.append(FieldViolation(declaration.field, message, "type_conflict"))
        elif existing is not None and existing != declaration.type:
            message = (
                f"{declaration.name} exists in the namespace as {existing}; "
                f"it can't be declared as {declaration.type}"
            )
            plan.violations.append(FieldViolation(declaration.field, message, "type_conflict"))
        elif existing is None:
            plan.missing[declaration.name] = declaration.type
    if slots is not None and not plan.violations:
        plan.budget = budget_problems(plan.missing, custom, slots)
    return plan


def budget_problems(
    missing: Mapping[str, str], custom: Mapping[str, str], slots: Mapping[str, int]
) -> list[str]:
    """One message per type whose slots can't hold the existing plus the missing ones."""
    problems = []
    for kind in sorted(set(missing.values())):
        existing = sorted(name for name, t in custom.items() if t == kind)
        wanted = sorted(name for name, t in missing.items() if t == kind)
        limit = slots.get(kind, 0)
        if len(existing) + len(wanted) > limit:
            problems.append(
                f"the namespace holds at most {limit} {kind} search attributes; "
                f"{len(existing)} exist ({', '.join(existing) or 'none'}) and "
                f"{', '.join(wanted)} would need {len(wanted)} more"
            )
    return problems


def declared_attributes(
    workflows: Mapping[str, StoredWorkflow],
) -> tuple[dict[str, tuple[str, str, list[str]]], list[str]]:
    """name -> (type, description, declaring workflow types) over the catalogue, and a
    warning for each name declared with different types (the first type, by workflow type
    order, is the one that counts)."""
    declared: dict[str, tuple[str, str, list[str]]] = {}
    warnings = []
    for workflow_type in sorted(workflows):
        for attribute in workflows[workflow_type].spec.search_attributes:
            kind, _, types = declared.setdefault(
                attribute.name, (attribute.type, attribute.description, [])
            )
            types.append(workflow_type)
            if attribute.type != kind:
                warnings.append(
                    f"{attribute.name} is declared as {kind} by {types[0]} and as "
                    f"{attribute.type} by {workflow_type}"
                )
    return declared, warnings


# --- reconcile --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedReconcile:
    """A reconcile request, checked against the catalogue."""

    mode: str  # validate, ensure or replace
    wanted: dict[str, str]  # name -> declared type: the named attributes, or every declared one
    warnings: list[str]  # names the catalogue declares with different types


def parse_reconcile(
    request: pb.ReconcileSearchAttributesRequest, workflows: Mapping[str, StoredWorkflow]
) -> ParsedReconcile:
    """Every check of a reconcile request in one answer: INVALID_RECONCILE with one violation
    per bad field (an unknown mode, an attribute no registered type declares, replace without
    attributes or without confirm). No mode is validate."""
    mode = request.mode or "validate"
    declared, warnings = declared_attributes(workflows)
    violations = []
    if mode not in MODES:
        violations.append(FieldViolation("mode", "must be validate, ensure or replace", "invalid"))
    for i, name in enumerate(request.attributes):
        if name not in declared:
            message = "is not declared by any registered workflow type"
            violations.append(FieldViolation(f"attributes[{i}]", message, "unknown"))
    if mode == "replace" and not request.attributes:
        violations.append(
            FieldViolation("attributes", "replace needs the attributes to replace", "required")
        )
    if mode == "replace" and not request.confirm:
        violations.append(FieldViolation("confirm", "replace needs confirm: true", "required"))
    if violations:
        raise invalid_fields("INVALID_RECONCILE", violations)
    wanted = {name: declared[name][0] for name in (request.attributes or declared)}
    return ParsedReconcile(mode, wanted, warnings)


@dataclass(frozen=True)
class Conflict:
    name: str
    existing_type: str
    desired_type: str
    source: str  # custom or system


@dataclass(frozen=True)
class ReconcilePlan:
    """What a reconcile finds in the namespace and what it will change there."""

    missing: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    change: AttributeChange = field(default_factory=AttributeChange)  # empty for validate
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, why), not for validate


def plan_reconcile(
    parsed: ParsedReconcile,
    custom: Mapping[str, str],
    system: Mapping[str, str],
    slots: Mapping[str, int] | None,
) -> ReconcilePlan:
    """Each wanted attribute against the namespace: missing, unchanged or a conflict. Unless
    validating, the missing are added and (replace) custom conflicts removed and added again,
    as far as the slots allow (None: no per-type limit); system attributes and, but for
    replace, custom conflicts are refused. FAILED_PRECONDITION NOTHING_RECONCILED when all
    there is to do is refused."""
    found = ReconcilePlan()
    missing: dict[str, str] = {}
    replace: dict[str, str] = {}
    refused: list[tuple[str, str]] = []
    for name, kind in sorted(parsed.wanted.items()):
        existing = custom.get(name) or system.get(name)
        source = "custom" if name in custom else "system"
        if existing is None:
            found.missing.append(name)
            missing[name] = kind
        elif existing == kind:
            found.unchanged.append(name)
        else:
            found.conflicts.append(Conflict(name, existing, kind, source))
            if parsed.mode == "replace" and source == "custom":
                replace[name] = kind
            elif parsed.mode != "validate":
                why = (
                    "a system attribute: never changed"
                    if source == "system"
                    else (f"exists as {existing}; only replace (with confirm) changes it")
                )
                refused.append((name, why))
    if parsed.mode == "validate":
        return found

    remaining = {n: t for n, t in custom.items() if n not in replace}
    to_add = {**missing, **replace}
    if slots is not None:
        fits: dict[str, str] = {}
        for name, kind in sorted(to_add.items()):
            if not budget_problems({**fits, name: kind}, remaining, slots):
                fits[name] = kind
            else:
                limit = slots.get(kind, 0)
                refused.append((name, f"no free {kind} slot (the namespace holds {limit})"))
        to_add = fits
    if not to_add and refused:
        raise RegistryError(
            grpc.StatusCode.FAILED_PRECONDITION,
            "NOTHING_RECONCILED",
            f"nothing could be done: {'; '.join(f'{n}: {why}' for n, why in refused)}",
            [FieldViolation(f'search_attributes["{n}"]', why, "refused") for n, why in refused],
        )
    change = AttributeChange(add=to_add, remove=sorted(n for n in replace if n in to_add))
    return dataclasses.replace(found, change=change, refused=refused)
