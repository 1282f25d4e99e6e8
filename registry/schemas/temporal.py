"""The Temporal calls of schema evolution: the schedules whose stored input a candidate schema
would refuse (read through Temporal's schedule API, as the schedule guardian reads them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry.dispatch.rules import input_violations
from registry.schedules.guardian import ScanLimitReached, schedule_ids
from registry.schedules.temporal import TemporalSchedules
from registry.server.errors import RegistryError
from registry.shared.model import StoredWorkflow, WorkflowSpec, violations_summary


@dataclass(frozen=True)
class ScheduleScan:
    broken: tuple[tuple[str, str], ...]  # (schedule id, why its input is refused)
    unchecked: str  # what was left unchecked, and why ("": every schedule was checked)


async def schedules_refusing(
    schedules: TemporalSchedules, workflow_type: str, candidate: dict[str, Any]
) -> ScheduleScan:
    """The schedules of the type whose stored input the candidate schema refuses. Temporal
    failing, or more schedules than one scan reads, leaves the rest unchecked (and says so)
    rather than failing the caller."""
    probe = StoredWorkflow(spec=WorkflowSpec(workflow_type=workflow_type, input_schema=candidate))
    broken: list[tuple[str, str]] = []
    try:
        async for schedule_id in schedule_ids(schedules, {workflow_type}):
            described = await schedules.describe(schedule_id)
            violations = await input_violations(probe, schedules.decode_input(described.schedule))
            if violations:
                broken.append((schedule_id, violations_summary(violations)))
    except ScanLimitReached as error:
        return ScheduleScan(tuple(broken), str(error))
    except RegistryError as error:
        return ScheduleScan(tuple(broken), f"schedules could not be read: {error.message}")
    return ScheduleScan(tuple(broken), "")
