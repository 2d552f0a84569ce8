"""The live queue's watch: on PostgreSQL a ticket event wakes every worker's watch at once (LISTEN/NOTIFY, sent in the
event's transaction); on SQLite, or when the listening connection drops, the watch reads the newest event each poll."""
from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text

from desk.tickets import TicketDesk, TicketDraft
from desk.watch import QueueWatch


def draft() -> TicketDraft:
    return TicketDraft(channel="chat", summary="路灯不亮", reason="low_confidence", transcript=[{"text": "路灯不亮"}],
                       request_type="求助", urgency="一般", dispatch_hours=24, region="江苏省/扬州市")


async def seconds_until_seen(watch: QueueWatch, desk: TicketDesk, *, ready=lambda: True) -> float:
    """Starts `watch`, opens a ticket once it is ready, and returns how long until the watch saw it."""
    task = asyncio.create_task(watch.run())
    try:
        deadline = time.monotonic() + 10
        while not ready() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        before = watch.version
        opened = time.monotonic()
        await asyncio.to_thread(desk.open, draft())
        await watch.wait(before, 10)
        assert watch.version != before
        return time.monotonic() - opened
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


ON_POSTGRESQL = pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # LISTEN/NOTIFY: PostgreSQL's alone
ON_SQLITE = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


@ON_POSTGRESQL
def test_on_postgresql_a_new_ticket_wakes_the_watch_at_once_without_waiting_for_a_poll(db):
    watch = QueueWatch(db, poll_seconds=30, listening_poll_seconds=30)
    took = asyncio.run(seconds_until_seen(watch, TicketDesk(db), ready=watch.listening.is_set))
    assert took < 2


@ON_SQLITE
def test_on_sqlite_the_watch_sees_a_new_ticket_within_a_poll(db):
    watch = QueueWatch(db, poll_seconds=0.2)
    assert asyncio.run(seconds_until_seen(watch, TicketDesk(db))) < 2


@ON_POSTGRESQL
def test_when_the_listening_connection_drops_the_watch_polls(db):
    watch = QueueWatch(db, poll_seconds=0.3, listening_poll_seconds=30, reconnect_seconds=(30, 30))
    cut = []

    def dropped() -> bool:
        if watch.listening.is_set() and not cut:
            with db.session(write=True) as s:
                cut.append(s.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                          "WHERE application_name = :name"), {"name": watch.application_name}).scalar())
        return bool(cut) and not watch.listening.is_set()

    took = asyncio.run(seconds_until_seen(watch, TicketDesk(db), ready=dropped))
    assert cut == [True] and not watch.listening.is_set() and took < 2
