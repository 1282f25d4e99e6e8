"""Requests off the wire: temporal_registry.v1 messages into the registry's data model (the
server's handlers and the client's manifest checks read requests the same way)."""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import struct_pb2
from temporal_registry.v1 import registry_pb2, resources_pb2

from registry.shared.model import (
    InputWarningSpec,
    SearchAttributeSpec,
    WorkerRegistration,
    WorkflowSpec,
)

_MAX_EXACT_FLOAT_INT = 2**53


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as plain JSON. Struct numbers are doubles: integral ones come back as ints, so
    a schema's `"minLength": 1` stays an integer."""
    return {key: value_to_python(item) for key, item in struct.fields.items()}


def value_to_python(value: struct_pb2.Value) -> Any:
    """A Value as plain JSON (integral numbers as ints, as struct_to_dict). Walked here rather
    than through json_format, which takes twice as long for what every start converts."""
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [value_to_python(item) for item in value.list_value.values]
    if kind == "number_value":
        number = value.number_value
        exact = math.isfinite(number) and number.is_integer()
        return int(number) if exact and abs(number) <= _MAX_EXACT_FLOAT_INT else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None  # null_value, or no value at all


def spec_from_proto(message: resources_pb2.Workflow) -> WorkflowSpec:
    return WorkflowSpec(
        workflow_type=message.workflow_type,
        task_queue=message.task_queue,
        version=message.version,
        description=message.description,
        input_schema=struct_to_dict(message.input_schema),
        schedule_input_warnings=[
            InputWarningSpec(field=w.field, message=w.message)
            for w in message.schedule_input_warnings
        ],
        search_attributes=[
            SearchAttributeSpec(name=a.name, type=a.type, description=a.description)
            for a in message.search_attributes
        ],
        labels=dict(message.labels),
    )


def registration_from_proto(request: registry_pb2.RegisterWorkerRequest) -> WorkerRegistration:
    return WorkerRegistration(
        worker_id=request.worker_id,
        task_queue=request.task_queue,
        environment=request.environment,
        labels=dict(request.labels),
        ttl_seconds=request.ttl_seconds,
        workflows=[spec_from_proto(workflow) for workflow in request.workflows],
    )
