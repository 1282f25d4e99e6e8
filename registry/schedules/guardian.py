"""The schedule guardian: when a workflow type's spec changes, check the stored input of
every schedule of that type against the type's current input schema, report the schedules
whose input no longer fits, and pause them when `schedules.pause_on_invalid_input` is set.

It runs after the registration is written: a Temporal problem here is logged and never
undoes or fails the registration."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Final

from registry.dispatch.rules import input_violations
from registry.schedules.rules import MAX_NOTE_LENGTH, Pausing
from registry.schedules.temporal import TemporalSchedules
from registry.server.errors import RegistryError
from registry.shared.model import StoredWorkflow, violations_summary

log = logging.getLogger("registry.schedules")

MAX_SCANNED: Final = 10_000  # schedules looked at per change
_PAGE: Final = 1000


async def revalidate_schedules(
    schedules: TemporalSchedules,
    workflows: Mapping[str, StoredWorkflow],
    workflow_types: Collection[str],
    *,
    pause: bool,
) -> list[str]:
    """Ids of the schedules of `workflow_types` whose input fails the current schema."""
    affected: list[str] = []
    if not workflow_types:
        return affected
    try:
        async for schedule_id in schedule_ids(schedules, workflow_types):
            if await _check(schedules, workflows, schedule_id, pause):
                affected.append(schedule_id)
    except (RegistryError, ScanLimitReached) as error:
        log.warning("schedule guardian could not check schedules of %s: %s", workflow_types, error)
    return sorted(affected)


async def schedule_ids(
    schedules: TemporalSchedules, workflow_types: Collection[str]
) -> AsyncIterator[str]:
    """The ids of the namespace's schedules of these workflow types, among the first
    MAX_SCANNED schedules (ScanLimitReached past them). RegistryError when Temporal fails."""
    token, scanned = b"", 0
    while True:
        page = await schedules.list_page(_PAGE, token)
        scanned += len(page.schedules)
        for entry in page.schedules:
            if entry.info.workflow_type.name in workflow_types:
                yield entry.schedule_id
        token = page.next_page_token
        if not token:
            return
        if scanned >= MAX_SCANNED:
            raise ScanLimitReached(f"more than {MAX_SCANNED} schedules; the rest were not read")


class ScanLimitReached(Exception):
    """More schedules than one scan reads (MAX_SCANNED)."""


async def _check(
    schedules: TemporalSchedules,
    workflows: Mapping[str, StoredWorkflow],
    schedule_id: str,
    pause: bool,
) -> bool:
    described = await schedules.describe(schedule_id)
    workflow_type = described.schedule.action.start_workflow.workflow_type.name
    stored = workflows.get(workflow_type)
    if stored is None:
        return False
    try:
        violations = await input_violations(stored, schedules.decode_input(described.schedule))
    except RegistryError:  # the new schema itself is unusable: every schedule is affected
        return True
    if not violations:
        return False
    if pause and not described.schedule.state.paused:
        note = (
            f"paused by the registry: input no longer fits {workflow_type}'s schema "
            f"({violations_summary(violations)})"
        )
        await schedules.set_paused(Pausing(schedule_id, paused=True, note=note[:MAX_NOTE_LENGTH]))
        log.info("paused schedule %s: %s", schedule_id, note)
    return True
