"""SchemaService: a workflow type's input schema versions, the compatibility check before a
deploy, an operator's approved versions, and each type's compatibility mode (docs/schemas.md).

Reads come from this process's view of the catalogue (registry.catalog.store); the check
runs the pure analysis (registry.schemas.rules, .compatibility) off the event loop, and reads
the type's schedules through Temporal (registry.schemas.temporal)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from temporal_registry.v1 import schemas_pb2, schemas_pb2_grpc

from registry.catalog.rules import required_id
from registry.catalog.shard_rules import schema_digest
from registry.catalog.store import StoreAccess
from registry.schemas.rules import (
    MAX_SERVING_WORKERS_SHOWN,
    blocks_on_schedules,
    effective_mode,
    mode_name,
    mode_value,
    plan_override_reason,
)
from registry.server.auth import current_principal
from registry.server.errors import invalid_fields, not_found
from registry.shared.messages import struct_to_dict
from registry.shared.model import SchemaVersion, StoredWorkflow
from registry.shared.schemas import check_meta_schema
from registry.shared.specs import validate_input_schema

Context = grpc.aio.ServicerContext[Any, Any]


class SchemaService(schemas_pb2_grpc.SchemaServiceServicer):
    def __init__(self, store: StoreAccess) -> None:
        self._store = store

    async def ListSchemaVersions(
        self, request: schemas_pb2.ListSchemaVersionsRequest, context: Context
    ) -> schemas_pb2.ListSchemaVersionsResponse:
        required_id(request.workflow_type, "workflow_type")
        store = self._store()
        stored = await store.workflow(request.workflow_type)
        serving = store.serving(stored)
        return schemas_pb2.ListSchemaVersionsResponse(
            versions=[
                version_message(stored, version, serving, with_schema=False)
                for version in reversed(stored.versions)
            ],
            current_version=stored.schema_version,
            serving_versions=sorted(serving),
            compatibility_mode=mode_value(  # type: ignore[arg-type]
                effective_mode(stored, store.default_compatibility)
            ),
        )

    async def GetSchemaVersion(
        self, request: schemas_pb2.GetSchemaVersionRequest, context: Context
    ) -> schemas_pb2.SchemaVersion:
        required_id(request.workflow_type, "workflow_type")
        store = self._store()
        stored = await store.workflow(request.workflow_type)
        version = next((v for v in stored.versions if v.number == request.version), None)
        if version is None:
            kept = ", ".join(str(v.number) for v in stored.versions)
            raise not_found(
                "SCHEMA_VERSION_NOT_FOUND",
                f"{request.workflow_type} has no schema version {request.version} (kept: {kept})",
                workflow_type=request.workflow_type,
                version=str(request.version),
            )
        return version_message(stored, version, store.serving(stored), with_schema=True)

    async def CheckCompatibility(
        self, request: schemas_pb2.CheckCompatibilityRequest, context: Context
    ) -> schemas_pb2.CheckCompatibilityResponse:
        required_id(request.workflow_type, "workflow_type")
        candidate = _candidate(request.input_schema)
        store = self._store()
        verdict, scan = await store.verdict(
            request.workflow_type, candidate, mode_name(request.mode)
        )
        blocking = bool(scan.broken) and blocks_on_schedules(verdict.mode)
        return schemas_pb2.CheckCompatibilityResponse(
            compatible=verdict.compatible and not blocking,
            mode=mode_value(verdict.mode),  # type: ignore[arg-type]
            identical_version=verdict.identical_version,
            compared_versions=verdict.compared,
            incompatibilities=[
                schemas_pb2.SchemaIncompatibility(
                    version=finding.version,
                    direction=finding.direction,
                    path=finding.change.path,
                    rule=finding.change.rule,
                )
                for finding in verdict.findings
            ],
            broken_schedules=[
                schemas_pb2.BrokenSchedule(schedule_id=schedule_id, reason=reason)
                for schedule_id, reason in scan.broken
            ],
            schedules_unchecked=scan.unchecked,
        )

    async def CreateSchemaVersion(
        self, request: schemas_pb2.CreateSchemaVersionRequest, context: Context
    ) -> schemas_pb2.SchemaVersion:
        required_id(request.workflow_type, "workflow_type")
        candidate = _candidate(request.input_schema)
        override = plan_override_reason(request.override_reason)
        store = self._store()
        principal = current_principal.get().name
        number, _created = await store.approve_schema(
            request.workflow_type,
            candidate,
            principal=principal,
            override=override,
            validate_only=request.validate_only,
        )
        stored = await store.workflow(request.workflow_type)
        serving = store.serving(stored)
        version = next((v for v in stored.versions if v.number == number), None)
        if version is None:  # validate_only: what it would store
            version = SchemaVersion(
                number, schema_digest(candidate), candidate, store.now(), "", principal, override
            )
        return version_message(stored, version, serving, with_schema=True)

    async def GetCompatibility(
        self, request: schemas_pb2.GetCompatibilityRequest, context: Context
    ) -> schemas_pb2.Compatibility:
        required_id(request.workflow_type, "workflow_type")
        store = self._store()
        return self._compatibility(await store.workflow(request.workflow_type))

    async def SetCompatibility(
        self, request: schemas_pb2.SetCompatibilityRequest, context: Context
    ) -> schemas_pb2.Compatibility:
        required_id(request.workflow_type, "workflow_type")
        store = self._store()
        await store.workflow(request.workflow_type)
        return self._compatibility(
            await store.set_compatibility(request.workflow_type, mode_name(request.mode))
        )

    def _compatibility(self, stored: StoredWorkflow) -> schemas_pb2.Compatibility:
        default = self._store().default_compatibility
        return schemas_pb2.Compatibility(
            workflow_type=stored.spec.workflow_type,
            mode=mode_value(effective_mode(stored, default)),  # type: ignore[arg-type]
            type_mode=mode_value(stored.compatibility),  # type: ignore[arg-type]
            default_mode=mode_value(default),  # type: ignore[arg-type]
        )


def _candidate(struct: Any) -> dict[str, Any]:
    """A request's input schema, checked as a registration's is (INVALID_SCHEMA)."""
    schema = struct_to_dict(struct)
    violations = validate_input_schema(schema, "input_schema")
    if not violations:
        violations = check_meta_schema(schema, "input_schema")
    if violations:
        raise invalid_fields("INVALID_SCHEMA", violations)
    return schema


def version_message(
    stored: StoredWorkflow,
    version: SchemaVersion,
    serving: Mapping[int, Sequence[str]],
    *,
    with_schema: bool,
) -> schemas_pb2.SchemaVersion:
    workers = serving.get(version.number, ())
    message = schemas_pb2.SchemaVersion(
        workflow_type=stored.spec.workflow_type,
        version=version.number,
        schema_digest=version.digest,
        create_time_epoch=version.created_epoch,
        created_by_worker=version.worker_id,
        created_by_principal=version.principal,
        override_reason=version.override_reason,
        current=version.number == stored.schema_version,
        serving_worker_count=len(workers),
        serving_workers=list(workers[:MAX_SERVING_WORKERS_SHOWN]),
    )
    if with_schema:
        message.input_schema.update(version.schema)
    return message
