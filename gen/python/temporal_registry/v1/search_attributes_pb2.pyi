from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListDeclaredSearchAttributesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeclaredSearchAttribute(_message.Message):
    __slots__ = ("name", "type", "description", "workflows")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    description: str
    workflows: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., description: _Optional[str] = ..., workflows: _Optional[_Iterable[str]] = ...) -> None: ...

class ListDeclaredSearchAttributesResponse(_message.Message):
    __slots__ = ("search_attributes",)
    SEARCH_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    search_attributes: _containers.RepeatedCompositeFieldContainer[DeclaredSearchAttribute]
    def __init__(self, search_attributes: _Optional[_Iterable[_Union[DeclaredSearchAttribute, _Mapping]]] = ...) -> None: ...

class ListTemporalSearchAttributesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TemporalSearchAttribute(_message.Message):
    __slots__ = ("name", "type", "source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    source: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class ListTemporalSearchAttributesResponse(_message.Message):
    __slots__ = ("search_attributes",)
    SEARCH_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    search_attributes: _containers.RepeatedCompositeFieldContainer[TemporalSearchAttribute]
    def __init__(self, search_attributes: _Optional[_Iterable[_Union[TemporalSearchAttribute, _Mapping]]] = ...) -> None: ...

class ReconcileSearchAttributesRequest(_message.Message):
    __slots__ = ("mode", "attributes", "confirm")
    MODE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_FIELD_NUMBER: _ClassVar[int]
    mode: str
    attributes: _containers.RepeatedScalarFieldContainer[str]
    confirm: bool
    def __init__(self, mode: _Optional[str] = ..., attributes: _Optional[_Iterable[str]] = ..., confirm: _Optional[bool] = ...) -> None: ...

class SearchAttributeType(_message.Message):
    __slots__ = ("name", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class SearchAttributeConflict(_message.Message):
    __slots__ = ("name", "existing_type", "desired_type", "source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXISTING_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESIRED_TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    existing_type: str
    desired_type: str
    source: str
    def __init__(self, name: _Optional[str] = ..., existing_type: _Optional[str] = ..., desired_type: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class RefusedSearchAttribute(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReconcileSearchAttributesResponse(_message.Message):
    __slots__ = ("mode", "desired", "existing", "missing", "conflicts", "added", "replaced", "unchanged", "warnings", "refused")
    MODE_FIELD_NUMBER: _ClassVar[int]
    DESIRED_FIELD_NUMBER: _ClassVar[int]
    EXISTING_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    mode: str
    desired: _containers.RepeatedCompositeFieldContainer[SearchAttributeType]
    existing: _containers.RepeatedCompositeFieldContainer[SearchAttributeType]
    missing: _containers.RepeatedScalarFieldContainer[str]
    conflicts: _containers.RepeatedCompositeFieldContainer[SearchAttributeConflict]
    added: _containers.RepeatedScalarFieldContainer[str]
    replaced: _containers.RepeatedScalarFieldContainer[str]
    unchanged: _containers.RepeatedScalarFieldContainer[str]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    refused: _containers.RepeatedCompositeFieldContainer[RefusedSearchAttribute]
    def __init__(self, mode: _Optional[str] = ..., desired: _Optional[_Iterable[_Union[SearchAttributeType, _Mapping]]] = ..., existing: _Optional[_Iterable[_Union[SearchAttributeType, _Mapping]]] = ..., missing: _Optional[_Iterable[str]] = ..., conflicts: _Optional[_Iterable[_Union[SearchAttributeConflict, _Mapping]]] = ..., added: _Optional[_Iterable[str]] = ..., replaced: _Optional[_Iterable[str]] = ..., unchanged: _Optional[_Iterable[str]] = ..., warnings: _Optional[_Iterable[str]] = ..., refused: _Optional[_Iterable[_Union[RefusedSearchAttribute, _Mapping]]] = ...) -> None: ...
