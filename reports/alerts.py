"""The surge alarm over the database: what was asked and filed lately, tested (reports/surge_alarm.py), stored
once across workers and posted to the configured webhook.

Any worker may run `SurgeAlarm.check` (every minute by default): it replays the last `lookback` hours of events
through the detector, so it needs no state of its own; a burst is a row with a unique (topic, region, window
end), and only the worker whose insert created the row posts it to the webhook.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Float, func, select
from sqlalchemy.exc import IntegrityError

from ground.clock import as_utc, utcnow
from reports.surge_alarm import Burst, SurgeRule, detect, floor_to
from storage.database import Database
from storage.tables import CategoryCodeRow, ConversationRow, EntryRow, GapClusterRow, GapRow, SurgeAlertRow, TicketRow, TurnRow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    id: int
    topic: str
    region: str
    window_start: datetime
    window_end: datetime
    count: int
    expected: float
    p_value: float
    label: str
    link: str
    raised_at: datetime
    webhook: str | None

    @classmethod
    def of(cls, row: SurgeAlertRow) -> "Alert":
        return cls(row.id, row.topic, row.region, as_utc(row.window_start), as_utc(row.window_end), row.count,
                   row.expected, row.p_value, row.label, row.link, as_utc(row.raised_at), row.webhook)

    def payload(self) -> dict:
        return {"id": self.id, "topic": self.topic, "region": self.region, "label": self.label, "link": self.link,
                "count": self.count, "expected": round(self.expected, 2), "p_value": self.p_value,
                "window_start": self.window_start.isoformat(), "window_end": self.window_end.isoformat(),
                "raised_at": self.raised_at.isoformat()}


def traffic_events(db: Database, start: datetime, end: datetime,
                   bucket: timedelta = timedelta(minutes=5)) -> list[tuple[datetime, str, str | None, int]]:
    """(bucket start, topic, region, count) for the questions answered, the questions nothing answered well (once
    clustered) and the tickets filed in [start, end), counted by the database per `bucket` from `start` (at the peak
    an hour holds 120,000 turns: they are not read one by one)."""
    seconds = bucket.total_seconds()

    def index(column):
        if db.dialect == "postgresql":
            return func.floor((func.extract("epoch", column) - start.timestamp()) / seconds)
        # SQLite keeps UTC as naive text: its unix time
        return func.floor((func.cast(func.strftime("%s", column), Float) - start.timestamp()) / seconds)

    def counted(s, topic, at, region, *where, join=None):
        slot = index(at).label("slot")
        query = select(slot, topic, region, func.count()).where(at >= start, at < end, *where)
        if join is not None:
            query = query.join(*join)
        return s.execute(query.group_by(slot, topic, region)).all()

    with db.session() as s:
        answered = counted(s, TurnRow.entry_id, TurnRow.at, ConversationRow.region, TurnRow.decision == "answer",
                           TurnRow.entry_id.is_not(None),
                           join=(ConversationRow, ConversationRow.id == TurnRow.conversation_id))
        gaps = counted(s, GapRow.cluster_id, GapRow.at, GapRow.region, GapRow.cluster_id.is_not(None))
        tickets = counted(s, TicketRow.category_code, TicketRow.created_at, TicketRow.region)

    def at(slot) -> datetime:
        return start + bucket * int(slot)

    return ([(at(slot), f"entry:{entry}", region, n) for slot, entry, region, n in answered]
            + [(at(slot), f"gap:{cluster}", region, n) for slot, cluster, region, n in gaps]
            + [(at(slot), f"category:{code or '-'}", region, n) for slot, code, region, n in tickets])


class SurgeAlarm:
    def __init__(self, db: Database, rule: SurgeRule | None = None, *, webhook_url: str | None = None,
                 lookback: timedelta = timedelta(hours=8), cluster: Callable[[], object] | None = None,
                 http: httpx.Client | None = None) -> None:
        self.db = db
        self.rule = rule or SurgeRule()
        self.webhook_url = webhook_url
        self.lookback = lookback
        self.cluster = cluster  # groups pending unanswered questions first (GapQueue.cluster_pending)
        self.http = http

    def check(self, now: datetime | None = None) -> list[Alert]:
        """Tests the buckets up to `now`; raises (stores and posts) the bursts of the last bucket not yet raised."""
        now = now or utcnow()
        if self.cluster is not None:
            self.cluster()
        end = floor_to(now, self.rule.bucket)
        start = end - self.lookback
        bursts = detect(traffic_events(self.db, start, end, self.rule.bucket), start, end, self.rule)
        recent = end - self.rule.bucket * self.rule.window_buckets
        raised = [alert for burst in bursts if burst.window_end > recent
                  for alert in [self._raise(burst, now)] if alert is not None]
        for alert in raised:
            self._post(alert)
        return raised

    def recent(self, limit: int = 50, since: datetime | None = None) -> list[Alert]:
        with self.db.session() as s:
            query = select(SurgeAlertRow).order_by(SurgeAlertRow.raised_at.desc(), SurgeAlertRow.id.desc()).limit(limit)
            if since is not None:
                query = query.where(SurgeAlertRow.raised_at >= since)
            return [Alert.of(row) for row in s.execute(query).scalars()]

    def count_since(self, since: datetime) -> int:
        with self.db.session() as s:
            return s.execute(select(func.count()).where(SurgeAlertRow.raised_at >= since)).scalar_one()

    def _raise(self, burst: Burst, now: datetime) -> Alert | None:
        label, link = self._describe(burst.topic)
        row = SurgeAlertRow(topic=burst.topic, region=burst.region, window_start=burst.window_start,
                            window_end=burst.window_end, count=burst.count, expected=burst.expected,
                            p_value=burst.p_value, label=label, link=link, raised_at=now, webhook=None)
        try:
            with self.db.session(write=True) as s:
                already = s.execute(select(SurgeAlertRow.id).where(
                    SurgeAlertRow.topic == burst.topic, SurgeAlertRow.region == burst.region,
                    SurgeAlertRow.window_end == burst.window_end)).first()
                if already is not None:
                    return None
                s.add(row)
                s.flush()
                return Alert.of(row)
        except IntegrityError:  # another worker raised it first
            return None

    def _describe(self, topic: str) -> tuple[str, str]:
        """What the topic is, in the words an editor knows it by (masked), and where to act on it."""
        kind, _, key = topic.partition(":")
        with self.db.session() as s:
            if kind == "entry":
                question = s.execute(select(EntryRow.question).where(EntryRow.id == key)).scalar()
                return question or key, f"/console#/entry/{key}"
            if kind == "gap":
                label = s.execute(select(GapClusterRow.label).where(GapClusterRow.id == int(key))).scalar()
                return label or key, "/console#/gaps"
            name = s.execute(select(CategoryCodeRow.name).where(CategoryCodeRow.code == key)).scalar()
            return name or key, "/console#/entries"

    def _post(self, alert: Alert) -> None:
        if not self.webhook_url:
            return
        try:
            client = self.http or httpx.Client(timeout=5.0)
            try:
                response = client.post(self.webhook_url, json={"kind": "surge", "alert": alert.payload()})
                status = "sent" if response.status_code < 300 else f"failed: {response.status_code}"
            finally:
                if self.http is None:
                    client.close()
        except httpx.HTTPError as error:
            status = f"failed: {type(error).__name__}"[:40]
            logger.warning("the surge alert %s could not be posted to the webhook: %s", alert.id, error)
        with self.db.session(write=True) as s:
            row = s.get(SurgeAlertRow, alert.id)
            if row is not None:
                row.webhook = status
