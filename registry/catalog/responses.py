"""Responses: the registry's views of workflow types and workers as temporal_registry.v1
messages, with the slow part (an input schema as a Struct) cached per stored entry, and whole
answers cached serialised per etag (ResponseCache)."""

from __future__ import annotations

import collections
from collections.abc import Collection

from google.protobuf.message import Message
from temporal_registry.v1 import resources_pb2

from registry.liveness.views import WorkerView, WorkflowView
from registry.schemas.rules import mode_value
from registry.shared.model import StoredWorkflow


def worker_to_proto(view: WorkerView) -> resources_pb2.Worker:
    worker = view.stored
    return resources_pb2.Worker(
        worker_id=worker.worker_id,
        task_queue=worker.task_queue,
        ttl_seconds=worker.ttl_seconds,
        last_seen_epoch=view.last_seen_epoch,
        environment=worker.environment,
        labels=worker.labels,
        workflows=worker.workflows,
        healthy=view.healthy,
        lease_expires_epoch=view.lease.expires_at,
        registered_epoch=worker.registered_epoch,
        principal=worker.principal,
        schema_versions=worker.schema_versions,
    )


class WorkflowMessages:
    """Builds Workflow messages. The stored part (the spec, with its input schema as a
    Struct, which is slow to build) is cached per stored entry; stored entries are replaced,
    never mutated, so an entry's identity says whether the cache is current."""

    def __init__(self, default_compatibility: str) -> None:
        self._cache: dict[str, _CachedWorkflow] = {}
        self._default_compatibility = default_compatibility

    def build(self, view: WorkflowView) -> resources_pb2.Workflow:
        message = resources_pb2.Workflow()
        self.fill(message, view)
        return message

    def fill(
        self, message: resources_pb2.Workflow, view: WorkflowView, *, full: bool = True
    ) -> None:
        """Fill an empty message (e.g. `response.workflows.add()`, which saves a copy). Not
        `full` (the BASIC list view) leaves `input_schema` and `workers` empty."""
        message.CopyFrom(self.stored_part(view.stored, full=full))
        if full:
            message.workers.extend(worker_to_proto(worker) for worker in view.workers)
        message.healthy = view.healthy
        message.health_reasons.extend(view.health_reasons)
        message.serving_schema_versions.extend(view.serving_versions)

    def stored_part(self, stored: StoredWorkflow, *, full: bool) -> resources_pb2.Workflow:
        """The cached message of what is stored (no health, no workers): not to be changed."""
        cached = self._cache.get(stored.spec.workflow_type)
        if cached is None or cached.stored is not stored:
            cached = _CachedWorkflow(stored, self._default_compatibility)
            self._cache[stored.spec.workflow_type] = cached
        return cached.full if full else cached.basic

    def forget(self, workflow_type: str) -> None:
        self._cache.pop(workflow_type, None)

    def forget_missing(self, present: Collection[str]) -> None:
        for workflow_type in self._cache.keys() - set(present):
            del self._cache[workflow_type]


class _CachedWorkflow:
    def __init__(self, stored: StoredWorkflow, default_compatibility: str) -> None:
        self.stored = stored
        self.full = stored_workflow_to_proto(stored, default_compatibility)
        self._basic: resources_pb2.Workflow | None = None

    @property
    def basic(self) -> resources_pb2.Workflow:
        if self._basic is None:
            self._basic = resources_pb2.Workflow()
            self._basic.CopyFrom(self.full)
            self._basic.ClearField("input_schema")
        return self._basic


def stored_workflow_to_proto(
    stored: StoredWorkflow, default_compatibility: str
) -> resources_pb2.Workflow:
    spec = stored.spec
    message = resources_pb2.Workflow(
        workflow_type=spec.workflow_type,
        version=spec.version,
        task_queue=spec.task_queue,
        description=spec.description,
        schedule_input_warnings=[
            resources_pb2.InputWarning(field=w.field, message=w.message)
            for w in spec.schedule_input_warnings
        ],
        search_attributes=[
            resources_pb2.SearchAttribute(name=a.name, type=a.type, description=a.description)
            for a in spec.search_attributes
        ],
        enabled=stored.enabled,
        labels=spec.labels,
        disabled_reason=stored.disabled_reason,
        source=stored.source,
        update_time_epoch=stored.update_time_epoch,
        owner=stored.owner,
        schema_version=stored.schema_version,
        compatibility_mode=mode_value(stored.compatibility or default_compatibility),  # type: ignore[arg-type]
    )
    message.input_schema.update(spec.input_schema)
    return message


class ResponseCache:
    """Serialised answers to catalogue reads, by method and request (its conditions left
    out), each with the etag it was built at: an identical read at the same etag is answered
    with the same bytes, built and serialised once. Holds at most `capacity` answers (the
    least recently used go first)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._answers: collections.OrderedDict[tuple[str, bytes], tuple[str, bytes]] = (
            collections.OrderedDict()
        )
        self._capacity = capacity

    def get(self, key: tuple[str, bytes], etag: str) -> bytes | None:
        found = self._answers.get(key)
        if found is None or found[0] != etag:
            return None
        self._answers.move_to_end(key)
        return found[1]

    def put(self, key: tuple[str, bytes], etag: str, answer: bytes) -> None:
        self._answers[key] = (etag, answer)
        self._answers.move_to_end(key)
        while len(self._answers) > self._capacity:
            self._answers.popitem(last=False)


def cache_key(method: str, request: Message) -> tuple[str, bytes]:
    """A read's cache key: its method and its request without the conditions (etag, wait,
    revision), which decide whether to answer, not what."""
    plain = type(request)()
    plain.CopyFrom(request)
    for name in ("if_none_match", "wait", "revision"):
        if name in plain.DESCRIPTOR.fields_by_name:
            plain.ClearField(name)
    return method, plain.SerializeToString(deterministic=True)
