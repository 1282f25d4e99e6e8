"""Prometheus metrics of the registry core (RPC metrics live with the interceptor).

Counters are incremented where things happen; the state of the catalogue is read when
Prometheus scrapes, by `RegistryCollector`, from the process's copy of it, so nothing has
to keep gauges in step with every write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from registry.catalog.layout import KINDS
from registry.liveness.views import worker_view

if TYPE_CHECKING:
    from registry.catalog.store import RegistryStore

HEARTBEATS = Counter(
    "temporal_registry_heartbeats_total",
    "Worker heartbeats accepted (held in memory, not written to Temporal).",
)
LEASE_RENEWAL_FLUSHES = Counter(
    "temporal_registry_lease_renewal_flushes_total",
    "Lease renewal operations sent to the worker shards (one per shard per flush).",
)
LEASES_RENEWED = Counter(
    "temporal_registry_leases_renewed_total",
    "Worker leases renewed by those flushes.",
)
WORKERS_EXPIRED = Counter(
    "temporal_registry_workers_expired_total",
    "Workers removed after their lease and grace period ended.",
)
CATALOG_READS = Counter(
    "temporal_registry_catalog_reads_total",
    "Catalogue reads (lists and gets) by how they were answered: not_modified (the client "
    "held the answer), cached (serialised before, at the same etag), built.",
    ["answer"],
)
WATCH_EVENTS = Counter(
    "temporal_registry_watch_events_total",
    "Catalogue changes sent to this process's watchers (each once, whatever the watchers).",
)
WATCH_RESYNCS = Counter(
    "temporal_registry_watch_resyncs_total",
    "Watches ended with RESYNC_REQUIRED, by cause (behind: the watcher read too slowly; "
    "resume: its resume token could not be served).",
    ["cause"],
)
REGISTRY_WRITES = Counter(
    "temporal_registry_writes_total",
    "Operations sent to the registry's shards, by operation and outcome (ok, refused, failed).",
    ["update", "outcome"],
)


@dataclass(frozen=True)
class StoreGauge:
    """A gauge RegistryCollector reads from the store at scrape time."""

    name: str
    documentation: str
    labels: tuple[str, ...] = ()

    def family(self, value: float | None = None) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            self.name, self.documentation, value=value, labels=list(self.labels) or None
        )


WORKERS = StoreGauge(
    "temporal_registry_workers", "Registered workers, by lease health.", ("healthy",)
)
WORKFLOW_TYPES = StoreGauge(
    "temporal_registry_workflow_types", "Registered workflow types.", ("enabled",)
)
REVISION = StoreGauge(
    "temporal_registry_revision", "Revision of the registry state this process holds."
)
SELF_PRESERVATION = StoreGauge(
    "temporal_registry_self_preservation",
    "1 while expiry is suspended because most leases lapsed at once.",
)
UPDATE_QUEUE_DEPTH = StoreGauge(
    "temporal_registry_update_queue_depth",
    "Operations waiting in this process for the next batch to their shard.",
)
CONTINUE_AS_NEW = StoreGauge(
    "temporal_registry_continue_as_new",
    "Times the registry's shard workflows continued as new, by kind (as this process saw).",
    ("kind",),
)
HISTORY_LENGTH = StoreGauge(
    "temporal_registry_history_length",
    "History events of the longest current run among the shards of each kind.",
    ("kind",),
)
STATE_BYTES = StoreGauge(
    "temporal_registry_state_bytes",
    "Exact size of the largest shard of each kind, in bytes as Temporal's payload converter "
    "writes it (compare with temporal_registry_state_bound_bytes).",
    ("kind",),
)
WATCHERS = StoreGauge(
    "temporal_registry_catalog_watchers", "WatchCatalog streams open on this process."
)
STATE_BOUND = StoreGauge(
    "temporal_registry_state_bound_bytes",
    "The bound of each shard's state (registry.shard_max_bytes): a write past it is refused.",
)
STORE_GAUGES = (
    WORKERS,
    WORKFLOW_TYPES,
    REVISION,
    SELF_PRESERVATION,
    UPDATE_QUEUE_DEPTH,
    CONTINUE_AS_NEW,
    HISTORY_LENGTH,
    STATE_BYTES,
    STATE_BOUND,
    WATCHERS,
)


class RegistryCollector(Collector):
    """Gauges read at scrape time from the registry store (absent while not ready)."""

    def __init__(self, store: Callable[[], RegistryStore | None]) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        store = self._store()
        if store is None:
            return
        catalog, inputs = store.catalog, store.liveness_inputs()
        healthy = sum(worker_view(w, inputs).healthy for w in catalog.workers.values())
        workers = WORKERS.family()
        workers.add_metric(["true"], healthy)
        workers.add_metric(["false"], len(catalog.workers) - healthy)
        yield workers
        enabled = sum(w.enabled for w in catalog.workflows.values())
        workflows = WORKFLOW_TYPES.family()
        workflows.add_metric(["true"], enabled)
        workflows.add_metric(["false"], len(catalog.workflows) - enabled)
        yield workflows
        for gauge, value in (
            (REVISION, catalog.revision),
            (SELF_PRESERVATION, float(store.liveness.self_preservation)),
            (UPDATE_QUEUE_DEPTH, sum(writer.queued for writer in store.writers.values())),
            (STATE_BOUND, store.limits.max_bytes),
            (WATCHERS, store.feed.watchers),
        ):
            yield gauge.family(value)
        continued, longest, largest = (
            gauge.family() for gauge in (CONTINUE_AS_NEW, HISTORY_LENGTH, STATE_BYTES)
        )
        for kind in KINDS:
            shards = [
                (view, store.tails[key]) for key, view in store.views.items() if key[0] == kind
            ]
            continued.add_metric([kind], sum(view.continued for view, _ in shards))
            longest.add_metric([kind], max((tail.last_event_id for _, tail in shards), default=0))
            largest.add_metric([kind], max((view.size for view, _ in shards), default=0))
        yield from (continued, longest, largest)
