"""This process's copy of the registry catalogue.

It is a complete snapshot at `complete_revision` (every write up to it is in), plus the
results of writes newer than that, applied in revision order whatever order they arrive
in: with several updates in flight, results come back out of order, and another replica's
writes leave gaps that only a snapshot fills. While a gap stays open the copy is still
read-your-writes for this process; `has_gap` says a snapshot is needed.
"""

from __future__ import annotations

from registry.catalog.rules import apply_change
from registry.shared.model import Catalog, CatalogChange


class CatalogCopy:
    def __init__(self) -> None:
        self.catalog = Catalog()
        self.complete_revision = -1  # nothing loaded yet
        self._ahead: dict[int, CatalogChange] = {}  # write results past complete_revision

    @property
    def has_gap(self) -> bool:
        """Some writes past complete_revision are missing (another replica made them)."""
        return bool(self._ahead)

    def apply(self, change: CatalogChange) -> None:
        """Apply one write's result. No-ops and writes already in the copy are ignored."""
        if change.no_op or change.revision <= self.complete_revision:
            return
        if change.revision in self._ahead:
            return
        self._ahead[change.revision] = change
        if change.revision > self.catalog.revision:
            apply_change(self.catalog, change)
        else:  # arrived after a newer write: replay from it so the newer write wins
            for revision in sorted(r for r in self._ahead if r >= change.revision):
                apply_change(self.catalog, self._ahead[revision])
        self._advance()

    def load(self, snapshot: Catalog) -> None:
        """Take a complete snapshot, keeping any newer write results on top of it."""
        if snapshot.revision < self.complete_revision:
            return  # older than what we already have
        self.catalog = snapshot
        self.complete_revision = snapshot.revision
        self._ahead = {r: c for r, c in self._ahead.items() if r > snapshot.revision}
        for revision in sorted(self._ahead):
            apply_change(self.catalog, self._ahead[revision])
        self._advance()

    def _advance(self) -> None:
        while self.complete_revision + 1 in self._ahead:
            self.complete_revision += 1
            del self._ahead[self.complete_revision]
