import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from temporal_registry.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WorkflowView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKFLOW_VIEW_UNSPECIFIED: _ClassVar[WorkflowView]
    WORKFLOW_VIEW_BASIC: _ClassVar[WorkflowView]
    WORKFLOW_VIEW_FULL: _ClassVar[WorkflowView]
WORKFLOW_VIEW_UNSPECIFIED: WorkflowView
WORKFLOW_VIEW_BASIC: WorkflowView
WORKFLOW_VIEW_FULL: WorkflowView

class GetRegistryStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRegistryStatusResponse(_message.Message):
    __slots__ = ("workflow_count", "worker_count", "healthy_worker_count", "started_at_epoch", "last_registry_service_started_epoch", "registry_service_process_id", "registry_workflow_id", "registry_run_id", "history_length", "history_size_bytes", "continue_as_new_count", "namespace", "task_queue", "revision", "self_preservation", "liveness", "snapshot_age_seconds", "shards", "shard_max_bytes", "default_compatibility_mode")
    WORKFLOW_COUNT_FIELD_NUMBER: _ClassVar[int]
    WORKER_COUNT_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_WORKER_COUNT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_EPOCH_FIELD_NUMBER: _ClassVar[int]
    LAST_REGISTRY_SERVICE_STARTED_EPOCH_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_SERVICE_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    HISTORY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    HISTORY_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CONTINUE_AS_NEW_COUNT_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SELF_PRESERVATION_FIELD_NUMBER: _ClassVar[int]
    LIVENESS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    SHARD_MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_COMPATIBILITY_MODE_FIELD_NUMBER: _ClassVar[int]
    workflow_count: int
    worker_count: int
    healthy_worker_count: int
    started_at_epoch: float
    last_registry_service_started_epoch: float
    registry_service_process_id: int
    registry_workflow_id: str
    registry_run_id: str
    history_length: int
    history_size_bytes: int
    continue_as_new_count: int
    namespace: str
    task_queue: str
    revision: int
    self_preservation: bool
    liveness: str
    snapshot_age_seconds: float
    shards: _containers.RepeatedCompositeFieldContainer[RegistryShard]
    shard_max_bytes: int
    default_compatibility_mode: _resources_pb2.CompatibilityMode
    def __init__(self, workflow_count: _Optional[int] = ..., worker_count: _Optional[int] = ..., healthy_worker_count: _Optional[int] = ..., started_at_epoch: _Optional[float] = ..., last_registry_service_started_epoch: _Optional[float] = ..., registry_service_process_id: _Optional[int] = ..., registry_workflow_id: _Optional[str] = ..., registry_run_id: _Optional[str] = ..., history_length: _Optional[int] = ..., history_size_bytes: _Optional[int] = ..., continue_as_new_count: _Optional[int] = ..., namespace: _Optional[str] = ..., task_queue: _Optional[str] = ..., revision: _Optional[int] = ..., self_preservation: _Optional[bool] = ..., liveness: _Optional[str] = ..., snapshot_age_seconds: _Optional[float] = ..., shards: _Optional[_Iterable[_Union[RegistryShard, _Mapping]]] = ..., shard_max_bytes: _Optional[int] = ..., default_compatibility_mode: _Optional[_Union[_resources_pb2.CompatibilityMode, str]] = ...) -> None: ...

class RegistryShard(_message.Message):
    __slots__ = ("kind", "index", "workflow_id", "run_id", "revision", "size_bytes", "entries", "continue_as_new_count")
    KIND_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    CONTINUE_AS_NEW_COUNT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    index: int
    workflow_id: str
    run_id: str
    revision: int
    size_bytes: int
    entries: int
    continue_as_new_count: int
    def __init__(self, kind: _Optional[str] = ..., index: _Optional[int] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., revision: _Optional[int] = ..., size_bytes: _Optional[int] = ..., entries: _Optional[int] = ..., continue_as_new_count: _Optional[int] = ...) -> None: ...

class RegisterWorkerRequest(_message.Message):
    __slots__ = ("worker_id", "task_queue", "environment", "labels", "ttl_seconds", "workflows")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    task_queue: str
    environment: str
    labels: _containers.ScalarMap[str, str]
    ttl_seconds: int
    workflows: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Workflow]
    def __init__(self, worker_id: _Optional[str] = ..., task_queue: _Optional[str] = ..., environment: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., ttl_seconds: _Optional[int] = ..., workflows: _Optional[_Iterable[_Union[_resources_pb2.Workflow, _Mapping]]] = ...) -> None: ...

class RegisterWorkerResponse(_message.Message):
    __slots__ = ("worker", "changed_workflows", "affected_schedules")
    WORKER_FIELD_NUMBER: _ClassVar[int]
    CHANGED_WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    AFFECTED_SCHEDULES_FIELD_NUMBER: _ClassVar[int]
    worker: _resources_pb2.Worker
    changed_workflows: _containers.RepeatedScalarFieldContainer[str]
    affected_schedules: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, worker: _Optional[_Union[_resources_pb2.Worker, _Mapping]] = ..., changed_workflows: _Optional[_Iterable[str]] = ..., affected_schedules: _Optional[_Iterable[str]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("worker_id",)
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    def __init__(self, worker_id: _Optional[str] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("lease_expires_epoch", "ttl_seconds")
    LEASE_EXPIRES_EPOCH_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    lease_expires_epoch: float
    ttl_seconds: int
    def __init__(self, lease_expires_epoch: _Optional[float] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class UnregisterWorkerRequest(_message.Message):
    __slots__ = ("worker_id",)
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    def __init__(self, worker_id: _Optional[str] = ...) -> None: ...

class UnregisterWorkerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListWorkersRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "task_queue", "workflow_type", "if_none_match", "wait", "revision")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    IF_NONE_MATCH_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    task_queue: str
    workflow_type: str
    if_none_match: str
    wait: _duration_pb2.Duration
    revision: int
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., task_queue: _Optional[str] = ..., workflow_type: _Optional[str] = ..., if_none_match: _Optional[str] = ..., wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class ListWorkersResponse(_message.Message):
    __slots__ = ("workers", "next_page_token", "revision", "etag", "not_modified")
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    NOT_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    workers: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Worker]
    next_page_token: str
    revision: int
    etag: str
    not_modified: bool
    def __init__(self, workers: _Optional[_Iterable[_Union[_resources_pb2.Worker, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., revision: _Optional[int] = ..., etag: _Optional[str] = ..., not_modified: _Optional[bool] = ...) -> None: ...

class GetWorkerRequest(_message.Message):
    __slots__ = ("worker_id", "if_none_match")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    IF_NONE_MATCH_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    if_none_match: str
    def __init__(self, worker_id: _Optional[str] = ..., if_none_match: _Optional[str] = ...) -> None: ...

class ListWorkflowsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "label_selector", "enabled", "healthy", "view", "if_none_match", "wait", "revision")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    IF_NONE_MATCH_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    label_selector: str
    enabled: bool
    healthy: bool
    view: WorkflowView
    if_none_match: str
    wait: _duration_pb2.Duration
    revision: int
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., label_selector: _Optional[str] = ..., enabled: _Optional[bool] = ..., healthy: _Optional[bool] = ..., view: _Optional[_Union[WorkflowView, str]] = ..., if_none_match: _Optional[str] = ..., wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class ListWorkflowsResponse(_message.Message):
    __slots__ = ("workflows", "next_page_token", "revision", "etag", "not_modified")
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    NOT_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    workflows: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Workflow]
    next_page_token: str
    revision: int
    etag: str
    not_modified: bool
    def __init__(self, workflows: _Optional[_Iterable[_Union[_resources_pb2.Workflow, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., revision: _Optional[int] = ..., etag: _Optional[str] = ..., not_modified: _Optional[bool] = ...) -> None: ...

class GetWorkflowRequest(_message.Message):
    __slots__ = ("workflow_type", "if_none_match")
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    IF_NONE_MATCH_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    if_none_match: str
    def __init__(self, workflow_type: _Optional[str] = ..., if_none_match: _Optional[str] = ...) -> None: ...

class CreateWorkflowRequest(_message.Message):
    __slots__ = ("workflow", "validate_only")
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    workflow: _resources_pb2.Workflow
    validate_only: bool
    def __init__(self, workflow: _Optional[_Union[_resources_pb2.Workflow, _Mapping]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class ReplaceWorkflowRequest(_message.Message):
    __slots__ = ("workflow_type", "workflow", "validate_only", "override_reason")
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_REASON_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    workflow: _resources_pb2.Workflow
    validate_only: bool
    override_reason: str
    def __init__(self, workflow_type: _Optional[str] = ..., workflow: _Optional[_Union[_resources_pb2.Workflow, _Mapping]] = ..., validate_only: _Optional[bool] = ..., override_reason: _Optional[str] = ...) -> None: ...

class DeleteWorkflowRequest(_message.Message):
    __slots__ = ("workflow_type", "allow_missing")
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    ALLOW_MISSING_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    allow_missing: bool
    def __init__(self, workflow_type: _Optional[str] = ..., allow_missing: _Optional[bool] = ...) -> None: ...

class DeleteWorkflowResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EnableWorkflowRequest(_message.Message):
    __slots__ = ("workflow_type",)
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    def __init__(self, workflow_type: _Optional[str] = ...) -> None: ...

class DisableWorkflowRequest(_message.Message):
    __slots__ = ("workflow_type", "reason")
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    reason: str
    def __init__(self, workflow_type: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ShutdownRegistryRequest(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class ShutdownRegistryResponse(_message.Message):
    __slots__ = ("status", "previous_run_id", "run_id")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    status: str
    previous_run_id: str
    run_id: str
    def __init__(self, status: _Optional[str] = ..., previous_run_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class WatchCatalogRequest(_message.Message):
    __slots__ = ("resume_token",)
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    resume_token: str
    def __init__(self, resume_token: _Optional[str] = ...) -> None: ...

class CatalogEvent(_message.Message):
    __slots__ = ("type", "revision", "resume_token", "workflow", "worker")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TYPE_UNSPECIFIED: _ClassVar[CatalogEvent.Type]
        TYPE_SYNCED: _ClassVar[CatalogEvent.Type]
        TYPE_WORKFLOW_ADDED: _ClassVar[CatalogEvent.Type]
        TYPE_WORKFLOW_CHANGED: _ClassVar[CatalogEvent.Type]
        TYPE_WORKFLOW_REMOVED: _ClassVar[CatalogEvent.Type]
        TYPE_WORKFLOW_ENABLED: _ClassVar[CatalogEvent.Type]
        TYPE_WORKFLOW_DISABLED: _ClassVar[CatalogEvent.Type]
        TYPE_WORKFLOW_HEALTH_CHANGED: _ClassVar[CatalogEvent.Type]
        TYPE_WORKER_REGISTERED: _ClassVar[CatalogEvent.Type]
        TYPE_WORKER_CHANGED: _ClassVar[CatalogEvent.Type]
        TYPE_WORKER_EXPIRED: _ClassVar[CatalogEvent.Type]
        TYPE_WORKER_UNREGISTERED: _ClassVar[CatalogEvent.Type]
    TYPE_UNSPECIFIED: CatalogEvent.Type
    TYPE_SYNCED: CatalogEvent.Type
    TYPE_WORKFLOW_ADDED: CatalogEvent.Type
    TYPE_WORKFLOW_CHANGED: CatalogEvent.Type
    TYPE_WORKFLOW_REMOVED: CatalogEvent.Type
    TYPE_WORKFLOW_ENABLED: CatalogEvent.Type
    TYPE_WORKFLOW_DISABLED: CatalogEvent.Type
    TYPE_WORKFLOW_HEALTH_CHANGED: CatalogEvent.Type
    TYPE_WORKER_REGISTERED: CatalogEvent.Type
    TYPE_WORKER_CHANGED: CatalogEvent.Type
    TYPE_WORKER_EXPIRED: CatalogEvent.Type
    TYPE_WORKER_UNREGISTERED: CatalogEvent.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    type: CatalogEvent.Type
    revision: int
    resume_token: str
    workflow: _resources_pb2.Workflow
    worker: _resources_pb2.Worker
    def __init__(self, type: _Optional[_Union[CatalogEvent.Type, str]] = ..., revision: _Optional[int] = ..., resume_token: _Optional[str] = ..., workflow: _Optional[_Union[_resources_pb2.Workflow, _Mapping]] = ..., worker: _Optional[_Union[_resources_pb2.Worker, _Mapping]] = ...) -> None: ...
