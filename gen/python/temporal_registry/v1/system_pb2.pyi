from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetHealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetHealthResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: str
    def __init__(self, status: _Optional[str] = ...) -> None: ...

class GetReadinessRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetReadinessResponse(_message.Message):
    __slots__ = ("status", "registry_workflow_id", "registry_run_id")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    status: str
    registry_workflow_id: str
    registry_run_id: str
    def __init__(self, status: _Optional[str] = ..., registry_workflow_id: _Optional[str] = ..., registry_run_id: _Optional[str] = ...) -> None: ...
