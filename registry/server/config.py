"""The registry's configuration: pydantic models and the YAML loader.

`load_config` reads the packaged `default_config.yaml`, deep-merges the user's file over it
(user keys win, the file may be partial), replaces `${VAR}` / `${VAR:-default}` in every string
value with the environment (see `registry.interpolate`), then validates the result against
`Config`. Strings such as "8080" or "true" are converted to the field's type. Every problem is
reported in one `ConfigError`, one line each, naming the file and the dotted key.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FilePath,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from registry.server.principals import (
    ADMIN,
    CLIENT,
    MAX_PATTERN_LENGTH,
    NAME_PATTERN,
    SCOPES,
    WORKER,
    Principal,
    derived_name,
)
from registry.shared.interpolate import MissingVariableError, interpolate
from registry.shared.model import CompatibilityModeName
from registry.shared.specs import MAX_SHARD_BYTES, MIN_SHARD_BYTES

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default_config.yaml")

# Values never echoed back in error messages.
_SECRET_KEYS = frozenset({"api_key", "worker_tokens", "client_tokens", "admin_tokens", "token"})
_MISSING = object()


def _blank_to_none(value: object) -> object:
    return None if value == "" else value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


Port = Annotated[int, Field(ge=1, le=65535)]
ByteLimit = Annotated[int, Field(ge=1024)]
NonEmptyStr = Annotated[str, Field(min_length=1)]
OptionalStr = Annotated[str | None, BeforeValidator(_blank_to_none)]
OptionalFile = Annotated[FilePath | None, BeforeValidator(_blank_to_none)]
CompatibilityMode = Annotated[CompatibilityModeName, BeforeValidator(_upper)]
LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    """The registry's own listeners."""

    host: str = Field(
        default="127.0.0.1", description="Host the gRPC and plain-HTTP listeners bind to."
    )
    grpc_port: Port = Field(default=50051, description="gRPC port.")
    http_port: Port = Field(default=9464, description="Plain-HTTP port (/metrics and friends).")
    shutdown_drain_seconds: float = Field(
        default=0.0,
        ge=0,
        description="On shutdown, how long to keep serving after reporting NOT_SERVING, so a"
        " load balancer that health-checks the replicas (Envoy) stops sending it requests"
        " first; set it above the balancer's health-check interval.",
    )
    shutdown_grace_seconds: float = Field(
        default=5.0, ge=0, description="How long in-flight calls may finish on shutdown."
    )
    max_message_bytes: ByteLimit = Field(
        default=4194304, description="Largest gRPC message received or sent, in bytes."
    )


class TlsConfig(_Section):
    """TLS to the Temporal frontend."""

    enabled: bool = Field(default=False, description="Connect to Temporal over TLS.")
    server_ca_path: OptionalFile = Field(
        default=None,
        description="PEM CA bundle to verify the server with; system roots when unset.",
    )
    client_cert_path: OptionalFile = Field(
        default=None, description="PEM client certificate for mTLS; needs client_key_path."
    )
    client_key_path: OptionalFile = Field(
        default=None, description="PEM client private key for mTLS; needs client_cert_path."
    )
    server_name: OptionalStr = Field(
        default=None, description="Server name (SNI) to verify instead of the address's host."
    )

    @model_validator(mode="after")
    def _check_paths(self) -> Self:
        paths = ("server_ca_path", "client_cert_path", "client_key_path")
        given = [name for name in paths if getattr(self, name) is not None]
        if given and not self.enabled:
            raise ValueError(
                f"{', '.join(given)} given but enabled is false (set enabled: true or remove them)"
            )
        if (self.client_cert_path is None) != (self.client_key_path is None):
            raise ValueError("client_cert_path and client_key_path must be given together")
        return self


class TemporalConfig(_Section):
    """The Temporal cluster the registry stores its state in."""

    address: str = Field(default="127.0.0.1:7233", description="Temporal frontend, host:port.")
    namespace: NonEmptyStr = Field(default="default", description="Temporal namespace to use.")
    namespace_retention_days: int = Field(
        default=30, ge=1, description="Retention of closed workflows when the namespace is created."
    )
    api_key: OptionalStr = Field(
        default=None, repr=False, description="Temporal Cloud API key; requires tls.enabled."
    )
    tls: TlsConfig = Field(default_factory=TlsConfig)

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError("must be host:port, e.g. 127.0.0.1:7233")
        return value

    @model_validator(mode="after")
    def _check_api_key(self) -> Self:
        if self.api_key is not None and not self.tls.enabled:
            raise ValueError(
                "api_key requires tls.enabled: true (API keys must never travel in clear text)"
            )
        return self


class ShardCounts(_Section):
    """How many shard workflows hold each kind of registry state."""

    types: int = Field(default=32, ge=1, le=256, description="Shards of workflow types.")
    workers: int = Field(default=32, ge=1, le=256, description="Shards of workers and leases.")
    ids: int = Field(
        default=8, ge=1, le=64, description="Shards of readable-id counters and request ids."
    )


class RegistrySettings(_Section):
    """The registry workflows in Temporal."""

    workflow_id: NonEmptyStr = Field(
        default="workflow-registry",
        description="Prefix of the registry workflows' ids: <id>/root and <id>/<kind>/<NN>.",
    )
    task_queue: NonEmptyStr = Field(
        default="temporal-registry", description="Task queue the registry workflows run on."
    )
    query_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Timeout of calls to the registry workflows."
    )
    continue_as_new_events: int = Field(
        default=2_000,
        ge=500,
        le=40_000,
        description="History length at which a registry workflow's run continues as new "
        "(it also does when Temporal suggests it).",
    )
    max_updates_per_run: int = Field(
        default=500,
        ge=100,
        le=1_900,
        description="Updates after which a registry workflow's run continues as new "
        "(Temporal refuses more than 2,000 per run).",
    )
    update_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long one write may queue and run before it fails."
    )
    shard_max_bytes: int = Field(
        default=1_000_000,
        ge=MIN_SHARD_BYTES,
        le=MAX_SHARD_BYTES,
        description="Bound of each registry shard's state, in bytes as Temporal's payload "
        "converter writes it; a write that would pass it is refused (RESOURCE_EXHAUSTED). "
        "Temporal refuses a payload over 2 MiB.",
    )
    shards: ShardCounts = Field(
        default_factory=lambda: ShardCounts(),
        description="How many shard workflows hold each kind of state. Fixed when a registry "
        "is created: a registry created with other counts keeps them (export and import to "
        "change them).",
    )
    schema_compatibility: CompatibilityMode = Field(
        default="BACKWARD",
        description="The compatibility mode a new input schema of a workflow type must meet "
        "when the type has none of its own (docs/schemas.md): NONE, BACKWARD, "
        "BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE.",
    )


class LivenessConfig(_Section):
    """Worker leases, heartbeats and health."""

    flush_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often heartbeats held in memory are flushed as one batch of lease "
        "renewals (only leases that would otherwise expire soon are renewed).",
    )
    flush_margin_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a renewal may take to land; leases expiring within the flush "
        "interval plus this margin are renewed.",
    )
    expiry_grace_factor: float = Field(
        default=2.0,
        ge=0,
        description="A worker is removed once its lease ended more than this many TTLs ago.",
    )
    self_preservation_threshold: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="When more than this fraction of workers have lapsed leases at once, none "
        "are expired and the condition is reported (self-preservation).",
    )
    poller_max_age_seconds: float = Field(
        default=180.0,
        gt=0,
        description="A task queue poller counts as active if Temporal saw it this recently.",
    )
    poller_refresh_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How often task queue pollers are read from Temporal (DescribeTaskQueue).",
    )


class DispatchConfig(_Section):
    """Starting workflows through the registry."""

    run_workflow_type: NonEmptyStr = Field(
        default="agent.run.v1",
        description="Workflow type POST /run starts when the request names none.",
    )
    slug_ttl_days: float = Field(
        default=30.0, gt=0, description="Slug counters unclaimed this long are forgotten."
    )
    max_slug_counters: int = Field(
        default=2_000,
        ge=1,
        le=10_000,
        description="Slug counters kept; the least recently claimed beyond this are forgotten.",
    )
    request_id_ttl_hours: float = Field(
        default=24.0,
        gt=0,
        description="How long a readable-id claim remembers its request id, so a retry of "
        "the same request gets the same id however many other claims came in between.",
    )
    max_request_ids: int = Field(
        default=10_000,
        ge=1,
        le=100_000,
        description="Request ids remembered; the oldest beyond this are forgotten first.",
    )


class SchedulesConfig(_Section):
    """Schedules of registered workflow types."""

    pause_on_invalid_input: bool = Field(
        default=False,
        description="Pause a schedule whose input no longer fits its workflow type's input "
        "schema after the schema changed (it is reported either way).",
    )


class SearchAttributesConfig(_Section):
    """Custom search attributes of the namespace."""

    visibility_store: Literal["sql", "elasticsearch"] = Field(
        default="sql",
        description="The namespace's visibility store: sql (fixed slots per attribute type, "
        "checked before provisioning) or elasticsearch (no per-type limit).",
    )


class GatewayConfig(_Section):
    """The Envoy in front of the server (HTTP/JSON and gRPC)."""

    host: str = Field(default="127.0.0.1", description="Host Envoy listens on.")
    port: Port = Field(default=8080, description="Port Envoy listens on.")
    admin_port: Port = Field(default=9901, description="Envoy admin port (bound to 127.0.0.1).")
    max_request_bytes: ByteLimit = Field(
        default=1048576, description="Largest request body, in bytes."
    )
    max_response_bytes: ByteLimit = Field(
        default=4194304, description="Largest response body, in bytes."
    )


class DevConfig(_Section):
    """The local stack started by `temporal-registry up`."""

    data_dir: Path = Field(
        default=Path(".temporal-registry"),
        description="Where the dev stack keeps its state and logs.",
    )
    temporal_port: Port = Field(default=7233, description="Temporal dev server gRPC port.")
    temporal_ui_port: Port = Field(default=8233, description="Temporal dev server web UI port.")
    temporal_http_port: Port = Field(default=7243, description="Temporal dev server HTTP API port.")
    temporal_metrics_port: Port = Field(
        default=9233, description="Temporal dev server /metrics port."
    )


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return [] if value is None else value


MIN_TOKEN_LENGTH = 16
MAX_BINDINGS = 100


def _token_entries(value: object) -> object:
    """A token list as entries: a string is either comma-separated plain tokens or, when it
    starts with `[`, a JSON list of entries; a plain token `t` is the entry `{token: t}`."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:  # its message quotes no part of the value
            raise ValueError(
                f"a value starting with [ is read as a JSON list of token entries, and this "
                f"is not valid JSON ({error.msg} at character {error.pos})"
            ) from None
    value = _comma_list(value)
    if not isinstance(value, list):
        return value
    return [{"token": item.strip()} if isinstance(item, str) else item for item in value]


def _check_pattern(value: str) -> str:
    if not value or len(value) > MAX_PATTERN_LENGTH or not value.isprintable() or " " in value:
        raise ValueError(
            f"a pattern must be 1-{MAX_PATTERN_LENGTH} printable characters without spaces"
        )
    return value


Pattern = Annotated[str, AfterValidator(_check_pattern)]


class TokenEntry(_Section):
    """One bearer token and the principal it speaks for."""

    token: str = Field(repr=False, description="The bearer token.")
    name: str | None = Field(
        default=None,
        description="Principal name; tokens sharing a name are one principal (rotation). "
        "Derived from the token's SHA-256 when unset.",
    )
    task_queues: list[Pattern] = Field(
        default_factory=list,
        max_length=MAX_BINDINGS,
        description="Worker tokens: globs of the task queues it may register on (any when empty).",
    )
    workflow_types: list[Pattern] = Field(
        default_factory=list,
        max_length=MAX_BINDINGS,
        description="Worker tokens: globs of the workflow types it may register (any when empty).",
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        if value is not None and not NAME_PATTERN.fullmatch(value):
            raise ValueError(
                "must be 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter "
                "or digit"
            )
        return value

    @property
    def principal_name(self) -> str:
        return self.name or derived_name(self.token)


TokenList = Annotated[list[TokenEntry], BeforeValidator(_token_entries)]

_TOKEN_LIST_HELP = (
    "Comma-separated plain tokens (each its own principal, named by a hash of the token), "
    "or a JSON list (YAML list in a file) of entries {token, name, task_queues, "
    "workflow_types}; see docs/operations.md, Auth scopes."
)


def _entry_problems(scope: str, entries: list[TokenEntry]) -> list[str]:
    """What is wrong with one scope's entries, naming entries by position, never by token."""
    problems = []
    for i, entry in enumerate(entries):
        if len(entry.token) < MIN_TOKEN_LENGTH:
            problems.append(
                f"token {i + 1} has {len(entry.token)} characters; tokens must be at least "
                f"{MIN_TOKEN_LENGTH} characters"
            )
        if scope != WORKER and (entry.task_queues or entry.workflow_types):
            problems.append(
                f"token {i + 1}: task_queues and workflow_types bind worker tokens only"
            )
    return problems


def read_tokens_file(path: Path) -> dict[str, list[TokenEntry]]:
    """scope -> entries of a tokens file: a mapping of worker, client and admin to token
    lists, each item a plain token or an entry."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError("the file must map worker, client and admin to token lists")
    unknown = [str(scope) for scope in data if scope not in SCOPES]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not worker, client or admin")
    result: dict[str, list[TokenEntry]] = {}
    problems: list[str] = []
    for scope, items in data.items():
        if items is not None and not isinstance(items, list):
            problems.append(f"{scope}: must be a list of tokens or token entries")
            continue
        try:
            result[scope] = _FILE_LIST.validate_python(items or [])
        except ValidationError as exc:
            for error in exc.errors():
                problems.append(f"{scope} {_position(error['loc'])}: {_message(error)}")
            continue
        problems += [f"{scope}: {problem}" for problem in _entry_problems(scope, result[scope])]
    if problems:
        raise ValueError("; ".join(problems))
    return result


def _position(loc: tuple[int | str, ...]) -> str:
    """`token 2 task_queues item 1` for (1, "task_queues", 0): positions count from 1."""
    words = ["token" if i == 0 else "item" for i, part in enumerate(loc) if isinstance(part, int)]
    parts = iter(words)
    return " ".join(f"{next(parts)} {p + 1}" if isinstance(p, int) else p for p in loc)


def _message(error: ErrorDetails) -> str:
    return error["msg"].removeprefix("Value error, ")


_FILE_LIST: TypeAdapter[list[TokenEntry]] = TypeAdapter(TokenList)


class AuthConfig(_Section):
    """Bearer tokens for the HTTP and gRPC API (see registry.auth for the scopes)."""

    enabled: bool = Field(
        default=True,
        description="Require bearer tokens. The server refuses to start with auth on and no "
        "token configured.",
    )
    worker_tokens: TokenList = Field(
        default_factory=list,
        description="Tokens with the worker scope (register, heartbeat and unregister its own "
        "workers). " + _TOKEN_LIST_HELP,
        json_schema_extra={"doc_type": "tokens or token entries"},
    )
    client_tokens: TokenList = Field(
        default_factory=list,
        description="Tokens with the client scope. " + _TOKEN_LIST_HELP,
        json_schema_extra={"doc_type": "tokens or token entries"},
    )
    admin_tokens: TokenList = Field(
        default_factory=list,
        description="Tokens with the admin scope. " + _TOKEN_LIST_HELP,
        json_schema_extra={"doc_type": "tokens or token entries"},
    )
    tokens_file: OptionalFile = Field(
        default=None,
        description="YAML file mapping worker, client and admin to token lists (plain tokens "
        "or entries, as above); merged with the lists above.",
    )
    public_metrics: bool = Field(default=True, description="Serve /metrics without a token.")

    _file_entries: dict[str, list[TokenEntry]] = PrivateAttr(default_factory=dict)

    @field_validator("worker_tokens", "client_tokens", "admin_tokens")
    @classmethod
    def _check_entries(cls, entries: list[TokenEntry], info: ValidationInfo) -> list[TokenEntry]:
        scope = (info.field_name or "").removesuffix("_tokens")
        problems = _entry_problems(scope, entries)
        if problems:
            raise ValueError("; ".join(problems))
        return entries

    @field_validator("tokens_file")
    @classmethod
    def _check_file(cls, path: Path | None) -> Path | None:
        if path is not None:
            read_tokens_file(path)
        return path

    def entries(self) -> list[tuple[str, TokenEntry]]:
        """(scope, entry) of every configured token: the lists, then the file."""
        lists = {WORKER: self.worker_tokens, CLIENT: self.client_tokens, ADMIN: self.admin_tokens}
        return [
            (scope, entry)
            for source in (lists, self._file_entries)
            for scope, entries in source.items()
            for entry in entries
        ]

    def tokens(self) -> dict[str, list[str]]:
        """scope -> tokens, from the lists and the file."""
        tokens: dict[str, list[str]] = {scope: [] for scope in SCOPES}
        for scope, entry in self.entries():
            tokens[scope].append(entry.token)
        return tokens

    def principals(self) -> dict[str, Principal]:
        """token -> the principal it speaks for (a name's scopes and bindings merged)."""
        names: dict[str, str] = {}
        scopes: dict[str, set[str]] = {}
        bindings: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        for scope, entry in self.entries():
            name = entry.principal_name
            names[entry.token] = name
            scopes.setdefault(name, set()).add(scope)
            if scope == WORKER:
                bindings[name] = (tuple(entry.task_queues), tuple(entry.workflow_types))
        principals = {
            name: Principal(name, frozenset(granted), *bindings.get(name, ((), ())))
            for name, granted in scopes.items()
        }
        return {token: principals[name] for token, name in names.items()}

    @model_validator(mode="after")
    def _fail_closed(self) -> Self:
        if self.tokens_file is not None:
            self._file_entries = read_tokens_file(self.tokens_file)
        entries = self.entries()
        if self.enabled and not entries:
            raise ValueError(
                "auth is enabled but no token is configured: set AUTH_ADMIN_TOKENS (and "
                "AUTH_CLIENT_TOKENS, AUTH_WORKER_TOKENS) or auth.tokens_file, or disable auth"
            )
        names: dict[str, str] = {}
        bound: dict[str, tuple[list[str], list[str]]] = {}
        for scope, entry in entries:
            name = entry.principal_name
            if names.setdefault(entry.token, name) != name:
                raise ValueError(
                    f"one token is configured for two principals ({names[entry.token]} and "
                    f"{name}); give it one name"
                )
            if scope == WORKER:
                binding = (entry.task_queues, entry.workflow_types)
                if bound.setdefault(name, binding) != binding:
                    raise ValueError(
                        f"the worker tokens of principal {name} are bound differently; tokens "
                        "sharing a name must have the same task_queues and workflow_types"
                    )
        return self


class TracingConfig(_Section):
    """OpenTelemetry tracing (needs the otel extra)."""

    enabled: bool = Field(
        default=False,
        description="Trace the gRPC server, the Temporal client and the embedded worker.",
    )
    exporter: Literal["otlp", "console"] = Field(
        default="otlp", description="Where spans go: an OTLP/gRPC collector, or stdout."
    )
    otlp_endpoint: NonEmptyStr = Field(
        default="http://127.0.0.1:4317", description="The OTLP/gRPC collector."
    )
    otlp_insecure: bool = Field(default=True, description="Plaintext to the collector.")
    service_name: NonEmptyStr = Field(
        default="temporal-registry", description="service.name of the spans."
    )


class LoggingConfig(_Section):
    """Logging of the registry."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    level: LogLevel = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR (any case).")
    json_format: bool = Field(
        default=True, alias="json", description="One JSON object per line instead of plain text."
    )
    access_log: bool = Field(default=True, description="Log one line per request.")


class Config(_Section):
    """The whole configuration."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    temporal: TemporalConfig = Field(default_factory=TemporalConfig)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    liveness: LivenessConfig = Field(default_factory=LivenessConfig)
    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
    schedules: SchedulesConfig = Field(default_factory=SchedulesConfig)
    search_attributes: SearchAttributesConfig = Field(default_factory=SearchAttributesConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    dev: DevConfig = Field(default_factory=DevConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)


class ConfigError(ValueError):
    """An invalid configuration; str() lists every problem, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_config(path: Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Load the configuration: defaults, then the file at path (if any), then env (os.environ)."""
    return _Loader(path, os.environ if env is None else env).load()


class _Loader:
    def __init__(self, path: Path | None, env: Mapping[str, str]) -> None:
        self.path = path
        self.env = env
        self.defaults = _read_yaml(DEFAULT_CONFIG_PATH)
        self.user = {} if path is None else _read_yaml(path)
        self.problems: list[str] = []
        self.env_vars: dict[tuple[str, ...], list[str]] = {}  # key -> variables that set it

    def load(self) -> Config:
        tree = self._interpolate(_merge(self.defaults, self.user), ())
        if not self.problems:
            try:
                return Config.model_validate(tree)
            except ValidationError as exc:
                for error in exc.errors():
                    loc = tuple(str(part) for part in error["loc"])
                    self._problem(loc, self._describe(loc, error))
        raise ConfigError(self.problems)

    def _interpolate(self, node: Any, loc: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            return {key: self._interpolate(value, (*loc, str(key))) for key, value in node.items()}
        if isinstance(node, list):
            return [self._interpolate(item, (*loc, str(i))) for i, item in enumerate(node)]
        if not isinstance(node, str):
            return node
        env = _RecordingEnv(self.env)
        try:
            value = interpolate(node, env)
        except MissingVariableError as exc:
            self._problem(loc, str(exc))
            return node
        if env.used:
            self.env_vars[loc] = env.used
        return value

    def _describe(self, loc: tuple[str, ...], error: ErrorDetails) -> str:
        if error["type"] == "extra_forbidden":
            section = _lookup(self.defaults, loc[:-1])
            valid = list(section) if isinstance(section, dict) else []
            close = difflib.get_close_matches(loc[-1], valid, n=1)
            return "unknown key" + (f" (did you mean {close[0]}?)" if close else "")
        message = _message(error)
        value = error["input"]
        if isinstance(value, dict | list) or any(part in _SECRET_KEYS for part in loc):
            return message
        origin = ""
        if self._in_user_file(loc):  # else the problem names the variable already
            origin = "".join(f" from ${name}" for name in self._variables(loc))
        return f"{message} (got {value!r}{origin})"

    def _in_user_file(self, loc: tuple[str, ...]) -> bool:
        return self.path is not None and _lookup(self.user, loc) is not _MISSING

    def _variables(self, loc: tuple[str, ...]) -> list[str]:
        """The environment variables that supplied the value at loc: the string holding it (a
        list item's loc is longer than its variable's key) or, for a rule over a whole
        section, every value under it."""
        for end in range(len(loc), 0, -1):
            if loc[:end] in self.env_vars:
                return self.env_vars[loc[:end]]
        under = [names for key, names in self.env_vars.items() if key[: len(loc)] == loc]
        return list(dict.fromkeys(name for names in under for name in names))

    def _problem(self, loc: tuple[str, ...], message: str) -> None:
        key = ".".join(loc)
        variables = self._variables(loc)
        if self._in_user_file(loc):
            self.problems.append(f"{self.path}: {key}: {message}")
        elif variables:  # a built-in default that reads the environment: blame the variable
            names = ", ".join(variables)
            plural = "s" if len(variables) > 1 else ""
            self.problems.append(f"environment variable{plural} {names} ({key}): {message}")
        else:
            self.problems.append(f"{DEFAULT_CONFIG_PATH.name}: {key}: {message}")


class _RecordingEnv(Mapping[str, str]):
    """The environment, noting which variables supplied a non-empty value."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.used: list[str] = []

    def __getitem__(self, name: str) -> str:
        value = self._env[name]
        if value:
            self.used.append(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError([f"{path}: cannot read the file: {reason}"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise ConfigError([f"{path}: {where}invalid YAML: {problem}"]) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError([f"{path}: the top level must be a mapping of sections, not a {kind}"])
    return data


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """base with override's keys over it, recursively; an empty (null) section keeps base's."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(merged.get(key), dict) and (value is None or isinstance(value, dict)):
            merged[key] = _merge(merged[key], value or {})
        else:
            merged[key] = value
    return merged


def _lookup(tree: Any, loc: tuple[str, ...]) -> Any:
    """The node at loc in tree, or _MISSING."""
    for key in loc:
        if not isinstance(tree, dict):
            return _MISSING
        tree = next((value for k, value in tree.items() if str(k) == key), _MISSING)
    return tree
