from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetRegistryStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRegistryStatusResponse(_message.Message):
    __slots__ = ("workflow_count", "worker_count", "healthy_worker_count", "started_at_epoch", "last_registry_service_started_epoch", "registry_service_process_id", "registry_workflow_id", "registry_run_id", "history_length", "history_size_bytes", "continue_as_new_count", "namespace", "task_queue")
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
    def __init__(self, workflow_count: _Optional[int] = ..., worker_count: _Optional[int] = ..., healthy_worker_count: _Optional[int] = ..., started_at_epoch: _Optional[float] = ..., last_registry_service_started_epoch: _Optional[float] = ..., registry_service_process_id: _Optional[int] = ..., registry_workflow_id: _Optional[str] = ..., registry_run_id: _Optional[str] = ..., history_length: _Optional[int] = ..., history_size_bytes: _Optional[int] = ..., continue_as_new_count: _Optional[int] = ..., namespace: _Optional[str] = ..., task_queue: _Optional[str] = ...) -> None: ...
