"""OpenAPI 3.1 for the HTTP/JSON API, derived from the descriptor set Envoy loads.

Routes, path and query parameters and bodies follow each RPC's `google.api.http` rule the
way Envoy's gRPC-JSON transcoder applies it; schemas follow proto3's JSON mapping with the
transcoder's print options (proto field names, int64 as strings, enums by name, every
primitive printed); descriptions are the proto comments. `make gen` writes the document
beside the generated stubs, and the registry serves it at /openapi.json.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from google.api import annotations_pb2, field_behavior_pb2, http_pb2
from google.protobuf import descriptor_pb2

from registry.server.auth import PUBLIC, required_scope

FieldProto = descriptor_pb2.FieldDescriptorProto
PACKAGE_PREFIX: Final = "temporal_registry."
STATUS: Final = "google.rpc.Status"
_PATH_PARAM = re.compile(r"\{([^}=]+)(=[^}]*)?\}")
_INT: Final = "^-?[0-9]+$"
_UINT: Final = "^[0-9]+$"
_SCALARS: Final[dict[int, dict[str, Any]]] = {
    FieldProto.TYPE_DOUBLE: {"type": "number"},
    FieldProto.TYPE_FLOAT: {"type": "number"},
    FieldProto.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldProto.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldProto.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldProto.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    FieldProto.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    # proto3 JSON prints 64-bit integers as strings and accepts both (a string of digits)
    FieldProto.TYPE_INT64: {"type": ["string", "integer"], "format": "int64", "pattern": _INT},
    FieldProto.TYPE_SINT64: {"type": ["string", "integer"], "format": "int64", "pattern": _INT},
    FieldProto.TYPE_SFIXED64: {"type": ["string", "integer"], "format": "int64", "pattern": _INT},
    FieldProto.TYPE_UINT64: {"type": ["string", "integer"], "format": "uint64", "pattern": _UINT},
    FieldProto.TYPE_FIXED64: {"type": ["string", "integer"], "format": "uint64", "pattern": _UINT},
    FieldProto.TYPE_BOOL: {"type": "boolean"},
    FieldProto.TYPE_STRING: {"type": "string"},
    FieldProto.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
_WELL_KNOWN: Final[dict[str, dict[str, Any]]] = {
    "google.protobuf.Struct": {"type": "object", "description": "Any JSON object."},
    "google.protobuf.Value": {"description": "Any JSON value."},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Duration": {
        "type": "string",
        "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$",
        "description": "A duration in seconds with an `s` suffix, e.g. `3600s` or `1.5s`.",
    },
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
}


class _Index:
    """Messages, enums and comments of a descriptor set, by full name."""

    def __init__(self, files: Iterable[descriptor_pb2.FileDescriptorProto]) -> None:
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.comments: dict[tuple[str, tuple[int, ...]], str] = {}
        self.paths: dict[str, tuple[str, tuple[int, ...]]] = {}
        self.services: list[tuple[str, descriptor_pb2.FileDescriptorProto, int]] = []
        for file in files:
            for location in file.source_code_info.location:
                text = location.leading_comments.strip()
                if text:
                    self.comments[(file.name, tuple(location.path))] = " ".join(
                        line.strip() for line in text.splitlines()
                    )
            self._walk(file, file.package, file.message_type, file.enum_type, ())
            if file.package.startswith(PACKAGE_PREFIX):
                for i, _ in enumerate(file.service):
                    self.services.append((file.package, file, i))

    def _walk(
        self,
        file: descriptor_pb2.FileDescriptorProto,
        scope: str,
        messages: Iterable[descriptor_pb2.DescriptorProto],
        enums: Iterable[descriptor_pb2.EnumDescriptorProto],
        path: tuple[int, ...],
    ) -> None:
        message_tag, enum_tag = (4, 5) if not path else (3, 4)
        for i, enum in enumerate(enums):
            name = f"{scope}.{enum.name}"
            self.enums[name] = enum
            self.paths[name] = (file.name, (*path, enum_tag, i))
        for i, message in enumerate(messages):
            name = f"{scope}.{message.name}"
            self.messages[name] = message
            self.paths[name] = (file.name, (*path, message_tag, i))
            self._walk(file, name, message.nested_type, message.enum_type, (*path, message_tag, i))

    def comment(self, name: str, *more: int) -> str:
        file, path = self.paths[name]
        return self.comments.get((file, (*path, *more)), "")


def openapi_document(descriptor_set: bytes, *, title: str, version: str) -> dict[str, Any]:
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set).file
    index = _Index(files)
    builder = _Builder(index)
    paths: dict[str, dict[str, Any]] = {}
    tags = []
    for package, file, i in index.services:
        service = file.service[i]
        service_comment = index.comments.get((file.name, (6, i)), "")
        tags.append({"name": service.name, "description": service_comment})
        for j, method in enumerate(service.method):
            rule = method.options.Extensions[annotations_pb2.http]
            for binding in (rule, *rule.additional_bindings):
                verb, path = _route(binding)
                if not verb:
                    continue
                comment = index.comments.get((file.name, (6, i, 2, j)), "")
                operation = builder.operation(
                    f"{package}.{service.name}", method, binding, path, comment
                )
                paths.setdefault(_openapi_path(path), {})[verb] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "The HTTP/JSON face of the gRPC API, served by Envoy's gRPC-JSON "
            "transcoder. Every error is a google.rpc.Status.",
        },
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(builder.schemas.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token with the scope the operation needs: worker, client "
                    "or admin (admin may do everything).",
                }
            },
        },
    }


def _route(rule: http_pb2.HttpRule) -> tuple[str, str]:
    kind = rule.WhichOneof("pattern")
    if kind in ("get", "put", "post", "delete", "patch"):
        return kind, getattr(rule, kind)
    return "", ""


def _openapi_path(template: str) -> str:
    return _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", template)


class _Builder:
    def __init__(self, index: _Index) -> None:
        self.index = index
        self.schemas: dict[str, dict[str, Any]] = {}

    def operation(
        self,
        service: str,
        method: descriptor_pb2.MethodDescriptorProto,
        rule: http_pb2.HttpRule,
        path: str,
        comment: str,
    ) -> dict[str, Any]:
        request = self.index.messages[method.input_type.lstrip(".")]
        path_fields = [m.group(1) for m in _PATH_PARAM.finditer(path)]
        fields = {f.name: f for f in request.field}
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": self.field_schema(fields[name]),
                **self._described(method.input_type.lstrip("."), fields, name),
            }
            for name in path_fields
            if name in fields
        ]
        scope = required_scope(f"/{service}/{method.name}")
        if scope != PUBLIC:
            comment = f"{comment} Needs a token with the {scope} scope.".strip()
        operation: dict[str, Any] = {
            "operationId": f"{service.rsplit('.', 1)[1]}_{method.name}",
            "security": [{"bearer": []}] if scope != PUBLIC else [],
            "tags": [service.rsplit(".", 1)[1]],
            "summary": comment.split(". ")[0].rstrip(".") if comment else method.name,
            "description": comment,
        }
        if rule.body == "*":
            body_schema = self.message_schema(method.input_type, exclude=set(path_fields))
            operation["requestBody"] = _json_body(body_schema)
        elif rule.body:
            operation["requestBody"] = _json_body(self.field_schema(fields[rule.body]))
        if rule.body != "*":
            for name, field in fields.items():
                if name in path_fields or name == rule.body or not self._query_field(field):
                    continue
                parameters.append(
                    {
                        "name": name,
                        "in": "query",
                        "schema": self.field_schema(field),
                        **self._described(method.input_type.lstrip("."), fields, name),
                    }
                )
        if parameters:
            operation["parameters"] = parameters
        response = (
            self.field_schema(self.index.messages[method.output_type.lstrip(".")].field[0])
            if rule.response_body
            else self.ref(method.output_type)
        )
        ok: dict[str, Any] = {
            "description": "OK",
            "content": {"application/json": {"schema": response}},
        }
        conditional = "if_none_match" in fields
        if conditional:  # a catalogue read: ETag, If-None-Match, 304 (docs/registry.md)
            ok["headers"] = {"ETag": {"schema": {"type": "string"}, "description": _ETAG}}
            parameters.append(
                {
                    "name": "If-None-Match",
                    "in": "header",
                    "schema": {"type": "string"},
                    "description": "The ETag of an answer held: 304 while it is the same.",
                }
            )
            operation["parameters"] = parameters
        if method.server_streaming:
            ok["description"] = "OK: one JSON object per line, as they come."
        operation["responses"] = {
            "200": ok,
            **(
                {"304": {"description": "Not Modified: the held answer is current."}}
                if conditional
                else {}
            ),
            "default": {
                "description": "An error: a google.rpc.Status with an ErrorInfo (reason, "
                "domain) and, for bad input, a BadRequest with one violation per field.",
                "content": {"application/json": {"schema": self.ref(STATUS)}},
            },
        }
        return operation

    def _described(self, message: str, fields: dict[str, FieldProto], name: str) -> dict[str, str]:
        number = list(fields).index(name)
        text = self.index.comment(message, 2, number)
        return {"description": text} if text else {}

    def _query_field(self, field: FieldProto) -> bool:
        if field.type == FieldProto.TYPE_MESSAGE:
            return field.type_name.lstrip(".") in ("google.protobuf.Duration",)
        return True

    def ref(self, type_name: str) -> dict[str, Any]:
        name = type_name.lstrip(".")
        if name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[name])
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder: recursion stops here
            if name in self.index.enums:
                self.schemas[name] = self.enum_schema(name)
            else:
                self.schemas[name] = self.message_schema(name)
        return {"$ref": f"#/components/schemas/{name}"}

    def enum_schema(self, name: str) -> dict[str, Any]:
        enum = self.index.enums[name]
        schema: dict[str, Any] = {"type": "string", "enum": [v.name for v in enum.value]}
        text = self.index.comment(name)
        if text:
            schema["description"] = text
        return schema

    def message_schema(self, type_name: str, exclude: set[str] | None = None) -> dict[str, Any]:
        name = type_name.lstrip(".")
        message = self.index.messages[name]
        properties: dict[str, Any] = {}
        required = []
        for number, field in enumerate(message.field):
            if exclude and field.name in exclude:
                continue
            schema = self.field_schema(field)
            text = self.index.comment(name, 2, number)
            behaviors = field.options.Extensions[field_behavior_pb2.field_behavior]
            if text:
                schema = (
                    {**schema, "description": text}
                    if "$ref" not in schema
                    else {
                        "allOf": [schema],
                        "description": text,
                    }
                )
            if field_behavior_pb2.OUTPUT_ONLY in behaviors:
                schema = {**schema, "readOnly": True}
            if field_behavior_pb2.REQUIRED in behaviors:
                required.append(field.name)
            properties[field.name] = schema
        out: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            out["required"] = required
        text = self.index.comment(name)
        if text:
            out["description"] = text
        return out

    def field_schema(self, field: FieldProto) -> dict[str, Any]:
        if field.type == FieldProto.TYPE_MESSAGE:
            entry = self.index.messages.get(field.type_name.lstrip("."))
            if entry is not None and entry.options.map_entry:
                return {"type": "object", "additionalProperties": self.field_schema(entry.field[1])}
            item = self.ref(field.type_name)
        elif field.type == FieldProto.TYPE_ENUM:
            item = self.ref(field.type_name)
        else:
            item = dict(_SCALARS[field.type])
        if field.label == FieldProto.LABEL_REPEATED:
            return {"type": "array", "items": item}
        return item


_ETAG = "Weak validator of the answer (the catalogue's revision and health)."


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}
