"""The workbench's live queue: a worker notices that any ticket's timeline moved (a new ticket, a claim, a reply, …) and
wakes the workbenches connected to it (api/routes/desk.py streams it as server-sent events).

One watch per worker follows the newest event's id (`ticket_events`, the primary key's index: one cheap query).

- On PostgreSQL a connection of its own LISTENs on `QUEUE_CHANNEL` in a background thread; the transaction that
  writes a ticket event notifies it (desk/tickets.py, `notify_queue`), so the watch reads the newest id as soon as it
  commits, whichever worker or machine wrote it (as knowledge_base/follower.py does for publishes). While it listens
  it still reads every `listening_poll_seconds`, a safety net.
- On SQLite, or while the listening connection is down (it is reopened with backoff), it reads every `poll_seconds`.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import func, select

from desk.tickets import QUEUE_CHANNEL
from storage.database import Database
from storage.listening import ChannelListener
from storage.tables import TicketEventRow

log = logging.getLogger(__name__)


class QueueWatch:
    def __init__(self, db: Database, poll_seconds: float = 1.0, *, listen: bool | None = None,
                 listening_poll_seconds: float = 10.0, reconnect_seconds: tuple[float, float] = (0.5, 30.0)) -> None:
        """`listen`: LISTEN for ticket events (default: on PostgreSQL)."""
        self._db = db
        self.poll_seconds = poll_seconds
        self.listening_poll_seconds = max(poll_seconds, listening_poll_seconds)
        self._listen = db.dialect == "postgresql" if listen is None else listen
        self._listener = ChannelListener(db, QUEUE_CHANNEL, name="desk-listener", what="ticket events",
                                         reconnect_seconds=reconnect_seconds)
        self.version = 0  # the newest ticket event's id this worker has seen
        # (loop, future) of each request waiting for a change: woken thread-safely, on whichever loop it waits
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self.listening = self._listener.listening  # set while the listening connection is open
        self.application_name = self._listener.application_name

    def latest(self) -> int:
        with self._db.session() as s:
            return s.execute(select(func.max(TicketEventRow.id))).scalar() or 0

    async def run(self) -> None:
        """Follows the newest event until cancelled."""
        self._loop, self._wakeup = asyncio.get_running_loop(), asyncio.Event()
        if self._listen:
            self._listener.start(self.wake, self.poll_seconds)
        try:
            while True:
                try:
                    latest = await asyncio.to_thread(self.latest)
                except Exception:  # the database went away: try again next time round
                    log.warning("the desk's queue watch could not read the newest ticket event", exc_info=True)
                    latest = self.version
                if latest != self.version:
                    self.version = latest
                    self._wake_waiters()
                wait = self.listening_poll_seconds if self.listening.is_set() else self.poll_seconds
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), wait)
                self._wakeup.clear()
        finally:
            self._listener.stop()

    def wake(self) -> None:
        """Read the newest event now (safe from any thread)."""
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing left to wake
                loop.call_soon_threadsafe(wakeup.set)

    async def wait(self, after: int, timeout: float) -> int:
        """The newest version once it differs from `after`, or `after` when `timeout` seconds pass first."""
        if self.version != after:
            return self.version
        waiter = (asyncio.get_running_loop(), asyncio.get_running_loop().create_future())
        self._waiters.add(waiter)
        try:
            if self.version == after:
                await asyncio.wait_for(waiter[1], timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)
        return self.version

    def _wake_waiters(self) -> None:
        for loop, future in list(self._waiters):
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
