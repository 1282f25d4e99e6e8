import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from temporal_registry.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WorkflowIdConflictPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED: _ClassVar[WorkflowIdConflictPolicy]
    WORKFLOW_ID_CONFLICT_POLICY_FAIL: _ClassVar[WorkflowIdConflictPolicy]
    WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING: _ClassVar[WorkflowIdConflictPolicy]
    WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING: _ClassVar[WorkflowIdConflictPolicy]

class WorkflowIdReusePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED: _ClassVar[WorkflowIdReusePolicy]
    WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE: _ClassVar[WorkflowIdReusePolicy]
    WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY: _ClassVar[WorkflowIdReusePolicy]
    WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE: _ClassVar[WorkflowIdReusePolicy]
WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED: WorkflowIdConflictPolicy
WORKFLOW_ID_CONFLICT_POLICY_FAIL: WorkflowIdConflictPolicy
WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING: WorkflowIdConflictPolicy
WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING: WorkflowIdConflictPolicy
WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED: WorkflowIdReusePolicy
WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE: WorkflowIdReusePolicy
WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY: WorkflowIdReusePolicy
WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE: WorkflowIdReusePolicy

class StartWorkflowRequest(_message.Message):
    __slots__ = ("workflow_type", "input", "workflow_id", "name", "request_id", "search_attributes", "memo", "label_selector", "id_conflict_policy", "id_reuse_policy", "execution_timeout", "run_timeout", "validate_only")
    class SearchAttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    class MemoEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SEARCH_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    ID_CONFLICT_POLICY_FIELD_NUMBER: _ClassVar[int]
    ID_REUSE_POLICY_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RUN_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    input: _struct_pb2.Value
    workflow_id: str
    name: str
    request_id: str
    search_attributes: _containers.MessageMap[str, _struct_pb2.Value]
    memo: _containers.MessageMap[str, _struct_pb2.Value]
    label_selector: str
    id_conflict_policy: WorkflowIdConflictPolicy
    id_reuse_policy: WorkflowIdReusePolicy
    execution_timeout: _duration_pb2.Duration
    run_timeout: _duration_pb2.Duration
    validate_only: bool
    def __init__(self, workflow_type: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., workflow_id: _Optional[str] = ..., name: _Optional[str] = ..., request_id: _Optional[str] = ..., search_attributes: _Optional[_Mapping[str, _struct_pb2.Value]] = ..., memo: _Optional[_Mapping[str, _struct_pb2.Value]] = ..., label_selector: _Optional[str] = ..., id_conflict_policy: _Optional[_Union[WorkflowIdConflictPolicy, str]] = ..., id_reuse_policy: _Optional[_Union[WorkflowIdReusePolicy, str]] = ..., execution_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., run_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class StartWorkflowResponse(_message.Message):
    __slots__ = ("workflow_id", "run_id", "task_queue", "workflow_type", "started", "warnings")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    run_id: str
    task_queue: str
    workflow_type: str
    started: bool
    warnings: _containers.RepeatedCompositeFieldContainer[_resources_pb2.InputWarning]
    def __init__(self, workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., task_queue: _Optional[str] = ..., workflow_type: _Optional[str] = ..., started: _Optional[bool] = ..., warnings: _Optional[_Iterable[_Union[_resources_pb2.InputWarning, _Mapping]]] = ...) -> None: ...

class ChainStep(_message.Message):
    __slots__ = ("agent_id", "prompt")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    prompt: str
    def __init__(self, agent_id: _Optional[str] = ..., prompt: _Optional[str] = ...) -> None: ...

class RunRequest(_message.Message):
    __slots__ = ("workflow_type", "agent_id", "workspace", "prompt", "agent_acp_provider", "chain", "chain_mode", "name", "request_id")
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    AGENT_ACP_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    CHAIN_MODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    agent_id: str
    workspace: str
    prompt: str
    agent_acp_provider: str
    chain: _containers.RepeatedCompositeFieldContainer[ChainStep]
    chain_mode: str
    name: str
    request_id: str
    def __init__(self, workflow_type: _Optional[str] = ..., agent_id: _Optional[str] = ..., workspace: _Optional[str] = ..., prompt: _Optional[str] = ..., agent_acp_provider: _Optional[str] = ..., chain: _Optional[_Iterable[_Union[ChainStep, _Mapping]]] = ..., chain_mode: _Optional[str] = ..., name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RunResponse(_message.Message):
    __slots__ = ("workflow_id", "run_id")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    run_id: str
    def __init__(self, workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class ClaimWorkflowIdRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ClaimWorkflowIdResponse(_message.Message):
    __slots__ = ("slug", "counter", "workflow_id")
    SLUG_FIELD_NUMBER: _ClassVar[int]
    COUNTER_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    slug: str
    counter: int
    workflow_id: str
    def __init__(self, slug: _Optional[str] = ..., counter: _Optional[int] = ..., workflow_id: _Optional[str] = ...) -> None: ...

class ResetWorkflowIdRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ResetWorkflowIdResponse(_message.Message):
    __slots__ = ("slug", "previous_counter", "reset_to")
    SLUG_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_COUNTER_FIELD_NUMBER: _ClassVar[int]
    RESET_TO_FIELD_NUMBER: _ClassVar[int]
    slug: str
    previous_counter: int
    reset_to: int
    def __init__(self, slug: _Optional[str] = ..., previous_counter: _Optional[int] = ..., reset_to: _Optional[int] = ...) -> None: ...

class ListWorkflowIdsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SlugCounter(_message.Message):
    __slots__ = ("slug", "counter", "last_claimed_epoch")
    SLUG_FIELD_NUMBER: _ClassVar[int]
    COUNTER_FIELD_NUMBER: _ClassVar[int]
    LAST_CLAIMED_EPOCH_FIELD_NUMBER: _ClassVar[int]
    slug: str
    counter: int
    last_claimed_epoch: float
    def __init__(self, slug: _Optional[str] = ..., counter: _Optional[int] = ..., last_claimed_epoch: _Optional[float] = ...) -> None: ...

class ListWorkflowIdsResponse(_message.Message):
    __slots__ = ("slug_counters", "next_page_token")
    SLUG_COUNTERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    slug_counters: _containers.RepeatedCompositeFieldContainer[SlugCounter]
    next_page_token: str
    def __init__(self, slug_counters: _Optional[_Iterable[_Union[SlugCounter, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
