"""registry.dispatch.rules: the rules of starting a workflow through the registry, as plain
functions (which task queue, which workflow id, which search attributes, which /run
request). The liveness rules and views they build on are tested in test_liveness.py and
test_views.py; these tests check how dispatch uses them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import grpc
import pytest

from registry.dispatch.rules import (
    MAX_REQUEST_ID_LENGTH,
    MAX_WORKFLOW_ID_LENGTH,
    TypedSearchAttribute,
    agent_violations,
    chain_violations,
    choose_task_queue,
    default_workflow_id,
    memo_violations,
    request_id_violations,
    typed_search_attributes,
    workflow_id_violations,
    workspace_violations,
)
from registry.liveness.rules import Poller
from registry.liveness.views import LivenessInputs, WorkflowView, workflow_view
from registry.server.errors import RegistryError
from registry.shared.model import (
    FieldViolation,
    SearchAttributeSpec,
    StoredWorker,
    StoredWorkflow,
    WorkflowSpec,
)
from registry.shared.schemas import MAX_INPUT_DEPTH

NOW = 1_800_000_000.0
ORDERS = "orders.process.v1"
RESERVED = "temporal-registry"
NAN, INF = float("nan"), float("inf")
HUGE = 10**400  # parses from JSON as an int; too large for a float

# --- helpers ---------------------------------------------------------------------------------


def worker(
    worker_id: str,
    task_queue: str = "orders",
    *,
    lease: float = NOW + 10,
    labels: Mapping[str, str] | None = None,
) -> StoredWorker:
    return StoredWorker(
        worker_id=worker_id,
        task_queue=task_queue,
        labels=dict(labels or {}),
        ttl_seconds=30,
        workflows=[ORDERS],
        registered_epoch=NOW - 3600,
        lease_expires_epoch=lease,
    )


def inputs(
    pollers: Mapping[str, Sequence[Poller]] | None = None,
    heartbeats: Mapping[str, float] | None = None,
) -> LivenessInputs:
    return LivenessInputs(
        heartbeats=heartbeats or {}, pollers=pollers, poller_max_age=300.0, now=NOW
    )


def fresh(*queues: str) -> dict[str, list[Poller]]:
    return {queue: [Poller(f"{queue}-poller", NOW - 5)] for queue in queues}


def stale(*queues: str) -> dict[str, list[Poller]]:
    return {queue: [Poller(f"{queue}-poller", NOW - 3600)] for queue in queues}


def view(workers: Sequence[StoredWorker], liveness: LivenessInputs) -> WorkflowView:
    return workflow_view(
        StoredWorkflow(WorkflowSpec(ORDERS, task_queue="orders")), workers, liveness
    )


def choose(
    workers: Sequence[StoredWorker],
    pollers: Mapping[str, Sequence[Poller]] | None = None,
    selector: Mapping[str, str] | None = None,
    heartbeats: Mapping[str, float] | None = None,
) -> str:
    liveness = inputs(pollers, heartbeats)
    return choose_task_queue(view(workers, liveness), selector or {}, liveness)


def unavailable(
    workers: Sequence[StoredWorker],
    pollers: Mapping[str, Sequence[Poller]] | None = None,
    selector: Mapping[str, str] | None = None,
) -> tuple[RegistryError, WorkflowView]:
    liveness = inputs(pollers)
    workflow = view(workers, liveness)
    with pytest.raises(RegistryError) as info:
        choose_task_queue(workflow, selector or {}, liveness)
    error = info.value
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "NO_HEALTHY_WORKER")
    assert error.metadata["workflow_type"] == ORDERS
    assert error.message == f"no healthy worker can run {ORDERS} now: {error.metadata['reasons']}"
    return error, workflow


LAPSED = NOW - 1  # a lease that has ended

# --- choosing the task queue -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("workers", "pollers", "expected"),
    [
        ([worker("w1", "q-a")], fresh("q-a"), "q-a"),
        (
            [worker("w1", "q-a"), worker("w2", "q-b"), worker("w3", "q-b")],
            fresh("q-a", "q-b"),
            "q-b",
        ),
        ([worker("w1", "q-b"), worker("w2", "q-a")], fresh("q-a", "q-b"), "q-a"),
        ([worker("w1", "q-c"), worker("w2", "q-b"), worker("w3", "q-b")], None, "q-b"),
        (
            [
                worker("w1", "q-a"),
                worker("w2", "q-b", lease=LAPSED),
                worker("w3", "q-b", lease=LAPSED),
            ],
            fresh("q-a", "q-b"),
            "q-a",
        ),
        (
            [worker("w1", "q-a"), worker("w2", "q-b"), worker("w3", "q-b")],
            {**fresh("q-a"), **stale("q-b")},
            "q-a",
        ),
        (
            [worker("w1", "q-a"), worker("w2", "q-b"), worker("w3", "q-b")],
            {"q-a": [Poller("p", NOW - 5)], "q-b": []},
            "q-a",
        ),
        ([worker("w1", "q-a"), worker("w2", "q-b"), worker("w3", "q-b")], fresh("q-a"), "q-b"),
        ([worker("w1", "q-a"), worker("w2", "q-b"), worker("w3", "q-b")], None, "q-b"),
        ([worker("w1", "q-a"), worker("w2", "q-b"), worker("w3", "q-b")], stale("q-a"), "q-b"),
    ],
    ids=[
        "single",
        "most-healthy-workers",
        "tie-by-name",
        "tie-by-name-pollers-unknown",
        "lapsed-leases-ignored",
        "stale-pollers-ignored",
        "no-pollers-ignored",
        "queue-missing-from-pollers-judged-on-leases",
        "pollers-not-read-judged-on-leases",
        "stale-queue-loses-to-unknown-queue",
    ],
)
def test_choose_task_queue(
    workers: list[StoredWorker], pollers: dict[str, list[Poller]] | None, expected: str
) -> None:
    assert choose(workers, pollers) == expected


def test_a_local_heartbeat_makes_a_lapsed_worker_count() -> None:
    workers = [
        worker("w1", "q-a"),
        worker("w2", "q-b", lease=LAPSED),
        worker("w3", "q-b", lease=LAPSED),
    ]
    pollers = fresh("q-a", "q-b")
    assert choose(workers, pollers) == "q-a"
    heartbeats = {"w2": NOW - 1, "w3": NOW - 1}  # not yet flushed to the registry
    assert choose(workers, pollers, heartbeats=heartbeats) == "q-b"


def test_the_choice_does_not_depend_on_the_order_of_the_workers() -> None:
    workers = [worker("w1", "q-c"), worker("w2", "q-b"), worker("w3", "q-a"), worker("w4", "q-b")]
    pollers = fresh("q-a", "q-b", "q-c")
    assert choose(workers, pollers) == choose(workers[::-1], pollers) == "q-b"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({}, "q-a"),
        ({"zone": "a"}, "q-a"),
        ({"zone": "b"}, "q-b"),
        ({"zone": "b", "gpu": "yes"}, "q-c"),
        ({"gpu": "yes"}, "q-c"),
    ],
    ids=["no-selector", "zone-a", "zone-b", "two-labels", "one-label-of-several"],
)
def test_the_label_selector_filters_on_worker_labels(
    selector: dict[str, str], expected: str
) -> None:
    workers = [
        worker("w1", "q-a", labels={"zone": "a"}),
        worker("w2", "q-a", labels={"zone": "a"}),
        worker("w3", "q-b", labels={"zone": "b"}),
        worker("w4", "q-c", labels={"zone": "b", "gpu": "yes"}),
    ]
    assert choose(workers, fresh("q-a", "q-b", "q-c"), selector) == expected


def test_no_matching_worker_is_unavailable_and_names_the_selector() -> None:
    workers = [worker("w1", "q-a", labels={"zone": "a"}), worker("w2", "q-b", labels={"zone": "b"})]
    selector = {"zone": "c", "region": "eu"}
    error, _ = unavailable(workers, fresh("q-a", "q-b"), selector)
    assert (
        error.metadata["reasons"] == "no registered worker matches label_selector region=eu,zone=c"
    )


def test_matching_but_unhealthy_workers_report_the_health_reasons() -> None:
    workers = [
        worker("w1", "q-a", labels={"zone": "a"}, lease=LAPSED),
        worker("w2", "q-b", labels={"zone": "b"}),
    ]
    error, workflow = unavailable(workers, fresh("q-a", "q-b"), {"zone": "a"})
    assert workflow.health_reasons  # the view's reasons, not the selector's
    assert error.metadata["reasons"] == "; ".join(workflow.health_reasons)
    assert "label_selector" not in error.metadata["reasons"]


@pytest.mark.parametrize(
    ("workers", "pollers", "expected"),
    [
        ([], None, "no registered workers; poller status unknown; judged on leases alone"),
        ([], fresh("orders"), "no registered workers; 1 active poller"),
        (
            [worker("w1", lease=LAPSED), worker("w2", lease=LAPSED)],
            None,
            "0 of 2 workers healthy; poller status unknown; judged on leases alone",
        ),
        ([worker("w1")], stale("orders"), "registered; no pollers for 1 h"),
        ([worker("w1")], {"orders": []}, "registered; no pollers"),
        (
            [worker("w1", "q-a", lease=LAPSED), worker("w2", "q-b")],
            {**fresh("q-a"), **stale("q-b")},
            "q-a: 0 of 1 worker healthy, 1 active poller; q-b: registered, no pollers for 1 h",
        ),
    ],
    ids=[
        "no-workers",
        "no-workers-but-pollers",
        "all-lapsed",
        "stale-pollers",
        "no-pollers",
        "two-queues-neither-usable",
    ],
)
def test_no_healthy_worker_is_unavailable_with_the_health_reasons(
    workers: list[StoredWorker], pollers: dict[str, list[Poller]] | None, expected: str
) -> None:
    error, workflow = unavailable(workers, pollers)
    assert error.metadata["reasons"] == expected == "; ".join(workflow.health_reasons)


# --- workflow ids ----------------------------------------------------------------------------

HASHED = re.compile(r"(?P<base>.+)-(?P<suffix>[0-9a-f]{16})")
RANDOM = re.compile(r"(?P<base>.+)-(?P<suffix>[0-9a-f]{8})")


def test_a_request_id_gives_the_same_workflow_id_every_time() -> None:
    first = default_workflow_id("order.v1", "req-1")
    assert first == default_workflow_id("order.v1", "req-1")
    match = HASHED.fullmatch(first)
    assert match is not None and match["base"] == "order-v1"


def test_different_request_ids_or_types_give_different_workflow_ids() -> None:
    ids = {
        default_workflow_id(workflow_type, request_id)
        for workflow_type in ("order.v1", "order-v1", "refund.v1")
        for request_id in ("req-1", "req-2", "req-10", " req-1")
    }
    assert len(ids) == 12  # even types with the same slug differ by their hash


def test_without_a_request_id_the_suffix_is_random() -> None:
    ids = [default_workflow_id("order.v1") for _ in range(20)]
    for workflow_id in ids:
        match = RANDOM.fullmatch(workflow_id)
        assert match is not None and match["base"] == "order-v1", workflow_id
    assert len(set(ids)) > 1


@pytest.mark.parametrize(
    ("workflow_type", "base"),
    [
        ("order.v1", "order-v1"),
        ("Orders.Process.V1", "orders-process-v1"),
        ("billing/Invoice Run", "billing-invoice-run"),
        ("a..b", "a-b"),
        ("!!!", "workflow"),
        ("...", "workflow"),
        ("", "workflow"),
        ("x" * 129, "workflow"),
        ("x" * 101, "workflow"),
        ("x" * 100, "x" * 100),
    ],
    ids=[
        "dotted",
        "mixed-case",
        "punctuation",
        "double-dot",
        "no-letters",
        "only-dots",
        "empty",
        "name-too-long",
        "slug-too-long",
        "slug-max-length",
    ],
)
def test_default_workflow_id_base(workflow_type: str, base: str) -> None:
    for workflow_id, pattern in (
        (default_workflow_id(workflow_type, "req"), HASHED),
        (default_workflow_id(workflow_type), RANDOM),
    ):
        match = pattern.fullmatch(workflow_id)
        assert match is not None and match["base"] == base, workflow_id
        assert workflow_id_violations(workflow_id, RESERVED) == []


@pytest.mark.parametrize(
    ("workflow_id", "reason"),
    [
        ("order-42", None),
        ("Order 42 / EU: ünïcode", None),
        ("x" * MAX_WORKFLOW_ID_LENGTH, None),
        ("temporal-registry-2", None),
        ("x" * (MAX_WORKFLOW_ID_LENGTH + 1), "invalid"),
        ("line\nbreak", "invalid"),
        ("tab\there", "invalid"),
        ("nul\x00", "invalid"),
        ("zero\u200bwidth", "invalid"),
        (RESERVED, "reserved"),
    ],
    ids=[
        "plain",
        "printable-unicode",
        "max-length",
        "reserved-prefix",
        "too-long",
        "newline",
        "tab",
        "nul",
        "zero-width-space",
        "reserved",
    ],
)
def test_workflow_id_violations(workflow_id: str, reason: str | None) -> None:
    violations = workflow_id_violations(workflow_id, RESERVED)
    if reason is None:
        assert violations == []
    else:
        assert [(v.field, v.reason) for v in violations] == [("workflow_id", reason)]


def test_an_unprintable_reserved_id_is_reported_once_as_invalid() -> None:
    reserved = "bad\nid"
    violations = workflow_id_violations(reserved, reserved)
    assert [v.reason for v in violations] == ["invalid"]
    assert str(MAX_WORKFLOW_ID_LENGTH) in violations[0].description


@pytest.mark.parametrize(
    ("request_id", "valid"),
    [
        ("", True),
        ("req-1", True),
        ("8b0c0f7e-8c59-4a7f-9f0e-2f3c4d5e6f70", True),
        ("x" * MAX_REQUEST_ID_LENGTH, True),
        ("x" * (MAX_REQUEST_ID_LENGTH + 1), False),
        ("a\nb", False),
        ("\x7f", False),
    ],
    ids=["empty", "plain", "uuid", "max-length", "too-long", "newline", "delete-char"],
)
def test_request_id_violations(request_id: str, valid: bool) -> None:
    violations = request_id_violations(request_id)
    if valid:
        assert violations == []
    else:
        assert [(v.field, v.reason) for v in violations] == [("request_id", "invalid")]
        assert str(MAX_REQUEST_ID_LENGTH) in violations[0].description


# --- search attributes -----------------------------------------------------------------------

DECLARED = [
    SearchAttributeSpec("CustomerId", "Keyword"),
    SearchAttributeSpec("Notes", "Text"),
    SearchAttributeSpec("Tags", "KeywordList"),
    SearchAttributeSpec("Amount", "Int"),
    SearchAttributeSpec("Score", "Double"),
    SearchAttributeSpec("Urgent", "Bool"),
    SearchAttributeSpec("DueAt", "Datetime"),
]
NAME_OF = {attribute.type: attribute.name for attribute in DECLARED}


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("Keyword", "c-42", "c-42"),
        ("Keyword", "", ""),
        ("Text", "a longer note, with ünïcode", "a longer note, with ünïcode"),
        ("KeywordList", ["a", "b"], ["a", "b"]),
        ("KeywordList", [], []),
        ("Int", 0, 0),
        ("Int", -7, -7),
        ("Int", 2**63 - 1, 2**63 - 1),
        ("Int", -(2**63), -(2**63)),
        ("Double", 1.5, 1.5),
        ("Double", -0.25, -0.25),
        ("Double", 3, 3.0),
        ("Double", 2**70, float(2**70)),
        ("Double", 1e308, 1e308),
        ("Bool", True, True),
        ("Bool", False, False),
        (
            "Datetime",
            "2024-05-01T12:30:00Z",
            datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
        ),
        (
            "Datetime",
            "2024-05-01T12:30:00.250+02:00",
            datetime(2024, 5, 1, 12, 30, 0, 250_000, tzinfo=timezone(timedelta(hours=2))),
        ),
        (
            "Datetime",
            "2024-05-01T12:30:00-05:30",
            datetime(2024, 5, 1, 18, 0, tzinfo=UTC),
        ),
    ],
    ids=[
        "keyword",
        "keyword-empty",
        "text",
        "keyword-list",
        "keyword-list-empty",
        "int-zero",
        "int-negative",
        "int-max",
        "int-min",
        "double",
        "double-negative",
        "double-from-int",
        "double-from-big-int",
        "double-large",
        "bool-true",
        "bool-false",
        "datetime-utc",
        "datetime-offset-fraction",
        "datetime-negative-offset",
    ],
)
def test_a_value_of_the_declared_type_is_accepted(kind: str, value: Any, expected: Any) -> None:
    name = NAME_OF[kind]
    typed, violations = typed_search_attributes(DECLARED, {name: value})
    assert violations == []
    assert typed == [TypedSearchAttribute(name, kind, expected)]
    assert type(typed[0].value) is type(expected)
    if kind == "Datetime":
        assert typed[0].value.utcoffset() is not None  # aware


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("Keyword", 5),
        ("Keyword", None),
        ("Keyword", ["c-42"]),
        ("Text", b"bytes"),
        ("KeywordList", "a"),
        ("KeywordList", ["a", 1]),
        ("KeywordList", ("a", "b")),
        ("KeywordList", [None]),
        ("Int", 2**63),
        ("Int", -(2**63) - 1),
        ("Int", HUGE),
        ("Int", True),
        ("Int", 1.0),
        ("Int", 1.5),
        ("Int", "5"),
        ("Int", None),
        ("Double", NAN),
        ("Double", INF),
        ("Double", -INF),
        ("Double", HUGE),
        ("Double", -HUGE),
        ("Double", True),
        ("Double", "1.5"),
        ("Double", None),
        ("Bool", 1),
        ("Bool", 0),
        ("Bool", "true"),
        ("Bool", None),
        ("Datetime", "2024-05-01T12:30:00"),
        ("Datetime", "2024-05-01"),
        ("Datetime", "yesterday"),
        ("Datetime", ""),
        ("Datetime", "2024-13-01T00:00:00Z"),
        ("Datetime", 1_714_566_600),
        ("Datetime", datetime(2024, 5, 1, tzinfo=UTC)),
        ("Datetime", None),
    ],
    ids=[
        "keyword-int",
        "keyword-none",
        "keyword-list",
        "text-bytes",
        "keyword-list-str",
        "keyword-list-mixed",
        "keyword-list-tuple",
        "keyword-list-none-item",
        "int-over-64-bit",
        "int-under-64-bit",
        "int-huge",
        "int-bool",
        "int-float",
        "int-fraction",
        "int-str",
        "int-none",
        "double-nan",
        "double-inf",
        "double-minus-inf",
        "double-huge-int",
        "double-minus-huge-int",
        "double-bool",
        "double-str",
        "double-none",
        "bool-one",
        "bool-zero",
        "bool-str",
        "bool-none",
        "datetime-naive",
        "datetime-date-only",
        "datetime-words",
        "datetime-empty",
        "datetime-bad-month",
        "datetime-epoch",
        "datetime-object",
        "datetime-none",
    ],
)
def test_a_value_of_another_type_is_a_violation(kind: str, value: Any) -> None:
    name = NAME_OF[kind]
    typed, violations = typed_search_attributes(DECLARED, {name: value})
    assert typed == []
    assert len(violations) == 1
    violation = violations[0]
    assert (violation.field, violation.reason) == (f'search_attributes["{name}"]', "invalid_type")
    assert violation.description.startswith("must be a")


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("Keyword", "string"),
        ("KeywordList", "list of strings"),
        ("Int", "64-bit"),
        ("Double", "number"),
        ("Bool", "boolean"),
        ("Datetime", "time zone"),
    ],
    ids=["keyword", "keyword-list", "int", "double", "bool", "datetime"],
)
def test_a_type_violation_says_what_is_expected(kind: str, words: str) -> None:
    _, violations = typed_search_attributes(DECLARED, {NAME_OF[kind]: object()})
    assert words in violations[0].description


def test_undeclared_names_are_violations_listing_the_declared_ones() -> None:
    declared = [SearchAttributeSpec("Zeta", "Int"), SearchAttributeSpec("Alpha", "Keyword")]
    typed, violations = typed_search_attributes(declared, {"Alpha": "a", "Other": 1})
    assert typed == [TypedSearchAttribute("Alpha", "Keyword", "a")]
    assert violations == [
        FieldViolation(
            'search_attributes["Other"]',
            "is not declared by this workflow type (declared: Alpha, Zeta)",
            "undeclared",
        )
    ]


def test_without_declared_attributes_every_name_is_undeclared() -> None:
    typed, violations = typed_search_attributes([], {"X": "x"})
    assert typed == []
    assert [v.description for v in violations] == [
        "is not declared by this workflow type (declared: none)"
    ]


def test_nothing_given_is_nothing_to_check() -> None:
    assert typed_search_attributes(DECLARED, {}) == ([], [])


def test_results_are_sorted_by_name_whatever_the_order_given() -> None:
    given = {
        "Urgent": True,
        "Zed": 1,
        "Amount": 5,
        "Score": "high",
        "CustomerId": "c-1",
        "Bogus": "x",
        "DueAt": "never",
    }
    typed, violations = typed_search_attributes(DECLARED, given)
    assert [t.name for t in typed] == ["Amount", "CustomerId", "Urgent"]
    assert [(v.field, v.reason) for v in violations] == [
        ('search_attributes["Bogus"]', "undeclared"),
        ('search_attributes["DueAt"]', "invalid_type"),
        ('search_attributes["Score"]', "invalid_type"),
        ('search_attributes["Zed"]', "undeclared"),
    ]


# --- the /run route: workspace, agent and chain -----------------------------------------------


@pytest.mark.parametrize(
    ("workspace", "normalized"),
    [
        ("/srv/work/./project/", "/srv/work/project"),
        ("/tmp/x", "/tmp/x"),
        ("/home/alice/p", "/home/alice/p"),
        ("/srv//work", "/srv/work"),
        ("/var/lib/app", "/var/lib/app"),
        ("/usr/local/src/app", "/usr/local/src/app"),
        ("/etcetera", "/etcetera"),
        ("/procedures/x", "/procedures/x"),
        ("/devices", "/devices"),
        ("/srv/caf\u00e9 project", "/srv/caf\u00e9 project"),
        ("/srv/x..y", "/srv/x..y"),
    ],
    ids=[
        "dot-and-trailing-slash",
        "tmp",
        "home-subdir",
        "inner-double-slash",
        "var-subdir",
        "usr-subdir",
        "etc-prefix-not-tree",
        "proc-prefix-not-tree",
        "dev-prefix-not-tree",
        "unicode-and-space",
        "dots-inside-a-name",
    ],
)
def test_an_acceptable_workspace_is_normalised(workspace: str, normalized: str) -> None:
    assert workspace_violations(workspace) == (normalized, [])


@pytest.mark.parametrize(
    "workspace",
    [
        "",
        "//",
        "//etc",
        "///srv/x",
        "/a/../b",
        "/srv/x/..",
        "..",
        "../x",
        "relative/path",
        "./x",
        "~/x",
        "/",
        "/.",
        "/etc",
        "/etc/",
        "/etc/x",
        "/./etc",
        "/srv/./../etc",
        "/proc",
        "/proc/self",
        "/sys/x",
        "/dev/shm",
        "/boot",
        "/run/x",
        "/root",
        "/root/x",
        "/home",
        "/var",
        "/usr",
        "/bin",
        "/opt",
        "/lib64",
        "/srv/x\n",
        "/srv/\x00x",
        "/srv/\tx",
        "/srv/\x1bx",
    ],
    ids=[
        "empty",
        "double-slash-root",
        "double-slash-etc",
        "triple-slash",
        "dotdot-inside",
        "dotdot-at-end",
        "dotdot",
        "dotdot-relative",
        "relative",
        "dot-relative",
        "tilde",
        "root",
        "root-dot",
        "etc",
        "etc-trailing-slash",
        "etc-child",
        "etc-via-dot",
        "etc-via-dotdot",
        "proc",
        "proc-self",
        "sys-child",
        "dev-shm",
        "boot",
        "run-child",
        "root-home",
        "root-home-child",
        "home",
        "var",
        "usr",
        "bin",
        "opt",
        "lib64",
        "newline",
        "nul",
        "tab",
        "escape",
    ],
)
def test_a_forbidden_workspace_is_refused_as_given(workspace: str) -> None:
    returned, violations = workspace_violations(workspace)
    assert returned == workspace
    assert [(v.field, v.reason) for v in violations] == [("workspace", "forbidden")]
    assert violations[0].description


@pytest.mark.parametrize(
    ("agent_id", "valid"),
    [
        ("a", True),
        ("0", True),
        ("claude-code", True),
        ("agent_1.2-beta", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("-agent", False),
        (".agent", False),
        ("_agent", False),
        ("Agent", False),
        ("agent 1", False),
        ("agent/1", False),
        ("agent\n", False),
        ("\u00e9", False),
    ],
    ids=[
        "one-char",
        "digit",
        "dashed",
        "dots-underscores",
        "max-length",
        "too-long",
        "leading-dash",
        "leading-dot",
        "leading-underscore",
        "upper",
        "space",
        "slash",
        "trailing-newline",
        "unicode",
    ],
)
def test_agent_violations(agent_id: str, valid: bool) -> None:
    for required in (True, False):
        violations = agent_violations("agent_id", agent_id, required=required)
        if valid:
            assert violations == []
        else:
            assert [(v.field, v.reason) for v in violations] == [("agent_id", "invalid")]
            assert violations[0].description == "must match ^[a-z0-9][a-z0-9._-]{0,63}$"


def test_an_empty_agent_id_is_refused_only_when_required() -> None:
    assert agent_violations("agent_id", "", required=False) == []
    violations = agent_violations("agent_id", "", required=True)
    assert [(v.field, v.reason) for v in violations] == [("agent_id", "invalid")]


@pytest.mark.parametrize(
    ("chain", "mode", "expected"),
    [
        ([], "", []),
        ([], "append", []),
        (["reviewer", "fixer"], "override", []),
        (["reviewer"], "append", []),
        (["reviewer", ""], "append", []),
        (["reviewer"], "", [("chain_mode", "required")]),
        ([], "replace", [("chain_mode", "invalid")]),
        (["reviewer"], "Override", [("chain_mode", "invalid")]),
        (
            ["ok", "Bad", "", "-x"],
            "append",
            [("chain[1].agent_id", "invalid"), ("chain[3].agent_id", "invalid")],
        ),
        (["Bad"], "", [("chain[0].agent_id", "invalid"), ("chain_mode", "required")]),
        (["Bad"], "both", [("chain[0].agent_id", "invalid"), ("chain_mode", "invalid")]),
    ],
    ids=[
        "no-chain",
        "mode-without-chain",
        "override",
        "append",
        "empty-step-agent",
        "mode-required",
        "unknown-mode",
        "mode-is-case-sensitive",
        "bad-step-agents",
        "bad-agent-and-missing-mode",
        "bad-agent-and-unknown-mode",
    ],
)
def test_chain_violations(chain: list[str], mode: str, expected: list[tuple[str, str]]) -> None:
    assert [(v.field, v.reason) for v in chain_violations(chain, mode)] == expected


def test_memo_values_are_json_within_the_input_limits() -> None:
    deep: Any = {}
    for _ in range(MAX_INPUT_DEPTH):
        deep = {"a": deep}
    assert memo_violations({"by": "me", "deep": deep["a"]}) == []
    (violation,) = memo_violations({"by": "me", "deep": deep})
    assert violation.field == 'memo["deep"]' + "/a" * MAX_INPUT_DEPTH
    assert violation.reason == "too_deep"


def test_a_longer_scheduled_workflow_id_is_refused_with_its_own_limit() -> None:
    assert workflow_id_violations("w" * 979, "registry", max_length=979) == []
    (violation,) = workflow_id_violations("w" * 980, "registry", max_length=979)
    assert violation.description == "must be 1-979 printable characters"
