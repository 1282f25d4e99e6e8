"""The registry's data model: plain dataclasses shared by the registry
workflow, its update validators and the servers.

Standard library only, so the workflow sandbox can import it unchanged, and
every value round-trips through Temporal's JSON payload converter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: `field` is a dotted path (`workflows[2].task_queue`), or a
    JSON pointer inside a JSON value (`input/items/0`)."""

    field: str
    description: str
    reason: str = ""


@dataclass
class SearchAttributeSpec:
    name: str
    type: str
    description: str = ""


@dataclass
class InputWarningSpec:
    field: str
    message: str


@dataclass
class WorkflowSpec:
    """What is declared about a workflow type, by a worker or an operator."""

    workflow_type: str
    task_queue: str = ""
    version: str = ""
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)
    schedule_input_warnings: list[InputWarningSpec] = field(default_factory=list)
    search_attributes: list[SearchAttributeSpec] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class WorkerRegistration:
    """What a worker sends when it registers."""

    worker_id: str
    task_queue: str
    environment: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    ttl_seconds: int = 60
    workflows: list[WorkflowSpec] = field(default_factory=list)
