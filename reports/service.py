"""The manager's view as one service a worker holds: the daily report on demand and on schedule, and the surge alarm.

The schedule (`tick`, every minute on every worker): the surge alarm's check, once per 5-minute bucket across all
workers (the worker that claims the bucket in `scheduled_runs`, storage/runs.py, runs it; the others skip), and once
the configured time (22:00 Beijing by default) has passed, the day's report — built by whichever worker first inserts
that day's `daily_reports` row (a conditional insert: the primary key lets only one succeed), its figures stored
with it."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cached_property
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from desk.presence import PresenceBoard
from ground.clock import BEIJING, utcnow
from reports.alerts import SurgeAlarm
from reports.daily import DailyFigures, DailyReport
from reports.surge_alarm import floor_to
from reports.fonts import cjk_font
from reports.render import html_page, pdf_document
from reports.wall import Wall
from reports.workbook import ticket_workbook
from storage.database import Database
from storage.runs import ScheduledRuns, runner_name
from storage.tables import DailyReportRow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportRun:
    day: date
    started_at: datetime
    finished_at: datetime | None
    runner: str


class Reports:
    def __init__(self, db: Database, daily: DailyReport, alarm: SurgeAlarm, *, report_time: time = time(22, 0),
                 font_file: Path | None = None, presence: PresenceBoard | None = None) -> None:
        self.db = db
        self.daily = daily
        self.alarm = alarm
        self.wall = Wall(db, alarm, daily.assumptions, presence=presence)
        self.report_time = report_time
        self._font_file = font_file
        self.scheduled = ScheduledRuns(db)

    @cached_property
    def font(self) -> str | None:
        """The charts' CJK font family, found when a report is first drawn (matplotlib loads only then)."""
        return cjk_font(self._font_file)

    def figures(self, day: date) -> DailyFigures:
        return self.daily.figures(day)

    def html(self, day: date) -> str:
        return html_page(self.figures(day), self.font)

    def pdf(self, day: date) -> bytes:
        return pdf_document(self.figures(day), self.font)

    def xlsx(self, day: date) -> bytes:
        return ticket_workbook(self.db, [day])

    def workbook(self, days: list[date]) -> bytes:
        """One sheet per day, one row per ticket."""
        return ticket_workbook(self.db, days)

    # ---- the schedule ----------------------------------------------------------------------------------
    SURGE_JOB = "surge_alarm"

    def tick(self, now: datetime | None = None) -> None:
        now = now or utcnow()
        self.check_surges(now)
        self.run_due(now)

    def check_surges(self, now: datetime | None = None) -> bool:
        """The surge alarm's check of the bucket just completed, if no worker has claimed it; whether this one ran it."""
        now = now or utcnow()
        slot = floor_to(now, self.alarm.rule.bucket)
        if not self.scheduled.claim(self.SURGE_JOB, slot, now):
            return False
        try:
            self.alarm.check(now)
        except Exception:  # a failed check is logged; the next bucket's check reads the same recent hours again
            logger.exception("the surge alarm's check failed")
            return True
        self.scheduled.finished(self.SURGE_JOB, slot)
        return True

    def run_due(self, now: datetime | None = None) -> ReportRun | None:
        """Builds today's report if its time has passed and no worker has started it; the run, or None."""
        now = now or utcnow()
        local = now.astimezone(BEIJING)
        if local.time() < self.report_time:
            return None
        day = local.date()
        runner = runner_name()
        try:
            with self.db.session(write=True) as s:
                if s.get(DailyReportRow, day) is not None:
                    return None
                s.add(DailyReportRow(day=day, started_at=now, runner=runner))
        except IntegrityError:  # another worker inserted it first
            return None
        figures = self.daily.figures(day, now)
        finished = utcnow()
        with self.db.session(write=True) as s:
            row = s.get(DailyReportRow, day)
            row.figures, row.finished_at = figures.as_dict(), finished
        logger.info("the daily report for %s was built", day)
        return ReportRun(day, now, finished, runner)

    def runs(self, limit: int = 30) -> list[ReportRun]:
        with self.db.session() as s:
            rows = s.execute(select(DailyReportRow).order_by(DailyReportRow.day.desc()).limit(limit)).scalars().all()
            return [ReportRun(r.day, r.started_at, r.finished_at, r.runner) for r in rows]
