"""督办: the scheduled job that finds tickets near or past a deadline and escalates them to the supervisors.

A ticket is escalated at most once per level: each escalation is a conditional UPDATE that only takes tickets whose
`escalation_level` is still below it, so running the job twice, or on several workers at once, escalates each
ticket once (PostgreSQL re-reads the condition after waiting for another runner's row lock; SQLite has one writer at
a time). On PostgreSQL a run also takes a transaction-level advisory lock, so that of several workers only one does
the work on a tick. Levels, most severe last, so that a ticket skips those it is already past:

    1 dispatch_overdue   open or claimed past its dispatch deadline
    2 close_near         still being worked within `close_near` of its closing deadline
    3 close_overdue      still being worked past its closing deadline
    4 callback_due       closed, not called back, on the call-back day
    5 callback_overdue   closed, not called back, past the call-back day
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, text, update

from desk.deadlines import DeskDeadlines
from desk.lifecycle import LIVE, TicketStatus
from desk.tickets import record_event
from ground.clock import as_utc, utcnow
from storage.database import Database
from storage.tables import TicketRow

log = logging.getLogger(__name__)

_RUNNER_LOCK_KEY = 0x12345D  # any constant shared by every worker
SUPERVISOR = "supervision"  # the actor of the job's events


@dataclass(frozen=True)
class Escalated:
    ticket_number: str
    kind: str


def _conditions(now: datetime, deadlines: DeskDeadlines) -> list[tuple[int, str, ColumnElement[bool]]]:
    live = TicketRow.status.in_([s.value for s in LIVE])
    waiting_callback = (TicketRow.status == TicketStatus.CLOSED.value) & TicketRow.callback_result.is_(None)
    return [
        (5, "callback_overdue", waiting_callback & (TicketRow.callback_due_at < now)),
        (4, "callback_due", waiting_callback & (TicketRow.callback_due_at <= now + timedelta(days=1))),
        (3, "close_overdue", live & (TicketRow.close_due_at < now)),
        (2, "close_near", live & (TicketRow.close_due_at < now + deadlines.close_near)),
        (1, "dispatch_overdue", TicketRow.status.in_([TicketStatus.OPEN.value, TicketStatus.CLAIMED.value])
         & (TicketRow.due_at < now)),
    ]


class Supervision:
    def __init__(self, db: Database, deadlines: DeskDeadlines | None = None) -> None:
        self._db = db
        self._deadlines = deadlines or DeskDeadlines.load()

    def run(self, now: datetime | None = None) -> list[Escalated]:
        """Escalates what is due at `now` (flag + an `escalated` event + audit); returns what this run escalated."""
        now = as_utc(now or utcnow())
        escalated: list[Escalated] = []
        with self._db.session(write=True) as s:
            if self._db.dialect == "postgresql":
                got = s.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _RUNNER_LOCK_KEY}).scalar_one()
                if not got:
                    return []  # another worker is running it now
            for level, kind, condition in _conditions(now, self._deadlines):
                numbers = s.execute(update(TicketRow).where(condition, TicketRow.escalation_level < level)
                                    .values(escalation=kind, escalation_level=level, escalated_at=now)
                                    .returning(TicketRow.number)).scalars().all()
                for number in numbers:
                    record_event(s, number, "escalated", actor=SUPERVISOR, city=None, at=now, escalation=kind, level=level)
                escalated += [Escalated(number, kind) for number in numbers]
        if escalated:
            log.info("supervision escalated %d tickets", len(escalated))
        return escalated
