"""registry.search_attributes.rules: what a registration needs from the namespace, what
conflicts and whether the SQL visibility slots suffice; declared_attributes, the
catalogue's view of every declared search attribute; and a reconcile request, parsed (every
bad field in one answer) and planned against the namespace.
"""

from __future__ import annotations

import grpc
import pytest
from temporal_registry.v1 import search_attributes_pb2 as pb
from temporalio.api.enums.v1 import IndexedValueType

from registry.search_attributes.rules import (
    SQL_SLOTS,
    TEMPORAL_TYPE_NAMES,
    Conflict,
    Declaration,
    ParsedReconcile,
    budget_problems,
    declared_attributes,
    parse_reconcile,
    plan_provisioning,
    plan_reconcile,
)
from registry.search_attributes.workflow import AttributeChange
from registry.server.errors import RegistryError
from registry.shared.model import (
    FieldViolation,
    SearchAttributeSpec,
    StoredWorkflow,
    WorkflowSpec,
)
from registry.shared.specs import SEARCH_ATTRIBUTE_TYPES

SYSTEM = {"WorkflowId": "Keyword", "StartTime": "Datetime", "ExecutionStatus": "Keyword"}

# --- helpers ---------------------------------------------------------------------------------


def declare(*attributes: tuple[str, str]) -> list[Declaration]:
    """Declarations at the fields a one-workflow registration would give them."""
    return [
        Declaration(name, kind, f"workflows[0].search_attributes[{j}].type")
        for j, (name, kind) in enumerate(attributes)
    ]


def keywords(count: int, prefix: str = "K") -> dict[str, str]:
    return {f"{prefix}{i:02d}": "Keyword" for i in range(count)}


def workflow(workflow_type: str, *attributes: SearchAttributeSpec) -> StoredWorkflow:
    return StoredWorkflow(
        spec=WorkflowSpec(workflow_type=workflow_type, search_attributes=list(attributes))
    )


def catalog_of(*workflows: StoredWorkflow) -> dict[str, StoredWorkflow]:
    """The catalogue's workflow types, as the rules read them."""
    return {w.spec.workflow_type: w for w in workflows}


# --- constants -------------------------------------------------------------------------------


def test_sql_slots_are_three_per_type_and_ten_keywords() -> None:
    assert SQL_SLOTS == {
        "Bool": 3,
        "Datetime": 3,
        "Double": 3,
        "Int": 3,
        "Keyword": 10,
        "KeywordList": 3,
        "Text": 3,
    }
    assert set(SQL_SLOTS) == set(SEARCH_ATTRIBUTE_TYPES)


def test_temporal_type_names_cover_every_indexed_value_type() -> None:
    temporal = set(IndexedValueType.keys()) - {"INDEXED_VALUE_TYPE_UNSPECIFIED"}
    assert set(TEMPORAL_TYPE_NAMES) == temporal
    assert sorted(TEMPORAL_TYPE_NAMES.values()) == sorted(SEARCH_ATTRIBUTE_TYPES)


# --- plan_provisioning: what is missing ------------------------------------------------------


def test_missing_attributes_are_listed_with_their_types() -> None:
    plan = plan_provisioning(
        declare(("CustomerId", "Keyword"), ("Amount", "Double"), ("Tags", "KeywordList")),
        custom={},
        system=SYSTEM,
        slots=SQL_SLOTS,
    )
    assert plan.missing == {"CustomerId": "Keyword", "Amount": "Double", "Tags": "KeywordList"}
    assert plan.violations == []
    assert plan.budget == []


@pytest.mark.parametrize(
    ("custom", "declared"),
    [
        ({"CustomerId": "Keyword"}, ("CustomerId", "Keyword")),
        ({}, ("WorkflowId", "Keyword")),
        ({}, ("StartTime", "Datetime")),
    ],
    ids=["custom", "system-keyword", "system-datetime"],
)
def test_an_existing_attribute_of_the_same_type_is_not_missing(
    custom: dict[str, str], declared: tuple[str, str]
) -> None:
    plan = plan_provisioning(declare(declared), custom, SYSTEM, SQL_SLOTS)
    assert plan.missing == {}
    assert plan.violations == []
    assert plan.budget == []


def test_only_the_absent_ones_are_missing() -> None:
    plan = plan_provisioning(
        declare(("CustomerId", "Keyword"), ("WorkflowId", "Keyword"), ("Amount", "Int")),
        custom={"CustomerId": "Keyword"},
        system=SYSTEM,
        slots=None,
    )
    assert plan.missing == {"Amount": "Int"}


def test_a_name_declared_twice_with_one_type_is_missing_once() -> None:
    plan = plan_provisioning(
        [
            Declaration("CustomerId", "Keyword", "workflows[0].search_attributes[0].type"),
            Declaration("CustomerId", "Keyword", "workflows[1].search_attributes[0].type"),
        ],
        custom={},
        system=SYSTEM,
        slots=SQL_SLOTS,
    )
    assert plan.missing == {"CustomerId": "Keyword"}
    assert plan.violations == []


def test_no_declarations_need_nothing() -> None:
    plan = plan_provisioning([], custom=keywords(10), system=SYSTEM, slots=SQL_SLOTS)
    assert (plan.missing, plan.violations, plan.budget) == ({}, [], [])


def test_declarations_may_be_any_iterable() -> None:
    plan = plan_provisioning(
        (d for d in declare(("Amount", "Int"))), custom={}, system={}, slots=None
    )
    assert plan.missing == {"Amount": "Int"}


# --- plan_provisioning: conflicts ------------------------------------------------------------


def test_a_name_declared_with_two_types_is_a_violation_at_the_second_declaration() -> None:
    first = "workflows[0].search_attributes[1].type"
    second = "workflows[2].search_attributes[0].type"
    plan = plan_provisioning(
        [
            Declaration("Region", "Keyword", "workflows[0].search_attributes[0].type"),
            Declaration("Amount", "Int", first),
            Declaration("Amount", "Double", second),
        ],
        custom={},
        system=SYSTEM,
        slots=SQL_SLOTS,
    )
    assert len(plan.violations) == 1
    violation = plan.violations[0]
    assert isinstance(violation, FieldViolation)
    assert violation.field == second
    assert violation.reason == "type_conflict"
    assert "Amount" in violation.description
    assert "Int" in violation.description
    assert "Double" in violation.description
    assert first in violation.description
    assert plan.budget == []


def test_every_later_declaration_of_another_type_is_a_violation() -> None:
    plan = plan_provisioning(
        declare(("Amount", "Int"), ("Amount", "Double"), ("Amount", "Int"), ("Amount", "Text")),
        custom={},
        system={},
        slots=None,
    )
    assert [v.field for v in plan.violations] == [
        "workflows[0].search_attributes[1].type",
        "workflows[0].search_attributes[3].type",
    ]
    assert all(v.reason == "type_conflict" for v in plan.violations)
    assert all("search_attributes[0]" in v.description for v in plan.violations)


@pytest.mark.parametrize(
    ("custom", "declared", "existing_type"),
    [
        ({"CustomerId": "Keyword"}, ("CustomerId", "Int"), "Keyword"),
        ({"Tags": "KeywordList"}, ("Tags", "Keyword"), "KeywordList"),
        ({}, ("WorkflowId", "Text"), "Keyword"),
        ({}, ("StartTime", "Int"), "Datetime"),
    ],
    ids=["custom", "custom-keyword-list", "system-keyword", "system-datetime"],
)
def test_a_conflict_with_the_namespace_names_the_existing_and_declared_types(
    custom: dict[str, str], declared: tuple[str, str], existing_type: str
) -> None:
    name, kind = declared
    plan = plan_provisioning(declare(("Other", "Bool"), declared), custom, SYSTEM, SQL_SLOTS)
    assert len(plan.violations) == 1
    violation = plan.violations[0]
    assert violation.field == "workflows[0].search_attributes[1].type"
    assert violation.reason == "type_conflict"
    assert name in violation.description
    assert existing_type in violation.description
    assert kind in violation.description
    assert name not in plan.missing
    assert plan.budget == []


def test_violations_suppress_the_budget_check() -> None:
    plan = plan_provisioning(
        declare(("Extra", "Keyword"), ("Amount", "Int"), ("Amount", "Double")),
        custom=keywords(10),
        system=SYSTEM,
        slots=SQL_SLOTS,
    )
    assert plan.violations
    assert plan.budget == []
    assert budget_problems(plan.missing, keywords(10), SQL_SLOTS)  # it would have refused


# --- plan_provisioning and budget_problems: slots --------------------------------------------


def test_the_budget_is_checked_when_there_are_no_violations() -> None:
    plan = plan_provisioning(
        declare(("Extra", "Keyword")), custom=keywords(10), system=SYSTEM, slots=SQL_SLOTS
    )
    assert plan.violations == []
    assert plan.missing == {"Extra": "Keyword"}
    assert len(plan.budget) == 1
    assert "Extra" in plan.budget[0]


def test_elasticsearch_slots_never_refuse() -> None:
    plan = plan_provisioning(
        declare(*((f"Flag{i}", "Bool") for i in range(20)), ("Extra", "Keyword")),
        custom=keywords(50),
        system=SYSTEM,
        slots=None,
    )
    assert plan.violations == []
    assert len(plan.missing) == 21
    assert plan.budget == []


def test_budget_problem_names_the_limit_the_existing_and_the_wanted() -> None:
    problems = budget_problems(
        missing={"Zeta": "Int", "Alpha": "Int"},
        custom={"Count": "Int", "Retries": "Int", "Region": "Keyword"},
        slots=SQL_SLOTS,
    )
    assert len(problems) == 1
    problem = problems[0]
    assert "at most 3 Int" in problem
    assert "Count, Retries" in problem  # the existing ones, sorted
    assert "Alpha, Zeta" in problem  # the wanted ones, sorted
    assert "Region" not in problem  # another type's slots
    assert "2 exist" in problem
    assert "2 more" in problem


def test_budget_problem_says_none_exist_when_there_are_none() -> None:
    problems = budget_problems(
        missing={f"Flag{i}": "Bool" for i in range(4)}, custom={}, slots=SQL_SLOTS
    )
    assert len(problems) == 1
    assert "0 exist (none)" in problems[0]
    assert "Flag0, Flag1, Flag2, Flag3" in problems[0]


def test_one_budget_problem_per_type_over_its_limit() -> None:
    problems = budget_problems(
        missing={"Extra": "Keyword", "Flag": "Bool", "Note": "Text", "Amount": "Int"},
        custom={**keywords(10), "B1": "Bool", "B2": "Bool", "B3": "Bool", "I1": "Int"},
        slots=SQL_SLOTS,
    )
    assert len(problems) == 2
    assert "at most 3 Bool" in problems[0]
    assert "at most 10 Keyword" in problems[1]


@pytest.mark.parametrize(
    ("missing", "custom"),
    [
        (keywords(10), {}),
        (keywords(1, "New"), keywords(9)),
        ({"A": "Int", "B": "Int"}, {"C": "Int"}),
        ({"T": "Text"}, {"T1": "Text", "T2": "Text"}),
        ({}, keywords(10) | {"X": "Int", "Y": "Int", "Z": "Int"}),
    ],
    ids=["ten-new-keywords", "nine-plus-one-keyword", "three-ints", "three-texts", "nothing-new"],
)
def test_exactly_at_the_limit_is_fine(missing: dict[str, str], custom: dict[str, str]) -> None:
    assert budget_problems(missing, custom, SQL_SLOTS) == []


@pytest.mark.parametrize(
    ("missing", "custom"),
    [
        (keywords(11), {}),
        (keywords(1, "New"), keywords(10)),
        ({"A": "Int", "B": "Int"}, {"C": "Int", "D": "Int"}),
    ],
    ids=["eleven-new-keywords", "ten-plus-one-keyword", "four-ints"],
)
def test_one_over_the_limit_is_refused(missing: dict[str, str], custom: dict[str, str]) -> None:
    assert len(budget_problems(missing, custom, SQL_SLOTS)) == 1


def test_existing_attributes_over_the_limit_only_matter_when_more_of_that_type_are_wanted() -> None:
    over = keywords(12)
    assert budget_problems({"Amount": "Int"}, over, SQL_SLOTS) == []
    assert len(budget_problems({"Extra": "Keyword"}, over, SQL_SLOTS)) == 1


def test_a_type_without_slots_has_none() -> None:
    problems = budget_problems({"Amount": "Int"}, {}, {"Keyword": 10})
    assert len(problems) == 1
    assert "at most 0 Int" in problems[0]


# --- declared_attributes ---------------------------------------------------------------------


def test_declared_attributes_of_an_empty_catalog() -> None:
    assert declared_attributes({}) == ({}, [])


def test_declared_attributes_map_names_to_type_first_description_and_sorted_declarers() -> None:
    catalog = catalog_of(
        workflow(
            "shipping.dispatch.v1",
            SearchAttributeSpec("CustomerId", "Keyword", "Shipping's customer."),
            SearchAttributeSpec("Carrier", "Keyword", "Who carries it."),
        ),
        workflow("orders.refund.v1", SearchAttributeSpec("CustomerId", "Keyword", "")),
        workflow(
            "orders.process.v1",
            SearchAttributeSpec("CustomerId", "Keyword", "The customer."),
            SearchAttributeSpec("Amount", "Double", "Order total."),
        ),
        workflow("billing.noop.v1"),
    )
    declared, warnings = declared_attributes(catalog)
    assert declared == {
        "CustomerId": (
            "Keyword",
            "The customer.",
            ["orders.process.v1", "orders.refund.v1", "shipping.dispatch.v1"],
        ),
        "Amount": ("Double", "Order total.", ["orders.process.v1"]),
        "Carrier": ("Keyword", "Who carries it.", ["shipping.dispatch.v1"]),
    }
    assert warnings == []


def test_the_first_description_counts_even_when_empty() -> None:
    catalog = catalog_of(
        workflow("b.v1", SearchAttributeSpec("Region", "Keyword", "Described later.")),
        workflow("a.v1", SearchAttributeSpec("Region", "Keyword")),
    )
    declared, _ = declared_attributes(catalog)
    assert declared["Region"][1] == ""


@pytest.mark.parametrize(
    "insertion_order",
    [["a.v1", "b.v1", "c.v1"], ["c.v1", "b.v1", "a.v1"], ["b.v1", "c.v1", "a.v1"]],
    ids=["sorted", "reversed", "shuffled"],
)
def test_a_name_declared_with_different_types_warns_and_the_first_workflow_type_wins(
    insertion_order: list[str],
) -> None:
    kinds = {"a.v1": "Int", "b.v1": "Double", "c.v1": "Int"}
    catalog = catalog_of(
        *(workflow(w, SearchAttributeSpec("Amount", kinds[w], w)) for w in insertion_order)
    )
    declared, warnings = declared_attributes(catalog)
    kind, description, _ = declared["Amount"]
    assert (kind, description) == ("Int", "a.v1")
    assert len(warnings) == 1
    warning = warnings[0]
    assert "Amount" in warning
    assert "Int by a.v1" in warning
    assert "Double by b.v1" in warning


def test_one_warning_per_conflicting_declaration() -> None:
    catalog = catalog_of(
        workflow("a.v1", SearchAttributeSpec("Amount", "Int"), SearchAttributeSpec("Tag", "Text")),
        workflow("b.v1", SearchAttributeSpec("Amount", "Double")),
        workflow("c.v1", SearchAttributeSpec("Amount", "Text"), SearchAttributeSpec("Tag", "Text")),
    )
    declared, warnings = declared_attributes(catalog)
    assert declared["Amount"][0] == "Int"
    assert declared["Tag"] == ("Text", "", ["a.v1", "c.v1"])
    assert len(warnings) == 2
    assert "Double by b.v1" in warnings[0]
    assert "Text by c.v1" in warnings[1]
    assert all("Int by a.v1" in w for w in warnings)


# --- reconcile: the request parsed against the catalogue ------------------------------------

DECLARING = catalog_of(
    workflow(
        "orders.v1",
        SearchAttributeSpec("OrderId", "Keyword"),
        SearchAttributeSpec("Amount", "Double"),
        SearchAttributeSpec("WorkflowId", "Text"),  # a system attribute's name, another type
    ),
    workflow("refunds.v1", SearchAttributeSpec("Amount", "Int")),
)


def reconcile(
    mode: str = "", attributes: tuple[str, ...] = (), *, confirm: bool = False
) -> ParsedReconcile:
    request = pb.ReconcileSearchAttributesRequest(
        mode=mode, attributes=list(attributes), confirm=confirm
    )
    return parse_reconcile(request, DECLARING)


def refused_reconcile(mode: str, attributes: tuple[str, ...], confirm: bool) -> RegistryError:
    with pytest.raises(RegistryError) as caught:
        reconcile(mode, attributes, confirm=confirm)
    assert caught.value.reason == "INVALID_RECONCILE"
    return caught.value


def test_a_reconcile_without_a_mode_validates_every_declared_attribute() -> None:
    parsed = reconcile()
    assert parsed.mode == "validate"
    assert parsed.wanted == {"Amount": "Double", "OrderId": "Keyword", "WorkflowId": "Text"}
    assert len(parsed.warnings) == 1 and "Amount" in parsed.warnings[0]


def test_a_reconcile_of_named_attributes() -> None:
    parsed = reconcile("replace", ("OrderId",), confirm=True)
    assert (parsed.mode, parsed.wanted) == ("replace", {"OrderId": "Keyword"})


@pytest.mark.parametrize(
    ("mode", "attributes", "confirm", "expected"),
    [
        (
            "sometimes",
            ("Amount", "Nope"),
            False,
            [("mode", "invalid"), ("attributes[1]", "unknown")],
        ),
        ("replace", (), False, [("attributes", "required"), ("confirm", "required")]),
        ("replace", ("Nope",), False, [("attributes[0]", "unknown"), ("confirm", "required")]),
    ],
    ids=["bad-mode-and-name", "replace-without-anything", "replace-unknown-unconfirmed"],
)
def test_every_bad_field_of_a_reconcile_in_one_answer(
    mode: str, attributes: tuple[str, ...], confirm: bool, expected: list[tuple[str, str]]
) -> None:
    error = refused_reconcile(mode, attributes, confirm)
    assert [(v.field, v.reason) for v in error.violations] == expected


# --- reconcile: planned against the namespace -----------------------------------------------

CUSTOM = {"OrderId": "Keyword", "Amount": "Int"}  # Amount: declared as Double


def test_validate_finds_and_changes_nothing() -> None:
    plan = plan_reconcile(reconcile(), CUSTOM, SYSTEM, SQL_SLOTS)
    assert (plan.missing, plan.unchanged) == ([], ["OrderId"])
    assert plan.conflicts == [
        Conflict("Amount", "Int", "Double", "custom"),
        Conflict("WorkflowId", "Keyword", "Text", "system"),
    ]
    assert (plan.change, plan.refused) == (AttributeChange(), [])


def test_ensure_adds_the_missing_and_refuses_every_conflict() -> None:
    plan = plan_reconcile(reconcile("ensure"), {"Amount": "Int"}, SYSTEM, SQL_SLOTS)
    assert plan.missing == ["OrderId"]
    assert plan.change == AttributeChange(add={"OrderId": "Keyword"})
    assert plan.refused == [
        ("Amount", "exists as Int; only replace (with confirm) changes it"),
        ("WorkflowId", "a system attribute: never changed"),
    ]


def test_replace_removes_and_adds_a_custom_conflict_never_a_system_one() -> None:
    parsed = reconcile("replace", ("Amount", "WorkflowId"), confirm=True)
    plan = plan_reconcile(parsed, CUSTOM, SYSTEM, SQL_SLOTS)
    assert plan.change == AttributeChange(add={"Amount": "Double"}, remove=["Amount"])
    assert plan.refused == [("WorkflowId", "a system attribute: never changed")]


def test_what_the_slots_cannot_hold_is_refused_and_the_rest_added() -> None:
    parsed = reconcile("ensure", ("Amount", "OrderId"))
    doubles = {"D1": "Double", "D2": "Double", "D3": "Double"}
    plan = plan_reconcile(parsed, doubles, SYSTEM, SQL_SLOTS)
    assert plan.change == AttributeChange(add={"OrderId": "Keyword"})
    assert plan.refused == [("Amount", "no free Double slot (the namespace holds 3)")]
    unlimited = plan_reconcile(parsed, doubles, SYSTEM, None)  # Elasticsearch
    assert unlimited.change.add == {"Amount": "Double", "OrderId": "Keyword"}


def test_nothing_but_refusals_is_nothing_reconciled() -> None:
    with pytest.raises(RegistryError) as caught:
        plan_reconcile(reconcile("ensure", ("Amount", "WorkflowId")), CUSTOM, SYSTEM, SQL_SLOTS)
    error = caught.value
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NOTHING_RECONCILED")
    assert [(v.field, v.reason) for v in error.violations] == [
        ('search_attributes["Amount"]', "refused"),
        ('search_attributes["WorkflowId"]', "refused"),
    ]
    assert error.message.startswith("nothing could be done: Amount: exists as Int")
