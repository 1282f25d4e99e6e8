"""Search attribute provisioning rules, as plain functions: what a set of declarations
needs from the namespace, what conflicts, and whether the namespace has the slots.

Temporal's SQL visibility stores (the dev server's SQLite included) give each custom
attribute type a fixed number of slots; Elasticsearch has no per-type limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from registry.shared.model import FieldViolation

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
