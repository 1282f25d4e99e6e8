"""The registry-owned workflow that changes the namespace's custom search attributes.

Registrations and reconciles that need attributes created (or, for `replace`, removed and
recreated) run this small workflow on the registry's task queue: its activities
(registry.search_attributes) call Temporal's OperatorService with bounded retries, and a type
conflict or an exhausted slot budget is never retried. Standard library and temporalio only,
so it runs unchanged in the workflow sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

NON_RETRYABLE = ["SEARCH_ATTRIBUTE_CONFLICT", "SEARCH_ATTRIBUTE_BUDGET"]
RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=5,
    non_retryable_error_types=NON_RETRYABLE,
)
ACTIVITY_TIMEOUT = timedelta(seconds=15)


@dataclass
class AttributeChange:
    """Remove `remove` (names), then add `add` (name -> type, e.g. Keyword)."""

    add: dict[str, str] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)


@workflow.defn(name="TemporalRegistryProvisionSearchAttributes")
class ProvisionSearchAttributes:
    @workflow.run
    async def run(self, change: AttributeChange) -> AttributeChange:
        """What was done: the attributes removed and added."""
        done = AttributeChange()
        if change.remove:
            done.remove = await workflow.execute_activity(
                "remove_search_attributes",
                change.remove,
                result_type=list[str],
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
            )
        if change.add:
            done.add = await workflow.execute_activity(
                "add_search_attributes",
                change.add,
                result_type=dict[str, str],
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
            )
        return done
