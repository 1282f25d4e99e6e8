"""Moving a registry's state whole, through Temporal: export, import, and the migration of a
0.2 registry at startup.

- **Export** reads the root and every shard: a running one with its query (`describe`,
  `snapshot`), answered by a registry process's worker; a closed one, or one no worker
  answers for, from its history (the run's input and every applied batch's outcomes), so a
  terminated registry, or one no process serves, can still be exported.
- **Import** builds every shard's input state from the export (registry.catalog.export, each
  checked against its bound first), then, only with `replace`, terminates the registry's
  workflows (reason recorded) and starts new runs: shards first, the root last, so a process
  that finds the root finds its shards filled. This is the only place that starts a registry
  workflow over a closed one (id reuse policy ALLOW_DUPLICATE); everywhere else a closed
  registry workflow is reported, never replaced.
- **Migration from 0.2**: see `LegacyRegistry`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

from temporalio.api.history.v1 import HistoryEvent
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from registry.catalog.engine import Limits
from registry.catalog.export import Export, collect, replay_outcomes, root_state, shard_states
from registry.catalog.layout import KINDS, Layout
from registry.catalog.legacy import (
    LEGACY_WORKFLOW_TYPE,
    input_and_results,
    legacy_catalog,
    legacy_export,
)
from registry.catalog.legacy import read_history as read_legacy_history
from registry.catalog.temporal import RegistryTemporal, RunInfo
from registry.catalog.workflow import ROOT_NAME, SHARD_NAME
from registry.server.config import Config
from registry.server.errors import RegistryError
from registry.server.temporal_connection import connect, ensure_namespace

log = logging.getLogger("registry.catalog.transfer")
T = TypeVar("T")

_CONCURRENCY: Final = 8  # Temporal calls in flight at once
_STATUS_RUNNING: Final = "WORKFLOW_EXECUTION_STATUS_RUNNING"
_STATUS_CONTINUED: Final = "WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW"


class TransferError(RuntimeError):
    """An export, import or migration that cannot be done; the message says why and what to
    do. Nothing was changed unless the message says otherwise."""


def _layout_of(workflow_id: str, root: dict[str, Any]) -> Layout:
    counts = root.get("layout")
    if not isinstance(counts, dict):
        raise TransferError(f"registry {workflow_id}'s root holds no layout")
    return Layout(workflow_id, **{k: int(v) for k, v in counts.items()})


async def _bounded(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Await every call, at most _CONCURRENCY at once; their results in order."""
    limit = asyncio.Semaphore(_CONCURRENCY)

    async def one(call: Awaitable[T]) -> T:
        async with limit:
            return await call

    return await asyncio.gather(*(one(call) for call in calls))


# --- reading runs --------------------------------------------------------------------------


async def run_events(temporal: RegistryTemporal, workflow_id: str, run_id: str) -> list[Any]:
    """Every event of one run so far."""
    events: list[HistoryEvent] = []
    token = b""
    while True:
        page = await temporal.history_page(workflow_id, run_id, token, wait=0)
        events += page.events
        if not page.next_page_token:
            return events
        token = page.next_page_token


async def _input_and_results(temporal: RegistryTemporal, run: RunInfo) -> tuple[Any, list[Any]]:
    events = await run_events(temporal, run.workflow_id, run.run_id)
    _, start, results = input_and_results(events, temporal.decode)
    return start, results


async def root_from_history(temporal: RegistryTemporal, run: RunInfo) -> dict[str, Any]:
    """The root's state as of its run's last event: the input, or the state the last service
    start answered with (every `record_service_start` returns the whole state)."""
    start, results = await _input_and_results(temporal, run)
    states = [result for result in results if isinstance(result, dict)]
    state = states[-1] if states else start
    if not isinstance(state, dict):
        raise TransferError(f"{run.workflow_id} has no registry root state in its history")
    return state


async def shard_from_history(temporal: RegistryTemporal, run: RunInfo) -> dict[str, Any]:
    """A shard's state as of its run's last event (registry.catalog.export.replay_outcomes)."""
    start, results = await _input_and_results(temporal, run)
    if not isinstance(start, dict) or not isinstance(start.get("entries"), dict):
        raise TransferError(f"{run.workflow_id} has no registry shard state in its history")
    return replay_outcomes(start, results)


# --- export --------------------------------------------------------------------------------


async def export_registry(temporal: RegistryTemporal, workflow_id: str, namespace: str) -> Export:
    """Every entry of the registry `workflow_id`, read as the module docstring says."""
    root_id = f"{workflow_id}/root"
    root_run = await temporal.find(root_id)
    if root_run is None:
        raise TransferError(
            f"there is no registry {workflow_id} in namespace {namespace} (no workflow "
            f"{root_id}); check registry.workflow_id and temporal.namespace"
        )
    sources: dict[str, str] = {}
    root: dict[str, Any] | None = None
    if root_run.running:
        try:
            root = await temporal.query(root_id, "describe")
            sources[root_id] = "query"
        except RegistryError as error:
            log.info("%s; reading every registry workflow from its history", error.message)
    if root is None:
        root = await root_from_history(temporal, root_run)
        sources[root_id] = "history"
    use_queries = sources[root_id] == "query"  # a worker answers: shards are queried too
    layout = _layout_of(workflow_id, root)
    shards = layout.shards()

    async def read(kind: str, index: int) -> dict[str, Any]:
        shard_id = layout.shard_id(kind, index)
        run = await temporal.find(shard_id)
        if run is None:
            sources[shard_id] = "missing"
            return {"kind": kind, "revision": 0, "entries": {}, "blobs": {}, "order": []}
        if run.running and use_queries:
            try:
                state: dict[str, Any] = await temporal.query(shard_id, "snapshot", -1)
                sources[shard_id] = "query"
                return state
            except RegistryError as error:
                log.info("%s; reading it from its history", error.message)
        sources[shard_id] = "history"
        return await shard_from_history(temporal, run)

    states = await _bounded(read(kind, index) for kind, index in shards)
    return collect(
        workflow_id, namespace, time.time(), root, dict(zip(shards, states, strict=True)), sources
    )


# --- import --------------------------------------------------------------------------------


@dataclass
class ImportReport:
    layout: Layout
    counts: dict[str, int]
    terminated: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)


async def import_registry(
    temporal: RegistryTemporal,
    export: Export,
    layout: Layout,
    limits: Limits,
    *,
    namespace: str,
    replace: bool,
    reason: str,
) -> ImportReport:
    """Restore `export` as the registry of `layout` (see the module docstring). Refused
    (TransferError, nothing changed) when it does not fit, or when the registry exists and
    `replace` is not set."""
    try:
        states = shard_states(export, layout, limits)
    except ValueError as error:
        raise TransferError(str(error)) from None
    root_id = layout.root_id()
    root_run = await temporal.find(root_id)
    ids = [layout.shard_id(kind, i) for kind, i in layout.shards()]
    if root_run is not None:  # the shards of its own layout too, when it had more
        try:
            old = _layout_of(layout.root, await root_from_history(temporal, root_run))
            ids += [old.shard_id(k, i) for k, i in old.shards() if old.shard_id(k, i) not in ids]
        except TransferError:
            pass
    runs = [root_run, *await _bounded(temporal.find(wid) for wid in ids)]
    existing = [run for run in runs if run is not None]
    if existing and not replace:
        raise TransferError(_exists_message(layout.root, namespace, root_run, existing))
    report = ImportReport(layout, export.count())
    running = [run for run in existing if run.running]
    for is_root in (True, False):  # the root first: no process joins while shards go
        batch = [run for run in running if (run.workflow_id == root_id) == is_root]
        await _bounded(_terminate(temporal, run, reason) for run in batch)
        report.terminated += [run.workflow_id for run in batch]
    shard_ids = [layout.shard_id(kind, index) for kind, index in states]
    await _bounded(
        _start_new(temporal, SHARD_NAME, wid, state)
        for wid, state in zip(shard_ids, states.values(), strict=True)
    )
    imported = {
        "from_registry": export.registry,
        "from_namespace": export.namespace,
        "exported_at": export.exported_at,
        "imported_at": time.time(),
        "reason": reason,
    }
    await _start_new(temporal, ROOT_NAME, root_id, root_state(export, layout, imported))
    report.started = [*shard_ids, root_id]
    return report


def _exists_message(
    registry: str, namespace: str, root: RunInfo | None, existing: list[RunInfo]
) -> str:
    running = sum(run.running for run in existing)
    root_status = (
        "missing" if root is None else root.status.removeprefix("WORKFLOW_EXECUTION_STATUS_")
    )
    return (
        f"registry {registry} already exists in namespace {namespace}: its root is "
        f"{root_status.lower()}, {running} of its {len(existing)} workflows run. Importing "
        "replaces all of its state with the file's: run `temporal-registry import --replace "
        "FILE` to terminate them and import (export it first to keep what it holds). "
        "Nothing was changed."
    )


async def _terminate(temporal: RegistryTemporal, run: RunInfo, reason: str) -> bool:
    """Terminate the run; False when it had closed meanwhile (another process did it)."""
    handle = temporal.client.get_workflow_handle(run.workflow_id, run_id=run.run_id)
    try:
        await handle.terminate(reason=reason)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return False
    return True


async def _start_new(
    temporal: RegistryTemporal, workflow: str, workflow_id: str, state: dict[str, Any]
) -> None:
    """Start a registry workflow over a closed one, never over a running one."""
    try:
        await temporal.client.start_workflow(
            workflow,
            state,
            id=workflow_id,
            task_queue=temporal.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        raise TransferError(
            f"{workflow_id} was started by someone else during the import (another import?); "
            "run the import again"
        ) from None


# --- migration from 0.2 --------------------------------------------------------------------


@dataclass
class LegacyRegistry:
    """A 0.2 registry to migrate: the run it was read from, and its catalogue as an export.

    At startup, when the sharded registry's root does not exist and the 0.2 workflow runs
    (`find`), the process creates the root with a `migrated_from` marker naming that run
    (`marker`), so every process that finds the root knows a migration is due until the
    0.2 run is closed. Each of them then `migrate`s: reads the 0.2 run's history (no workflow
    code runs), builds the shards' states with the root's layout, starts the shards
    (USE_EXISTING: whoever is first, the content is the same, built from the same history
    with the same layout), and only then terminates the 0.2 run, naming the new root. A crash
    anywhere before the termination leaves the 0.2 run running, so the next process does it
    all again; once it is terminated, every shard exists, filled. Writes that reach the 0.2
    registry while this happens are not migrated (they are logged): stop every 0.2 process
    first."""

    workflow_id: str
    run_id: str
    created_at: float
    export: Export
    writes: int  # completed updates read from its history

    @property
    def marker(self) -> dict[str, Any]:
        return {"workflow_id": self.workflow_id, "run_id": self.run_id}

    @classmethod
    async def find(
        cls, temporal: RegistryTemporal, workflow_id: str, namespace: str
    ) -> LegacyRegistry | None:
        """The 0.2 registry at workflow_id, when it runs."""
        run = await temporal.find(workflow_id)
        if run is None or run.workflow_type != LEGACY_WORKFLOW_TYPE:
            return None
        if not run.running:
            log.warning(
                "the 0.2 registry %s is %s: not migrated (a new, empty registry is created)",
                workflow_id,
                run.status,
            )
            return None
        return await cls.read(temporal, run, namespace)

    @classmethod
    async def read(cls, temporal: RegistryTemporal, run: RunInfo, namespace: str) -> LegacyRegistry:
        events = await run_events(temporal, run.workflow_id, run.run_id)
        start, results = read_legacy_history(events, temporal.decode)
        catalog = legacy_catalog(start, results)
        created = start.get("started_at_epoch")
        return cls(
            run.workflow_id,
            run.run_id,
            float(created) if isinstance(created, (int, float)) and created > 0 else time.time(),
            legacy_export(catalog, run.workflow_id, namespace, time.time()),
            len(results),
        )

    def states(self, layout: Layout, limits: Limits) -> dict[tuple[str, int], dict[str, Any]]:
        """The shards' input states (TransferError when the catalogue does not fit)."""
        try:
            return shard_states(self.export, layout, limits)
        except ValueError as error:
            raise TransferError(
                f"cannot migrate the 0.2 registry {self.workflow_id}: {error}"
            ) from None


async def migrate(
    temporal: RegistryTemporal,
    marker: Any,
    layout: Layout,
    limits: Limits,
    namespace: str,
    read: LegacyRegistry | None = None,
) -> bool:
    """Complete the migration the root's `migrated_from` marker names, if still due (see
    LegacyRegistry). True when this call terminated the 0.2 run."""
    if not isinstance(marker, dict) or not isinstance(marker.get("run_id"), str):
        return False
    workflow_id = str(marker.get("workflow_id"))
    run = await temporal.find(workflow_id, marker["run_id"])
    if run is not None and run.status == _STATUS_CONTINUED:  # it moved on: its current run
        run = await temporal.find(workflow_id)
    if run is None or not run.running or run.workflow_type != LEGACY_WORKFLOW_TYPE:
        current = await temporal.find(workflow_id)  # migrated already; but is 0.2 back?
        if (
            current is not None
            and current.running
            and current.workflow_type == LEGACY_WORKFLOW_TYPE
        ):
            log.error(
                "the 0.2 registry %s runs again (run %s) after it was migrated to %s: writes "
                "made through it are not in this registry; stop every 0.2 process",
                workflow_id,
                current.run_id,
                layout.root_id(),
            )
        return False
    if read is None or read.run_id != run.run_id:
        read = await LegacyRegistry.read(temporal, run, namespace)
    states = read.states(layout, limits)
    await _bounded(
        temporal.start_shard(layout.shard_id(kind, index), state)
        for (kind, index), state in states.items()
    )
    reason = (
        f"migrated to the sharded registry {layout.root_id()} by temporal-registry "
        f"({socket.gethostname()}:{os.getpid()}); its state is there now"
    )
    if not await _terminate(temporal, run, reason):
        return False  # another process completed the migration meanwhile
    counts = read.export.count()
    log.info(
        "migrated the 0.2 registry %s (run %s: %d types, %d workers, %d readable-id entries) to %s",
        workflow_id,
        run.run_id,
        counts["types"],
        counts["workers"],
        counts["ids"],
        layout.root_id(),
    )
    late = await _late_writes(temporal, run, read.writes)
    if late:
        log.error(
            "%d writes reached the 0.2 registry %s after it was read for the migration; they "
            "are not in the new registry (stop every 0.2 process before upgrading)",
            late,
            workflow_id,
        )
    return True


async def _late_writes(temporal: RegistryTemporal, run: RunInfo, read: int) -> int:
    """How many completed updates the (now closed) run has beyond the `read` ones."""
    _, results = await _input_and_results(temporal, run)
    return max(0, len(results) - read)


# --- the commands --------------------------------------------------------------------------


async def _connect(config: Config) -> RegistryTemporal:
    client = await connect(config.temporal)
    settings = config.registry
    return RegistryTemporal(
        client, settings.task_queue, timedelta(seconds=settings.query_timeout_seconds)
    )


async def run_export(config: Config, output: str) -> str:
    """`temporal-registry export -o FILE` ("-": standard output); what it did, in a line."""
    temporal = await _connect(config)
    export = await export_registry(temporal, config.registry.workflow_id, config.temporal.namespace)
    text = json.dumps(export.to_json(), indent=1) + "\n"
    if output == "-":
        sys.stdout.write(text)
    else:
        await asyncio.to_thread(_write_atomically, Path(output), text)
    counts = export.count()
    from_history = sum(source == "history" for source in export.sources.values())
    return (
        f"exported registry {export.registry} (namespace {export.namespace}, layout "
        f"{_counts(export.layout)}): {counts['types']} workflow types, {counts['workers']} "
        f"workers, {counts['ids']} readable-id entries, {len(export.blobs)} schemas"
        + (f"; {from_history} workflows read from their history" if from_history else "")
        + ("" if output == "-" else f", to {output}")
    )


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


async def run_import(config: Config, source: str, *, replace: bool, reason: str) -> str:
    """`temporal-registry import FILE [--replace]`; what it did, in a line."""
    try:
        text = await asyncio.to_thread(Path(source).read_text, encoding="utf-8")
        export = Export.from_json(json.loads(text))
    except (OSError, ValueError) as error:
        raise TransferError(f"cannot read {source}: {error}") from None
    settings = config.registry
    layout = Layout(settings.workflow_id, **settings.shards.model_dump())
    temporal = await _connect(config)
    await ensure_namespace(
        temporal.client, config.temporal.namespace, config.temporal.namespace_retention_days
    )
    why = f"temporal-registry import --replace {source} ({socket.gethostname()}:{os.getpid()})"
    report = await import_registry(
        temporal,
        export,
        layout,
        Limits(max_bytes=settings.shard_max_bytes),
        namespace=config.temporal.namespace,
        replace=replace,
        reason=f"{why}: {reason}" if reason else why,
    )
    counts = report.counts
    replaced = (
        f"; terminated {len(report.terminated)} running registry workflows"
        if report.terminated
        else ""
    )
    return (
        f"imported {source} into registry {settings.workflow_id} (namespace "
        f"{config.temporal.namespace}, layout {_counts(layout.counts())}): "
        f"{counts['types']} workflow types, {counts['workers']} workers, {counts['ids']} "
        f"readable-id entries{replaced}"
    )


def _counts(layout: dict[str, int]) -> str:
    return ", ".join(f"{layout[kind]} {kind}" for kind in KINDS if kind in layout)
