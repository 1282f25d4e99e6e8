"""The registry workflow: the durable home of all registry state.

One execution per namespace, with a fixed id from config. It is deliberately
small and deterministic: state is plain dataclasses, every write is an Update
with a validator (bad input is rejected before anything reaches history), and
the run continues as new, carrying its whole state, when Temporal suggests it
or the history reaches the configured length.

Imports are limited to the standard library and temporalio so the module runs
unchanged inside the workflow sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

WORKFLOW_NAME = "TemporalRegistry"


@dataclass
class ServiceStart:
    """A registry service process that started against this registry."""

    process_id: int
    host: str
    started_at_epoch: float


@dataclass
class RegistryState:
    """Everything the registry knows; the input of every run."""

    max_history_events: int = 10_000
    started_at_epoch: float = 0.0
    continue_as_new_count: int = 0
    last_service_start: ServiceStart | None = None


@dataclass
class RegistrySnapshot:
    """What queries return: counts and identity, never the raw state."""

    workflow_count: int = 0
    worker_count: int = 0
    healthy_worker_count: int = 0
    started_at_epoch: float = 0.0
    continue_as_new_count: int = 0
    last_service_start: ServiceStart | None = None


@workflow.defn(name=WORKFLOW_NAME)
class RegistryWorkflow:
    @workflow.init
    def __init__(self, state: RegistryState) -> None:
        # State comes from the run input, so updates delivered in the first
        # activation of a continued run see it (see docs/architecture.md).
        self._state = state
        if not self._state.started_at_epoch:
            self._state.started_at_epoch = workflow.now().timestamp()

    @workflow.run
    async def run(self, state: RegistryState) -> None:
        await workflow.wait_condition(self._history_is_long)
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._state.continue_as_new_count += 1
        workflow.continue_as_new(self._state)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._state.max_history_events
        )

    @workflow.query
    def snapshot(self) -> RegistrySnapshot:
        return RegistrySnapshot(
            started_at_epoch=self._state.started_at_epoch,
            continue_as_new_count=self._state.continue_as_new_count,
            last_service_start=self._state.last_service_start,
        )

    @workflow.update
    def record_service_start(self, start: ServiceStart) -> RegistrySnapshot:
        self._state.last_service_start = start
        return self.snapshot()

    @record_service_start.validator
    def _validate_service_start(self, start: ServiceStart) -> None:
        if not isinstance(start, ServiceStart) or start.process_id <= 0 or not start.host:
            raise ValueError("service start needs a positive process_id and a host")
