"""The rules of schema evolution (docs/schemas.md), pure: the compatibility modes, which kept
versions a candidate schema is compared with and in which directions, the verdict and the
errors it makes, and which versions live workers serve.

A candidate identical to a kept version is accepted as that version without a check (a
rollback, or a schema an operator approved ahead of its workers). Otherwise, with versions
`v1..vN` kept and `vC` current: BACKWARD compares the candidate with vC, BACKWARD_TRANSITIVE
with every kept version (the newest 8 and every served one: registry.catalog.versions), both
asking that the candidate accept every input the version accepts (registry.schemas
.compatibility.backward_breaks); FORWARD and FORWARD_TRANSITIVE ask the reverse; FULL and
FULL_TRANSITIVE both. Under a BACKWARD or FULL mode, schedules whose stored input the
candidate refuses block it too (they are existing inputs); under the other modes they are
reported and do not block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import grpc
from temporal_registry.v1 import resources_pb2

from registry.catalog.shard_rules import schema_digest
from registry.catalog.versions import MODE_NAMES, served_version
from registry.schemas.compatibility import Incompatibility, backward_breaks, forward_breaks
from registry.server.errors import FieldViolation, RegistryError, invalid_field
from registry.shared.model import SchemaVersion, StoredWorker, StoredWorkflow

MAX_FINDINGS: Final = 100  # reported per check (google.rpc.BadRequest stays readable)
MAX_SERVING_WORKERS_SHOWN: Final = 100
MAX_OVERRIDE_REASON_LENGTH: Final = 500
BACKWARD: Final = "BACKWARD"
FORWARD: Final = "FORWARD"
_PREFIX: Final = "COMPATIBILITY_MODE_"


@dataclass(frozen=True)
class Mode:
    name: str
    backward: bool  # the candidate must accept what a version accepts
    forward: bool  # a version must accept what the candidate accepts
    transitive: bool  # every kept version, not only the current one


MODES: Final = {
    "NONE": Mode("NONE", False, False, False),
    "BACKWARD": Mode("BACKWARD", True, False, False),
    "BACKWARD_TRANSITIVE": Mode("BACKWARD_TRANSITIVE", True, False, True),
    "FORWARD": Mode("FORWARD", False, True, False),
    "FORWARD_TRANSITIVE": Mode("FORWARD_TRANSITIVE", False, True, True),
    "FULL": Mode("FULL", True, True, False),
    "FULL_TRANSITIVE": Mode("FULL_TRANSITIVE", True, True, True),
}
assert tuple(MODES) == MODE_NAMES


def mode_name(value: int) -> str:
    """The mode's name of a CompatibilityMode value ("" for UNSPECIFIED)."""
    if value == resources_pb2.COMPATIBILITY_MODE_UNSPECIFIED:
        return ""
    return resources_pb2.CompatibilityMode.Name(value).removeprefix(_PREFIX)


def mode_value(name: str) -> int:
    """The CompatibilityMode value of a mode's name ("": UNSPECIFIED)."""
    if not name:
        return resources_pb2.COMPATIBILITY_MODE_UNSPECIFIED
    return resources_pb2.CompatibilityMode.Value(_PREFIX + name)


def effective_mode(stored: StoredWorkflow | None, default: str) -> str:
    """The mode a new schema of the type must meet: its own, else the registry's default."""
    return (stored.compatibility if stored is not None else "") or default


@dataclass(frozen=True)
class Finding:
    version: int  # the kept version compared with
    direction: str  # BACKWARD or FORWARD
    change: Incompatibility

    def describe(self, mode: str) -> str:
        return f"breaks {mode} compatibility with version {self.version}: {self.change}"


@dataclass(frozen=True)
class Verdict:
    """What a candidate schema is, compared with a type's kept versions under a mode."""

    mode: str
    identical_version: int  # the kept version with the same schema (0: none)
    compared: tuple[int, ...]  # the versions it was compared with, newest first
    findings: tuple[Finding, ...]

    @property
    def compatible(self) -> bool:
        return not self.findings


def check_candidate(
    stored: StoredWorkflow | None, candidate: Mapping[str, Any], mode: str
) -> Verdict:
    """The candidate compared with the type's kept versions as `mode` says (CPU-bound but
    bounded: each comparison has a work budget, registry.schemas.compatibility)."""
    versions = stored.versions if stored is not None else ()
    digest = schema_digest(candidate)
    identical = next((v.number for v in versions if v.digest == digest), 0)
    rules = MODES[mode]
    if identical or not versions or not (rules.backward or rules.forward):
        return Verdict(mode, identical, (), ())
    assert stored is not None
    compared = _compared(versions, stored.schema_version, rules.transitive)
    findings: list[Finding] = []
    for version in compared:
        if rules.backward:
            findings += _findings(version, BACKWARD, backward_breaks(version.schema, candidate))
        if rules.forward:
            findings += _findings(version, FORWARD, forward_breaks(version.schema, candidate))
    return Verdict(mode, 0, tuple(v.number for v in compared), tuple(findings[:MAX_FINDINGS]))


def _compared(
    versions: Sequence[SchemaVersion], current: int, transitive: bool
) -> list[SchemaVersion]:
    newest_first = sorted(versions, key=lambda v: v.number, reverse=True)
    if transitive:
        return newest_first
    return [v for v in newest_first if v.number == current][:1] or newest_first[:1]


def _findings(
    version: SchemaVersion, direction: str, changes: Iterable[Incompatibility]
) -> list[Finding]:
    """In path order, whatever order the schema's keys came in (a Struct sorts them)."""
    ordered = sorted(changes, key=lambda change: (change.path, change.rule))
    return [Finding(version.number, direction, change) for change in ordered]


def current_digest(stored: StoredWorkflow) -> str:
    """The digest of the type's current schema (as its entry's `schema` holds it)."""
    return next(
        (v.digest for v in stored.versions if v.number == stored.schema_version),
        schema_digest(stored.spec.input_schema),
    )


def blocks_on_schedules(mode: str) -> bool:
    """Whether schedules whose stored input a new schema refuses block it (BACKWARD, FULL)."""
    return MODES[mode].backward


def incompatible(
    workflow_type: str,
    verdict: Verdict,
    broken_schedules: Sequence[tuple[str, str]],
    field: str,
) -> RegistryError:
    """FAILED_PRECONDITION (SCHEMA_INCOMPATIBLE) for a schema the type's mode refuses: one
    violation per finding and per schedule it would break, at `field`, and what to do."""
    violations = [
        FieldViolation(field, finding.describe(verdict.mode), "schema_incompatible")
        for finding in verdict.findings
    ] + [
        FieldViolation(
            field,
            f"refuses the stored input of schedule {schedule_id}: {reason}",
            "schedule_input_refused",
        )
        for schedule_id, reason in broken_schedules
    ]
    violations = violations[:MAX_FINDINGS]
    first = violations[0].description
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return RegistryError(
        grpc.StatusCode.FAILED_PRECONDITION,
        "SCHEMA_INCOMPATIBLE",
        f"the new input schema of {workflow_type} {first}{more}. Check a schema before "
        f"deploying it (POST /registry/workflows/{workflow_type}/compatibility/check); an "
        "admin may accept it anyway with a reason (POST "
        f"/registry/workflows/{workflow_type}/versions with override_reason)",
        violations,
        metadata={
            "workflow_type": workflow_type,
            "compatibility_mode": verdict.mode,
            "compared_versions": ",".join(str(n) for n in verdict.compared),
        },
    )


def serving_versions(
    stored: StoredWorkflow, workers: Iterable[StoredWorker], live: Callable[[StoredWorker], bool]
) -> dict[int, list[str]]:
    """Version number -> the live workers that declared it, sorted. A worker registered before
    versions were kept serves the current one."""
    serving: dict[int, list[str]] = {}
    workflow_type = stored.spec.workflow_type
    for worker in workers:
        if live(worker):
            number = served_version(worker, workflow_type, stored.schema_version)
            serving.setdefault(number, []).append(worker.worker_id)
    return {number: sorted(ids) for number, ids in sorted(serving.items())}


def serving_schemas(
    stored: StoredWorkflow, serving: Mapping[int, Sequence[str]]
) -> tuple[SchemaVersion, ...]:
    """The kept versions live workers serve (a start's input must be valid for each); none
    without live workers (a start is then checked against the current schema)."""
    return tuple(v for v in stored.versions if v.number in serving)


def plan_override_reason(reason: str) -> str:
    """An override reason (optional): 1-500 printable characters, stored stripped."""
    if reason and (
        not reason.strip() or len(reason) > MAX_OVERRIDE_REASON_LENGTH or not reason.isprintable()
    ):
        raise invalid_field(
            "override_reason",
            f"1-{MAX_OVERRIDE_REASON_LENGTH} printable characters: why a schema that breaks "
            "the type's compatibility mode is accepted",
            "invalid",
            error_reason="INVALID_REQUEST",
        )
    return reason.strip()
