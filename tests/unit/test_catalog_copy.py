"""The process's copy of the catalogue: write results applied in revision order whatever
order they arrive in, gaps detected, snapshots merged with newer local writes."""

from __future__ import annotations

from registry.catalog.copy import CatalogCopy
from registry.shared.model import Catalog, CatalogChange, StoredWorker


def worker(worker_id: str, lease: float = 100.0) -> StoredWorker:
    return StoredWorker(worker_id, "q", lease_expires_epoch=lease)


def upsert(revision: int, *workers: StoredWorker) -> CatalogChange:
    return CatalogChange(revision=revision, workers=list(workers))


def loaded(revision: int, *workers: StoredWorker) -> CatalogCopy:
    copy = CatalogCopy()
    copy.load(Catalog(revision=revision, workers={w.worker_id: w for w in workers}))
    return copy


def test_in_order_results_advance_the_complete_revision() -> None:
    copy = loaded(3)
    copy.apply(upsert(4, worker("a")))
    copy.apply(upsert(5, worker("b")))
    assert (copy.complete_revision, copy.has_gap) == (5, False)
    assert sorted(copy.catalog.workers) == ["a", "b"]


def test_a_late_result_does_not_overwrite_a_newer_one() -> None:
    copy = loaded(3)
    copy.apply(upsert(5, worker("a", lease=500)))  # arrives first
    assert copy.has_gap and copy.complete_revision == 3
    copy.apply(upsert(4, worker("a", lease=400)))  # older write, arrives late
    assert copy.catalog.workers["a"].lease_expires_epoch == 500
    assert (copy.complete_revision, copy.has_gap) == (5, False)


def test_no_ops_and_known_revisions_are_ignored() -> None:
    copy = loaded(5, worker("a"))
    copy.apply(CatalogChange(revision=7, no_op=True))  # would fake a write we never saw
    copy.apply(upsert(5, worker("a", lease=1)))  # already in the snapshot
    assert (copy.complete_revision, copy.has_gap) == (5, False)
    assert copy.catalog.workers["a"].lease_expires_epoch == 100


def test_a_snapshot_fills_the_gap_and_keeps_newer_local_writes() -> None:
    copy = loaded(3)
    copy.apply(upsert(6, worker("mine", lease=600)))
    copy.load(Catalog(revision=5, workers={"theirs": worker("theirs"), "mine": worker("mine")}))
    # revision 6 is on top of the snapshot at 5, and the copy is complete up to 6
    assert copy.catalog.workers["mine"].lease_expires_epoch == 600
    assert "theirs" in copy.catalog.workers
    assert (copy.complete_revision, copy.has_gap) == (6, False)


def test_an_older_snapshot_is_ignored() -> None:
    copy = loaded(8, worker("a"))
    copy.load(Catalog(revision=7))
    assert copy.complete_revision == 8 and "a" in copy.catalog.workers
