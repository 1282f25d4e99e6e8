"""Registering a Python Temporal worker with the registry.

Add `RegistryPlugin` to a `temporalio.worker.Worker` and, while the worker runs, the
registry knows the workflow types it serves on its task queue — each with an input JSON
Schema generated from the `@workflow.run` method's parameter type — and sees the worker
heartbeat; the worker unregisters when it shuts down:

    @registry_metadata(version="2", search_attributes={"OrderId": "Keyword"})
    @workflow.defn(name="order.v1")
    class OrderWorkflow:
        '''Takes an order from payment to delivery.'''   # becomes the description

        @workflow.run
        async def run(self, order: Order) -> str: ...    # Order's JSON Schema is the input schema

    worker = Worker(client, task_queue="orders", workflows=[OrderWorkflow],
                    plugins=[RegistryPlugin(ttl_seconds=30, environment="prod")])
    await worker.run()

The registry is found through ClientSettings (default: REGISTRY_ADDRESS, REGISTRY_TOKEN,
REGISTRY_TLS, REGISTRY_CA_CERT). An unreachable registry never stops the worker: it runs,
and registration is retried in the background. A registry that *refuses* the registration
(a bad schema or token) fails the worker's start, unless fail_on_refusal=False.

With `mirror_catalog=True` (or the ClientSettings of a token with the client scope) the
plugin also keeps a copy of the registry's catalogue while the worker runs,
`plugin.catalog` (a CatalogMirror: workflow types and workers, kept current by a watch),
for activities that look up what else is registered and healthy.

This module is imported by workflow modules (for `registry_metadata`), which Temporal's
sandbox re-imports for every run: it imports only the standard library and temporalio at
module level; everything else is imported when a worker starts.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import socket
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Final, TypeVar

import temporalio.common
import temporalio.worker
import temporalio.workflow

if TYPE_CHECKING:
    from temporal_registry.v1 import registry_pb2, resources_pb2
    from temporalio.client import WorkflowHistory

    from registry.client.connection import ClientSettings
    from registry.client.registration import (
        KeeperPolicy,
        RegistrationKeeper,
        RegistrationRefused,
    )
    from registry.client.watch import CatalogMirror

log = logging.getLogger(__name__)

__all__ = [
    "CatalogMirror",
    "ClientSettings",
    "InputSchemaError",
    "KeeperPolicy",
    "RegistrationKeeper",
    "RegistrationRefused",
    "RegistryPlugin",
    "WorkflowMetadata",
    "default_worker_id",
    "input_schema_for",
    "json_schema_for",
    "registered",
    "registration_request",
    "registry_metadata",
    "workflow_spec",
    "workflow_type_name",
]

# Importable from here, loaded on first use: they need grpc and the contract, which a
# workflow module importing this one inside the sandbox must not pay for.
_LAZY: Final = {
    "CatalogMirror": "registry.client.watch",
    "ClientSettings": "registry.client.connection",
    "KeeperPolicy": "registry.client.registration",
    "RegistrationKeeper": "registry.client.registration",
    "RegistrationRefused": "registry.client.registration",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


DEFAULT_TTL_SECONDS: Final = 60
MAX_WORKER_ID_LENGTH: Final = 200
MAX_DESCRIPTION_LENGTH: Final = 2000
_METADATA_ATTRIBUTE: Final = "__temporal_registry_metadata__"
_NO_INPUT = object()  # a run method without parameters

# The registry's names of Temporal's search attribute types.
_SEARCH_ATTRIBUTE_TYPES: Final = {
    temporalio.common.SearchAttributeIndexedValueType.TEXT: "Text",
    temporalio.common.SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    temporalio.common.SearchAttributeIndexedValueType.INT: "Int",
    temporalio.common.SearchAttributeIndexedValueType.DOUBLE: "Double",
    temporalio.common.SearchAttributeIndexedValueType.BOOL: "Bool",
    temporalio.common.SearchAttributeIndexedValueType.DATETIME: "Datetime",
    temporalio.common.SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}

SearchAttributes = Mapping[str, str] | Iterable[temporalio.common.SearchAttributeKey[Any]]
"""Declared search attributes: `{"OrderId": "Keyword"}`, or temporalio's typed keys
(`SearchAttributeKey.for_keyword("OrderId")`)."""

_C = TypeVar("_C", bound=type)


class InputSchemaError(ValueError):
    """A workflow's input schema can't be generated, or the registry would not accept it."""


@dataclass(frozen=True)
class WorkflowMetadata:
    """What the registry is told about one workflow type beyond its name. None means "not
    set here": the decorator's value, then the default, applies."""

    description: str | None = None
    """Human description (default: the first paragraph of the class docstring)."""
    version: str | None = None
    """Informational version of the workflow's contract."""
    input_schema: Mapping[str, Any] | None = None
    """JSON Schema (draft 2020-12) of the input, instead of the generated one; `{}` for none."""
    input_type: Any = None
    """Generate the input schema from this type instead of the run method's parameter."""
    search_attributes: SearchAttributes | None = None
    """Custom search attributes the workflow uses."""
    labels: Mapping[str, str] | None = None
    """Free-form labels of the workflow type (list filters, label selectors)."""
    schedule_input_warnings: Mapping[str, str] | None = None
    """Top-level input fields a schedule should set: field -> what to tell its author."""

    def merged(self, override: WorkflowMetadata | None) -> WorkflowMetadata:
        """This metadata with every field `override` sets replacing ours."""
        if override is None:
            return self
        changes = {
            f.name: getattr(override, f.name)
            for f in fields(override)
            if getattr(override, f.name) is not None
        }
        return replace(self, **changes)


def registry_metadata(
    *,
    description: str | None = None,
    version: str | None = None,
    input_schema: Mapping[str, Any] | None = None,
    input_type: Any = None,
    search_attributes: SearchAttributes | None = None,
    labels: Mapping[str, str] | None = None,
    schedule_input_warnings: Mapping[str, str] | None = None,
) -> Callable[[_C], _C]:
    """Class decorator: what to register for this workflow (see WorkflowMetadata). Goes
    above or below `@workflow.defn`; the class is returned unchanged otherwise."""
    if input_schema is not None and input_type is not None:
        raise ValueError("give input_schema or input_type, not both")
    metadata = WorkflowMetadata(
        description=description,
        version=version,
        input_schema=input_schema,
        input_type=input_type,
        search_attributes=(
            search_attributes
            if search_attributes is None or isinstance(search_attributes, Mapping)
            else tuple(search_attributes)
        ),
        labels=labels,
        schedule_input_warnings=schedule_input_warnings,
    )

    def decorate(cls: _C) -> _C:
        setattr(cls, _METADATA_ATTRIBUTE, metadata)
        return cls

    return decorate


def _declared_metadata(cls: type) -> WorkflowMetadata:
    declared = cls.__dict__.get(_METADATA_ATTRIBUTE)  # the class's own, not a parent's
    return declared if isinstance(declared, WorkflowMetadata) else WorkflowMetadata()


def _definition(cls: type) -> temporalio.workflow._Definition:
    # temporalio has no public accessor for a class's workflow definition.
    definition = temporalio.workflow._Definition.from_class(cls)
    if definition is None:
        raise TypeError(f"{cls.__qualname__} is not a workflow class (no @workflow.defn)")
    return definition


def workflow_type_name(cls: type) -> str | None:
    """The workflow type a `@workflow.defn` class registers as; None for a dynamic workflow."""
    return _definition(cls).name


# --- input schemas -----------------------------------------------------------------------


def json_schema_for(tp: Any) -> dict[str, Any]:
    """The JSON Schema of values of type `tp`, as pydantic generates it for validation:
    dataclasses, pydantic models, TypedDicts (typing_extensions' before Python 3.12),
    enums, primitives, datetimes, Optional/Union, list/tuple/set, dict, Literal,
    Annotated constraints. Named types land in `$defs`, referenced as `#/$defs/...`.
    Without the titles pydantic makes up from class and field names (a title given
    explicitly stays): the schema is the contract, and the same contract written by hand (a
    manifest, another language's worker) is then the same schema version."""
    from pydantic import TypeAdapter
    from pydantic.errors import PydanticUserError

    try:
        schema: dict[str, Any] = TypeAdapter(tp).json_schema(
            mode="validation", schema_generator=_untitled_generator()
        )
    except (PydanticUserError, TypeError, ValueError) as error:
        raise InputSchemaError(
            f"no JSON Schema for {tp!r}: {error} (give input_schema explicitly)"
        ) from error
    return schema


@functools.cache
def _untitled_generator() -> type[Any]:
    """pydantic's schema generator, leaving out the titles it derives from names."""
    from pydantic.json_schema import GenerateJsonSchema

    class Untitled(GenerateJsonSchema):
        def field_title_should_be_set(self, schema: Any) -> bool:
            return False  # a field's explicit title is kept all the same

        def dataclass_schema(self, schema: Any) -> Any:
            return _without_class_title(super().dataclass_schema(schema), schema.get("cls"))

        def model_schema(self, schema: Any) -> Any:
            return _without_class_title(super().model_schema(schema), schema.get("cls"))

        def typed_dict_schema(self, schema: Any) -> Any:
            return _without_class_title(super().typed_dict_schema(schema), schema.get("cls"))

    return Untitled


def _without_class_title(json_schema: Any, cls: Any) -> Any:
    if isinstance(json_schema, dict) and json_schema.get("title") == getattr(cls, "__name__", 0):
        del json_schema["title"]
    return json_schema


def input_schema_for(cls: type) -> dict[str, Any]:
    """The input schema of a workflow class: the JSON Schema of its run method's one
    parameter. `{}` (any input) when the run method takes no parameter, takes `Any`, or
    has no type hint. Raises InputSchemaError for several parameters (the registry starts
    a workflow with a single input) or hints that can't be resolved."""
    input_type = _input_type(cls)
    if input_type is _NO_INPUT or input_type is Any:
        return {}
    return json_schema_for(input_type)


def _input_type(cls: type) -> Any:
    run_fn = _definition(cls).run_fn
    parameters = list(inspect.signature(run_fn).parameters.values())[1:]  # without self
    if not parameters:
        return _NO_INPUT
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if len(positional) > 1 or (not positional and len(parameters) > 1):
        names = ", ".join(p.name for p in parameters)
        raise InputSchemaError(
            f"{cls.__qualname__}.run takes several parameters ({names}); the registry starts"
            " a workflow with one input: take one dataclass or model, or give input_schema"
        )
    parameter = positional[0] if positional else parameters[0]
    try:
        hints = typing.get_type_hints(run_fn, include_extras=True)
    except Exception as error:  # NameError for a forward reference that doesn't resolve
        raise InputSchemaError(
            f"cannot resolve the type hints of {cls.__qualname__}.run: {error}"
        ) from error
    return hints.get(parameter.name, Any)


def _check(schema: Mapping[str, Any], workflow_type: str) -> dict[str, Any]:
    """`schema` as a plain dict, if the registry would accept it."""
    from registry.shared.schemas import check_schema

    plain = dict(schema)
    violations = check_schema(plain)
    if violations:
        problems = "; ".join(f"{v.field}: {v.description}" for v in violations[:5])
        raise InputSchemaError(f"the input schema of {workflow_type} is not valid: {problems}")
    return plain


# --- specs and requests ------------------------------------------------------------------


def _docstring_summary(cls: type) -> str:
    doc = cls.__dict__.get("__doc__")
    if not isinstance(doc, str) or not doc.strip():
        return ""
    first = inspect.cleandoc(doc).split("\n\n", 1)[0]
    return " ".join(first.split())[:MAX_DESCRIPTION_LENGTH]


def _search_attributes(declared: SearchAttributes) -> list[tuple[str, str]]:
    if isinstance(declared, Mapping):
        return [(str(name), str(kind)) for name, kind in declared.items()]
    out = []
    for key in declared:
        if not isinstance(key, temporalio.common.SearchAttributeKey):
            raise TypeError(f"search attribute {key!r} is not a SearchAttributeKey")
        out.append((key.name, _SEARCH_ATTRIBUTE_TYPES[key.indexed_value_type]))
    return out


def workflow_spec(cls: type, metadata: WorkflowMetadata | None = None) -> resources_pb2.Workflow:
    """The registry's Workflow message for a `@workflow.defn` class: its type name, its
    registry_metadata merged with `metadata`, and the generated input schema."""
    from temporal_registry.v1 import resources_pb2

    name = workflow_type_name(cls)
    if name is None:
        raise TypeError(f"{cls.__qualname__} is a dynamic workflow: it has no type to register")
    chosen = _declared_metadata(cls).merged(metadata)
    if chosen.input_schema is not None:
        schema = _check(chosen.input_schema, name)
    elif chosen.input_type is not None:
        schema = _check(json_schema_for(chosen.input_type), name)
    else:
        schema = _check(input_schema_for(cls), name)
    spec = resources_pb2.Workflow(
        workflow_type=name,
        version=chosen.version or "",
        description=_docstring_summary(cls) if chosen.description is None else chosen.description,
        labels=dict(chosen.labels or {}),
        search_attributes=[
            resources_pb2.SearchAttribute(name=attribute, type=kind)
            for attribute, kind in _search_attributes(chosen.search_attributes or {})
        ],
        schedule_input_warnings=[
            resources_pb2.InputWarning(field=field, message=message)
            for field, message in (chosen.schedule_input_warnings or {}).items()
        ],
    )
    if schema:
        spec.input_schema.update(schema)
    return spec


def default_worker_id(task_queue: str) -> str:
    """`<task queue>@<host>/<pid>`: unique per worker in a process and per process."""
    worker_id = f"{task_queue}@{socket.gethostname()}/{os.getpid()}"
    return "".join(c for c in worker_id if c.isprintable() and not c.isspace())[
        :MAX_WORKER_ID_LENGTH
    ]


def registration_request(
    workflows: Sequence[type],
    *,
    task_queue: str,
    worker_id: str | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    environment: str = "",
    labels: Mapping[str, str] | None = None,
    metadata: Mapping[type | str, WorkflowMetadata] | None = None,
) -> registry_pb2.RegisterWorkerRequest:
    """The RegisterWorkerRequest for a worker running `workflows` on `task_queue`.
    Dynamic workflows are left out (they have no type name). `metadata` overrides the
    decorators', keyed by workflow class or type name."""
    from temporal_registry.v1 import registry_pb2

    overrides = dict(metadata or {})
    specs = []
    for cls in workflows:
        name = workflow_type_name(cls)
        if name is None:
            log.info("not registering dynamic workflow %s", cls.__qualname__)
            continue
        override = overrides.get(cls) or overrides.get(name)
        specs.append(workflow_spec(cls, override))
    return registry_pb2.RegisterWorkerRequest(
        worker_id=worker_id or default_worker_id(task_queue),
        task_queue=task_queue,
        environment=environment,
        labels=dict(labels or {}),
        ttl_seconds=ttl_seconds,
        workflows=specs,
    )


# --- running with a worker ---------------------------------------------------------------


@asynccontextmanager
async def registered(
    worker: temporalio.worker.Worker,
    registry: ClientSettings | None = None,
    *,
    worker_id: str | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    environment: str = "",
    labels: Mapping[str, str] | None = None,
    metadata: Mapping[type | str, WorkflowMetadata] | None = None,
    fail_on_refusal: bool = True,
    policy: KeeperPolicy | None = None,
) -> AsyncIterator[RegistrationKeeper | None]:
    """Keep `worker`'s workflow types registered while inside the block (what RegistryPlugin
    does around the worker's run, for a worker built without it):

        async with Worker(client, ...) as worker, registered(worker, ttl_seconds=30):
            await stop_requested.wait()

    Yields the RegistrationKeeper (None for a worker with no named workflow). Raises
    RegistrationRefused at entry when the registry refuses and fail_on_refusal is set;
    an unreachable registry is retried in the background. Unregisters on exit."""
    from registry.client.connection import ClientSettings
    from registry.client.registration import (
        KeeperPolicy,
        RegistrationKeeper,
        RegistrationRefused,
    )

    config = worker.config(active_config=True)
    request = registration_request(
        list(config.get("workflows", [])),
        task_queue=config["task_queue"],
        worker_id=worker_id,
        ttl_seconds=ttl_seconds,
        environment=environment,
        labels=labels,
        metadata=metadata,
    )
    if not request.workflows:
        log.info("worker on %s runs no named workflow: nothing to register", request.task_queue)
        yield None
        return
    keeper = RegistrationKeeper(
        request, settings=registry or ClientSettings.from_env(), policy=policy or KeeperPolicy()
    )
    try:
        await keeper.start()
    except RegistrationRefused as refusal:
        if fail_on_refusal:
            raise
        log.error(
            "running unregistered: the registry refused worker %s: %s", keeper.worker_id, refusal
        )
    try:
        yield keeper
    finally:
        await _shielded(keeper.stop())


async def _shielded(stopping: Awaitable[None]) -> None:
    """Let the unregistration finish (it is bounded) even when the caller is cancelled."""
    task = asyncio.ensure_future(stopping)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


class RegistryPlugin(temporalio.worker.Plugin):
    """A worker plugin that keeps the worker's workflow types registered while it runs:

        Worker(client, task_queue="orders", workflows=[OrderWorkflow],
               plugins=[RegistryPlugin(ttl_seconds=30)])

    `registry`: where the registry is (default ClientSettings.from_env()). `worker_id`:
    stable id (default `<task queue>@<host>/<pid>`). `ttl_seconds`: the lease (heartbeats
    every third of it). `environment`, `labels`: the worker's. `metadata`: per workflow
    class or type name, overriding `@registry_metadata`. `fail_on_refusal`: raise
    RegistrationRefused out of the worker's run when the registry refuses the registration
    (default); False logs it and runs unregistered. `mirror_catalog`: keep a copy of the
    catalogue in `catalog` while the worker runs (True: with `registry`'s settings; or the
    ClientSettings to watch with, e.g. a token with the client scope, which watching needs
    where a worker token only registers)."""

    def __init__(
        self,
        registry: ClientSettings | None = None,
        *,
        worker_id: str | None = None,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        environment: str = "",
        labels: Mapping[str, str] | None = None,
        metadata: Mapping[type | str, WorkflowMetadata] | None = None,
        fail_on_refusal: bool = True,
        policy: KeeperPolicy | None = None,
        mirror_catalog: bool | ClientSettings = False,
    ) -> None:
        self._registration: Callable[
            [temporalio.worker.Worker], AbstractAsyncContextManager[RegistrationKeeper | None]
        ] = lambda worker: registered(
            worker,
            registry,
            worker_id=worker_id,
            ttl_seconds=ttl_seconds,
            environment=environment,
            labels=labels,
            metadata=metadata,
            fail_on_refusal=fail_on_refusal,
            policy=policy,
        )
        self.keeper: RegistrationKeeper | None = None
        """The keeper of the running worker (None before it runs and after it stopped)."""
        self.catalog: CatalogMirror | None = None
        """With mirror_catalog, the copy of the catalogue: watched from the worker's start to
        its end (`await plugin.catalog.synced()`, then `plugin.catalog.workflows` and
        `.workers`); a refused watch is logged and leaves the worker running. None without."""
        if mirror_catalog:
            from registry.client.watch import CatalogMirror

            watched = registry if isinstance(mirror_catalog, bool) else mirror_catalog
            self.catalog = CatalogMirror(settings=watched)

    def configure_worker(
        self, config: temporalio.worker.WorkerConfig
    ) -> temporalio.worker.WorkerConfig:
        return config

    async def run_worker(
        self,
        worker: temporalio.worker.Worker,
        next: Callable[[temporalio.worker.Worker], Awaitable[None]],
    ) -> None:
        async with AsyncExitStack() as running:
            if self.catalog is not None:  # first, so it sees this worker register
                await running.enter_async_context(self.catalog)
            self.keeper = await running.enter_async_context(self._registration(worker))
            try:
                await next(worker)
            finally:
                self.keeper = None

    def configure_replayer(
        self, config: temporalio.worker.ReplayerConfig
    ) -> temporalio.worker.ReplayerConfig:
        return config

    def run_replayer(
        self,
        replayer: temporalio.worker.Replayer,
        histories: AsyncIterator[WorkflowHistory],
        next: Callable[
            [temporalio.worker.Replayer, AsyncIterator[WorkflowHistory]],
            AbstractAsyncContextManager[AsyncIterator[temporalio.worker.WorkflowReplayResult]],
        ],
    ) -> AbstractAsyncContextManager[AsyncIterator[temporalio.worker.WorkflowReplayResult]]:
        return next(replayer, histories)
