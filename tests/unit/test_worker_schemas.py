"""registry.client.worker: input schemas generated from `@workflow.run` type hints (every kind of
type, each checked with the registry's own check_schema and used to validate inputs the way
the registry does), workflow metadata from `@registry_metadata` and arguments, and the
RegisterWorkerRequest the helper sends."""

from __future__ import annotations

import enum
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

import pytest
from google.protobuf import json_format
from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RawValue, SearchAttributeKey
from typing_extensions import TypedDict

from registry.client.worker import (
    InputSchemaError,
    WorkflowMetadata,
    default_worker_id,
    input_schema_for,
    json_schema_for,
    registration_request,
    registry_metadata,
    workflow_spec,
    workflow_type_name,
)
from registry.shared.messages import registration_from_proto, struct_to_dict
from registry.shared.schemas import check_schema, compile_schema
from registry.shared.specs import validate_worker_registration


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


@dataclass
class Item:
    sku: str
    quantity: int = 1


@dataclass
class Order:
    """An order to take."""

    order_id: str
    items: list[Item]
    priority: Priority = Priority.LOW
    due: datetime | None = None
    notes: dict[str, str] = field(default_factory=dict)


class Refund(BaseModel):
    order_id: str = Field(min_length=1)
    amount_cents: int = Field(ge=1, le=1_000_000)
    reason: Literal["damaged", "late", "other"] = "other"


class Address(TypedDict, total=False):
    street: str
    city: str


class Parcel(TypedDict):
    parcel_id: str
    address: Address


# (type, a valid input, an invalid input) for each kind of type hint.
KINDS: dict[str, tuple[Any, Any, Any]] = {
    "dataclass": (
        Order,
        {"order_id": "o-1", "items": [{"sku": "a"}], "priority": "high", "due": None},
        {"order_id": "o-1", "items": [{"quantity": 2}], "priority": "urgent"},
    ),
    "pydantic model": (Refund, {"order_id": "o", "amount_cents": 5}, {"amount_cents": 0}),
    "TypedDict": (
        Parcel,
        {"parcel_id": "p", "address": {"city": "Lyon"}},
        {"parcel_id": 7, "address": {}},
    ),
    "str": (str, "hello", 3),
    "int": (int, 42, "42"),
    "float": (float, 1.5, "x"),
    "bool": (bool, True, "yes"),
    "Optional": (int | None, None, 1.5),
    "list of dataclasses": (list[Item], [{"sku": "a", "quantity": 2}], [{"sku": 1}]),
    "dict": (dict[str, int], {"a": 1}, {"a": "b"}),
    "enum": (Priority, "low", "medium"),
    "Literal": (Literal["a", "b"], "a", "c"),
    "Annotated constraints": (Annotated[int, Field(ge=1, le=10)], 10, 11),
    "datetime": (datetime, "2026-01-02T03:04:05Z", "tomorrow"),
    "tuple": (tuple[str, int], ["a", 1], ["a", "b"]),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_generated_schema_passes_check_schema_and_validates_like_the_registry(
    kind: str,
) -> None:
    tp, valid, invalid = KINDS[kind]
    schema = json_schema_for(tp)
    assert check_schema(schema) == []
    validator = compile_schema(schema)
    assert validator(valid) == []
    assert validator(invalid) != []


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_schema_survives_the_trip_through_protobuf(kind: str) -> None:
    """The registry stores schemas as google.protobuf.Struct (numbers become doubles)."""
    tp, valid, invalid = KINDS[kind]
    spec = workflow_spec(AnyInput, WorkflowMetadata(input_type=tp))
    stored = struct_to_dict(spec.input_schema)
    assert stored == json_schema_for(tp)
    assert check_schema(stored) == []
    assert compile_schema(stored)(valid) == []
    assert compile_schema(stored)(invalid) != []


def test_a_dataclass_keeps_its_named_types_in_defs() -> None:
    schema = json_schema_for(Order)
    assert set(schema["$defs"]) == {"Item", "Priority"}
    assert schema["properties"]["items"]["items"] == {"$ref": "#/$defs/Item"}
    assert schema["required"] == ["order_id", "items"]
    assert schema["$defs"]["Priority"]["enum"] == ["low", "high"]
    assert schema["description"] == "An order to take."


# --- workflows -------------------------------------------------------------------------------


@registry_metadata(
    version="3",
    search_attributes={"OrderId": "Keyword", "Amount": "Int"},
    labels={"team": "orders"},
    schedule_input_warnings={"order_id": "a schedule needs a fixed order"},
)
@workflow.defn(name="order.v1")
class OrderWorkflow:
    """Takes an order from payment to delivery.

    Details nobody reads in a catalogue.
    """

    @workflow.run
    async def run(self, order: Order) -> str:
        return order.order_id


@workflow.defn(name="refund.v1")
@registry_metadata(
    description="Refunds an order.",
    search_attributes=[
        SearchAttributeKey.for_keyword("OrderId"),
        SearchAttributeKey.for_keyword_list("Tags"),
        SearchAttributeKey.for_datetime("RefundedAt"),
    ],
)
class RefundWorkflow:
    @workflow.run
    async def run(self, refund: Refund) -> None:
        pass


@workflow.defn
class AnyInput:
    @workflow.run
    async def run(self, value: Any) -> None:
        pass


@workflow.defn
class NoInput:
    @workflow.run
    async def run(self) -> None:
        pass


@workflow.defn
class Untyped:
    @workflow.run
    async def run(self, anything):  # type: ignore[no-untyped-def]
        pass


@workflow.defn
class TwoInputs:
    @workflow.run
    async def run(self, a: str, b: int) -> None:
        pass


class Opaque:
    def __init__(self, secret: object) -> None:
        self.secret = secret


@workflow.defn
class OpaqueInput:
    @workflow.run
    async def run(self, value: Opaque) -> None:
        pass


@registry_metadata(input_schema={"type": "object", "properties": {"x": {"$ref": "http://x"}}})
@workflow.defn
class RemoteRef:
    @workflow.run
    async def run(self, value: dict[str, Any]) -> None:
        pass


@workflow.defn(dynamic=True)
class Dynamic:
    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> None:
        pass


def test_the_spec_of_a_decorated_workflow() -> None:
    spec = workflow_spec(OrderWorkflow)
    assert spec.workflow_type == "order.v1" == workflow_type_name(OrderWorkflow)
    assert spec.version == "3"
    assert spec.description == "Takes an order from payment to delivery."  # the docstring
    assert spec.task_queue == ""  # the worker's
    assert [(a.name, a.type) for a in spec.search_attributes] == [
        ("OrderId", "Keyword"),
        ("Amount", "Int"),
    ]
    assert dict(spec.labels) == {"team": "orders"}
    assert [(w.field, w.message) for w in spec.schedule_input_warnings] == [
        ("order_id", "a schedule needs a fixed order")
    ]
    assert struct_to_dict(spec.input_schema) == json_schema_for(Order)


def test_typed_search_attribute_keys_and_decorator_order() -> None:
    spec = workflow_spec(RefundWorkflow)  # registry_metadata below @workflow.defn works too
    assert spec.description == "Refunds an order."
    assert [(a.name, a.type) for a in spec.search_attributes] == [
        ("OrderId", "Keyword"),
        ("Tags", "KeywordList"),
        ("RefundedAt", "Datetime"),
    ]
    assert struct_to_dict(spec.input_schema)["required"] == ["order_id", "amount_cents"]


def test_arguments_override_the_decorator_field_by_field() -> None:
    explicit = {"type": "object", "required": ["order_id"]}
    spec = workflow_spec(
        OrderWorkflow, WorkflowMetadata(version="4", input_schema=explicit, labels={})
    )
    assert spec.version == "4"
    assert struct_to_dict(spec.input_schema) == explicit
    assert dict(spec.labels) == {}  # set to empty: overrides
    assert len(spec.search_attributes) == 2  # not set: the decorator's
    spec = workflow_spec(OrderWorkflow, WorkflowMetadata(input_type=Refund, description=""))
    assert struct_to_dict(spec.input_schema) == json_schema_for(Refund)
    assert spec.description == ""


def test_run_methods_without_a_typed_single_input_accept_anything() -> None:
    assert input_schema_for(NoInput) == {}
    assert input_schema_for(Untyped) == {}
    assert not workflow_spec(NoInput).HasField("input_schema")
    assert workflow_spec(NoInput).description == ""


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (TwoInputs, "takes several parameters (a, b)"),
        (OpaqueInput, "no JSON Schema for"),
        (RemoteRef, "input_schema/properties/x/$ref: only local references"),
    ],
)
def test_schemas_that_cannot_be_registered_fail_clearly(cls: type, message: str) -> None:
    with pytest.raises(InputSchemaError, match=re.escape(message)):
        workflow_spec(cls)


def test_not_a_workflow_or_dynamic() -> None:
    with pytest.raises(TypeError, match="not a workflow class"):
        workflow_spec(Opaque)
    assert workflow_type_name(Dynamic) is None
    with pytest.raises(TypeError, match="dynamic workflow"):
        workflow_spec(Dynamic)


def test_both_schema_sources_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        registry_metadata(input_schema={}, input_type=int)


# --- the request -----------------------------------------------------------------------------


def test_the_registration_request_passes_the_registry_rules() -> None:
    request = registration_request(
        [OrderWorkflow, RefundWorkflow, NoInput, Dynamic],
        task_queue="orders",
        ttl_seconds=30,
        environment="prod",
        labels={"zone": "a"},
        metadata={
            "refund.v1": WorkflowMetadata(version="9"),
            NoInput: WorkflowMetadata(version="1"),
        },
    )
    assert [w.workflow_type for w in request.workflows] == ["order.v1", "refund.v1", "NoInput"]
    assert [w.version for w in request.workflows] == ["3", "9", "1"]
    assert request.worker_id == default_worker_id("orders")
    assert (request.task_queue, request.ttl_seconds, request.environment) == ("orders", 30, "prod")
    assert dict(request.labels) == {"zone": "a"}
    assert validate_worker_registration(registration_from_proto(request)) == []
    body = json_format.MessageToDict(request, preserving_proto_field_name=True)
    assert body["workflows"][0]["input_schema"]["$defs"]["Item"]["required"] == ["sku"]


def test_default_worker_id_names_queue_host_and_process() -> None:
    worker_id = default_worker_id("orders queue")
    assert worker_id.startswith("ordersqueue@") and worker_id.endswith(f"/{os.getpid()}")
    assert len(default_worker_id("q" * 500)) == 200


def test_importing_the_helper_stays_light_for_the_workflow_sandbox() -> None:
    """Workflow modules import registry.worker (for registry_metadata), and Temporal's sandbox
    re-imports them for every run: beyond temporalio (which the sandbox passes through), the
    module loads none of the registry's client, contract or schema code."""
    heavy = (
        "jsonschema",
        "temporal_registry",
        "registry.client.connection",
        "registry.shared.schemas",
    )
    code = f"import sys, registry.worker; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_what_the_docs_import_from_registry_worker_is_there() -> None:
    """docs/workers.md has workers import the registry settings, the keeper's timings and
    its refusal from registry.worker; they load on first use (the module stays light)."""
    import registry.client.worker as helper
    from registry.client.connection import ClientSettings
    from registry.client.registration import (
        KeeperPolicy,
        RegistrationKeeper,
        RegistrationRefused,
    )

    assert helper.ClientSettings is ClientSettings
    assert helper.KeeperPolicy is KeeperPolicy
    assert helper.RegistrationKeeper is RegistrationKeeper
    assert helper.RegistrationRefused is RegistrationRefused
    assert set(helper.__all__) >= {"ClientSettings", "KeeperPolicy", "RegistrationRefused"}
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = helper.Nothing  # type: ignore[attr-defined]
