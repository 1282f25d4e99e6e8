"""Worker manifests: a YAML file that registers a worker written in any language, with no
registry code in it, and the `temporal-registry register` command that runs it.

    worker_id: ${HOSTNAME:-orders-1}    # ${VAR} and ${VAR:-default} are expanded
    task_queue: orders
    environment: prod
    labels: {team: orders}
    ttl_seconds: 30
    workflows:
      - workflow_type: order.v1
        version: "2"
        description: Takes an order from payment to delivery.
        input_schema_file: schemas/order.json   # or input_schema: {...} inline
        search_attributes: [{name: OrderId, type: Keyword}]
        labels: {tier: gold}

The shape is RegisterWorkerRequest's, with `input_schema_file` (a JSON or YAML file,
relative to the manifest) as an alternative to an inline `input_schema`. Environment
variables are expanded in every string except inside input schemas; `$${` is a literal
`${`. A manifest is checked with the registry's own rules before anything is sent.

    temporal-registry register --manifest worker.yaml            # sidecar: register, heartbeat
                                                                 # until SIGTERM/SIGINT, unregister
    temporal-registry register --manifest worker.yaml --once     # register, print the worker, exit
    temporal-registry register --manifest worker.yaml --dry-run  # check, print the request, exit

Exit codes: 0 done, 2 bad manifest or usage, 1 the registry refused or could not be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from temporal_registry.v1 import registry_pb2, resources_pb2

from registry.client.connection import ClientSettings, open_channel
from registry.client.registration import (
    RegistrationError,
    RegistrationKeeper,
    RegistrationRefused,
    register_worker,
)
from registry.shared.interpolate import MissingVariableError, interpolate
from registry.shared.interruptible import Interrupted, run_until

EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1
EXIT_BAD_MANIFEST: Final = 2
DEFAULT_TTL_SECONDS: Final = 60
DEFAULT_ONCE_WAIT_SECONDS: Final = 10.0
MAX_REPORTED_PROBLEMS: Final = 50

log = logging.getLogger(__name__)


class ManifestError(Exception):
    """A manifest that can't be used: every problem, each at its key (`workflows[0].labels`)."""

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems[:MAX_REPORTED_PROBLEMS]
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [f"{self.path}: invalid manifest"]
        lines += [
            f"  {key}: {message}" if key else f"  {message}" for key, message in self.problems
        ]
        return "\n".join(lines)


# --- the format --------------------------------------------------------------------------


class _Strict(BaseModel):
    # YAML reads `version: 2` as a number: take it as the string it means.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class SearchAttributeEntry(_Strict):
    """A custom search attribute the workflow uses."""

    name: str
    type: str = Field(description="Keyword, KeywordList, Text, Int, Double, Bool or Datetime")
    description: str = ""


class InputWarningEntry(_Strict):
    """An input field a schedule of the workflow should set."""

    field: str
    message: str


class WorkflowEntry(_Strict):
    """One workflow type the worker runs."""

    workflow_type: str
    version: str = ""
    description: str = ""
    input_schema: dict[str, Any] | None = None
    input_schema_file: str | None = Field(
        default=None, description="JSON or YAML file of the input schema, relative to the manifest"
    )
    search_attributes: list[SearchAttributeEntry] = []
    schedule_input_warnings: list[InputWarningEntry] = []
    labels: dict[str, str] = {}

    @model_validator(mode="after")
    def _one_schema_source(self) -> WorkflowEntry:
        if self.input_schema is not None and self.input_schema_file is not None:
            raise ValueError("give input_schema or input_schema_file, not both")
        return self


class Manifest(_Strict):
    """A worker registration, as a file."""

    worker_id: str | None = Field(
        default=None, description="stable id of the worker (default: <task_queue>@<hostname>)"
    )
    task_queue: str
    environment: str = ""
    labels: dict[str, str] = {}
    ttl_seconds: int = Field(default=DEFAULT_TTL_SECONDS, ge=5, le=86_400)
    workflows: list[WorkflowEntry] = Field(min_length=1)


# --- loading -----------------------------------------------------------------------------


def load_manifest(
    path: Path, env: Mapping[str, str] | None = None
) -> registry_pb2.RegisterWorkerRequest:
    """The RegisterWorkerRequest a manifest describes. Raises ManifestError naming every
    problem by key, all at once: unset variables, unknown or missing keys, wrong types,
    unreadable schema files, and whatever the registry itself would refuse. Only YAML
    syntax errors stop the check early (nothing else can be read)."""
    env = os.environ if env is None else env
    raw = _read_yaml(path, path, "")
    if not isinstance(raw, dict):
        raise ManifestError(path, [("", "must be a YAML mapping of worker_id, task_queue, ...")])
    # One list per check, in order: a later check's problem at a key an earlier one named
    # is left out (an unset variable or a key left out says nothing more there).
    variables: list[tuple[str, str]] = []
    expanded = _expand(raw, env, "", variables)
    structure: list[tuple[str, str]] = []
    manifest = _validated(expanded, structure)
    if manifest is None:  # too broken to go on: report what the format check found
        raise ManifestError(path, _first_per_key([variables, structure]))
    schemas: list[tuple[str, str]] = []
    input_schemas = _input_schemas(manifest, path.parent, path, schemas)
    request = _request(manifest, input_schemas)
    problems = _first_per_key([variables, structure, schemas, _registration_problems(request)])
    if problems:
        raise ManifestError(path, problems)
    return request


def _validated(expanded: dict[str, Any], problems: list[tuple[str, str]]) -> Manifest | None:
    """The manifest, or, when the format check finds problems (added to problems), the
    manifest with each bad key left out or stood in for, so that the later checks still look
    at everything else; None when not even that validates. A stand-in's own problems are
    left out by _first_per_key: the format check named its key."""
    try:
        return Manifest.model_validate(expanded)
    except ValidationError as error:
        errors = error.errors()
    problems += [_pydantic_problem(e) for e in errors]
    repaired = copy.deepcopy(expanded)
    for e in errors:
        _leave_out(repaired, e["loc"])
    try:
        return Manifest.model_validate(repaired)
    except ValidationError:
        return None


def _leave_out(data: dict[str, Any], loc: tuple[Any, ...]) -> None:
    """Remove the key a format problem is at (a top-level key, or a workflow's key), or put
    a neutral stand-in for a required one."""
    workflows = data.get("workflows")
    if loc[0] == "workflows" and len(loc) >= 2 and isinstance(workflows, list):
        index = loc[1]
        if not isinstance(index, int) or not 0 <= index < len(workflows):
            return
        entry = workflows[index]
        if len(loc) == 2 or not isinstance(entry, dict):  # the entry as a whole
            workflows[index] = {"workflow_type": f"unchecked-{index}"}
        elif loc[2] == "workflow_type":
            entry["workflow_type"] = f"unchecked-{index}"
        else:
            entry.pop(loc[2], None)
    elif loc[0] == "task_queue":
        data["task_queue"] = "unchecked"
    elif loc[0] != "workflows":
        data.pop(loc[0], None)


def _first_per_key(checks: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """The problems of every check, without those at or inside a key an earlier check
    already named."""
    kept: list[tuple[str, str]] = []
    for problems in checks:
        named = [key for key, _ in kept if key]
        kept += [
            (key, message)
            for key, message in problems
            if not any(
                key == seen or key.startswith((f"{seen}.", f"{seen}[", f"{seen}/"))
                for seen in named
            )
        ]
    return kept


def _read_yaml(path: Path, manifest: Path, key: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ManifestError(manifest, [(key, f"cannot read {path}: {reason}")]) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as error:
        where = f"{path}:{error.lineno}:{error.colno}"
        raise ManifestError(manifest, [(key, f"{where}: {error.msg}")]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise ManifestError(manifest, [(key, f"{where}: YAML syntax: {problem}")]) from None


def _expand(value: Any, env: Mapping[str, str], key: str, problems: list[tuple[str, str]]) -> Any:
    """`${VAR}` expanded in every string, except inside input schemas (`$ref`s, patterns)."""
    if isinstance(value, str):
        try:
            return interpolate(value, env)
        except MissingVariableError as error:
            problems.append((key, str(error)))
            return value
    if isinstance(value, list):
        return [_expand(item, env, f"{key}[{i}]", problems) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {
            k: v if k == "input_schema" else _expand(v, env, _join(key, str(k)), problems)
            for k, v in value.items()
        }
    return value


def _join(key: str, name: str, sep: str = ".") -> str:
    return f"{key}{sep}{name}" if key else name


def _pydantic_problem(error: Any) -> tuple[str, str]:
    key = ""
    for part in error["loc"]:
        key = f"{key}[{part}]" if isinstance(part, int) else _join(key, str(part))
    kind = error["type"]
    if kind == "missing":
        return key, "is required"
    if kind == "extra_forbidden":
        return key, "unknown key"
    message = str(error["msg"])
    return key, message.removeprefix("Value error, ")


def _input_schemas(
    manifest: Manifest, base: Path, path: Path, problems: list[tuple[str, str]]
) -> list[dict[str, Any] | None]:
    """Each workflow's input schema, inline or read from its file; what the registry would
    refuse in them (checked with the registry's own rules) is added to problems."""
    from registry.shared.schemas import check_schema

    schemas: list[dict[str, Any] | None] = []
    for i, workflow in enumerate(manifest.workflows):
        schema: Any = workflow.input_schema
        field = f"workflows[{i}].input_schema"
        if workflow.input_schema_file is not None:
            file_key = f"{field}_file"
            try:
                schema = _read_yaml(base / workflow.input_schema_file, path, file_key)
            except ManifestError as error:
                problems += error.problems
                schemas.append(None)
                continue
            if not isinstance(schema, dict):
                problems.append((file_key, "the file must hold a JSON Schema object"))
                schemas.append(None)
                continue
        if schema is not None:
            problems += [(v.field, v.description) for v in check_schema(schema, field)]
        schemas.append(schema)
    return schemas


def _request(
    manifest: Manifest, schemas: list[dict[str, Any] | None]
) -> registry_pb2.RegisterWorkerRequest:
    workflows = []
    for entry, schema in zip(manifest.workflows, schemas, strict=True):
        workflow = resources_pb2.Workflow(
            workflow_type=entry.workflow_type,
            version=entry.version,
            description=entry.description,
            labels=entry.labels,
            search_attributes=[
                resources_pb2.SearchAttribute(name=a.name, type=a.type, description=a.description)
                for a in entry.search_attributes
            ],
            schedule_input_warnings=[
                resources_pb2.InputWarning(field=w.field, message=w.message)
                for w in entry.schedule_input_warnings
            ],
        )
        if schema:
            workflow.input_schema.update(schema)
        workflows.append(workflow)
    return registry_pb2.RegisterWorkerRequest(
        worker_id=manifest.worker_id or f"{manifest.task_queue}@{socket.gethostname()}",
        task_queue=manifest.task_queue,
        environment=manifest.environment,
        labels=manifest.labels,
        ttl_seconds=manifest.ttl_seconds,
        workflows=workflows,
    )


def _registration_problems(request: registry_pb2.RegisterWorkerRequest) -> list[tuple[str, str]]:
    """The registry's structural rules (identifiers, labels, search attributes, ...)."""
    from registry.shared.messages import registration_from_proto
    from registry.shared.specs import validate_worker_registration

    violations = validate_worker_registration(registration_from_proto(request))
    return [(v.field, v.description) for v in violations]


# --- the command -------------------------------------------------------------------------


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `register` to the `temporal-registry` parser."""
    command = commands.add_parser(
        "register",
        help="register a worker from a manifest file (a sidecar, or --once)",
        description="Register the worker a manifest describes. By default keep it registered"
        " (heartbeats) until SIGTERM or SIGINT, then unregister: run it beside a worker"
        " written in any language. Exit codes: 0 done, 2 bad manifest or usage, 1 the"
        " registry refused or could not be reached.",
    )
    command.add_argument(
        "--manifest", "-m", type=Path, required=True, help="the worker manifest (YAML)"
    )
    mode = command.add_mutually_exclusive_group()
    mode.add_argument(
        "--once", action="store_true", help="register, print the stored worker as JSON, exit"
    )
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="check the manifest and print the RegisterWorkerRequest as JSON; send nothing",
    )
    command.add_argument(
        "--address", help="registry gRPC address host:port (default $REGISTRY_ADDRESS)"
    )
    command.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_ONCE_WAIT_SECONDS,
        metavar="SECONDS",
        help="with --once: keep retrying an unreachable registry this long"
        f" (default {DEFAULT_ONCE_WAIT_SECONDS:g}); the sidecar retries until stopped",
    )
    command.set_defaults(handler=run_register_command)


def run_register_command(args: argparse.Namespace) -> int:
    """`temporal-registry register`: the exit code."""
    logging.basicConfig(  # unless the process already set logging up
        level=(os.environ.get("LOG_LEVEL") or "INFO").upper(),
        format="%(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    try:
        request = load_manifest(args.manifest)
    except ManifestError as error:
        print(f"temporal-registry register: {error}", file=sys.stderr)
        return EXIT_BAD_MANIFEST
    if args.dry_run:
        print(_to_json(request))
        return EXIT_OK
    settings = ClientSettings.from_env(address=args.address)
    if args.once:
        return asyncio.run(_register_once(request, settings, max(args.wait, 0.0)))
    return asyncio.run(_run_sidecar(request, settings))


def _to_json(message: Any) -> str:
    from google.protobuf import json_format

    return json_format.MessageToJson(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        indent=2,
    )


async def _register_once(
    request: registry_pb2.RegisterWorkerRequest, settings: ClientSettings, wait: float
) -> int:
    async with open_channel(settings) as channel:
        try:
            response = await register_worker(channel, request, retry_for=wait)
        except RegistrationError as error:
            print(f"temporal-registry register: {error.describe()}", file=sys.stderr)
            return EXIT_REFUSED
    print(_to_json(response.worker))
    if response.affected_schedules:
        print(
            "schedules whose input no longer fits the new input schema: "
            + ", ".join(response.affected_schedules),
            file=sys.stderr,
        )
    return EXIT_OK


async def _run_sidecar(
    request: registry_pb2.RegisterWorkerRequest, settings: ClientSettings
) -> int:
    """Keep the registration until SIGTERM/SIGINT, then unregister."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    keeper = RegistrationKeeper(request, settings=settings)
    try:
        if not await keeper.start():
            log.warning("registry at %s unreachable; retrying until it answers", settings.address)
            try:
                await run_until(keeper.wait_registered(), stopping.wait())
            except Interrupted:  # stopped before the registry ever answered
                await keeper.stop()
                return EXIT_OK
        await stopping.wait()
        log.info("stopping: unregistering worker %s", keeper.worker_id)
        await keeper.stop()
    except RegistrationRefused as refusal:
        print(f"temporal-registry register: {refusal.describe()}", file=sys.stderr)
        await keeper.stop(unregister=False)
        return EXIT_REFUSED
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return EXIT_OK
