"""Keeping one worker's index at the newest published knowledge, within seconds of a publish.

Every publish commits a new knowledge revision (`kb_revision`, knowledge_base/store.py). Each worker runs
one `PublishFollower` on its event loop:

- on PostgreSQL a connection of its own LISTENs on `KB_CHANNEL` in a background thread; the NOTIFY that
  the publishing transaction sends on commit wakes the follower at once, whichever machine published.
  A dropped connection is reopened with backoff (and the revision checked, as a notification may have
  been missed meanwhile; storage/listening.py);
- everywhere the follower also wakes every `poll_seconds`: SQLite has no notifications, and on
  PostgreSQL it is the safety net;
- on waking it applies scheduled publishes that have come due (`publish_due`: any worker may call it,
  each change is applied exactly once), then, off the event loop, rebuilds the index if the revision
  moved and swaps it in whole (`IndexHolder.refresh`). Requests in flight finish on the index they
  started with. A rebuild that fails leaves the previous index serving and is tried again, a little
  later each time it fails.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from knowledge_base.service import KnowledgeBase
from knowledge_base.store import KB_CHANNEL
from storage.database import Database
from storage.listening import ChannelListener

log = logging.getLogger(__name__)

# A worker behind the published revision for longer than this, or than a few of its own rebuilds,
# reports itself stale (/healthz).
STALE_AFTER_SECONDS = 10.0
_REBUILDS_BEFORE_STALE = 3
_MAX_RETRY_SECONDS = 60.0


class PublishFollower:
    def __init__(self, knowledge: KnowledgeBase, db: Database, *, poll_seconds: float,
                 publish_due: Callable[[], object] | None = None, listen: bool | None = None,
                 reconnect_seconds: tuple[float, float] = (0.5, 30.0)):
        """`listen`: LISTEN for publishes (default: on PostgreSQL). `reconnect_seconds`: the first and the
        longest wait before reopening a dropped listening connection."""
        self._knowledge = knowledge
        self._db = db
        self._poll = poll_seconds
        self._publish_due = publish_due
        self._listen = db.dialect == "postgresql" if listen is None else listen
        self._listener = ChannelListener(db, KB_CHANNEL, name="kb-listener", what="publishes",
                                         reconnect_seconds=reconnect_seconds)
        self._failures = 0
        self._last_rebuild = 0.0  # seconds the last rebuild took
        self._behind_since: float | None = None  # monotonic time when this worker was first seen behind
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self.listening = self._listener.listening  # set while the listening connection is open
        self.application_name = self._listener.application_name  # how it shows in pg_stat_activity
        self.ticks = 0  # wake-ups handled so far

    # ---- the loop ------------------------------------------------------------------------------
    async def run(self) -> None:
        """Follow publishes until cancelled."""
        self._loop, self._wakeup = asyncio.get_running_loop(), asyncio.Event()
        if self._listen:
            self._listener.start(self.wake, self._poll)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._next_wait())
                self._wakeup.clear()
                await self.tick()
        finally:
            self._listener.stop()

    def wake(self) -> None:
        """Check for a new revision now (safe from any thread)."""
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing left to wake
                loop.call_soon_threadsafe(wakeup.set)

    async def tick(self) -> bool:
        """Apply due scheduled publishes, then rebuild and swap if the published knowledge moved; whether
        a new index was swapped in. Never raises: a failure is logged and tried again later."""
        self.ticks += 1
        if self._publish_due is not None:
            try:
                await asyncio.to_thread(self._publish_due)
            except Exception:
                log.exception("applying the scheduled publishes that are due failed; trying again at the next check")
        started = time.monotonic()
        try:
            swapped = await asyncio.to_thread(self._refresh)
        except Exception:
            self._failures += 1
            log.exception("rebuilding the retrieval index failed (%d time(s) in a row); still serving revision %s, "
                          "trying again in %.0f s", self._failures, self._served_revision(), self._next_wait())
            return False
        self._failures = 0
        if swapped:
            self._last_rebuild = time.monotonic() - started
            log.info("knowledge revision %s served %.2f s after the check began", self._served_revision(),
                     self._last_rebuild)
        return swapped

    def _refresh(self) -> bool:
        swapped = self._knowledge.index.refresh()
        self.behind_for(self._knowledge.store.revision())  # a publish during the rebuild starts the clock
        return swapped

    def _next_wait(self) -> float:
        if not self._failures:
            return self._poll
        return min(self._poll * 2 ** self._failures, max(self._poll, _MAX_RETRY_SECONDS))

    def _served_revision(self) -> int | None:
        index = self._knowledge.index.latest
        return index.revision if index is not None else None

    # ---- how far behind ------------------------------------------------------------------------
    def behind_for(self, published_revision: int) -> float:
        """Seconds this worker has been seen serving an older revision than `published_revision` (0 when
        it serves that one or a newer one)."""
        served = self._served_revision()
        if served is not None and served >= published_revision:
            self._behind_since = None
            return 0.0
        now = time.monotonic()
        if self._behind_since is None:
            self._behind_since = now
        return now - self._behind_since

    def is_stale(self, published_revision: int) -> bool:
        """Behind the published revision for longer than a rebuild should take: a few times this
        worker's last rebuild, at least STALE_AFTER_SECONDS, plus one poll interval."""
        allowed = max(STALE_AFTER_SECONDS, _REBUILDS_BEFORE_STALE * self._last_rebuild) + self._poll
        return self.behind_for(published_revision) > allowed
