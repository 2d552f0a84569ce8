"""Each entry's traffic, from the conversation turns: how often it answered, was rejected, led to a handoff.

- answered: a turn whose decision is `answer` with this entry (confidently, or chosen from a clarification).
- rejected: a turn in which the citizen said the entry was not it ("不是这个" after its answer, or after a
  clarification that offered it): the entry is in the turn's `rejected`.
- handed off: a handoff turn counts against the entry when, in its conversation,
    (a) the entry was the handoff turn's top candidate (the closest entry, not close enough to answer), or
    (b) the citizen rejected the entry in that turn or an earlier one of the conversation, or
    (c) the entry answered the turn just before it (the citizen read the answer, then asked for a person).
  Each handoff turn counts at most once for an entry.
Days are Beijing calendar days; `days=30` is today and the 29 days before it.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Text, and_, cast, exists, func, or_, select
from sqlalchemy.orm import aliased

from ground.clock import BEIJING, as_utc, utcnow
from storage.database import Database
from storage.tables import TurnRow



@dataclass(frozen=True)
class DayTraffic:
    day: date
    answered: int = 0
    rejected: int = 0
    handed_off: int = 0


@dataclass(frozen=True)
class EntryTraffic:
    entry_id: str
    answered: int
    rejected: int
    handed_off: int
    days: list[DayTraffic]  # oldest first, every day of the window (zeros included)


@dataclass(frozen=True)
class RejectedEntry:
    entry_id: str
    rejected: int
    answered: int


def beijing_day(moment: datetime) -> date:
    return as_utc(moment).astimezone(BEIJING).date()


def window_start(days: int, now: datetime) -> datetime:
    """Beijing midnight `days - 1` days before today's."""
    first = beijing_day(now) - timedelta(days=days - 1)
    return datetime.combine(first, time(0), tzinfo=BEIJING).astimezone(timezone.utc)


class Traffic:
    def __init__(self, db: Database) -> None:
        self.db = db

    def of(self, entry_id: str, *, days: int = 30, now: datetime | None = None) -> EntryTraffic:
        """The entry's traffic over the last `days` Beijing days, in total and per day (three small queries: the
        answers grouped by day on ix_conversation_turns_entry, the rejections, the handoffs)."""
        now = as_utc(now or utcnow())
        since = window_start(days, now)
        answered: Counter[date] = Counter()
        rejected: Counter[date] = Counter()
        handed_off: Counter[date] = Counter()
        with self.db.session() as s:
            day = self._day_expression()
            for day_text, count in s.execute(
                    select(day, func.count()).where(TurnRow.entry_id == entry_id, TurnRow.decision == "answer",
                                                    TurnRow.at >= since).group_by(day)).all():
                answered[date.fromisoformat(str(day_text)[:10])] += count
            first_rejection: dict[str, int] = {}
            for conversation, seq, at, entries in s.execute(
                    select(TurnRow.conversation_id, TurnRow.seq, TurnRow.at, TurnRow.rejected)
                    .where(TurnRow.at >= since, _mentions(TurnRow.rejected, entry_id))).all():
                if isinstance(entries, list) and entry_id in entries:
                    rejected[beijing_day(at)] += 1
                    first_rejection[conversation] = min(seq, first_rejection.get(conversation, seq))
            before = aliased(TurnRow)
            rejecting = aliased(TurnRow)
            rejected_earlier = exists().where(rejecting.conversation_id == TurnRow.conversation_id,
                                              rejecting.seq <= TurnRow.seq, rejecting.at >= since,
                                              _mentions(rejecting.rejected, entry_id))
            handoffs = s.execute(
                select(TurnRow.conversation_id, TurnRow.seq, TurnRow.at, TurnRow.candidates, before.entry_id, before.decision)
                .outerjoin(before, and_(before.conversation_id == TurnRow.conversation_id, before.seq == TurnRow.seq - 1))
                .where(TurnRow.decision == "handoff", TurnRow.at >= since,
                       or_(and_(before.entry_id == entry_id, before.decision == "answer"),
                           _mentions(TurnRow.candidates, entry_id), rejected_earlier))).all()
        for conversation, seq, at, candidates, previous_entry, previous_decision in handoffs:
            top = candidates[0].get("entry_id") if isinstance(candidates, list) and candidates else None
            if (top == entry_id or (previous_entry == entry_id and previous_decision == "answer")
                    or first_rejection.get(conversation, seq + 1) <= seq):
                handed_off[beijing_day(at)] += 1
        first = beijing_day(since)
        window = [first + timedelta(days=n) for n in range(days)]
        return EntryTraffic(entry_id, sum(answered.values()), sum(rejected.values()), sum(handed_off.values()),
                            [DayTraffic(d, answered[d], rejected[d], handed_off[d]) for d in window])

    def most_rejected(self, *, days: int = 30, limit: int = 20, now: datetime | None = None) -> list[RejectedEntry]:
        """The entries citizens rejected most often over the last `days` Beijing days, with how often each answered."""
        now = as_utc(now or utcnow())
        since = window_start(days, now)
        counts: Counter[str] = Counter()
        with self.db.session() as s:
            for (entries,) in s.execute(select(TurnRow.rejected).where(TurnRow.at >= since, TurnRow.rejected.is_not(None))):
                if isinstance(entries, list):
                    counts.update(set(entries))
            top = [(entry_id, n) for entry_id, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))][:limit]
            answered = dict(s.execute(
                select(TurnRow.entry_id, func.count()).where(TurnRow.entry_id.in_([e for e, _ in top]),
                                                             TurnRow.decision == "answer", TurnRow.at >= since)
                .group_by(TurnRow.entry_id)).all()) if top else {}
        return [RejectedEntry(entry_id, n, answered.get(entry_id, 0)) for entry_id, n in top]

    def _day_expression(self):
        """The Beijing calendar day of a turn, as text YYYY-MM-DD (times are stored in UTC)."""
        if self.db.dialect == "postgresql":
            return func.to_char(func.timezone("Asia/Shanghai", TurnRow.at), "YYYY-MM-DD")
        return func.date(TurnRow.at, "+8 hours")  # SQLite keeps UTC as text; Beijing has no daylight saving


def _mentions(column, entry_id: str):
    """A cheap test that a JSON column may hold `entry_id` as a string (its JSON text contains "<id>"); the
    caller confirms on the decoded value."""
    return cast(column, Text).contains(f'"{entry_id}"', autoescape=True)
