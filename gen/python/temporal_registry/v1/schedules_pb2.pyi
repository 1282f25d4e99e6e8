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

class ScheduleSpec(_message.Message):
    __slots__ = ("cron_expressions", "calendars", "intervals", "exclude_calendars", "jitter_seconds", "time_zone_name")
    CRON_EXPRESSIONS_FIELD_NUMBER: _ClassVar[int]
    CALENDARS_FIELD_NUMBER: _ClassVar[int]
    INTERVALS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_CALENDARS_FIELD_NUMBER: _ClassVar[int]
    JITTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_NAME_FIELD_NUMBER: _ClassVar[int]
    cron_expressions: _containers.RepeatedScalarFieldContainer[str]
    calendars: _containers.RepeatedCompositeFieldContainer[CalendarSpec]
    intervals: _containers.RepeatedCompositeFieldContainer[IntervalSpec]
    exclude_calendars: _containers.RepeatedCompositeFieldContainer[CalendarSpec]
    jitter_seconds: int
    time_zone_name: str
    def __init__(self, cron_expressions: _Optional[_Iterable[str]] = ..., calendars: _Optional[_Iterable[_Union[CalendarSpec, _Mapping]]] = ..., intervals: _Optional[_Iterable[_Union[IntervalSpec, _Mapping]]] = ..., exclude_calendars: _Optional[_Iterable[_Union[CalendarSpec, _Mapping]]] = ..., jitter_seconds: _Optional[int] = ..., time_zone_name: _Optional[str] = ...) -> None: ...

class CalendarSpec(_message.Message):
    __slots__ = ("second", "minute", "hour", "day_of_month", "month", "year", "day_of_week", "comment")
    SECOND_FIELD_NUMBER: _ClassVar[int]
    MINUTE_FIELD_NUMBER: _ClassVar[int]
    HOUR_FIELD_NUMBER: _ClassVar[int]
    DAY_OF_MONTH_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    YEAR_FIELD_NUMBER: _ClassVar[int]
    DAY_OF_WEEK_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    second: str
    minute: str
    hour: str
    day_of_month: str
    month: str
    year: str
    day_of_week: str
    comment: str
    def __init__(self, second: _Optional[str] = ..., minute: _Optional[str] = ..., hour: _Optional[str] = ..., day_of_month: _Optional[str] = ..., month: _Optional[str] = ..., year: _Optional[str] = ..., day_of_week: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class IntervalSpec(_message.Message):
    __slots__ = ("every_seconds", "offset_seconds")
    EVERY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OFFSET_SECONDS_FIELD_NUMBER: _ClassVar[int]
    every_seconds: int
    offset_seconds: int
    def __init__(self, every_seconds: _Optional[int] = ..., offset_seconds: _Optional[int] = ...) -> None: ...

class CreateScheduleRequest(_message.Message):
    __slots__ = ("schedule_id", "workflow_type", "workflow_id", "input", "interval_seconds", "fire_offsets_seconds", "start_at", "end_at", "overlap_policy", "search_attributes", "note", "spec", "catchup_window_seconds", "pause_on_failure", "remaining_actions", "paused", "label_selector")
    class SearchAttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FIRE_OFFSETS_SECONDS_FIELD_NUMBER: _ClassVar[int]
    START_AT_FIELD_NUMBER: _ClassVar[int]
    END_AT_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_POLICY_FIELD_NUMBER: _ClassVar[int]
    SEARCH_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    CATCHUP_WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PAUSE_ON_FAILURE_FIELD_NUMBER: _ClassVar[int]
    REMAINING_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    workflow_type: str
    workflow_id: str
    input: _struct_pb2.Value
    interval_seconds: int
    fire_offsets_seconds: _containers.RepeatedScalarFieldContainer[int]
    start_at: str
    end_at: str
    overlap_policy: str
    search_attributes: _containers.MessageMap[str, _struct_pb2.Value]
    note: str
    spec: ScheduleSpec
    catchup_window_seconds: int
    pause_on_failure: bool
    remaining_actions: int
    paused: bool
    label_selector: str
    def __init__(self, schedule_id: _Optional[str] = ..., workflow_type: _Optional[str] = ..., workflow_id: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., interval_seconds: _Optional[int] = ..., fire_offsets_seconds: _Optional[_Iterable[int]] = ..., start_at: _Optional[str] = ..., end_at: _Optional[str] = ..., overlap_policy: _Optional[str] = ..., search_attributes: _Optional[_Mapping[str, _struct_pb2.Value]] = ..., note: _Optional[str] = ..., spec: _Optional[_Union[ScheduleSpec, _Mapping]] = ..., catchup_window_seconds: _Optional[int] = ..., pause_on_failure: _Optional[bool] = ..., remaining_actions: _Optional[int] = ..., paused: _Optional[bool] = ..., label_selector: _Optional[str] = ...) -> None: ...

class CreateScheduleResponse(_message.Message):
    __slots__ = ("warnings", "schedule")
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    warnings: _containers.RepeatedCompositeFieldContainer[_resources_pb2.InputWarning]
    schedule: Schedule
    def __init__(self, warnings: _Optional[_Iterable[_Union[_resources_pb2.InputWarning, _Mapping]]] = ..., schedule: _Optional[_Union[Schedule, _Mapping]] = ...) -> None: ...

class ScheduleRunningWorkflow(_message.Message):
    __slots__ = ("workflow_id", "first_execution_run_id")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_EXECUTION_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    first_execution_run_id: str
    def __init__(self, workflow_id: _Optional[str] = ..., first_execution_run_id: _Optional[str] = ...) -> None: ...

class ScheduleRecentAction(_message.Message):
    __slots__ = ("scheduled_at", "started_at", "workflow_id")
    SCHEDULED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    scheduled_at: str
    started_at: str
    workflow_id: str
    def __init__(self, scheduled_at: _Optional[str] = ..., started_at: _Optional[str] = ..., workflow_id: _Optional[str] = ...) -> None: ...

class Schedule(_message.Message):
    __slots__ = ("id", "paused", "next_fires", "running", "recent", "note", "workflow_type", "workflow_id", "task_queue", "input", "spec", "overlap_policy", "catchup_window_seconds", "pause_on_failure", "remaining_actions", "limited_actions", "action_count", "conflict_token", "input_valid", "input_violations", "managed", "start_at", "end_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIRES_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    RECENT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_POLICY_FIELD_NUMBER: _ClassVar[int]
    CATCHUP_WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PAUSE_ON_FAILURE_FIELD_NUMBER: _ClassVar[int]
    REMAINING_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    LIMITED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    ACTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INPUT_VALID_FIELD_NUMBER: _ClassVar[int]
    INPUT_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    MANAGED_FIELD_NUMBER: _ClassVar[int]
    START_AT_FIELD_NUMBER: _ClassVar[int]
    END_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    paused: bool
    next_fires: _containers.RepeatedScalarFieldContainer[str]
    running: _containers.RepeatedCompositeFieldContainer[ScheduleRunningWorkflow]
    recent: _containers.RepeatedCompositeFieldContainer[ScheduleRecentAction]
    note: str
    workflow_type: str
    workflow_id: str
    task_queue: str
    input: _struct_pb2.Value
    spec: ScheduleSpec
    overlap_policy: str
    catchup_window_seconds: int
    pause_on_failure: bool
    remaining_actions: int
    limited_actions: bool
    action_count: int
    conflict_token: str
    input_valid: bool
    input_violations: _containers.RepeatedCompositeFieldContainer[_resources_pb2.InputWarning]
    managed: bool
    start_at: str
    end_at: str
    def __init__(self, id: _Optional[str] = ..., paused: _Optional[bool] = ..., next_fires: _Optional[_Iterable[str]] = ..., running: _Optional[_Iterable[_Union[ScheduleRunningWorkflow, _Mapping]]] = ..., recent: _Optional[_Iterable[_Union[ScheduleRecentAction, _Mapping]]] = ..., note: _Optional[str] = ..., workflow_type: _Optional[str] = ..., workflow_id: _Optional[str] = ..., task_queue: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., spec: _Optional[_Union[ScheduleSpec, _Mapping]] = ..., overlap_policy: _Optional[str] = ..., catchup_window_seconds: _Optional[int] = ..., pause_on_failure: _Optional[bool] = ..., remaining_actions: _Optional[int] = ..., limited_actions: _Optional[bool] = ..., action_count: _Optional[int] = ..., conflict_token: _Optional[str] = ..., input_valid: _Optional[bool] = ..., input_violations: _Optional[_Iterable[_Union[_resources_pb2.InputWarning, _Mapping]]] = ..., managed: _Optional[bool] = ..., start_at: _Optional[str] = ..., end_at: _Optional[str] = ...) -> None: ...

class GetScheduleRequest(_message.Message):
    __slots__ = ("schedule_id",)
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    def __init__(self, schedule_id: _Optional[str] = ...) -> None: ...

class ListSchedulesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "workflow_type")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    workflow_type: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., workflow_type: _Optional[str] = ...) -> None: ...

class ScheduleSummary(_message.Message):
    __slots__ = ("id", "workflow_type", "paused", "note", "next_fires")
    ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIRES_FIELD_NUMBER: _ClassVar[int]
    id: str
    workflow_type: str
    paused: bool
    note: str
    next_fires: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., workflow_type: _Optional[str] = ..., paused: _Optional[bool] = ..., note: _Optional[str] = ..., next_fires: _Optional[_Iterable[str]] = ...) -> None: ...

class ListSchedulesResponse(_message.Message):
    __slots__ = ("schedules", "next_page_token")
    SCHEDULES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    schedules: _containers.RepeatedCompositeFieldContainer[ScheduleSummary]
    next_page_token: str
    def __init__(self, schedules: _Optional[_Iterable[_Union[ScheduleSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateScheduleRequest(_message.Message):
    __slots__ = ("schedule_id", "conflict_token", "workflow_type", "workflow_id", "input", "interval_seconds", "start_at", "end_at", "overlap_policy", "search_attributes", "spec", "catchup_window_seconds", "pause_on_failure", "remaining_actions", "follow_task_queue", "label_selector")
    class SearchAttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    START_AT_FIELD_NUMBER: _ClassVar[int]
    END_AT_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_POLICY_FIELD_NUMBER: _ClassVar[int]
    SEARCH_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    CATCHUP_WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PAUSE_ON_FAILURE_FIELD_NUMBER: _ClassVar[int]
    REMAINING_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    conflict_token: str
    workflow_type: str
    workflow_id: str
    input: _struct_pb2.Value
    interval_seconds: int
    start_at: str
    end_at: str
    overlap_policy: str
    search_attributes: _containers.MessageMap[str, _struct_pb2.Value]
    spec: ScheduleSpec
    catchup_window_seconds: int
    pause_on_failure: bool
    remaining_actions: int
    follow_task_queue: bool
    label_selector: str
    def __init__(self, schedule_id: _Optional[str] = ..., conflict_token: _Optional[str] = ..., workflow_type: _Optional[str] = ..., workflow_id: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., interval_seconds: _Optional[int] = ..., start_at: _Optional[str] = ..., end_at: _Optional[str] = ..., overlap_policy: _Optional[str] = ..., search_attributes: _Optional[_Mapping[str, _struct_pb2.Value]] = ..., spec: _Optional[_Union[ScheduleSpec, _Mapping]] = ..., catchup_window_seconds: _Optional[int] = ..., pause_on_failure: _Optional[bool] = ..., remaining_actions: _Optional[int] = ..., follow_task_queue: _Optional[bool] = ..., label_selector: _Optional[str] = ...) -> None: ...

class PauseScheduleRequest(_message.Message):
    __slots__ = ("schedule_id", "note")
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    note: str
    def __init__(self, schedule_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class UnpauseScheduleRequest(_message.Message):
    __slots__ = ("schedule_id", "note")
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    note: str
    def __init__(self, schedule_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class TriggerScheduleRequest(_message.Message):
    __slots__ = ("schedule_id", "overlap_policy")
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_POLICY_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    overlap_policy: str
    def __init__(self, schedule_id: _Optional[str] = ..., overlap_policy: _Optional[str] = ...) -> None: ...

class TriggerScheduleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BackfillScheduleRequest(_message.Message):
    __slots__ = ("schedule_id", "start_at", "end_at", "overlap_policy")
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    START_AT_FIELD_NUMBER: _ClassVar[int]
    END_AT_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_POLICY_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    start_at: str
    end_at: str
    overlap_policy: str
    def __init__(self, schedule_id: _Optional[str] = ..., start_at: _Optional[str] = ..., end_at: _Optional[str] = ..., overlap_policy: _Optional[str] = ...) -> None: ...

class BackfillScheduleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteScheduleRequest(_message.Message):
    __slots__ = ("schedule_id",)
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    def __init__(self, schedule_id: _Optional[str] = ...) -> None: ...

class DeleteScheduleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
