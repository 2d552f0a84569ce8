"""Assignment (派单到坐席): waiting tickets are given to the seats that are online and have room, most urgent (then
nearest deadline) first, each to the seat that has waited longest since it was last given one: round-robin within a
team, and across teams, each seat only within its scope (its own city, and under 多援一 the cities its teams support
now, desk/scope.py).

Push, not pull: a job gives the tickets (`Assigner.run`), every worker runs it when a ticket moves (the queue watch
wakes it) and every `desk_assign_seconds`, and the workbench shows the seat its new ticket. Left to "take the next
one", the seat that clicks most would take most and a ticket would wait while a seat with room looked elsewhere;
only a job sees every seat's turn at once. "Take the next one" stays, for a seat that wants one before the job runs,
and counts as its turn.

Never above capacity, never to a seat on a break or offline (desk/presence.py), never one ticket to two seats: a run
takes the seats' presence rows for update (a seat in the middle of "take the next one" is skipped this run) and the
tickets with SKIP LOCKED; on PostgreSQL a transaction-level advisory lock lets one worker's run do the work while the
others' return at once; SQLite has one writer at a time. Each assignment is a `claimed` event (how: assigned) on the
ticket's timeline.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from desk.lifecycle import HELD, TRANSITIONS, TicketStatus
from desk.presence import PresenceBoard, last_seen
from desk.scope import TicketScope
from desk.support import SupportDesk, city_of
from desk.tickets import record_event
from ground.clock import as_utc, utcnow
from storage.database import Database
from storage.tables import AccountRow, SeatPresenceRow, SeatTeamMemberRow, TicketRow

log = logging.getLogger(__name__)

_RUNNER_LOCK_KEY = 0x12345A  # any constant shared by every worker
SEAT_ROLES = ("seat", "team_lead")


@dataclass(frozen=True)
class Assigned:
    ticket_number: str
    seat: str
    seat_city: str | None


@dataclass
class _Turn:
    username: str
    city: str | None
    scope: TicketScope
    room: int


class Assigner:
    def __init__(self, db: Database, support: SupportDesk) -> None:
        self._db = db
        self._support = support

    @property
    def _presence(self) -> PresenceBoard:
        return self._support.presence_board

    def run(self, now: datetime | None = None, *, limit: int = 1000) -> list[Assigned]:
        """Gives waiting tickets to online seats with room, in turn, until either runs out (or `limit` are given)."""
        now = as_utc(now or utcnow())
        given: list[Assigned] = []
        with self._db.session(write=True) as s:
            if self._db.dialect == "postgresql":
                if not s.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _RUNNER_LOCK_KEY}).scalar_one():
                    return []  # another worker is assigning now
            turns = deque(self._turns(s, now))
            while turns and len(given) < limit:
                turn = turns.popleft()
                row = s.execute(select(TicketRow).where(TicketRow.status == TicketStatus.OPEN.value,
                                                        TicketRow.parent_number.is_(None), turn.scope.clause())
                                .order_by(TicketRow.urgency_rank, TicketRow.due_at, TicketRow.id).limit(1)
                                .with_for_update(skip_locked=True)).scalar_one_or_none()
                if row is None:
                    continue  # nothing this seat may work: it drops out of this run
                # stamped in the order given, so that the next run goes on from the seat after this one
                stamp = now + timedelta(microseconds=len(given))
                row.status, row.seat, row.seat_city, row.claimed_at, row.updated_at = (
                    TicketStatus.CLAIMED.value, turn.username, turn.city, row.claimed_at or now, now)
                record_event(s, row.number, TRANSITIONS["claim"].event, actor=turn.username, city=turn.city, at=now,
                             how="assigned")
                s.get(SeatPresenceRow, turn.username).last_assigned_at = stamp
                given.append(Assigned(row.number, turn.username, turn.city))
                turn.room -= 1
                if turn.room > 0:
                    turns.append(turn)
        if given:
            log.info("assigned %d tickets to %d seats", len(given), len({g.seat for g in given}))
        return given

    def _turns(self, s: Session, now: datetime) -> list[_Turn]:
        """The seats online now with room, longest since their last assignment first (locked for this run)."""
        seen = last_seen(now).subquery()
        seats = s.execute(select(SeatPresenceRow.username, AccountRow.region)
                          .join(seen, seen.c.username == SeatPresenceRow.username)
                          .join(AccountRow, AccountRow.username == SeatPresenceRow.username)
                          .where(self._presence.online_clause(now, seen.c.seen_at), AccountRow.active.is_(True),
                                 AccountRow.role.in_(SEAT_ROLES))
                          .order_by(SeatPresenceRow.last_assigned_at.asc().nulls_first(), SeatPresenceRow.username)
                          .with_for_update(of=SeatPresenceRow, skip_locked=True)).all()
        if not seats:
            return []
        names = [name for name, _ in seats]
        held = dict(s.execute(select(TicketRow.seat, func.count()).where(
            TicketRow.seat.in_(names), TicketRow.status.in_([st.value for st in HELD])).group_by(TicketRow.seat)).all())
        capacity = dict(s.execute(select(SeatTeamMemberRow.username, func.max(SeatTeamMemberRow.capacity))
                                  .where(SeatTeamMemberRow.username.in_(names)).group_by(SeatTeamMemberRow.username)).all())
        turns = []
        for name, region in seats:
            room = capacity.get(name, self._support.default_capacity) - held.get(name, 0)
            if room > 0:
                turns.append(_Turn(name, city_of(region), self._support.scope_for(name, region, now), room))
        return turns
