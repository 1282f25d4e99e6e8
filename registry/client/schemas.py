"""`temporal-registry schemas check --manifest worker.yaml`: before a deploy (in CI), ask the
registry whether each input schema a worker manifest declares meets its type's compatibility
mode, and which schedules it would break (SchemaService.CheckCompatibility; nothing is
stored). Exit codes: 0 every schema would be accepted, 1 a breaking change (or the registry
refused the check or could not be reached: a gate fails closed), 2 a bad manifest or usage."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Final

import grpc
from google.protobuf import json_format
from temporal_registry.v1 import registry_pb2, resources_pb2, schemas_pb2, schemas_pb2_grpc

from registry.client.connection import ClientSettings, RegistryCallError, open_channel
from registry.client.manifest import ManifestError, load_manifest

EXIT_COMPATIBLE: Final = 0
EXIT_BREAKING: Final = 1
EXIT_BAD_MANIFEST: Final = 2
CHECK_TIMEOUT_SECONDS: Final = 30.0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `schemas check` to the `temporal-registry` parser."""
    schemas = commands.add_parser(
        "schemas", help="input schema versions and compatibility", description=__doc__
    )
    actions = schemas.add_subparsers(dest="schemas_command", required=True, metavar="COMMAND")
    check = actions.add_parser(
        "check",
        help="check a manifest's input schemas against the registry (exit 1 on a breaking one)",
        description="Check every input schema a worker manifest declares against its type's "
        "kept versions and compatibility mode, and the type's schedules, without storing "
        "anything. Exit codes: 0 compatible, 1 breaking (or the check failed), 2 bad manifest.",
    )
    check.add_argument(
        "--manifest", "-m", type=Path, required=True, help="the worker manifest (YAML)"
    )
    check.add_argument(
        "--address", help="registry gRPC address host:port (default $REGISTRY_ADDRESS)"
    )
    check.add_argument(
        "-o", "--output", choices=("text", "json"), default="text", help="output format"
    )
    check.set_defaults(handler=run_check_command)


def run_check_command(args: argparse.Namespace) -> int:
    try:
        request = load_manifest(args.manifest)
    except ManifestError as error:
        print(f"temporal-registry schemas check: {error}", file=sys.stderr)
        return EXIT_BAD_MANIFEST
    settings = ClientSettings.from_env(address=args.address)
    try:
        answers = asyncio.run(_check_all(request, settings))
    except RegistryCallError as error:
        print(f"temporal-registry schemas check: {error.describe()}", file=sys.stderr)
        return EXIT_BREAKING
    if args.output == "json":
        print(json.dumps([_as_json(answer) for _, answer in answers], indent=2))
    else:
        for workflow_type, answer in answers:
            print(describe(workflow_type, answer))
    return EXIT_COMPATIBLE if all(a.compatible for _, a in answers) else EXIT_BREAKING


async def _check_all(
    request: registry_pb2.RegisterWorkerRequest, settings: ClientSettings
) -> list[tuple[str, schemas_pb2.CheckCompatibilityResponse]]:
    async with open_channel(settings) as channel:
        stub = schemas_pb2_grpc.SchemaServiceStub(channel)
        answers = []
        for workflow in request.workflows:
            check = schemas_pb2.CheckCompatibilityRequest(workflow_type=workflow.workflow_type)
            check.input_schema.CopyFrom(workflow.input_schema)
            try:
                answer = await stub.CheckCompatibility(check, timeout=CHECK_TIMEOUT_SECONDS)
            except grpc.RpcError as error:
                raise RegistryCallError.from_rpc_error(error) from None
            answers.append((workflow.workflow_type, answer))
        return answers


def describe(workflow_type: str, answer: schemas_pb2.CheckCompatibilityResponse) -> str:
    """One type's answer as lines a person reads in a CI log."""
    mode = resources_pb2.CompatibilityMode.Name(answer.mode).removeprefix("COMPATIBILITY_MODE_")
    if answer.identical_version:
        head = f"{workflow_type}: ok, identical to version {answer.identical_version}"
    elif answer.compatible:
        compared = ", ".join(str(v) for v in answer.compared_versions) or "no earlier version"
        head = f"{workflow_type}: ok under {mode} (compared with {compared})"
    else:
        head = f"{workflow_type}: BREAKING under {mode}"
    lines = [head]
    lines += [
        f"  version {f.version} {f.direction}: {f.path + ': ' if f.path else ''}{f.rule}"
        for f in answer.incompatibilities
    ]
    lines += [
        f"  schedule {s.schedule_id}: its stored input would be refused ({s.reason})"
        for s in answer.broken_schedules
    ]
    if answer.schedules_unchecked:
        lines.append(f"  schedules not all checked: {answer.schedules_unchecked}")
    return "\n".join(lines)


def _as_json(answer: schemas_pb2.CheckCompatibilityResponse) -> object:
    return json_format.MessageToDict(
        answer, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
