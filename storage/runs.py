"""Once across workers: a job every worker's timer starts, done by one worker per slot.

Every worker ticks (a minute apart, at its own moments); the job's slot is the period it covers (the surge alarm:
the 5-minute bucket just completed). `claim` inserts (job, slot): the primary key lets one insert succeed on
PostgreSQL and SQLite alike, and only that worker runs the slot. A worker that dies mid-run leaves its slot unfinished
(`finished_at` empty); the next slot is claimed afresh, so a job whose run reads the recent past (as the alarm's
does) catches up by itself. Rows older than `keep` are pruned by the claimer."""
from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ground.clock import utcnow
from storage.database import Database
from storage.tables import ScheduledRunRow


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ScheduledRuns:
    def __init__(self, db: Database, keep: timedelta = timedelta(days=2)) -> None:
        self.db = db
        self.keep = keep

    def claim(self, job: str, slot: datetime, now: datetime | None = None) -> bool:
        """True for the one worker that is to run `job` for `slot`; False for every other (and for a slot run before)."""
        now = now or utcnow()
        try:
            with self.db.session(write=True) as s:
                if s.get(ScheduledRunRow, (job, slot)) is not None:
                    return False
                s.add(ScheduledRunRow(job=job, slot=slot, runner=runner_name(), started_at=now))
                s.execute(delete(ScheduledRunRow).where(ScheduledRunRow.job == job, ScheduledRunRow.slot < slot - self.keep))
        except IntegrityError:  # another worker inserted it first
            return False
        return True

    def finished(self, job: str, slot: datetime, now: datetime | None = None) -> None:
        with self.db.session(write=True) as s:
            row = s.get(ScheduledRunRow, (job, slot))
            if row is not None:
                row.finished_at = now or utcnow()
