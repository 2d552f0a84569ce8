"""Where a seat is: 在线 (online: takes tickets), 小休 (break: keeps the tickets it holds, takes no new) or 离线 (offline).

A seat says it on the workbench; the choice is stored (`seat_presence`) and audited. It also lapses: a seat whose
workbench has not been seen for `lapse` (no request of any of its open sessions: the page refetches its queue every
15 s, which refreshes the session's `last_seen_at` once a minute) counts as offline, whatever it said, and so does one
whose every session has ended (signed out, expired). Only an online seat is given tickets (desk/assignment.py) or may
take the next one (`require_online`). The words are content (desk/content/presence.yaml).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from ground.clock import as_utc, utcnow
from ground.errors import DomainError, ErrorKind
from storage.audit import record
from storage.database import Database
from storage.tables import AccountSessionRow, SeatPresenceRow

SHIPPED_WORDS = Path(__file__).resolve().parent / "content" / "presence.yaml"
DEFAULT_LAPSE = timedelta(minutes=3)


class Presence(str, enum.Enum):
    ONLINE = "online"    # 在线
    BREAK = "break"      # 小休
    OFFLINE = "offline"  # 离线


def presence_words(path: Path = SHIPPED_WORDS) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


class NotOnline(DomainError, RuntimeError):
    """The seat is on a break or offline: it takes no new ticket."""

    code, kind = "not_online", ErrorKind.CONFLICT

    def __init__(self, presence: "SeatPresence", words: dict | None = None) -> None:
        words = words or presence_words()
        state = words["lapsed"] if presence.lapsed else words["states"][presence.state.value]
        super().__init__(words["refusals"]["not_online"].format(state=state))


@dataclass(frozen=True)
class SeatPresence:
    username: str
    state: Presence           # what counts now: offline once lapsed
    said: Presence            # what the seat last chose
    changed_at: datetime | None
    seen_at: datetime | None  # the workbench's latest sign of life (a request, or the choice itself)
    last_assigned_at: datetime | None

    @property
    def lapsed(self) -> bool:
        return self.said is not Presence.OFFLINE and self.state is Presence.OFFLINE


def last_seen(now: datetime) -> Select:
    """username → the latest `last_seen_at` of its sessions still open at `now` (a subquery's select)."""
    return (select(AccountSessionRow.username, func.max(AccountSessionRow.last_seen_at).label("seen_at"))
            .where(AccountSessionRow.revoked_at.is_(None), AccountSessionRow.expires_at > now)
            .group_by(AccountSessionRow.username))


class PresenceBoard:
    def __init__(self, db: Database, lapse: timedelta = DEFAULT_LAPSE) -> None:
        self._db = db
        self.lapse = lapse

    def set(self, username: str, state: Presence, *, by: str | None = None, city: str | None = None,
            now: datetime | None = None) -> SeatPresence:
        """The seat says where it is (audited); saying the same again only counts as a sign of life."""
        now = as_utc(now or utcnow())
        with self._db.session(write=True) as s:
            row = s.get(SeatPresenceRow, username, with_for_update=True)
            before = row.state if row is not None else Presence.OFFLINE.value
            if row is None:
                row = SeatPresenceRow(username=username, state=state.value, changed_at=now, changed_by=by or username,
                                      last_assigned_at=None)
                s.add(row)
            row.state, row.changed_at, row.changed_by = state.value, now, by or username
            if before != state.value:
                record(s, actor=by or username, action="desk.presence", target=f"seat:{username}", at=now, city=city,
                       before=before, after=state.value)
        return self.of(username, now)

    def of(self, username: str, now: datetime | None = None) -> SeatPresence:
        now = as_utc(now or utcnow())
        with self._db.session() as s:
            return self.read(s, [username], now)[username]

    def require_online(self, username: str, now: datetime | None = None) -> SeatPresence:
        presence = self.of(username, now)
        if presence.state is not Presence.ONLINE:
            raise NotOnline(presence)
        return presence

    def read(self, s: Session, usernames: list[str], now: datetime) -> dict[str, SeatPresence]:
        """Each of `usernames`' presence at `now` (offline for a seat that never said)."""
        seen = last_seen(now).where(AccountSessionRow.username.in_(usernames)).subquery()
        rows = {r.username: (r, seen_at) for r, seen_at in s.execute(
            select(SeatPresenceRow, seen.c.seen_at).outerjoin(seen, seen.c.username == SeatPresenceRow.username)
            .where(SeatPresenceRow.username.in_(usernames)))}
        found = {}
        for username in usernames:
            row, seen_at = rows.get(username, (None, None))
            if row is None:
                found[username] = SeatPresence(username, Presence.OFFLINE, Presence.OFFLINE, None, None, None)
                continue
            sign = max((t for t in (seen_at, row.changed_at) if t is not None), default=None)
            said = Presence(row.state)
            alive = sign is not None and sign >= now - self.lapse and seen_at is not None
            found[username] = SeatPresence(username, said if alive else Presence.OFFLINE, said, row.changed_at, sign,
                                           row.last_assigned_at)
        return found

    def online_clause(self, now: datetime, seen_at: ColumnElement) -> ColumnElement[bool]:
        """The condition, over `seat_presence` joined to `last_seen`'s `seen_at`, that a seat is online at `now`."""
        since = now - self.lapse
        return and_(SeatPresenceRow.state == Presence.ONLINE.value, seen_at.is_not(None),
                    (seen_at >= since) | (SeatPresenceRow.changed_at >= since))
