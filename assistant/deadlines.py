"""A deadline said the way people say it: "2小时内", "今天18点前", "明天10点半前", "12月9日18点前".

The moment is rounded up to the half hour, so the words never promise earlier than the desk's deadline; the
wording itself is content (replies.yaml, group `deadline`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta

from ground.clock import BEIJING

SOON_HOURS = 3  # up to this far ahead, a deadline is said as a number of hours


def rounded_up(moment: datetime) -> datetime:
    """`moment` in Beijing time, moved up to the next whole or half hour (unless it is on one)."""
    local = moment.astimezone(BEIJING)
    past = timedelta(minutes=local.minute % 30, seconds=local.second, microseconds=local.microsecond)
    return local if not past else local - past + timedelta(minutes=30)


def say_deadline(due: datetime, now: datetime, words: Mapping[str, str]) -> str:
    ahead = (due - now).total_seconds() / 3600
    if 0 < ahead <= SOON_HOURS:
        return words["within_hours"].format(hours=math.ceil(ahead - 1e-9))
    moment = rounded_up(due)
    if moment.hour == 0 and moment.minute == 0:  # midnight is the end of the day before ("今天24点前")
        day, hour = (moment - timedelta(days=1)).date(), 24
    else:
        day, hour = moment.date(), moment.hour
    time = words["half_past" if moment.minute else "o_clock"].format(hour=hour)
    days = (day - now.astimezone(BEIJING).date()).days
    which = {0: "today", 1: "tomorrow", 2: "day_after"}.get(days, "later")
    return words[which].format(time=time, month=day.month, day=day.day)
