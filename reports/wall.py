"""The live wall (大屏): what the last minutes look like, read in one go every few seconds by /wall.

- contacts in the last 15 minutes and how many Frontdoor resolved (an answer, no ticket: the 24-hour return check of
  the daily report cannot be made of the last minutes);
- the seats' queue per city: tickets waiting for a seat and the oldest one's wait;
- seats online: seats that said 在线 on the workbench and were seen lately (desk/presence.py), in all and per city
  of their teams (多援一: a supporting city's seats show under that city);
- the hot-topic ranking: the topics of the last hour against the hour before;
- the surge alerts of the last 24 hours;
- the seats the last hour's contacts need, with Frontdoor's resolution and without.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ground.clock import as_utc, utcnow
from desk.presence import PresenceBoard, last_seen
from ground.privacy import mask
from reports.alerts import SurgeAlarm
from reports.daily import StaffingAssumptions, city_of
from reports.staffing import Demand, seats_side_by_side
from storage.database import Database
from storage.tables import (ConversationRow, EntryRow, GapClusterRow, GapRow, SeatPresenceRow, SeatTeamMemberRow,
                            SeatTeamRow, TicketRow, TurnRow)

RECENT = timedelta(minutes=15)
WAITING = ("open",)  # waiting for a seat, as /metrics counts the queue


@dataclass(frozen=True)
class Waiting:
    """A city's tickets waiting for a seat, and how long the oldest has waited."""
    city: str | None
    tickets: int
    oldest_seconds: float


@dataclass(frozen=True)
class Gauges:
    """What the wall shows that Prometheus scrapes too (api/metrics.py): read from the database, the same on every worker."""
    waiting: tuple[Waiting, ...]
    seats_online: int
    alerts_24h: int
    seats_online_by_city: dict[str, int] = field(default_factory=dict)


class Wall:
    def __init__(self, db: Database, alarm: SurgeAlarm, staffing: StaffingAssumptions | None = None, *,
                 presence: PresenceBoard | None = None) -> None:
        self.db = db
        self.alarm = alarm
        self.assumptions = staffing or StaffingAssumptions()
        self.presence = presence or PresenceBoard(db)

    def snapshot(self, now: datetime | None = None) -> dict:
        now = now or utcnow()
        with self.db.session() as s:
            recent = self._contacts(s, now - RECENT, now)
            hour = self._contacts(s, now - timedelta(hours=1), now)
            waiting = self._waiting(s, now)
            seats = self._seats_online(s, now)
            by_city = self._seats_online_by_city(s, now)
            queue = [{"city": w.city, "open": w.tickets, "oldest_minutes": round(w.oldest_seconds / 60),
                      "seats_online": by_city.get(w.city, 0)} for w in waiting]
            queue += [{"city": city, "open": 0, "oldest_minutes": None, "seats_online": n}
                      for city, n in sorted(by_city.items()) if city not in {w.city for w in waiting}]
            hot = self._hot(s, now)
        alerts = [a.payload() for a in self.alarm.recent(20, since=now - timedelta(hours=24))]
        return {"at": now.isoformat(), "contacts_15min": recent["contacts"], "resolved_15min": recent["resolved"],
                "self_service_rate_15min": recent["resolved"] / recent["contacts"] if recent["contacts"] else None,
                "queue": queue, "seats_online": seats, "hot_topics": hot, "alerts": alerts,
                "staffing": self._staffing(hour)}

    @staticmethod
    def _contacts(s, start: datetime, end: datetime) -> dict:
        rows = s.execute(select(ConversationRow.id, ConversationRow.ticket_number)
                         .where(ConversationRow.created_at >= start, ConversationRow.created_at < end)).all()
        answered = {c for (c,) in s.execute(
            select(TurnRow.conversation_id).distinct().join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
            .where(ConversationRow.created_at >= start, ConversationRow.created_at < end, TurnRow.decision == "answer",
                   TurnRow.entry_id.is_not(None)))}
        resolved = sum(1 for c, ticket in rows if c in answered and not ticket)
        return {"contacts": len(rows), "resolved": resolved}

    def gauges(self, now: datetime | None = None) -> Gauges:
        """The queue per city, the seats online and the alerts of the last day, for /metrics."""
        now = now or utcnow()
        with self.db.session() as s:
            waiting = tuple(self._waiting(s, now))
            seats = self._seats_online(s, now)
            by_city = self._seats_online_by_city(s, now)
        return Gauges(waiting, seats, self.alarm.count_since(now - timedelta(hours=24)), by_city)

    @staticmethod
    def _waiting(s, now: datetime) -> list[Waiting]:
        rows = s.execute(select(TicketRow.region, func.count(), func.min(TicketRow.created_at))
                         .where(TicketRow.status.in_(WAITING)).group_by(TicketRow.region)).all()
        count, oldest = Counter(), {}
        for region, n, created in rows:
            city = city_of(region)
            count[city] += n
            oldest[city] = min(oldest.get(city, as_utc(created)), as_utc(created))
        return [Waiting(city, n, (now - oldest[city]).total_seconds()) for city, n in count.most_common()]

    def _online(self, now: datetime):
        seen = last_seen(now).subquery()
        return seen, self.presence.online_clause(now, seen.c.seen_at)

    def _seats_online(self, s, now: datetime) -> int:
        seen, online = self._online(now)
        return s.execute(select(func.count()).select_from(SeatPresenceRow)
                         .join(seen, seen.c.username == SeatPresenceRow.username).where(online)).scalar() or 0

    def _seats_online_by_city(self, s, now: datetime) -> dict[str, int]:
        """Seats online per city of their teams (a seat in no team is counted in all, not here)."""
        seen, online = self._online(now)
        rows = s.execute(select(SeatTeamRow.city, func.count(func.distinct(SeatPresenceRow.username)))
                         .select_from(SeatPresenceRow).join(seen, seen.c.username == SeatPresenceRow.username)
                         .join(SeatTeamMemberRow, SeatTeamMemberRow.username == SeatPresenceRow.username)
                         .join(SeatTeamRow, SeatTeamRow.id == SeatTeamMemberRow.team_id)
                         .where(online).group_by(SeatTeamRow.city)).all()
        return {city: n for city, n in rows}

    @staticmethod
    def _hot(s, now: datetime, limit: int = 10) -> list[dict]:
        def counts(start: datetime, end: datetime) -> Counter:
            c = Counter()
            for entry, n in s.execute(select(TurnRow.entry_id, func.count()).where(
                    TurnRow.at >= start, TurnRow.at < end, TurnRow.decision == "answer", TurnRow.entry_id.is_not(None))
                    .group_by(TurnRow.entry_id)):
                c[f"entry:{entry}"] += n
            for cluster, n in s.execute(select(GapRow.cluster_id, func.count()).where(
                    GapRow.at >= start, GapRow.at < end, GapRow.cluster_id.is_not(None)).group_by(GapRow.cluster_id)):
                c[f"gap:{cluster}"] += n
            return c

        now_counts = counts(now - timedelta(hours=1), now)
        before = counts(now - timedelta(hours=2), now - timedelta(hours=1))
        out = []
        for topic, n in now_counts.most_common(limit):
            kind, _, key = topic.partition(":")
            if kind == "entry":
                label = s.execute(select(EntryRow.question).where(EntryRow.id == key)).scalar() or key
            else:
                label = mask(s.execute(select(GapClusterRow.label).where(GapClusterRow.id == int(key))).scalar() or key)
            out.append({"topic": topic, "label": label, "last_hour": n, "hour_before": before.get(topic, 0)})
        return out

    def _staffing(self, hour: dict) -> dict | None:
        if not hour["contacts"]:
            return None
        a = self.assumptions
        share = hour["resolved"] / hour["contacts"]
        both = seats_side_by_side(Demand(hour["contacts"], a.handling_seconds, a.answer_seconds, a.service_level,
                                         patience_seconds=a.patience_seconds), share)
        return {"contacts_last_hour": hour["contacts"], "diverted_share": share,
                "erlang_c_without": both.without.seats, "erlang_c_with": both.with_frontdoor.seats,
                "erlang_a_without": both.without_abandonment.seats, "erlang_a_with": both.with_frontdoor_abandonment.seats}
