"""The kept input schema versions of a workflow type, as its `types` shard entry holds them
(docs/schemas.md): their encoding, adding one, and what is kept.

A type entry has `"versions": [{"n", "schema", "created", "worker", "principal"[, "override"]}]`,
oldest first, and `"mode"` (its own compatibility mode; "" follows the registry's default).
Each version's schema is a blob of the shard under its digest (registry.catalog.shard_rules
.schema_digest), listed in the entry's `_refs`, so identical schemas are stored once. An entry
stored before versions were kept has none: its schema reads as version 1.

Whether a new schema meets the type's mode is decided by the server before it sends the
operation (registry.schemas: the analysis is too large for the workflow sandbox); the
operation names the current schema and mode it was checked against, and a decide function
refuses it (ABORTED, SCHEMA_CHECK_OUTDATED) when either moved since, so two registrations
never both pass a check against a schema one of them replaced.

Bounded: a type keeps its MAX_KEPT_VERSIONS newest versions, and every version a live worker
serves (the server names them in the operation); more than MAX_SERVED_VERSIONS served at once
is refused RESOURCE_EXHAUSTED (TOO_MANY_SCHEMA_VERSIONS) before anything is stored. A shard
nearly full (room for fewer than ROOM_FACTOR copies of the new schema) keeps only the
versions it needs (current, new, served), so old versions give way before a registration is
refused for want of room.

Standard library and registry.shared only, deterministic: it runs in the workflow sandbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from registry.catalog.engine import Refusal
from registry.shared.model import COMPATIBILITY_MODES, SchemaVersion, StoredWorker

MAX_KEPT_VERSIONS: Final = 8
MAX_SERVED_VERSIONS: Final = 16
MAX_VERSION_NUMBER: Final = 2**31 - 1  # an int32 in the contract
ROOM_FACTOR: Final = 4
MODE_NAMES: Final = COMPATIBILITY_MODES  # what a type's own mode may be
# The rule change that introduced versions (workflow.patched: a replay decides as it did).
SCHEMA_VERSIONS_PATCH: Final = "schema-versions"


def kept_versions(entry: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The entry's versions, oldest first; an entry without any (stored before versions were
    kept) has its schema as version 1."""
    if entry is None:
        return []
    versions = entry.get("versions")
    if isinstance(versions, list):
        return [dict(v) for v in versions]
    return [{"n": 1, "schema": entry.get("schema", ""), "created": entry.get("updated", 0.0)}]


def version_of(versions: Iterable[Mapping[str, Any]], digest: str) -> int:
    """The number of the kept version with this schema digest; 0 when none has it."""
    return next((int(v["n"]) for v in versions if v.get("schema") == digest), 0)


def version_refs(versions: Iterable[Mapping[str, Any]]) -> list[str]:
    """The blobs the versions use (an entry's `_refs`), sorted, without the empty schema."""
    return sorted({str(v["schema"]) for v in versions if v.get("schema")})


def served_version(worker: StoredWorker, workflow_type: str, current: int) -> int:
    """The schema version of the type a worker serves: what its registration declared, the
    current one for a worker registered before versions were kept."""
    return worker.schema_versions.get(workflow_type) or current


def schema_versions(
    entry: Mapping[str, Any], blobs: Mapping[str, Any]
) -> tuple[tuple[SchemaVersion, ...], int]:
    """The model's kept versions of an entry and the current one's number (the server's view;
    a version whose blob is missing reads as the empty schema, which never happens to a
    consistent shard)."""
    versions = tuple(
        SchemaVersion(
            number=int(v.get("n", 0)),
            digest=str(v.get("schema", "")),
            schema=dict(blobs.get(v.get("schema") or "") or {}),
            created_epoch=float(v.get("created", 0.0)),
            worker_id=str(v.get("worker", "")),
            principal=str(v.get("principal", "")),
            override_reason=str(v.get("override", "")),
        )
        for v in kept_versions(entry)
    )
    current = next((v.number for v in versions if v.digest == entry.get("schema", "")), 0)
    return versions, current


@dataclass(frozen=True)
class VersionRequest:
    """What an operation says about the schema it brings: the current schema digest and mode
    the server checked it against (None: not checked, as in a test or a tool's write), the
    versions live workers serve, who declares it, and an operator's override reason."""

    base: str | None = None
    mode: str | None = None
    serving: frozenset[int] = frozenset()
    worker: str = ""
    principal: str = ""
    override: str = ""


UNCHECKED: Final = VersionRequest()  # a write whose schema the server did not check


def add_version(
    stored: Mapping[str, Any] | None,
    digest: str,
    request: VersionRequest,
    now: float,
    *,
    keep: int = MAX_KEPT_VERSIONS,
) -> tuple[list[dict[str, Any]], int] | Refusal:
    """The versions after declaring a schema, and its number: a kept version when one has this
    schema (accepted as it is: a rollback needs no check), else a new one, checked against
    what the server saw (ABORTED when the current schema or the mode moved since). `keep`:
    how many versions to keep besides the needed ones (kept_for_room)."""
    versions = kept_versions(stored)
    known = version_of(versions, digest)
    if known:
        return versions, known
    if stored is not None and (
        (request.base is not None and request.base != stored.get("schema", ""))
        or (request.mode is not None and request.mode != stored.get("mode", ""))
    ):
        return Refusal(
            "ABORTED",
            "SCHEMA_CHECK_OUTDATED",
            "the type's current schema or compatibility mode changed while this schema was "
            "checked against it; retry",
        )
    number = max((int(v["n"]) for v in versions), default=0) + 1
    if number > MAX_VERSION_NUMBER:
        return Refusal(
            "RESOURCE_EXHAUSTED", "TOO_MANY_SCHEMA_VERSIONS", "the type used every version number"
        )
    added: dict[str, Any] = {"n": number, "schema": digest, "created": now}
    if request.worker:
        added["worker"] = request.worker
    if request.principal:
        added["principal"] = request.principal
    if request.override:
        added["override"] = request.override
    current = version_of(versions, stored.get("schema", "")) if stored is not None else 0
    kept = _prune([*versions, added], {number, current, *request.serving}, keep)
    if isinstance(kept, Refusal):
        return kept
    return kept, number


def kept_for_room(room: int, schema_bytes: int) -> int:
    """How many versions a type keeps when its shard has `room` bytes left and the new schema
    is `schema_bytes` long: MAX_KEPT_VERSIONS, or none but the needed ones when nearly full."""
    return MAX_KEPT_VERSIONS if room >= ROOM_FACTOR * schema_bytes else 0


def _prune(
    versions: list[dict[str, Any]], needed: set[int], keep: int
) -> list[dict[str, Any]] | Refusal:
    """The needed versions (new, current, served) and the newest others, `keep` in all unless
    more are needed; oldest first."""
    must = [v for v in versions if v["n"] in needed]
    if len(must) > MAX_SERVED_VERSIONS:
        return Refusal(
            "RESOURCE_EXHAUSTED",
            "TOO_MANY_SCHEMA_VERSIONS",
            f"{len(must)} schema versions of this type would be in use at once (at most "
            f"{MAX_SERVED_VERSIONS}): let workers of older versions finish before deploying "
            "another schema",
        )
    others = [v for v in versions if v["n"] not in needed]
    spare = max(0, keep - len(must))
    newest_others = others[len(others) - spare :] if spare else []
    kept = {v["n"] for v in [*must, *newest_others]}
    return [v for v in versions if v["n"] in kept]
