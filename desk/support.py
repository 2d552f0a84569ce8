"""多援一: seat teams of a city, and support activations that let named teams take an affected city's tickets.

A supervisor opens an activation (the affected city; all its tickets, some categories, or a share; from a time to a
time), brings teams onto it in batches and releases them, and closes it; every step is audited. `scope_for` tells
which tickets a seat may work now: its own city's, and those of every city an active batch of its teams supports.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from desk.lifecycle import HELD
from desk.presence import DEFAULT_LAPSE, Presence, PresenceBoard
from desk.scope import Support, TicketScope
from ground.clock import as_utc, utcnow
from ground.errors import DomainError, ErrorKind
from ground.regions import REGION_SEPARATOR
from storage.audit import record
from storage.database import Database
from storage.tables import (SeatTeamMemberRow, SeatTeamRow, SupportActivationRow, SupportBatchRow,
                            SupportBatchTeamRow, TicketRow)


class SupportNotFound(DomainError, LookupError):
    code, kind = "support_not_found", ErrorKind.NOT_FOUND


class SupportConflict(DomainError, RuntimeError):
    code, kind = "support_conflict", ErrorKind.CONFLICT


class SupportInvalid(DomainError, ValueError):
    code, kind = "support_invalid", ErrorKind.INVALID


def city_of(region: str | None) -> str | None:
    """The city a region lies in ("江苏省/扬州市/邗江区" → "江苏省/扬州市"); None for none or a province."""
    parts = [p for p in (region or "").split(REGION_SEPARATOR) if p]
    return REGION_SEPARATOR.join(parts[:2]) if len(parts) >= 2 else None


@dataclass(frozen=True)
class Team:
    id: int
    name: str
    city: str
    members: dict[str, int]  # username → capacity


@dataclass(frozen=True)
class Batch:
    id: int
    label: str
    team_ids: tuple[int, ...]
    added_by: str
    added_at: datetime
    released_by: str | None
    released_at: datetime | None


@dataclass(frozen=True)
class Activation:
    id: int
    city: str
    categories: tuple[str, ...]
    share: float
    starts_at: datetime
    ends_at: datetime
    note: str
    opened_by: str
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    batches: tuple[Batch, ...]

    def active(self, now: datetime) -> bool:
        return self.closed_at is None and self.starts_at <= now < self.ends_at


@dataclass(frozen=True)
class SeatOnDesk:
    """A team member as its team lead sees it: where it is, and how many tickets it holds of its capacity."""
    username: str
    presence: Presence
    lapsed: bool  # said online or on a break, but its workbench has not been seen lately
    held: int
    capacity: int
    last_assigned_at: datetime | None


@dataclass(frozen=True)
class TeamPresence:
    team_id: int
    name: str
    city: str
    seats: tuple[SeatOnDesk, ...]

    @property
    def online(self) -> int:
        return sum(1 for seat in self.seats if seat.presence is Presence.ONLINE)


class SupportDesk:
    def __init__(self, db: Database, default_capacity: int = 5, presence_lapse: timedelta = DEFAULT_LAPSE) -> None:
        self._db = db
        self.default_capacity = default_capacity
        self.presence_board = PresenceBoard(db, presence_lapse)

    # ---- teams -----------------------------------------------------------------------------------
    def create_team(self, name: str, city: str, *, by: str, now: datetime | None = None) -> Team:
        now = as_utc(now or utcnow())
        if city_of(city) != city.strip(REGION_SEPARATOR):
            raise SupportInvalid(f"A team belongs to a city, written from the province down (江苏省/苏州市), not {city!r}.")
        with self._db.session(write=True) as s:
            if s.execute(select(SeatTeamRow.id).where(SeatTeamRow.name == name)).first():
                raise SupportConflict(f"a team named {name!r} exists already")
            row = SeatTeamRow(name=name, city=city, created_at=now)
            s.add(row)
            s.flush()
            record(s, actor=by, action="team.create", target=f"team:{row.id}", at=now, name=name, city=city)
            return Team(row.id, name, city, {})

    def set_member(self, team_id: int, username: str, capacity: int | None, *, by: str, now: datetime | None = None) -> Team:
        """Adds `username` to the team (or changes its capacity); capacity None removes it."""
        now = as_utc(now or utcnow())
        with self._db.session(write=True) as s:
            self._team_row(s, team_id)
            member = s.get(SeatTeamMemberRow, (team_id, username))
            if capacity is None:
                if member is not None:
                    s.delete(member)
            elif member is None:
                s.add(SeatTeamMemberRow(team_id=team_id, username=username, capacity=capacity))
            else:
                member.capacity = capacity
            record(s, actor=by, action="team.member", target=f"team:{team_id}", at=now, username=username, capacity=capacity)
        return self.team(team_id)

    def team(self, team_id: int) -> Team:
        with self._db.session() as s:
            return self._team(s, self._team_row(s, team_id))

    def teams(self) -> list[Team]:
        with self._db.session() as s:
            return [self._team(s, row) for row in s.execute(select(SeatTeamRow).order_by(SeatTeamRow.id)).scalars()]

    # ---- activations ---------------------------------------------------------------------------
    def open_activation(self, city: str, starts_at: datetime, ends_at: datetime, *, by: str,
                        categories: Sequence[str] = (), share: float = 1.0, note: str = "",
                        now: datetime | None = None) -> Activation:
        now = as_utc(now or utcnow())
        starts_at, ends_at = as_utc(starts_at), as_utc(ends_at)
        if city_of(city) != city.strip(REGION_SEPARATOR):
            raise SupportInvalid(f"An activation is for a city, written from the province down (江苏省/扬州市), not {city!r}.")
        if not ends_at > starts_at:
            raise SupportInvalid("An activation ends after it starts.")
        if not 0 < share <= 1:
            raise SupportInvalid("The share of the city's tickets is more than 0 and at most 1.")
        with self._db.session(write=True) as s:
            row = SupportActivationRow(city=city, categories=list(categories), share=share, starts_at=starts_at,
                                       ends_at=ends_at, note=note, opened_by=by, opened_at=now)
            s.add(row)
            s.flush()
            record(s, actor=by, action="support.open", target=f"support:{row.id}", at=now, city=city,
                   categories=list(categories), share=share, starts_at=starts_at.isoformat(), ends_at=ends_at.isoformat())
            activation_id = row.id
        return self.activation(activation_id)

    def add_batch(self, activation_id: int, label: str, team_ids: Sequence[int], *, by: str,
                  now: datetime | None = None) -> Activation:
        now = as_utc(now or utcnow())
        if not team_ids:
            raise SupportInvalid("A batch brings at least one team.")
        with self._db.session(write=True) as s:
            activation = self._activation_row(s, activation_id)
            if activation.closed_at is not None:
                raise SupportConflict(f"activation {activation_id} is closed")
            for team_id in team_ids:
                self._team_row(s, team_id)
            batch = SupportBatchRow(activation_id=activation_id, label=label, added_by=by, added_at=now)
            s.add(batch)
            s.flush()
            s.add_all([SupportBatchTeamRow(batch_id=batch.id, team_id=team_id) for team_id in dict.fromkeys(team_ids)])
            record(s, actor=by, action="support.batch_add", target=f"support:{activation_id}", at=now, batch=batch.id,
                   label=label, teams=list(team_ids))
        return self.activation(activation_id)

    def release_batch(self, activation_id: int, batch_id: int, *, by: str, now: datetime | None = None) -> Activation:
        now = as_utc(now or utcnow())
        with self._db.session(write=True) as s:
            batch = s.get(SupportBatchRow, batch_id)
            if batch is None or batch.activation_id != activation_id:
                raise SupportNotFound(f"activation {activation_id} has no batch {batch_id}")
            if batch.released_at is not None:
                raise SupportConflict(f"batch {batch_id} was released already")
            batch.released_by, batch.released_at = by, now
            record(s, actor=by, action="support.batch_release", target=f"support:{activation_id}", at=now, batch=batch_id)
        return self.activation(activation_id)

    def close_activation(self, activation_id: int, *, by: str, now: datetime | None = None) -> Activation:
        now = as_utc(now or utcnow())
        with self._db.session(write=True) as s:
            row = self._activation_row(s, activation_id)
            if row.closed_at is not None:
                raise SupportConflict(f"activation {activation_id} is closed already")
            row.closed_by, row.closed_at = by, now
            record(s, actor=by, action="support.close", target=f"support:{activation_id}", at=now)
        return self.activation(activation_id)

    def activation(self, activation_id: int) -> Activation:
        with self._db.session() as s:
            return self._activation(s, self._activation_row(s, activation_id))

    def activations(self) -> list[Activation]:
        with self._db.session() as s:
            rows = s.execute(select(SupportActivationRow).order_by(SupportActivationRow.id.desc())).scalars()
            return [self._activation(s, row) for row in rows]

    # ---- what a seat may work ----------------------------------------------------------------------
    def scope_for(self, username: str, region: str, now: datetime | None = None) -> TicketScope:
        """The tickets seat `username` (an account limited to `region`; "" = everywhere) may work at `now`."""
        now = as_utc(now or utcnow())
        if not region:
            return TicketScope(None, everywhere=True)
        with self._db.session() as s:
            query = (select(SupportActivationRow)
                     .join(SupportBatchRow, SupportBatchRow.activation_id == SupportActivationRow.id)
                     .join(SupportBatchTeamRow, SupportBatchTeamRow.batch_id == SupportBatchRow.id)
                     .join(SeatTeamMemberRow, SeatTeamMemberRow.team_id == SupportBatchTeamRow.team_id)
                     .where(SeatTeamMemberRow.username == username, SupportBatchRow.released_at.is_(None),
                            SupportActivationRow.closed_at.is_(None), SupportActivationRow.starts_at <= now,
                            SupportActivationRow.ends_at > now).distinct())
            supports = tuple(Support(row.city, tuple(row.categories), row.share) for row in s.execute(query).scalars())
        return TicketScope(city_of(region) or region, supports)

    def capacity_of(self, username: str) -> int:
        """How many tickets `username` may hold at once: its teams' figure (the largest), else the default."""
        with self._db.session() as s:
            capacities = s.execute(select(SeatTeamMemberRow.capacity).where(SeatTeamMemberRow.username == username)).scalars().all()
        return max(capacities, default=self.default_capacity)

    # ---- who is on the desk now ----------------------------------------------------------------------
    def presence(self, now: datetime | None = None, *, city: str | None = None) -> list[TeamPresence]:
        """Every team (of `city`, or all) with each member's presence at `now` and the tickets it holds of its
        capacity: for team leads, supervisors and the manager's wall."""
        now = as_utc(now or utcnow())
        with self._db.session() as s:
            query = select(SeatTeamRow).order_by(SeatTeamRow.city, SeatTeamRow.name)
            if city:
                query = query.where(SeatTeamRow.city == city)
            teams = [self._team(s, row) for row in s.execute(query).scalars()]
            names = sorted({name for team in teams for name in team.members})
            if not names:
                return [TeamPresence(t.id, t.name, t.city, ()) for t in teams]
            presence = self.presence_board.read(s, names, now)
            held = dict(s.execute(select(TicketRow.seat, func.count()).where(
                TicketRow.seat.in_(names), TicketRow.status.in_([st.value for st in HELD])).group_by(TicketRow.seat)).all())
            capacity = dict(s.execute(select(SeatTeamMemberRow.username, func.max(SeatTeamMemberRow.capacity))
                                      .where(SeatTeamMemberRow.username.in_(names)).group_by(SeatTeamMemberRow.username)).all())
        return [TeamPresence(t.id, t.name, t.city, tuple(
            SeatOnDesk(name, presence[name].state, presence[name].lapsed, held.get(name, 0), capacity[name],
                       presence[name].last_assigned_at) for name in sorted(t.members))) for t in teams]

    def online_by_city(self, now: datetime | None = None) -> dict[str, int]:
        """How many seats are online now in the teams of each city (a seat in two teams of a city counts once)."""
        seats: dict[str, set[str]] = {}
        for team in self.presence(now):
            seats.setdefault(team.city, set()).update(s.username for s in team.seats if s.presence is Presence.ONLINE)
        return {city: len(names) for city, names in seats.items()}

    # ---- rows --------------------------------------------------------------------------------
    @staticmethod
    def _team_row(s, team_id: int) -> SeatTeamRow:
        row = s.get(SeatTeamRow, team_id)
        if row is None:
            raise SupportNotFound(f"no seat team {team_id}")
        return row

    @staticmethod
    def _team(s, row: SeatTeamRow) -> Team:
        members = s.execute(select(SeatTeamMemberRow).where(SeatTeamMemberRow.team_id == row.id)
                            .order_by(SeatTeamMemberRow.username)).scalars()
        return Team(row.id, row.name, row.city, {m.username: m.capacity for m in members})

    @staticmethod
    def _activation_row(s, activation_id: int) -> SupportActivationRow:
        row = s.get(SupportActivationRow, activation_id)
        if row is None:
            raise SupportNotFound(f"no support activation {activation_id}")
        return row

    @staticmethod
    def _activation(s, row: SupportActivationRow) -> Activation:
        batches = []
        for batch in s.execute(select(SupportBatchRow).where(SupportBatchRow.activation_id == row.id)
                               .order_by(SupportBatchRow.id)).scalars():
            teams = s.execute(select(SupportBatchTeamRow.team_id).where(SupportBatchTeamRow.batch_id == batch.id)
                              .order_by(SupportBatchTeamRow.team_id)).scalars()
            batches.append(Batch(batch.id, batch.label, tuple(teams), batch.added_by, batch.added_at, batch.released_by,
                                 batch.released_at))
        return Activation(row.id, row.city, tuple(row.categories), row.share, row.starts_at, row.ends_at, row.note,
                          row.opened_by, row.opened_at, row.closed_by, row.closed_at, tuple(batches))
