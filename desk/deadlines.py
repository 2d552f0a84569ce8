"""The desk's deadlines, read from its rules file (desk/content/deadlines.yaml): dispatch within hours by urgency,
close within working days by request type, call back the working day after closing.

A deadline in working days is the end of that Beijing day (midnight after it), stored in UTC.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import yaml

from ground.clock import BEIJING
from ground.workdays import WorkingCalendar

SHIPPED_RULES = Path(__file__).resolve().parent / "content" / "deadlines.yaml"


class DeadlineRulesError(ValueError):
    """The deadlines file cannot be used (checked when the service starts)."""


def end_of_day(day: date) -> datetime:
    """The Beijing midnight that ends `day`."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=BEIJING)


@dataclass(frozen=True)
class DeskDeadlines:
    dispatch_hours: Mapping[str, float]
    close_working_days: Mapping[str, int]
    callback_working_days: int
    close_near: timedelta
    calendar: WorkingCalendar

    @classmethod
    def load(cls, path: Path = SHIPPED_RULES, calendar: WorkingCalendar | None = None) -> "DeskDeadlines":
        try:
            rules = yaml.safe_load(path.read_text(encoding="utf-8"))
            close_days = {str(k): int(v) for k, v in rules["close_working_days"].items()}
            close_days["default"]  # noqa: B018 — must be there
            return cls(dispatch_hours={str(k): float(v) for k, v in rules["dispatch_hours"].items()},
                       close_working_days=close_days, callback_working_days=int(rules["callback_working_days"]),
                       close_near=timedelta(hours=float(rules["close_near_hours"])), calendar=calendar or WorkingCalendar())
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as error:
            raise DeadlineRulesError(f"{path}: needs dispatch_hours, close_working_days (with default), "
                                     f"callback_working_days and close_near_hours ({error!r})") from error

    def dispatch_due(self, urgency: str, start: datetime) -> datetime:
        hours = self.dispatch_hours.get(urgency, max(self.dispatch_hours.values()))
        return start + timedelta(hours=hours)

    def close_due(self, request_type: str, accepted: datetime) -> datetime:
        days = self.close_working_days.get(request_type, self.close_working_days["default"])
        return end_of_day(self.calendar.add_working_days(accepted.astimezone(BEIJING).date(), days))

    def callback_due(self, closed: datetime) -> datetime:
        day = closed.astimezone(BEIJING).date()
        for _ in range(self.callback_working_days):
            day = self.calendar.next_working_day(day)
        return end_of_day(day)
