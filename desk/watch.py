"""The workbench's live queue: a worker notices that any ticket's timeline moved (a new ticket, a claim, a reply, …) and
wakes the workbenches connected to it (api/routes/desk.py streams it as server-sent events).

One watch per worker follows the newest event's id (`ticket_events`, the primary key's index: one cheap query a
`poll_seconds`), so a ticket opened on any worker, or on another machine, reaches every worker's workbenches within a
poll. On PostgreSQL a LISTEN/NOTIFY channel (as knowledge_base/follower.py has for publishes) would wake it at once;
it is not built: the poll serves both databases.
"""
from __future__ import annotations

import asyncio
import logging

from sqlalchemy import func, select

from storage.database import Database
from storage.tables import TicketEventRow

log = logging.getLogger(__name__)


class QueueWatch:
    def __init__(self, db: Database, poll_seconds: float = 1.0) -> None:
        self._db = db
        self.poll_seconds = poll_seconds
        self.version = 0  # the newest ticket event's id this worker has seen
        self._changed = asyncio.Condition()

    def latest(self) -> int:
        with self._db.session() as s:
            return s.execute(select(func.max(TicketEventRow.id))).scalar() or 0

    async def run(self) -> None:
        """Follows the newest event until cancelled."""
        while True:
            try:
                latest = await asyncio.to_thread(self.latest)
            except Exception:  # the database went away: try again next time round
                log.warning("the desk's queue watch could not read the newest ticket event", exc_info=True)
                latest = self.version
            if latest != self.version:
                self.version = latest
                async with self._changed:
                    self._changed.notify_all()
            await asyncio.sleep(self.poll_seconds)

    async def wait(self, after: int, timeout: float) -> int:
        """The newest version once it differs from `after`, or `after` when `timeout` seconds pass first."""
        if self.version != after:
            return self.version
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        return self.version
