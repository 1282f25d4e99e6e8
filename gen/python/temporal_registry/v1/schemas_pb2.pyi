from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from temporal_registry.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SchemaVersion(_message.Message):
    __slots__ = ("workflow_type", "version", "schema_digest", "input_schema", "create_time_epoch", "created_by_worker", "created_by_principal", "override_reason", "current", "serving_worker_count", "serving_workers")
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_DIGEST_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_EPOCH_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_WORKER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_REASON_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    SERVING_WORKER_COUNT_FIELD_NUMBER: _ClassVar[int]
    SERVING_WORKERS_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    version: int
    schema_digest: str
    input_schema: _struct_pb2.Struct
    create_time_epoch: float
    created_by_worker: str
    created_by_principal: str
    override_reason: str
    current: bool
    serving_worker_count: int
    serving_workers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, workflow_type: _Optional[str] = ..., version: _Optional[int] = ..., schema_digest: _Optional[str] = ..., input_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., create_time_epoch: _Optional[float] = ..., created_by_worker: _Optional[str] = ..., created_by_principal: _Optional[str] = ..., override_reason: _Optional[str] = ..., current: _Optional[bool] = ..., serving_worker_count: _Optional[int] = ..., serving_workers: _Optional[_Iterable[str]] = ...) -> None: ...

class ListSchemaVersionsRequest(_message.Message):
    __slots__ = ("workflow_type",)
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    def __init__(self, workflow_type: _Optional[str] = ...) -> None: ...

class ListSchemaVersionsResponse(_message.Message):
    __slots__ = ("versions", "current_version", "serving_versions", "compatibility_mode")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVING_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_MODE_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[SchemaVersion]
    current_version: int
    serving_versions: _containers.RepeatedScalarFieldContainer[int]
    compatibility_mode: _resources_pb2.CompatibilityMode
    def __init__(self, versions: _Optional[_Iterable[_Union[SchemaVersion, _Mapping]]] = ..., current_version: _Optional[int] = ..., serving_versions: _Optional[_Iterable[int]] = ..., compatibility_mode: _Optional[_Union[_resources_pb2.CompatibilityMode, str]] = ...) -> None: ...

class GetSchemaVersionRequest(_message.Message):
    __slots__ = ("workflow_type", "version")
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    version: int
    def __init__(self, workflow_type: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class CheckCompatibilityRequest(_message.Message):
    __slots__ = ("workflow_type", "input_schema", "mode")
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    input_schema: _struct_pb2.Struct
    mode: _resources_pb2.CompatibilityMode
    def __init__(self, workflow_type: _Optional[str] = ..., input_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., mode: _Optional[_Union[_resources_pb2.CompatibilityMode, str]] = ...) -> None: ...

class SchemaIncompatibility(_message.Message):
    __slots__ = ("version", "direction", "path", "rule")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    version: int
    direction: str
    path: str
    rule: str
    def __init__(self, version: _Optional[int] = ..., direction: _Optional[str] = ..., path: _Optional[str] = ..., rule: _Optional[str] = ...) -> None: ...

class BrokenSchedule(_message.Message):
    __slots__ = ("schedule_id", "reason")
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    reason: str
    def __init__(self, schedule_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CheckCompatibilityResponse(_message.Message):
    __slots__ = ("compatible", "mode", "identical_version", "compared_versions", "incompatibilities", "broken_schedules", "schedules_unchecked")
    COMPATIBLE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    IDENTICAL_VERSION_FIELD_NUMBER: _ClassVar[int]
    COMPARED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    INCOMPATIBILITIES_FIELD_NUMBER: _ClassVar[int]
    BROKEN_SCHEDULES_FIELD_NUMBER: _ClassVar[int]
    SCHEDULES_UNCHECKED_FIELD_NUMBER: _ClassVar[int]
    compatible: bool
    mode: _resources_pb2.CompatibilityMode
    identical_version: int
    compared_versions: _containers.RepeatedScalarFieldContainer[int]
    incompatibilities: _containers.RepeatedCompositeFieldContainer[SchemaIncompatibility]
    broken_schedules: _containers.RepeatedCompositeFieldContainer[BrokenSchedule]
    schedules_unchecked: str
    def __init__(self, compatible: _Optional[bool] = ..., mode: _Optional[_Union[_resources_pb2.CompatibilityMode, str]] = ..., identical_version: _Optional[int] = ..., compared_versions: _Optional[_Iterable[int]] = ..., incompatibilities: _Optional[_Iterable[_Union[SchemaIncompatibility, _Mapping]]] = ..., broken_schedules: _Optional[_Iterable[_Union[BrokenSchedule, _Mapping]]] = ..., schedules_unchecked: _Optional[str] = ...) -> None: ...

class CreateSchemaVersionRequest(_message.Message):
    __slots__ = ("workflow_type", "input_schema", "override_reason", "validate_only")
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_REASON_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    input_schema: _struct_pb2.Struct
    override_reason: str
    validate_only: bool
    def __init__(self, workflow_type: _Optional[str] = ..., input_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., override_reason: _Optional[str] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class Compatibility(_message.Message):
    __slots__ = ("workflow_type", "mode", "type_mode", "default_mode")
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_MODE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODE_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    mode: _resources_pb2.CompatibilityMode
    type_mode: _resources_pb2.CompatibilityMode
    default_mode: _resources_pb2.CompatibilityMode
    def __init__(self, workflow_type: _Optional[str] = ..., mode: _Optional[_Union[_resources_pb2.CompatibilityMode, str]] = ..., type_mode: _Optional[_Union[_resources_pb2.CompatibilityMode, str]] = ..., default_mode: _Optional[_Union[_resources_pb2.CompatibilityMode, str]] = ...) -> None: ...

class GetCompatibilityRequest(_message.Message):
    __slots__ = ("workflow_type",)
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    def __init__(self, workflow_type: _Optional[str] = ...) -> None: ...

class SetCompatibilityRequest(_message.Message):
    __slots__ = ("workflow_type", "mode")
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    mode: _resources_pb2.CompatibilityMode
    def __init__(self, workflow_type: _Optional[str] = ..., mode: _Optional[_Union[_resources_pb2.CompatibilityMode, str]] = ...) -> None: ...
