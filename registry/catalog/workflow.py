"""The registry's workflows: where all registry state lives, durably, on Temporal.

- The **root** (`<workflow_id>/root`, one per registry): the layout (how many shards of each
  kind, fixed at creation), when the registry was created, the last registry process that
  started against it. It changes only when a process starts or an operator asks for a
  handover.
- The **shards** (`<workflow_id>/<kind>/<NN>`): workflow types, workers and readable-id
  counters, each kind hashed over its own shards (registry.catalog.layout). Every shard runs
  the same engine (registry.catalog.engine) with its kind's rules; every write is one `apply`
  update carrying a batch of operations (the group commit of registry.catalog.shards).

Both are small and deterministic: a shard's whole state is its run input, a plain JSON dict
decoded in milliseconds, bounded and exactly sized by the engine, carried to the next run when
Temporal suggests it, at `max_history_events` or `max_updates_per_run`, or on a handover. An
update validator refuses a malformed batch before it reaches history; the handlers never raise,
so no input can fail a workflow task. Rule changes are gated with `workflow.patched` (the
rules call `view.patched`), so a replay decides as the original run did.

Imports are limited to the standard library, temporalio and sandbox-safe registry modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from registry.catalog.engine import Decide, Refusal, Shard, View
from registry.catalog.layout import IDS, TYPES, WORKERS
from registry.catalog.shard_rules import decide_type_op, decide_worker_op
from registry.dispatch.claims import decide_id_op

ROOT_NAME: Final = "TemporalRegistryRoot"
SHARD_NAME: Final = "TemporalRegistryShard"
MAX_BATCH_OPS: Final = 512
MAX_REASON_LENGTH: Final = 500
DEFAULT_MAX_HISTORY_EVENTS: Final = 2_000
DEFAULT_MAX_UPDATES_PER_RUN: Final = 500  # Temporal refuses more than 2,000 per run
RUN_LIMITS: Final = ("max_history_events", "max_updates_per_run")
# The pure modules these workflows import, passed through the sandbox: imported once per
# process instead of once per run (a handover of every shard re-imported them 73 times, most
# of the CPU a handover took). They hold no state between runs, and the sandbox's runtime
# restrictions (no clocks, randomness or I/O) still apply to every call the workflows make.
SANDBOX_PASSTHROUGH: Final = (
    "registry.catalog.engine",
    "registry.catalog.layout",
    "registry.catalog.op_fields",
    "registry.catalog.shard_rules",
    "registry.catalog.versions",
    "registry.dispatch.claims",
    "registry.shared",
)

_DECIDE: Final[dict[str, Decide]] = {
    TYPES: decide_type_op,
    WORKERS: decide_worker_op,
    IDS: decide_id_op,
}


def _invalid(message: str, reason: str = "INVALID_REQUEST") -> ApplicationError:
    return ApplicationError(
        message, {"reason": reason, "violations": []}, type="INVALID_ARGUMENT", non_retryable=True
    )


def _check_reason(reason: object) -> None:
    if (
        not isinstance(reason, str)
        or not reason.strip()
        or len(reason) > MAX_REASON_LENGTH
        or not reason.isprintable()
    ):
        raise _invalid(f"a reason of 1-{MAX_REASON_LENGTH} printable characters is required")


def _run_limit(state: Mapping[str, Any], name: str, default: int) -> int:
    value = state.get(name)
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
    )


class _Runs:
    """What decides when a run hands its state over to the next (continue-as-new)."""

    def __init__(self) -> None:
        self.updates = 0
        self.handover = ""

    def hand_over(self, reason: object) -> str:
        """Ask for a handover (the `hand_over` update of both workflows); this run's id."""
        self.updates += 1
        self.handover = reason if isinstance(reason, str) else "handover"
        return workflow.info().run_id

    def due(self, state: Mapping[str, Any]) -> bool:
        info = workflow.info()
        return bool(
            self.handover
            or info.is_continue_as_new_suggested()
            or info.get_current_history_length()
            >= _run_limit(state, "max_history_events", DEFAULT_MAX_HISTORY_EVENTS)
            or self.updates >= _run_limit(state, "max_updates_per_run", DEFAULT_MAX_UPDATES_PER_RUN)
        )


@workflow.defn(name=SHARD_NAME)
class RegistryShard:
    @workflow.init
    def __init__(self, state: dict[str, Any]) -> None:
        self._shard = Shard(state)
        self._decide = _DECIDE.get(str(state.get("kind")), _unknown_kind)
        self._runs = _Runs()

    @workflow.run
    async def run(self, state: dict[str, Any]) -> None:
        await workflow.wait_condition(lambda: self._runs.due(self._shard.state))
        await workflow.wait_condition(workflow.all_handlers_finished)
        state = self._shard.state
        state["continued"] = int(state.get("continued", 0)) + 1
        measured = workflow.payload_converter().to_payloads([state])[0].ByteSize()
        if measured != self._shard.size:  # the ledger is exact by design: say so if not
            workflow.logger.warning(
                "shard %s: ledger %d bytes, payload %d", state["name"], self._shard.size, measured
            )
        workflow.continue_as_new(state)

    @workflow.query
    def snapshot(self, known_revision: int) -> dict[str, Any]:
        """The whole state (at most the shard's bound), or only its revision when the caller
        already holds it."""
        if known_revision == self._shard.revision:
            return {"revision": self._shard.revision, "unchanged": True}
        return self._shard.state

    @workflow.update
    def apply(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Apply a batch of operations; one outcome each (registry.catalog.engine)."""
        # Counted in handlers, not validators: replay skips validators, so a count kept
        # there would differ on replay and make the continue-as-new decision nondeterministic.
        self._runs.updates += 1
        limits = batch.get("limits") if isinstance(batch, dict) else None
        if isinstance(limits, dict):  # the process's configured run limits
            for name in RUN_LIMITS:
                value = limits.get(name)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    self._shard.state[name] = value
        return self._shard.apply(batch, self._decide, workflow.now().timestamp(), workflow.patched)

    @apply.validator
    def _validate_apply(self, batch: dict[str, Any]) -> None:
        ops = batch.get("ops") if isinstance(batch, dict) else None
        if not isinstance(ops, list) or not 0 < len(ops) <= MAX_BATCH_OPS:
            raise _invalid(f"a batch is 1-{MAX_BATCH_OPS} operations")
        if not all(isinstance(op, dict) and isinstance(op.get("id"), str) for op in ops):
            raise _invalid("every operation is an object with an id")

    @workflow.update
    def hand_over(self, reason: str) -> str:
        """Drain this run and continue as new with the whole state; returns this run's id."""
        return self._runs.hand_over(reason)

    @hand_over.validator
    def _validate_hand_over(self, reason: str) -> None:
        _check_reason(reason)


def _unknown_kind(op: Mapping[str, Any], view: View, now: float) -> Refusal:
    return Refusal("FAILED_PRECONDITION", "UNKNOWN_SHARD_KIND", "this shard has no known kind")


@workflow.defn(name=ROOT_NAME)
class RegistryRoot:
    """The registry's identity and layout. State: `{"format", "layout": {kind: count},
    "created_at", "generation", "continued", "last_service_start", run limits}`."""

    @workflow.init
    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state
        if not self._state.get("created_at"):
            self._state["created_at"] = workflow.now().timestamp()
        if not self._state.get("generation"):
            self._state["generation"] = str(workflow.uuid4())
        self._runs = _Runs()

    @workflow.run
    async def run(self, state: dict[str, Any]) -> None:
        await workflow.wait_condition(lambda: self._runs.due(self._state))
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._state["continued"] = int(self._state.get("continued", 0)) + 1
        workflow.continue_as_new(self._state)

    @workflow.query
    def describe(self) -> dict[str, Any]:
        return self._state

    @workflow.update
    def record_service_start(self, start: dict[str, Any]) -> dict[str, Any]:
        """A registry process started against this registry: recorded, and answered with
        the registry's layout and identity (the process follows the stored layout)."""
        self._runs.updates += 1
        self._state["last_service_start"] = start
        for name in RUN_LIMITS:
            value = start.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                self._state[name] = value
        return self._state

    @record_service_start.validator
    def _validate_service_start(self, start: dict[str, Any]) -> None:
        if (
            not isinstance(start, dict)
            or not isinstance(start.get("process_id"), int)
            or start["process_id"] <= 0
            or not isinstance(start.get("host"), str)
            or not start["host"]
            or not all(
                isinstance(start.get(name, 0), int) and start.get(name, 0) >= 0
                for name in RUN_LIMITS
            )
        ):
            raise _invalid(
                "service start needs a positive process_id, a host and limits >= 0",
                "INVALID_SERVICE_START",
            )

    @workflow.update
    def hand_over(self, reason: str) -> str:
        """Drain this run and continue as new with the whole state; returns this run's id."""
        return self._runs.hand_over(reason)

    @hand_over.validator
    def _validate_hand_over(self, reason: str) -> None:
        _check_reason(reason)
