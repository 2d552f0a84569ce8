"""A worker's current index, rebuilt off the request path and swapped in whole.

Readers take `holder.current` — one reference read — and keep that index for their whole request,
so a request in flight finishes on the version it started with while the next one is being built.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from ground.clock import as_utc, utcnow
from knowledge_base.retrieval.index import RetrievalIndex

log = logging.getLogger(__name__)


class IndexHolder:
    def __init__(self, build: Callable[[], RetrievalIndex], revision: Callable[[], int],
                 next_change_at: Callable[[datetime], datetime | None]):
        self._build = build
        self._revision = revision
        self._next_change_at = next_change_at
        self._current: RetrievalIndex | None = None
        self._due: datetime | None = None
        self._rebuilding = threading.Lock()

    @property
    def current(self) -> RetrievalIndex:
        index = self._current
        if index is None:
            raise RuntimeError("the retrieval index has not been built yet")
        return index

    @property
    def latest(self) -> RetrievalIndex | None:
        """The index being served, or None before the first build."""
        return self._current

    def is_stale(self, now: datetime | None = None) -> bool:
        if self._current is None:
            return True
        now = as_utc(now or utcnow())
        return self._revision() != self._current.revision or (self._due is not None and now >= self._due)

    def refresh(self, *, force: bool = False) -> bool:
        """Rebuild and swap if the published knowledge changed (or an entry came into force or expired).
        Returns whether a new index was swapped in. Concurrent callers never build twice at once."""
        with self._rebuilding:
            if not force and not self.is_stale():
                return False
            started = utcnow()
            index = self._build()
            self._due = as_utc(self._next_change_at(started))
            self._current = index
            log.info("retrieval index revision %s swapped in: %d entries", index.revision, index.size)
            return True
