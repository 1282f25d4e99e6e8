"""The Envoy gateway: render gateway/envoy.template.yaml and build Envoy's command line.

Envoy's static YAML has no variable substitution, so the template's `${NAME}`
placeholders are filled from a GatewayLayout with registry.interpolate. One of them is the
request-body check, gateway/request_body.lua, preceded by the rules it checks against,
generated here from the descriptor set (body_rules).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from registry.devstack.binaries import venv_binary
from registry.server.limits import MAX_REQUEST_HEADERS_KB
from registry.shared.interpolate import interpolate

if TYPE_CHECKING:
    from registry.server.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "gateway" / "envoy.template.yaml"
DEFAULT_DESCRIPTOR = REPO_ROOT / "gen" / "descriptor.binpb"
REQUEST_BODY_LUA = REPO_ROOT / "gateway" / "request_body.lua"
TRANSCODED_PACKAGE_PREFIX = "temporal_registry."


@dataclass(frozen=True)
class GatewayLayout:
    """Where Envoy listens and where it sends requests."""

    listen_host: str  # Envoy's HTTP+gRPC listener
    listen_port: int
    admin_host: str  # Envoy admin (loopback only in dev/tests)
    admin_port: int
    registry_grpc_host: str  # upstream: the registry's gRPC server (HTTP/2 cleartext)
    registry_grpc_port: int
    registry_http_host: str  # upstream: the registry's plain-HTTP listener
    registry_http_port: int
    descriptor_path: str  # absolute path of the descriptor set Envoy loads
    max_request_bytes: int
    max_response_bytes: int
    services: tuple[str, ...]  # fully-qualified services to transcode
    # The descriptor set, read here, that the request-body check is generated from: the one
    # Envoy loads (descriptor_path may name it as Envoy's container sees it).
    rules_descriptor: Path = field(default=DEFAULT_DESCRIPTOR)

    def template_env(self) -> dict[str, str]:
        """The template's placeholder values, as strings."""
        return {
            "LISTEN_HOST": self.listen_host,
            "LISTEN_PORT": str(self.listen_port),
            "ADMIN_HOST": self.admin_host,
            "ADMIN_PORT": str(self.admin_port),
            "REGISTRY_GRPC_HOST": self.registry_grpc_host,
            "REGISTRY_GRPC_PORT": str(self.registry_grpc_port),
            "REGISTRY_HTTP_HOST": self.registry_http_host,
            "REGISTRY_HTTP_PORT": str(self.registry_http_port),
            "DESCRIPTOR_PATH": self.descriptor_path,
            "MAX_REQUEST_BYTES": str(self.max_request_bytes),
            "MAX_RESPONSE_BYTES": str(self.max_response_bytes),
            # The stream buffer limit the transcoded message meets: the transcoder raises
            # it to the larger of its request and response body limits.
            "MAX_TRANSCODED_BYTES": str(max(self.max_request_bytes, self.max_response_bytes)),
            "MAX_REQUEST_HEADERS_KB": str(MAX_REQUEST_HEADERS_KB),
            # A JSON array of strings is a valid YAML flow list.
            "SERVICES": json.dumps(list(self.services)),
        }


def transcoded_services(descriptor_path: Path) -> tuple[str, ...]:
    """Every service of the descriptor set's temporal_registry.* packages, fully qualified."""
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(descriptor_path.read_bytes())
    return tuple(
        f"{file.package}.{service.name}"
        for file in descriptor_set.file
        if file.package.startswith(TRANSCODED_PACKAGE_PREFIX)
        for service in file.service
    )


def render_envoy_config(layout: GatewayLayout, template: Path | None = None) -> str:
    """The Envoy static config for layout (default template: gateway/envoy.template.yaml)."""
    text = (template or DEFAULT_TEMPLATE).read_text(encoding="utf-8")
    env = layout.template_env()
    env["REQUEST_BODY_LUA"] = _indented(
        request_body_lua(layout.rules_descriptor), _column(text, "${REQUEST_BODY_LUA}")
    )
    return interpolate(text, env)


def _column(text: str, placeholder: str) -> int:
    """The column of placeholder, which must stand alone on its line of text."""
    for line in text.splitlines():
        if line.strip() == placeholder:
            return len(line) - len(line.lstrip(" "))
    raise ValueError(f"{placeholder} must stand alone on a line of the template")


def _indented(block: str, column: int) -> str:
    """block for a YAML block scalar whose first line is already indented by column."""
    pad = " " * column
    return "\n".join(
        pad + line if line and i else line for i, line in enumerate(block.splitlines())
    )


# ---------------------------------------------------------------- the request-body check
#
# gateway/request_body.lua checks each HTTP/JSON request body against a table made here from
# the descriptor set: every field a request message has (proto name, json_name, kind) and
# every google.api.http rule (verb, path template, gRPC method, what the body holds).

_FieldProto = descriptor_pb2.FieldDescriptorProto
_NUMBER_TYPES: Final = frozenset(
    {
        _FieldProto.TYPE_DOUBLE,
        _FieldProto.TYPE_FLOAT,
        _FieldProto.TYPE_INT32,
        _FieldProto.TYPE_INT64,
        _FieldProto.TYPE_UINT32,
        _FieldProto.TYPE_UINT64,
        _FieldProto.TYPE_SINT32,
        _FieldProto.TYPE_SINT64,
        _FieldProto.TYPE_FIXED32,
        _FieldProto.TYPE_FIXED64,
        _FieldProto.TYPE_SFIXED32,
        _FieldProto.TYPE_SFIXED64,
    }
)
# Well-known types with a JSON form of their own (proto3 JSON mapping).
_WELL_KNOWN_KINDS: Final = {
    "google.protobuf.Struct": "struct",
    "google.protobuf.Value": "value",
    "google.protobuf.ListValue": "listvalue",
    "google.protobuf.Any": "struct",
    "google.protobuf.Duration": "wkt",
    "google.protobuf.Timestamp": "wkt",
    "google.protobuf.FieldMask": "string",
    "google.protobuf.StringValue": "string",
    "google.protobuf.BytesValue": "string",
    "google.protobuf.BoolValue": "bool",
    **{
        f"google.protobuf.{name}Value": "number"
        for name in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32")
    },
}
_TEMPLATE_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(=\*)?\}")
_TEMPLATE_LITERAL = re.compile(r"[A-Za-z0-9._~-]+")

Spec = dict[str, Any]


@dataclass(frozen=True)
class BodyRoute:
    """One google.api.http rule, as the request-body check sees it."""

    verb: str  # GET, POST, ...
    template: str  # /registry/workers/{worker_id}/heartbeat
    rpc: str  # /temporal_registry.v1.RegistryService/Heartbeat: the transcoder's :path
    prefix: str  # field path of the body in the request message ("" for body "*")
    root: Spec  # what the body holds: {"k": "none"} when the rule has no body


@dataclass(frozen=True)
class BodyRules:
    """Every transcoded route and the fields of every message a request body may hold."""

    routes: tuple[BodyRoute, ...]
    # full name -> (proto name, json_name, spec) of each field
    messages: dict[str, tuple[tuple[str, str, Spec], ...]]


def body_rules(descriptor_set: descriptor_pb2.FileDescriptorSet) -> BodyRules:
    """The rules of the request-body check for the temporal_registry services."""
    messages = {
        name: message
        for file in descriptor_set.file
        for name, message in _messages(file.package, file.message_type)
    }
    routes: list[BodyRoute] = []
    for file in descriptor_set.file:
        if not file.package.startswith(TRANSCODED_PACKAGE_PREFIX):
            continue
        for service in file.service:
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                for binding in (rule, *rule.additional_bindings):
                    kind = binding.WhichOneof("pattern")
                    if kind not in ("get", "put", "post", "delete", "patch"):
                        continue
                    template = getattr(binding, kind)
                    _check_template(template)
                    request = method.input_type.lstrip(".")
                    if binding.body == "*":
                        prefix, root = "", {"k": "message", "t": request}
                    elif binding.body:
                        (body_field,) = (
                            f for f in messages[request].field if f.name == binding.body
                        )
                        prefix, root = binding.body, _spec(body_field, messages)
                    else:
                        prefix, root = "", {"k": "none"}
                    routes.append(
                        BodyRoute(
                            kind.upper(),
                            template,
                            f"/{file.package}.{service.name}/{method.name}",
                            prefix,
                            root,
                        )
                    )
    # A literal segment wins over a variable, as in the transcoder's path matcher.
    routes.sort(key=lambda r: (r.template.count("{"), r.template, r.verb))
    reachable: dict[str, tuple[tuple[str, str, Spec], ...]] = {}
    pending = [r.root for r in routes]
    while pending:
        spec = pending.pop()
        pending.extend(s for key in ("v", "i") if (s := spec.get(key)) is not None)
        name = spec.get("t")
        if name is None or name in reachable:
            continue
        fields = tuple(
            (f.name, f.json_name or _json_name(f.name), _spec(f, messages))
            for f in messages[name].field
        )
        reachable[name] = fields
        pending.extend(spec for _, _, spec in fields)
    return BodyRules(tuple(routes), dict(sorted(reachable.items())))


def _messages(
    scope: str, messages: Iterable[descriptor_pb2.DescriptorProto]
) -> Iterable[tuple[str, descriptor_pb2.DescriptorProto]]:
    for message in messages:
        name = f"{scope}.{message.name}"
        yield name, message
        yield from _messages(name, message.nested_type)


def _check_template(template: str) -> None:
    """Only what request_body.lua matches: literal segments and single-segment variables."""
    for segment in template.split("/")[1:]:
        if not (_TEMPLATE_VARIABLE.fullmatch(segment) or _TEMPLATE_LITERAL.fullmatch(segment)):
            raise ValueError(f"path template {template!r}: segment {segment!r} is not supported")


def _json_name(name: str) -> str:
    """protoc's default json_name: lowerCamelCase of the field name."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _spec(
    field: descriptor_pb2.FieldDescriptorProto,
    messages: dict[str, descriptor_pb2.DescriptorProto],
) -> Spec:
    """What the JSON value of field may be."""
    if field.type == _FieldProto.TYPE_MESSAGE:
        name = field.type_name.lstrip(".")
        entry = messages[name]
        if entry.options.map_entry:
            return {"k": "map", "v": _spec(entry.field[1], messages)}
        kind = _WELL_KNOWN_KINDS.get(name)
        item: Spec = {"k": kind} if kind else {"k": "message", "t": name}
        if kind == "wkt":
            item["t"] = name
    elif field.type == _FieldProto.TYPE_ENUM:
        item = {"k": "enum"}
    elif field.type in _NUMBER_TYPES:
        item = {"k": "number"}
    elif field.type == _FieldProto.TYPE_BOOL:
        item = {"k": "bool"}
    else:
        item = {"k": "string"}
    if field.label == _FieldProto.LABEL_REPEATED:
        return {"k": "list", "i": item}
    return item


def request_body_lua(descriptor_path: Path) -> str:
    """gateway/request_body.lua, preceded by the rules of descriptor_path as `SCHEMA`."""
    rules = body_rules(descriptor_pb2.FileDescriptorSet.FromString(descriptor_path.read_bytes()))
    lines = [
        "-- Generated by registry/devstack/gateway.py from the descriptor set: the fields of every",
        "-- request message, and every google.api.http rule (verb, template, gRPC method,",
        "-- field path of the body, what the body holds).",
        "local SCHEMA = {",
        "  messages = {",
    ]
    for name, fields in rules.messages.items():
        lines.append(f"    [{_lua(name)}] = {{")
        lines.extend(
            f"      {{{_lua(proto)}, {_lua(json_name)}, {_lua(spec)}}},"
            for proto, json_name, spec in fields
        )
        lines.append("    },")
    lines += ["  },", "  routes = {"]
    lines.extend(
        "    {" + ", ".join(_lua(v) for v in (r.verb, r.template, r.rpc, r.prefix, r.root)) + "},"
        for r in rules.routes
    )
    lines += ["  },", "}", ""]
    return "\n".join(lines) + REQUEST_BODY_LUA.read_text(encoding="utf-8")


def _lua(value: object) -> str:
    """value as a Lua literal: str, or dict of str keys (sorted) to such values."""
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string of ASCII is a valid Lua string
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_lua(v)}" for k, v in sorted(value.items())) + "}"
    raise TypeError(f"no Lua literal for {value!r}")


def layout_for(config: Config) -> GatewayLayout:
    """The layout of the dev stack: Envoy and the registry on this machine, per config."""
    # A wildcard listen address is not something Envoy can connect to.
    registry_host = config.server.host
    if registry_host in ("", "0.0.0.0", "::"):
        registry_host = "127.0.0.1"
    return GatewayLayout(
        listen_host=config.gateway.host,
        listen_port=config.gateway.port,
        admin_host="127.0.0.1",
        admin_port=config.gateway.admin_port,
        registry_grpc_host=registry_host,
        registry_grpc_port=config.server.grpc_port,
        registry_http_host=registry_host,
        registry_http_port=config.server.http_port,
        descriptor_path=str(DEFAULT_DESCRIPTOR),
        max_request_bytes=config.gateway.max_request_bytes,
        max_response_bytes=config.gateway.max_response_bytes,
        services=transcoded_services(DEFAULT_DESCRIPTOR),
    )


def envoy_command(config_path: Path, *, log_level: str = "warning") -> list[str]:
    """argv that runs Envoy with config_path (no hot restart, so several can run at once)."""
    return [
        venv_binary("envoy"),
        "-c",
        str(config_path),
        "--disable-hot-restart",
        "--log-level",
        log_level,
    ]


def compose_layout() -> GatewayLayout:
    """The layout of docker-compose.yml, from which gateway/envoy.yaml is rendered."""
    return GatewayLayout(
        listen_host="0.0.0.0",
        listen_port=8080,
        admin_host="127.0.0.1",
        admin_port=9901,
        registry_grpc_host="registry",
        registry_grpc_port=50051,
        registry_http_host="registry",
        registry_http_port=9464,
        descriptor_path="/etc/envoy/descriptor.binpb",
        max_request_bytes=1024 * 1024,
        max_response_bytes=4 * 1024 * 1024,
        services=transcoded_services(DEFAULT_DESCRIPTOR),
    )
