"""Working days by China's official calendar: the State Council's holidays and the weekend days made working
days in their place (调休), as the `chinese-calendar` package carries them.

The package knows the years the State Council has published (the calendar for a year comes out each November).
For a year it does not know yet, a hotline's own list (`holidays`, `workdays`: its rules file) decides, and
otherwise Monday to Friday are working days; `known(day)` says whether the official calendar covered a day, so
that a caller can warn that a deadline rests on the plain weekend rule.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import chinese_calendar


class WorkingCalendar:
    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = ()):
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)

    def known(self, day: date) -> bool:
        """Whether the official calendar, or the hotline's own list, says what `day` is."""
        if day in self.holidays or day in self.workdays:
            return True
        try:
            chinese_calendar.is_workday(day)
        except NotImplementedError:
            return False
        return True

    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:  # a year the package does not carry yet
            return day.weekday() < 5

    def add_working_days(self, start: date, days: int) -> date:
        """The day `days` working days after `start` ("3个工作日内" from a Friday is the next Wednesday);
        0 is `start` itself if it is a working day, else the next working day."""
        if days < 0:
            raise ValueError("days must not be negative")
        day = start
        while not self.is_working_day(day):
            day += timedelta(days=1)
        while days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                days -= 1
        return day

    def next_working_day(self, start: date) -> date:
        """The first working day after `start` (a call-back due "the day after closing")."""
        return self.add_working_days(start + timedelta(days=1), 0)
