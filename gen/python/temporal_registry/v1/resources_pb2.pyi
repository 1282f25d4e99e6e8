from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CompatibilityMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPATIBILITY_MODE_UNSPECIFIED: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_NONE: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_BACKWARD: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_BACKWARD_TRANSITIVE: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_FORWARD: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_FORWARD_TRANSITIVE: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_FULL: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_FULL_TRANSITIVE: _ClassVar[CompatibilityMode]
COMPATIBILITY_MODE_UNSPECIFIED: CompatibilityMode
COMPATIBILITY_MODE_NONE: CompatibilityMode
COMPATIBILITY_MODE_BACKWARD: CompatibilityMode
COMPATIBILITY_MODE_BACKWARD_TRANSITIVE: CompatibilityMode
COMPATIBILITY_MODE_FORWARD: CompatibilityMode
COMPATIBILITY_MODE_FORWARD_TRANSITIVE: CompatibilityMode
COMPATIBILITY_MODE_FULL: CompatibilityMode
COMPATIBILITY_MODE_FULL_TRANSITIVE: CompatibilityMode

class Workflow(_message.Message):
    __slots__ = ("workflow_type", "version", "task_queue", "description", "input_schema", "schedule_input_warnings", "search_attributes", "enabled", "labels", "workers", "disabled_reason", "healthy", "health_reasons", "source", "update_time_epoch", "owner", "schema_version", "serving_schema_versions", "compatibility_mode")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_INPUT_WARNINGS_FIELD_NUMBER: _ClassVar[int]
    SEARCH_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    DISABLED_REASON_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    HEALTH_REASONS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_EPOCH_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVING_SCHEMA_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_MODE_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    version: str
    task_queue: str
    description: str
    input_schema: _struct_pb2.Struct
    schedule_input_warnings: _containers.RepeatedCompositeFieldContainer[InputWarning]
    search_attributes: _containers.RepeatedCompositeFieldContainer[SearchAttribute]
    enabled: bool
    labels: _containers.ScalarMap[str, str]
    workers: _containers.RepeatedCompositeFieldContainer[Worker]
    disabled_reason: str
    healthy: bool
    health_reasons: _containers.RepeatedScalarFieldContainer[str]
    source: str
    update_time_epoch: float
    owner: str
    schema_version: int
    serving_schema_versions: _containers.RepeatedScalarFieldContainer[int]
    compatibility_mode: CompatibilityMode
    def __init__(self, workflow_type: _Optional[str] = ..., version: _Optional[str] = ..., task_queue: _Optional[str] = ..., description: _Optional[str] = ..., input_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., schedule_input_warnings: _Optional[_Iterable[_Union[InputWarning, _Mapping]]] = ..., search_attributes: _Optional[_Iterable[_Union[SearchAttribute, _Mapping]]] = ..., enabled: _Optional[bool] = ..., labels: _Optional[_Mapping[str, str]] = ..., workers: _Optional[_Iterable[_Union[Worker, _Mapping]]] = ..., disabled_reason: _Optional[str] = ..., healthy: _Optional[bool] = ..., health_reasons: _Optional[_Iterable[str]] = ..., source: _Optional[str] = ..., update_time_epoch: _Optional[float] = ..., owner: _Optional[str] = ..., schema_version: _Optional[int] = ..., serving_schema_versions: _Optional[_Iterable[int]] = ..., compatibility_mode: _Optional[_Union[CompatibilityMode, str]] = ...) -> None: ...

class InputWarning(_message.Message):
    __slots__ = ("field", "message")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    field: str
    message: str
    def __init__(self, field: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class SearchAttribute(_message.Message):
    __slots__ = ("name", "type", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    description: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class Worker(_message.Message):
    __slots__ = ("worker_id", "task_queue", "ttl_seconds", "last_seen_epoch", "environment", "labels", "workflows", "healthy", "lease_expires_epoch", "registered_epoch", "principal", "schema_versions")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class SchemaVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_EPOCH_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRES_EPOCH_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_EPOCH_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    task_queue: str
    ttl_seconds: int
    last_seen_epoch: float
    environment: str
    labels: _containers.ScalarMap[str, str]
    workflows: _containers.RepeatedScalarFieldContainer[str]
    healthy: bool
    lease_expires_epoch: float
    registered_epoch: float
    principal: str
    schema_versions: _containers.ScalarMap[str, int]
    def __init__(self, worker_id: _Optional[str] = ..., task_queue: _Optional[str] = ..., ttl_seconds: _Optional[int] = ..., last_seen_epoch: _Optional[float] = ..., environment: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., workflows: _Optional[_Iterable[str]] = ..., healthy: _Optional[bool] = ..., lease_expires_epoch: _Optional[float] = ..., registered_epoch: _Optional[float] = ..., principal: _Optional[str] = ..., schema_versions: _Optional[_Mapping[str, int]] = ...) -> None: ...
