"""Between temporal_registry.v1 messages and the registry's data model: requests in
(registry.shared.messages) and responses out (registry.catalog.responses)."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import struct_pb2
from temporal_registry.v1 import registry_pb2, resources_pb2

from registry.catalog import responses
from registry.catalog.responses import WorkflowMessages, stored_workflow_to_proto, worker_to_proto
from registry.liveness.rules import Lease
from registry.liveness.views import WorkerView, WorkflowView
from registry.shared.messages import (
    registration_from_proto,
    spec_from_proto,
    struct_to_dict,
    value_to_python,
)
from registry.shared.model import (
    SOURCE_OPERATOR,
    InputWarningSpec,
    SearchAttributeSpec,
    StoredWorker,
    StoredWorkflow,
    WorkerRegistration,
    WorkflowSpec,
)

NOW = 1_800_000_000.0
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["order_id"],
    "properties": {
        "order_id": {"type": "string", "minLength": 1, "maxLength": 36},
        "amount": {"type": "number", "minimum": 0.5, "maximum": 10000},
        "items": {"type": "array", "items": {"enum": [1, 2.5, "x", True, None]}, "maxItems": 50},
        "flag": {"type": "boolean", "default": False},
    },
    "additionalProperties": False,
}


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def full_spec() -> WorkflowSpec:
    return WorkflowSpec(
        workflow_type="orders.process.v1",
        task_queue="orders",
        version="1.2.3",
        description="Processes an order.",
        input_schema=SCHEMA,
        schedule_input_warnings=[
            InputWarningSpec("order_id", "fixed ids make every scheduled run the same order"),
            InputWarningSpec("amount", "amounts change"),
        ],
        search_attributes=[
            SearchAttributeSpec("OrderId", "Keyword", "the order"),
            SearchAttributeSpec("Amount", "Double"),
        ],
        labels={"team": "orders", "tier": "1"},
    )


def stored_worker(worker_id: str = "w1") -> StoredWorker:
    return StoredWorker(
        worker_id=worker_id,
        task_queue="orders",
        environment="prod",
        labels={"zone": "a"},
        ttl_seconds=30,
        workflows=["orders.process.v1", "orders.refund.v1"],
        registered_epoch=NOW - 100,
        lease_expires_epoch=NOW + 10,
    )


def worker_view(worker_id: str = "w1", healthy: bool = True) -> WorkerView:
    w = stored_worker(worker_id)
    return WorkerView(w, Lease(worker_id, 30, NOW + 25), NOW - 5, healthy)


# --- JSON numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        (0, 0),
        (-7, -7),
        (1.5, 1.5),
        (-0.25, -0.25),
        (2**53, 2**53),
        (-(2**53), -(2**53)),
        (1e300, 1e300),
        (float(2**53 + 2), float(2**53 + 2)),
        ("1", "1"),
        (True, True),
        (None, None),
    ],
    ids=[
        "one",
        "zero",
        "negative",
        "fraction",
        "negative-fraction",
        "2^53",
        "minus-2^53",
        "1e300",
        "beyond-2^53",
        "string",
        "bool",
        "null",
    ],
)
def test_struct_to_dict_restores_integral_numbers(value: object, expected: object) -> None:
    result = struct_to_dict(struct({"v": value}))
    assert result == {"v": expected}
    assert type(result["v"]) is type(expected)


def test_struct_to_dict_converts_nested_numbers() -> None:
    result = struct_to_dict(struct({"a": [1, [2, {"b": 3}], 1.5], "c": {"d": {"e": 4}}}))
    assert result == {"a": [1, [2, {"b": 3}], 1.5], "c": {"d": {"e": 4}}}
    assert type(result["a"][1][1]["b"]) is int and type(result["c"]["d"]["e"]) is int
    assert type(result["a"][2]) is float


def test_struct_to_dict_round_trips_a_schema_exactly() -> None:
    result = struct_to_dict(struct(SCHEMA))
    assert result == SCHEMA
    assert type(result["properties"]["order_id"]["minLength"]) is int
    assert struct_to_dict(struct_pb2.Struct()) == {}


def test_value_to_python_converts_a_single_value() -> None:
    value = struct_pb2.Value()
    value.list_value.extend([3.0, 0.5, "x"])
    assert value_to_python(value) == [3, 0.5, "x"]
    assert type(value_to_python(value)[0]) is int
    assert value_to_python(struct_pb2.Value(number_value=42.0)) == 42


# --- from the wire ---------------------------------------------------------------------------


def workflow_message() -> resources_pb2.Workflow:
    message = resources_pb2.Workflow(
        workflow_type="orders.process.v1",
        version="1.2.3",
        task_queue="orders",
        description="Processes an order.",
        schedule_input_warnings=[
            resources_pb2.InputWarning(
                field="order_id", message="fixed ids make every scheduled run the same order"
            ),
            resources_pb2.InputWarning(field="amount", message="amounts change"),
        ],
        search_attributes=[
            resources_pb2.SearchAttribute(name="OrderId", type="Keyword", description="the order"),
            resources_pb2.SearchAttribute(name="Amount", type="Double"),
        ],
        labels={"team": "orders", "tier": "1"},
        # Output-only fields a client may echo back: ignored.
        enabled=False,
        disabled_reason="x",
        healthy=True,
        source="operator",
        update_time_epoch=5.0,
    )
    message.input_schema.update(SCHEMA)
    return message


def test_spec_from_proto_maps_every_field() -> None:
    spec = spec_from_proto(workflow_message())
    assert spec == full_spec()
    assert type(spec.input_schema["properties"]["items"]["maxItems"]) is int


def test_spec_from_an_empty_message_has_empty_fields() -> None:
    assert spec_from_proto(resources_pb2.Workflow()) == WorkflowSpec(workflow_type="")


def test_registration_from_proto_maps_every_field() -> None:
    request = registry_pb2.RegisterWorkerRequest(
        worker_id="w1",
        task_queue="orders",
        environment="prod",
        labels={"zone": "a"},
        ttl_seconds=45,
        workflows=[workflow_message(), resources_pb2.Workflow(workflow_type="orders.refund.v1")],
    )
    assert registration_from_proto(request) == WorkerRegistration(
        worker_id="w1",
        task_queue="orders",
        environment="prod",
        labels={"zone": "a"},
        ttl_seconds=45,
        workflows=[full_spec(), WorkflowSpec("orders.refund.v1")],
    )


def test_registration_from_an_empty_request_keeps_ttl_zero() -> None:
    registration = registration_from_proto(registry_pb2.RegisterWorkerRequest())
    assert registration == WorkerRegistration("", "", ttl_seconds=0)  # 0: the default TTL


# --- to the wire -----------------------------------------------------------------------------


def test_stored_workflow_round_trips_through_its_message() -> None:
    stored = StoredWorkflow(
        spec=full_spec(),
        enabled=False,
        disabled_reason="paused for INC-42",
        source=SOURCE_OPERATOR,
        update_time_epoch=NOW + 0.25,
    )
    message = stored_workflow_to_proto(stored, "BACKWARD")

    assert spec_from_proto(message) == stored.spec
    assert (message.enabled, message.disabled_reason, message.source) == (
        False,
        "paused for INC-42",
        "operator",
    )
    assert message.update_time_epoch == NOW + 0.25
    assert [(w.field, w.message) for w in message.schedule_input_warnings] == [
        ("order_id", "fixed ids make every scheduled run the same order"),
        ("amount", "amounts change"),
    ]
    assert [(a.name, a.type, a.description) for a in message.search_attributes] == [
        ("OrderId", "Keyword", "the order"),
        ("Amount", "Double", ""),
    ]
    assert dict(message.labels) == {"team": "orders", "tier": "1"}
    # The parts that depend on the moment are not stored.
    assert (list(message.workers), message.healthy, list(message.health_reasons)) == ([], False, [])


def test_worker_to_proto_maps_every_field() -> None:
    view = worker_view()
    assert worker_to_proto(view) == resources_pb2.Worker(
        worker_id="w1",
        task_queue="orders",
        ttl_seconds=30,
        last_seen_epoch=NOW - 5,
        environment="prod",
        labels={"zone": "a"},
        workflows=["orders.process.v1", "orders.refund.v1"],
        healthy=True,
        lease_expires_epoch=NOW + 25,  # the effective lease, not the stored NOW + 10
        registered_epoch=NOW - 100,
    )


# --- cached workflow messages ----------------------------------------------------------------


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[StoredWorkflow]:
    """Records every StoredWorkflow that WorkflowMessages converts from scratch."""
    built: list[StoredWorkflow] = []
    original = responses.stored_workflow_to_proto

    def counting(stored: StoredWorkflow, default_mode: str) -> resources_pb2.Workflow:
        built.append(stored)
        return original(stored, default_mode)

    monkeypatch.setattr(responses, "stored_workflow_to_proto", counting)
    return built


def test_build_adds_workers_and_health_to_the_stored_part(
    built: list[StoredWorkflow],
) -> None:
    stored = StoredWorkflow(spec=full_spec())
    view = WorkflowView(
        stored, (worker_view("w1"), worker_view("w2", healthy=False)), True, ("registered", "ok")
    )
    message = WorkflowMessages("BACKWARD").build(view)

    expected = stored_workflow_to_proto(stored, "BACKWARD")
    expected.workers.extend([worker_to_proto(w) for w in view.workers])
    expected.healthy = True
    expected.health_reasons.extend(["registered", "ok"])
    assert message == expected
    assert [w.worker_id for w in message.workers] == ["w1", "w2"]


def test_build_reuses_the_cached_stored_part_for_the_same_entry(
    built: list[StoredWorkflow],
) -> None:
    messages = WorkflowMessages("BACKWARD")
    stored = StoredWorkflow(spec=full_spec())
    first = messages.build(WorkflowView(stored, (worker_view("w1"),), True, ("a",)))
    second = messages.build(WorkflowView(stored, (), False, ("b", "c")))

    assert built == [stored]
    # Each message is a copy: workers and reasons of one build never leak into the next.
    assert [w.worker_id for w in first.workers] == ["w1"]
    assert (list(second.workers), second.healthy, list(second.health_reasons)) == (
        [],
        False,
        ["b", "c"],
    )
    second.description = "changed"
    assert messages.build(WorkflowView(stored, (), True, ())).description == "Processes an order."


def test_build_rebuilds_when_the_stored_entry_is_replaced(
    built: list[StoredWorkflow],
) -> None:
    messages = WorkflowMessages("BACKWARD")
    old = StoredWorkflow(spec=full_spec())
    new = StoredWorkflow(spec=full_spec(), enabled=False, disabled_reason="paused")
    messages.build(WorkflowView(old, (), True, ()))
    message = messages.build(WorkflowView(new, (), True, ()))
    assert built == [old, new]
    assert (message.enabled, message.disabled_reason) == (False, "paused")

    equal_copy = StoredWorkflow(spec=full_spec(), enabled=False, disabled_reason="paused")
    messages.build(WorkflowView(equal_copy, (), True, ()))
    assert built == [old, new, equal_copy]  # an equal but new entry is rebuilt too


def test_forget_missing_drops_cached_types(built: list[StoredWorkflow]) -> None:
    messages = WorkflowMessages("BACKWARD")
    a = StoredWorkflow(spec=WorkflowSpec("a.v1", task_queue="q"))
    b = StoredWorkflow(spec=WorkflowSpec("b.v1", task_queue="q"))
    for stored in (a, b):
        messages.build(WorkflowView(stored, (), True, ()))
    messages.forget_missing({"b.v1"})
    for stored in (a, b):
        messages.build(WorkflowView(stored, (), True, ()))
    assert built == [a, b, a]  # b stayed cached; a was forgotten and rebuilt
