"""Handoff tickets (工单) and what seats do with them: list, claim, reply, close.

A ticket is written once with everything the citizen already said, so a seat — local or remote
(多援一) — never asks them to repeat. Its number is the Beijing date of creation and a sequence.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from ground.regions import REGION_SEPARATOR
from ground.clock import BEIJING, as_utc, utcnow
from ground.errors import DomainError, ErrorKind
from storage.database import Database
from storage.tables import TicketRow

URGENCY_ORDER = ("紧急", "次紧急", "一般")


class TicketStatus(str, enum.Enum):
    OPEN = "open"          # waiting for a seat
    CLAIMED = "claimed"    # a seat has taken it
    REPLIED = "replied"    # the seat has answered the citizen
    CLOSED = "closed"      # 办结


class TicketNotFound(DomainError, LookupError):
    """No ticket has that number."""

    code, kind = "ticket_not_found", ErrorKind.NOT_FOUND


class TicketConflict(DomainError, RuntimeError):
    """The ticket is not in a state that allows this (claimed by someone else, already closed, …)."""

    code, kind = "ticket_conflict", ErrorKind.CONFLICT


class CitizenTicketNotFound(DomainError, LookupError):
    """A citizen's lookup found no ticket of theirs with that number (the message is the channel's to word)."""

    code, kind = "ticket_not_found", ErrorKind.NOT_FOUND

    def __init__(self, message: str = "no ticket of this citizen has that number") -> None:
        super().__init__(message)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@dataclass(frozen=True)
class TicketDraft:
    channel: str
    summary: str
    reason: str
    transcript: list[dict]
    request_type: str
    urgency: str
    dispatch_hours: float
    region: str | None = None
    caller: str | None = None
    conversation_id: str | None = None
    category_code: str | None = None
    category_name: str | None = None
    category_score: float | None = None
    category_source: str | None = None
    candidates: list[dict] = field(default_factory=list)
    asr_confidence: float | None = None
    details: dict | None = None  # a 诉求 taken down: what, where, since, contact, region, confirmed


@dataclass(frozen=True)
class Ticket:
    number: str
    status: TicketStatus
    channel: str
    summary: str
    reason: str
    transcript: list[dict]
    request_type: str
    urgency: str
    due_at: datetime
    region: str | None
    caller: str | None
    conversation_id: str | None
    category_code: str | None
    category_name: str | None
    category_score: float | None
    category_source: str | None
    candidates: list[dict]
    asr_confidence: float | None
    details: dict | None
    seat: str | None
    reply: str | None
    created_at: datetime
    updated_at: datetime
    claimed_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def from_row(cls, row: TicketRow) -> "Ticket":
        return cls(
            number=row.number, status=TicketStatus(row.status), channel=row.channel, summary=row.summary, reason=row.reason,
            transcript=list(row.transcript), request_type=row.request_type, urgency=row.urgency, due_at=row.due_at,
            region=row.region, caller=row.caller, conversation_id=row.conversation_id, category_code=row.category_code,
            category_name=row.category_name, category_score=row.category_score, category_source=row.category_source,
            candidates=list(row.candidates), asr_confidence=row.asr_confidence, details=row.details, seat=row.seat, reply=row.reply,
            created_at=row.created_at, updated_at=row.updated_at, claimed_at=row.claimed_at, replied_at=row.replied_at,
            closed_at=row.closed_at,
        )


class TicketDesk:
    def __init__(self, db: Database):
        self._db = db

    def open(self, draft: TicketDraft, now: datetime | None = None) -> Ticket:
        now = as_utc(now or utcnow())
        with self._db.session(write=True) as s:
            row = TicketRow(
                channel=draft.channel, summary=draft.summary, reason=draft.reason, transcript=draft.transcript,
                request_type=draft.request_type, urgency=draft.urgency, due_at=now + timedelta(hours=draft.dispatch_hours),
                region=draft.region, caller=draft.caller, conversation_id=draft.conversation_id,
                category_code=draft.category_code, category_name=draft.category_name, category_score=draft.category_score,
                category_source=draft.category_source, candidates=draft.candidates, asr_confidence=draft.asr_confidence,
                details=draft.details, status=TicketStatus.OPEN.value, created_at=now, updated_at=now,
            )
            s.add(row)
            s.flush()  # the sequence number
            row.number = f"{now.astimezone(BEIJING):%Y%m%d}{row.id:06d}"
            return Ticket.from_row(row)

    def open_or_add(self, draft: TicketDraft, now: datetime | None = None) -> Ticket:
        """One ticket per conversation: the conversation's ticket still being worked (not closed), brought up to
        date with the whole transcript (and a number to call back on, if the citizen has now given one); a new
        ticket when it has none (or its last one is closed: a new matter)."""
        now = as_utc(now or utcnow())
        if draft.conversation_id:
            with self._db.session(write=True) as s:
                row = s.execute(select(TicketRow).where(TicketRow.conversation_id == draft.conversation_id,
                                                        TicketRow.status != TicketStatus.CLOSED.value)
                                .order_by(TicketRow.id.desc()).limit(1).with_for_update()).scalar_one_or_none()
                if row is not None:
                    row.transcript, row.updated_at = draft.transcript, now
                    row.caller = row.caller or draft.caller
                    row.details = draft.details or row.details
                    return Ticket.from_row(row)
        return self.open(draft, now)

    def get(self, number: str) -> Ticket:
        with self._db.session() as s:
            return Ticket.from_row(self._row(s, number))

    def for_citizen(self, number: str, *, conversation_id: str | None = None, phone: str | None = None) -> Ticket:
        """The ticket `number`, for the citizen who raised it: the conversation it was raised in, or the phone number
        it carries (digits compared, separators ignored). A ticket that exists but is not theirs is not found, the
        same as one that does not exist, so that a lookup tells a stranger nothing."""
        try:
            ticket = self.get(number)
        except TicketNotFound:
            raise CitizenTicketNotFound() from None
        if conversation_id and ticket.conversation_id == conversation_id:
            return ticket
        left = [n for n in (ticket.caller, (ticket.details or {}).get("contact")) if n]  # a WeChat caller is an openid
        if phone and _digits(phone) and any(_digits(phone) == _digits(n) for n in left):
            return ticket
        raise CitizenTicketNotFound()

    def list(self, *, region: str | None = None, urgency: str | None = None, status: TicketStatus | None = None,
             seat: str | None = None, limit: int = 50, offset: int = 0) -> list[Ticket]:
        """The queue: most urgent first, then the nearest deadline. `region` includes its sub-regions."""
        query = select(TicketRow)
        if region:
            query = query.where((TicketRow.region == region) | TicketRow.region.startswith(region + REGION_SEPARATOR))
        if urgency:
            query = query.where(TicketRow.urgency == urgency)
        if status:
            query = query.where(TicketRow.status == status.value)
        if seat:
            query = query.where(TicketRow.seat == seat)
        rank = case({name: i for i, name in enumerate(URGENCY_ORDER)}, value=TicketRow.urgency, else_=len(URGENCY_ORDER))
        query = query.order_by(rank, TicketRow.due_at, TicketRow.id).limit(limit).offset(offset)
        with self._db.session() as s:
            return [Ticket.from_row(r) for r in s.execute(query).scalars()]

    def waiting_by_urgency(self) -> dict[str, int]:
        """How many tickets wait for a seat (open, unclaimed), by urgency, every urgency named even when none
        waits: one COUNT query (for /metrics)."""
        query = (select(TicketRow.urgency, func.count()).where(TicketRow.status == TicketStatus.OPEN.value)
                 .group_by(TicketRow.urgency))
        with self._db.session() as s:
            return dict.fromkeys(URGENCY_ORDER, 0) | {urgency: count for urgency, count in s.execute(query)}

    def claim(self, number: str, seat: str, now: datetime | None = None) -> Ticket:
        def change(row: TicketRow, at: datetime) -> None:
            if row.status == TicketStatus.OPEN.value or (row.status == TicketStatus.CLAIMED.value and row.seat == seat):
                row.status, row.seat, row.claimed_at = TicketStatus.CLAIMED.value, seat, row.claimed_at or at
                return
            raise TicketConflict(f"ticket {number} is {row.status}" + (f" by {row.seat}" if row.seat else "") + "; it cannot be claimed")
        return self._change(number, change, now)

    def reply(self, number: str, seat: str, text: str, now: datetime | None = None) -> Ticket:
        def change(row: TicketRow, at: datetime) -> None:
            self._require_holder(row, seat, "reply to")
            row.status, row.reply, row.replied_at = TicketStatus.REPLIED.value, text, at
        return self._change(number, change, now)

    def close(self, number: str, seat: str, now: datetime | None = None) -> Ticket:
        def change(row: TicketRow, at: datetime) -> None:
            self._require_holder(row, seat, "close")
            row.status, row.closed_at = TicketStatus.CLOSED.value, at
        return self._change(number, change, now)

    @staticmethod
    def _require_holder(row: TicketRow, seat: str, action: str) -> None:
        if row.status == TicketStatus.CLOSED.value:
            raise TicketConflict(f"ticket {row.number} is already closed")
        if row.seat != seat:
            holder = f"claimed by {row.seat}" if row.seat else "not claimed yet"
            raise TicketConflict(f"ticket {row.number} is {holder}; claim it before you {action} it")

    def _change(self, number: str, change, now: datetime | None) -> Ticket:
        now = as_utc(now or utcnow())
        with self._db.session(write=True) as s:
            row = self._row(s, number, lock=True)
            change(row, now)
            row.updated_at = now
            return Ticket.from_row(row)

    @staticmethod
    def _row(s, number: str, lock: bool = False) -> TicketRow:
        query = select(TicketRow).where(TicketRow.number == number)
        row = s.execute(query.with_for_update() if lock else query).scalar_one_or_none()
        if row is None:
            raise TicketNotFound(f"no ticket numbered {number}")
        return row
