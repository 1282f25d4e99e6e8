"""Generate the reference parts of the docs from the code, so they cannot drift from it:

- docs/configuration.md, whole: every configuration key with its type, constraints,
  default, environment variable and description. Descriptions, types and constraints come
  from the pydantic models in registry/server/config.py; the environment variable each default
  reads comes from registry/server/default_config.yaml.
- docs/operations.md, between `<!-- generated: NAME -->` and `<!-- end generated: NAME -->`:
  `auth-scopes` (every RPC with its HTTP routes and the scope registry/server/auth.py
  requires) and `metrics` (every Prometheus metric of registry/catalog/metrics.py and
  registry/server/interceptors.py).

    python scripts/reference_docs.py            # write the files
    python scripts/reference_docs.py --check    # exit 1 when a file is stale

`make gen` writes them and `make check` checks them.
"""

from __future__ import annotations

import argparse
import re
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
import yaml
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2
from prometheus_client import Metric
from prometheus_client.metrics import MetricWrapperBase
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.types import PathType

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository's registry package
    sys.path.insert(0, str(ROOT))

from registry.catalog import metrics  # noqa: E402
from registry.server import auth, interceptors  # noqa: E402
from registry.server.config import _SECRET_KEYS, DEFAULT_CONFIG_PATH, Config  # noqa: E402

CONFIGURATION_MD = ROOT / "docs" / "configuration.md"
OPERATIONS_MD = ROOT / "docs" / "operations.md"
DESCRIPTOR = ROOT / "gen" / "descriptor.binpb"
ENV_DEFAULT = re.compile(r"^\$\{(?P<var>[A-Z][A-Z0-9_]*):-(?P<default>.*)\}$", re.DOTALL)
VERBS = ("get", "put", "post", "delete", "patch")
SCOPE_NAMES = {auth.PUBLIC: "public", auth.WORKER: "worker", auth.CLIENT: "client"}
SCOPE_NAMES[auth.ADMIN] = "admin"
# What a table row cannot say: checks a handler makes beyond the RPC's scope.
SCOPE_NOTES = {
    "/temporal_registry.v1.SearchAttributeService/ReconcileSearchAttributes": (
        "`mode: replace` needs admin"
    ),
}


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Key:
    """One configuration key."""

    path: str  # dotted, as written in YAML (aliases, e.g. logging.json)
    field: FieldInfo
    env_var: str | None  # the variable registry/server/default_config.yaml reads, if any
    shipped_default: str | None  # the ${VAR:-default} default in default_config.yaml


def _yaml_name(name: str, field: FieldInfo) -> str:
    return field.alias or name


def config_keys(
    model: type[BaseModel] = Config, defaults: Any = None, prefix: str = ""
) -> Iterator[Key]:
    """Every leaf key of model, depth first, in declaration order."""
    if defaults is None:
        defaults = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    for name, field in model.model_fields.items():
        yaml_name = _yaml_name(name, field)
        path = f"{prefix}{yaml_name}"
        node = defaults.get(yaml_name) if isinstance(defaults, dict) else None
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from config_keys(annotation, node or {}, f"{path}.")
            continue
        match = ENV_DEFAULT.match(node) if isinstance(node, str) else None
        yield Key(
            path,
            field,
            match["var"] if match else None,
            match["default"] if match else None,
        )


def sections() -> Iterator[tuple[str, type[BaseModel]]]:
    for name, field in Config.model_fields.items():
        annotation = field.annotation
        assert isinstance(annotation, type) and issubclass(annotation, BaseModel), name
        yield name, annotation


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(args) < len(get_args(annotation)):
            return args[0], True
    return annotation, False


def _base_type(annotation: Any) -> str:
    if get_origin(annotation) is typing.Annotated:
        base, *extra = get_args(annotation)
        kinds = {m.path_type for m in extra if isinstance(m, PathType)}
        if kinds == {"file"}:
            return "path of an existing file"
        return _base_type(base)
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in get_args(annotation))
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return f"list of {_base_type(item)}s (or one comma-separated string)"
    names = {bool: "boolean", int: "integer", float: "number", str: "string", Path: "path"}
    if annotation in names:
        return names[annotation]
    raise ValueError(f"no documentation name for the type {annotation!r}")


def _constraints(field: FieldInfo) -> str:
    bounds: dict[str, Any] = {}
    for item in field.metadata:
        for attr in ("ge", "gt", "le", "lt", "min_length"):
            if isinstance(item, annotated_types.BaseMetadata) and hasattr(item, attr):
                bounds[attr] = getattr(item, attr)
    if "ge" in bounds and "le" in bounds:
        return f"{bounds['ge']:,} to {bounds['le']:,}"
    words = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    parts = [f"{words[k]} {v:,}" for k, v in bounds.items() if k in words]
    if bounds.get("min_length") == 1:
        parts.append("not empty")
    return ", ".join(parts)


def describe_type(field: FieldInfo) -> str:
    annotation, optional = _strip_optional(field.annotation)
    extra = field.json_schema_extra
    named = extra.get("doc_type") if isinstance(extra, dict) else None  # what a model can't say
    text = named if isinstance(named, str) else _base_type(annotation)
    constraints = _constraints(field)
    if constraints:
        text += f", {constraints}"
    if optional:
        text += "; empty for none"
    return text


def _format_default(value: Any) -> str:
    if value is None or value == []:
        return "*(empty)*"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int | float):
        return f"`{value}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _is_secret(key: Key) -> bool:
    return key.path.rsplit(".", 1)[-1] in _SECRET_KEYS or key.field.repr is False


def configuration_markdown() -> str:
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by scripts/reference_docs.py from registry/server/config.py (descriptions,",
        "     types, constraints, defaults) and registry/server/default_config.yaml (environment",
        "     variables). Do not edit: change those, then run `make gen`. -->",
        "",
        "The registry reads one YAML file (`temporal-registry serve -f config.yaml`), merged key",
        "by key over the built-in defaults in",
        "[`registry/server/default_config.yaml`](../registry/server/default_config.yaml),",
        "so a file only needs the keys it changes. Without a file, the built-in defaults",
        "apply, and each of them reads the environment variable named below: a container is",
        "configured with",
        "environment variables alone (see [operations.md](operations.md)).",
        "",
        "Any string value, in the defaults or in your file, may use the environment:",
        "`${VAR}` (an error when VAR is unset or empty), `${VAR:-default}` (default when",
        'unset or empty) and `$${` for a literal `${`. Strings such as `"8080"` or `"true"`',
        "are converted to the key's type; relative paths are relative to the working",
        "directory. The whole file is validated at startup: a mistake stops the process with",
        "exit code 2 and one line per problem, naming the key (values of secret keys are",
        "never echoed).",
        "",
        "An environment variable only sets a key while that key still has its built-in",
        "default: a key your file sets takes the file's value, unless the file itself uses",
        "`${VAR}` there.",
        "",
    ]
    keys = {key.path: key for key in config_keys()}
    for name, model in sections():
        lines += [f"## `{name}`", "", _cell(model.__doc__ or ""), ""]
        lines += [
            "| key | type | default | environment variable | description |",
            "|---|---|---|---|---|",
        ]
        for path, key in keys.items():
            if path.split(".", 1)[0] != name:
                continue
            default = key.field.get_default(call_default_factory=True)
            description = key.field.description or ""
            if _is_secret(key):
                description += " Secret: never logged nor echoed in errors."
            env = f"`{key.env_var}`" if key.env_var else ""
            lines.append(
                f"| `{path}` | {_cell(describe_type(key.field))} | {_format_default(default)} "
                f"| {env} | {_cell(description)} |"
            )
        lines.append("")
    lines += [
        "## Environment variables",
        "",
        "Every variable the built-in defaults read, and the key it sets.",
        "",
        "| environment variable | key |",
        "|---|---|",
    ]
    for key in sorted(keys.values(), key=lambda k: k.env_var or ""):
        if key.env_var:
            lines.append(f"| `{key.env_var}` | `{key.path}` |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- auth scopes


def _http_routes(method: descriptor_pb2.MethodDescriptorProto) -> list[str]:
    if not method.options.HasExtension(annotations_pb2.http):
        return []
    routes: list[str] = []
    pending = [method.options.Extensions[annotations_pb2.http]]
    while pending:
        rule = pending.pop(0)
        pattern = rule.WhichOneof("pattern")
        if pattern in VERBS:
            routes.append(f"{pattern.upper()} {getattr(rule, pattern)}")
        elif pattern == "custom":
            routes.append(f"{rule.custom.kind} {rule.custom.path}")
        pending += list(rule.additional_bindings)
    return routes


@dataclass(frozen=True)
class Rpc:
    method: str  # /package.Service/Method
    routes: list[str]
    streaming: bool


def rpcs() -> list[Rpc]:
    """Every RPC the registry's gRPC server serves: ours (from the descriptor Envoy loads),
    the standard health service and reflection."""
    found: list[Rpc] = []
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR.read_bytes())
    files = [f for f in descriptor_set.file if f.package.startswith("temporal_registry.")]
    for module in (health_pb2, reflection_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        files.append(proto)
    for file in files:
        for service in file.service:
            for method in service.method:
                found.append(
                    Rpc(
                        f"/{file.package}.{service.name}/{method.name}",
                        _http_routes(method),
                        method.client_streaming or method.server_streaming,
                    )
                )
    return found


def required_scope(rpc: Rpc) -> str:
    """As the server decides (registry/server/interceptors.py): unary RPCs and our own server
    streams (we have no client streams) need registry.auth.required_scope; other streams
    (health Watch, reflection) pass the interceptor untouched."""
    ours = rpc.method.startswith(interceptors.OUR_PREFIX)
    return auth.required_scope(rpc.method) if ours or not rpc.streaming else auth.PUBLIC


def auth_scopes_markdown() -> str:
    lines = [
        "| RPC | HTTP | scope |",
        "|---|---|---|",
    ]
    for rpc in rpcs():
        scope = SCOPE_NAMES[required_scope(rpc)]
        note = SCOPE_NOTES.get(rpc.method)
        routes = "<br>".join(f"`{route}`" for route in rpc.routes) or "gRPC only"
        lines.append(
            f"| `{rpc.method.lstrip('/')}` | {routes} | {scope}{f' ({note})' if note else ''} |"
        )
    lines += [
        "| registry HTTP listener | `GET /openapi.json`, `GET /docs` | public |",
        "| registry HTTP listener | `GET /metrics` | public, or any valid token with "
        "`auth.public_metrics: false` |",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- metrics


@dataclass(frozen=True)
class MetricDoc:
    name: str  # as /metrics shows it (a counter's name ends in _total)
    type: str
    labels: tuple[str, ...]
    documentation: str


def _doc(metric: Metric, labels: tuple[str, ...]) -> MetricDoc:
    name = f"{metric.name}_total" if metric.type == "counter" else metric.name
    return MetricDoc(name, metric.type, labels, metric.documentation)


def registry_metrics() -> list[MetricDoc]:
    """Every metric of the registry's own: the counters and histograms defined in
    registry/catalog/metrics.py and registry/server/interceptors.py, and the gauges
    RegistryCollector reads at scrape time (metrics.STORE_GAUGES)."""
    found: list[MetricDoc] = []
    for module in (interceptors, metrics):
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                (described,) = value.describe()
                found.append(_doc(described, tuple(getattr(value, "_labelnames", ()))))
    found += [
        MetricDoc(gauge.name, "gauge", gauge.labels, gauge.documentation)
        for gauge in metrics.STORE_GAUGES
    ]
    return sorted(found, key=lambda m: m.name)


def metrics_markdown() -> str:
    lines = ["| metric | type | labels | what |", "|---|---|---|---|"]
    for metric in registry_metrics():
        labels = ", ".join(f"`{label}`" for label in metric.labels)
        lines.append(
            f"| `{metric.name}` | {metric.type} | {labels} | {_cell(metric.documentation)} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- files


GENERATED_BLOCKS = {"auth-scopes": auth_scopes_markdown, "metrics": metrics_markdown}


def fill_blocks(text: str) -> str:
    """text with every generated block of GENERATED_BLOCKS rewritten."""
    for name, render in GENERATED_BLOCKS.items():
        begin = f"<!-- generated: {name} (scripts/reference_docs.py; `make gen` rewrites it) -->"
        end = f"<!-- end generated: {name} -->"
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.DOTALL)
        matches = list(pattern.finditer(text))
        if len(matches) != 1:
            raise ValueError(f"expected one `{begin}` ... `{end}` block")
        (match,) = matches
        text = f"{text[: match.start()]}{begin}\n{render()}\n{end}{text[match.end() :]}"
    return text


def outputs() -> dict[Path, str]:
    """Every generated file's path and its expected content."""
    return {
        CONFIGURATION_MD: configuration_markdown(),
        OPERATIONS_MD: fill_blocks(OPERATIONS_MD.read_text(encoding="utf-8")),
    }


def stale() -> list[Path]:
    return [
        path
        for path, text in outputs().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        paths = stale()
        for path in paths:
            print(f"{path.relative_to(ROOT)} is stale: run `make gen`", file=sys.stderr)
        if not paths:
            print("reference docs match the code")
        return 1 if paths else 0
    for path, text in outputs().items():
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
