"""Handoff tickets (工单) and their lifecycle: 受理 → 转办 → department reply → 回访 → 办结 → 归档, with 督办 on the way.

A ticket is written once with everything the citizen already said, so a seat — local or remote (多援一) — never
asks them to repeat. Its number is the Beijing date of creation and a sequence. Every step is one named method
(`claim`, `reply`, `dispatch`, `close`, `call_back`, `archive`, …) that checks the state the ticket may come from
(desk/lifecycle.py; `TicketConflict` otherwise) and, in the same transaction, writes an event on the ticket's
timeline (who, from which city's seat, when, what) and an audit record.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from desk.deadlines import DeskDeadlines
from desk.lifecycle import HELD, LIVE, CallbackResult, TicketStatus, Transition, TRANSITIONS
from desk.repeats import Matter, RepeatRules
from desk.scope import TicketScope, under
from ground.clock import BEIJING, as_utc, utcnow
from ground.errors import DomainError, ErrorKind
from ground.privacy import mask_value
from storage.audit import record
from storage.database import Database
from storage.tables import SeatPresenceRow, TicketEventRow, TicketRow

URGENCY_ORDER = ("紧急", "次紧急", "一般")
REPEAT_CANDIDATES = 20  # a caller's latest tickets looked at for the same matter
QUEUE_CHANNEL = "frontdoor_desk"  # PostgreSQL's NOTIFY channel: a ticket's timeline moved
_NOTIFIED = "desk_queue_notified"  # session.info: the transaction that has notified already

__all__ = ["TicketStatus", "CallbackResult", "Ticket", "TicketDraft", "TicketDesk", "TicketEvent", "Taken", "TicketNotFound",
           "TicketConflict", "CitizenTicketNotFound", "OutsideScope", "AtCapacity", "QueueEmpty", "URGENCY_ORDER"]


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


class OutsideScope(DomainError, PermissionError):
    """The ticket is neither of the seat's own city nor of a city its team supports now (多援一)."""

    code, kind = "not_your_city", ErrorKind.FORBIDDEN


class AtCapacity(DomainError, RuntimeError):
    """The seat already holds as many tickets as it may at once."""

    code, kind = "at_capacity", ErrorKind.CONFLICT


class QueueEmpty(DomainError, LookupError):
    """No ticket is waiting that this seat may take."""

    code, kind = "queue_empty", ErrorKind.NOT_FOUND


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def urgency_rank(urgency: str) -> int:
    return URGENCY_ORDER.index(urgency) if urgency in URGENCY_ORDER else len(URGENCY_ORDER)


@dataclass(frozen=True)
class TicketDraft:
    channel: str
    summary: str
    reason: str
    transcript: list[dict]
    request_type: str
    urgency: str
    dispatch_hours: float | None = None  # None: the desk's rule for the urgency (desk/content/deadlines.yaml)
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
    due_at: datetime  # dispatch (派单) deadline
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
    seat_city: str | None = None
    department: str | None = None
    department_handler: str | None = None
    department_reply: str | None = None
    dispatched_at: datetime | None = None
    department_replied_at: datetime | None = None
    close_due_at: datetime | None = None
    callback_due_at: datetime | None = None
    callback_result: str | None = None
    callback_at: datetime | None = None
    archived_at: datetime | None = None
    escalation: str | None = None
    escalated_at: datetime | None = None
    urge_count: int = 0
    parent_number: str | None = None  # merged under this ticket: closing it closes this one too

    @classmethod
    def from_row(cls, row: TicketRow) -> "Ticket":
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(cls)}
        values.update(status=TicketStatus(row.status), transcript=list(row.transcript), candidates=list(row.candidates),
                      urge_count=row.urge_count or 0)
        return cls(**values)

    @property
    def deadline(self) -> datetime | None:
        """The deadline that matters now: dispatch while no seat has answered, then closing, then the call-back."""
        if self.status in (TicketStatus.OPEN, TicketStatus.CLAIMED):
            return self.due_at
        if self.status in LIVE:
            return self.close_due_at
        if self.status is TicketStatus.CLOSED and not self.callback_result:
            return self.callback_due_at
        return None


@dataclass(frozen=True)
class TicketEvent:
    id: int
    ticket_number: str
    kind: str
    actor: str
    actor_city: str | None
    at: datetime
    detail: dict


def record_event(session: Session, number: str, kind: str, *, actor: str, city: str | None, at: datetime,
                 **detail) -> None:
    """One step on ticket `number`'s timeline and in the audit trail, in `session`'s transaction."""
    detail = mask_value(detail)
    session.add(TicketEventRow(ticket_number=number, kind=kind, actor=actor, actor_city=city, at=at, detail=detail))
    record(session, actor=actor, action=f"ticket.{kind}", target=f"ticket:{number}", at=at, city=city, **detail)
    notify_queue(session)


def notify_queue(session: Session) -> None:
    """On PostgreSQL, a NOTIFY on `QUEUE_CHANNEL`, delivered when `session`'s transaction commits (nothing if it rolls
    back): every worker's queue watch (desk/watch.py) wakes its workbenches at once. Once per transaction."""
    if session.get_bind().dialect.name != "postgresql" or session.info.get(_NOTIFIED) is session.get_transaction():
        return
    session.execute(select(func.pg_notify(QUEUE_CHANNEL, "")))
    session.info[_NOTIFIED] = session.get_transaction()


@dataclass(frozen=True)
class Taken:
    """What became of a citizen's handed-off words (`TicketDesk.take`)."""

    ticket: Ticket
    how: str  # "opened", "added" (the conversation's ticket), "repeat" (the caller's live one), "closed_repeat"


class TicketDesk:
    def __init__(self, db: Database, deadlines: DeskDeadlines | None = None, repeats: RepeatRules | None = None):
        self._db = db
        self.deadlines = deadlines or DeskDeadlines.load()
        self.repeats = repeats or RepeatRules.load()

    # ---- 受理 ------------------------------------------------------------------------------------
    def open(self, draft: TicketDraft, now: datetime | None = None) -> Ticket:
        now = as_utc(now or utcnow())
        with self._db.session(write=True) as s:
            row = TicketRow(
                channel=draft.channel, summary=draft.summary, reason=draft.reason, transcript=draft.transcript,
                request_type=draft.request_type, urgency=draft.urgency, due_at=self._dispatch_due(draft, now),
                region=draft.region, caller=draft.caller, conversation_id=draft.conversation_id,
                category_code=draft.category_code, category_name=draft.category_name, category_score=draft.category_score,
                category_source=draft.category_source, candidates=draft.candidates, asr_confidence=draft.asr_confidence,
                details=draft.details, status=TicketStatus.OPEN.value, created_at=now, updated_at=now,
                close_due_at=self.deadlines.close_due(draft.request_type, now), escalation_level=0, urge_count=0,
                urgency_rank=urgency_rank(draft.urgency),
            )
            s.add(row)
            s.flush()  # the sequence number
            row.number = f"{now.astimezone(BEIJING):%Y%m%d}{row.id:06d}"
            record_event(s, row.number, "opened", actor=f"{draft.channel}", city=None, at=now, urgency=draft.urgency,
                         request_type=draft.request_type, region=draft.region)
            return Ticket.from_row(row)

    def _dispatch_due(self, draft: TicketDraft, now: datetime) -> datetime:
        if draft.dispatch_hours is not None:
            return now + timedelta(hours=draft.dispatch_hours)
        return self.deadlines.dispatch_due(draft.urgency, now)

    def take(self, draft: TicketDraft, now: datetime | None = None, *, repeats: bool = True) -> "Taken":
        """One ticket per conversation, and one per matter of a citizen:
        - the conversation's ticket still being worked (not closed), brought up to date with the whole transcript
          (and a number to call back on, if the citizen has now given one): "added";
        - else, with `repeats`, the same caller's ticket on the same matter (desk/repeats.py): one still being
          worked gets the new words on its timeline ("repeat"); one closed lately is only named ("closed_repeat",
          nothing is opened);
        - else a new ticket ("opened")."""
        now = as_utc(now or utcnow())
        if draft.conversation_id:
            with self._db.session(write=True) as s:
                row = s.execute(select(TicketRow).where(TicketRow.conversation_id == draft.conversation_id,
                                                        TicketRow.status.in_([st.value for st in LIVE]))
                                .order_by(TicketRow.id.desc()).limit(1).with_for_update()).scalar_one_or_none()
                if row is not None:
                    row.transcript, row.updated_at = draft.transcript, now
                    row.caller = row.caller or draft.caller
                    row.details = draft.details or row.details
                    return Taken(Ticket.from_row(row), "added")
        if repeats and draft.caller:
            taken = self._repeat(draft, now)
            if taken is not None:
                return taken
        return Taken(self.open(draft, now), "opened")

    def _repeat(self, draft: TicketDraft, now: datetime) -> "Taken | None":
        """The caller's latest ticket on the same matter within the rules' windows, the new words recorded on
        a live one; None when there is none."""
        rules, new = self.repeats, Matter.of(draft.summary, draft.details)
        with self._db.session(write=True) as s:
            rows = s.scalars(select(TicketRow).where(TicketRow.caller == draft.caller,
                                                     TicketRow.created_at >= now - rules.window)
                             .order_by(TicketRow.id.desc()).limit(REPEAT_CANDIDATES)).all()
            for row in rows:
                if not rules.same_matter(new, Matter.of(row.summary, row.details)):
                    continue
                status = TicketStatus(row.status)
                if status in LIVE and row.created_at >= now - rules.live:
                    row = s.execute(select(TicketRow).where(TicketRow.id == row.id).with_for_update()).scalar_one()
                    row.updated_at = now
                    record_event(s, row.number, "repeated", actor=draft.channel, city=None, at=now,
                                 conversation_id=draft.conversation_id, said=draft.summary)
                    return Taken(Ticket.from_row(row), "repeat")
                if status not in LIVE and row.closed_at is not None and row.closed_at >= now - rules.closed:
                    return Taken(Ticket.from_row(row), "closed_repeat")
        return None

    # ---- reading -------------------------------------------------------------------------------
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

    def list(self, *, region: str | None = None, urgency: str | None = None,
             status: TicketStatus | tuple[TicketStatus, ...] | None = None, seat: str | None = None,
             scope: TicketScope | None = None, department: str | None = None, escalated: bool = False,
             unmerged: bool = False, limit: int = 50, offset: int = 0) -> list[Ticket]:
        """The queue: most urgent first, then the nearest deadline. `region` includes its sub-regions; `unmerged`: only
        tickets not merged under another (those are closed with their parent)."""
        query = select(TicketRow)
        if region:
            query = query.where(under(region))
        if urgency:
            query = query.where(TicketRow.urgency == urgency)
        if status:
            statuses = (status,) if isinstance(status, TicketStatus) else status
            query = query.where(TicketRow.status.in_([st.value for st in statuses]))
        if seat:
            query = query.where(TicketRow.seat == seat)
        if scope is not None:
            query = query.where(scope.clause())
        if department:
            query = query.where(TicketRow.department == department)
        if escalated:
            query = query.where(TicketRow.escalation_level > 0)
        if unmerged:
            query = query.where(TicketRow.parent_number.is_(None))
        query = query.order_by(TicketRow.urgency_rank, TicketRow.due_at, TicketRow.id).limit(limit).offset(offset)
        with self._db.session() as s:
            return [Ticket.from_row(r) for r in s.execute(query).scalars()]

    def timeline(self, number: str) -> list[TicketEvent]:
        with self._db.session() as s:
            self._row(s, number)
            rows = s.execute(select(TicketEventRow).where(TicketEventRow.ticket_number == number)
                             .order_by(TicketEventRow.id)).scalars()
            return [TicketEvent(r.id, r.ticket_number, r.kind, r.actor, r.actor_city, r.at, dict(r.detail)) for r in rows]

    def waiting_by_urgency(self) -> dict[str, int]:
        """How many tickets wait for a seat (open, unclaimed), by urgency, every urgency named even when none
        waits: one COUNT query (for /metrics)."""
        query = (select(TicketRow.urgency, func.count()).where(TicketRow.status == TicketStatus.OPEN.value)
                 .group_by(TicketRow.urgency))
        with self._db.session() as s:
            return dict.fromkeys(URGENCY_ORDER, 0) | {urgency: count for urgency, count in s.execute(query)}

    # ---- the seat's steps ------------------------------------------------------------------------
    def claim(self, number: str, seat: str, now: datetime | None = None, *, city: str | None = None,
              scope: TicketScope | None = None) -> Ticket:
        """Take ticket `number` (a seat of `city`); with `scope`, only a ticket the seat may work."""
        def change(row: TicketRow, at: datetime) -> dict | None:
            if row.status == TicketStatus.CLAIMED.value and row.seat == seat:
                return None  # claimed again by its holder: nothing happened
            row.seat, row.seat_city, row.claimed_at = seat, city, row.claimed_at or at
            return {}
        return self._step("claim", number, seat, city, change, now, scope=scope)

    def take_next(self, seat: str, scope: TicketScope, capacity: int, now: datetime | None = None, *,
                  city: str | None = None) -> Ticket:
        """"Take the next one": the most urgent, nearest-deadline waiting ticket `seat` may work, claimed for it. Two
        seats asking at once never get the same ticket (PostgreSQL: the row is locked, others skip it; SQLite: one
        writer at a time). A seat holding `capacity` tickets gets `AtCapacity`. The seat's presence row is held for
        update meanwhile (the assignment job skips it; desk/assignment.py), and the ticket counts as its turn."""
        now = as_utc(now or utcnow())
        with self._db.session(write=True) as s:
            presence = s.get(SeatPresenceRow, seat, with_for_update=True)
            held = s.execute(select(func.count()).where(TicketRow.seat == seat,
                                                        TicketRow.status.in_([st.value for st in HELD]))).scalar_one()
            if held >= capacity:
                raise AtCapacity(f"{seat} holds {held} tickets, its capacity; reply to or close one first")
            row = s.execute(select(TicketRow).where(TicketRow.status == TicketStatus.OPEN.value, TicketRow.parent_number.is_(None),
                                                    scope.clause())
                            .order_by(TicketRow.urgency_rank, TicketRow.due_at, TicketRow.id).limit(1)
                            .with_for_update(skip_locked=True)).scalar_one_or_none()
            if row is None:
                raise QueueEmpty()
            row.status, row.seat, row.seat_city, row.claimed_at, row.updated_at = (
                TicketStatus.CLAIMED.value, seat, city, row.claimed_at or now, now)
            if presence is not None:
                presence.last_assigned_at = now
            record_event(s, row.number, TRANSITIONS["claim"].event, actor=seat, city=city, at=now, how="take_next")
            return Ticket.from_row(row)

    def reply(self, number: str, seat: str, text: str, now: datetime | None = None, *, city: str | None = None) -> Ticket:
        """The seat's answer, recorded on the ticket and on the tickets merged under it (each an event of its own:
        their citizens are answered with it, `desk.flows.reply_to_citizen`)."""
        def change(row: TicketRow, at: datetime) -> dict:
            self._require_holder(row, seat, "reply to")
            row.reply, row.replied_at = text, at
            session = object_session(row)
            children = self._merged_rows(session, row.number)
            for child in children:
                child.reply, child.replied_at, child.updated_at = text, at, at
                record_event(session, child.number, TRANSITIONS["reply"].event, actor=seat, city=city, at=at,
                             parent=row.number, length=len(text))
            return {"length": len(text)} | ({"merged": [c.number for c in children]} if children else {})
        return self._step("reply", number, seat, city, change, now)

    def merged_under(self, number: str) -> list[Ticket]:
        """The tickets merged under ticket `number` that are still being worked."""
        with self._db.session() as s:
            return [Ticket.from_row(row) for row in self._merged_rows(s, number)]

    @staticmethod
    def _merged_rows(session: Session, number: str) -> list[TicketRow]:
        return list(session.execute(select(TicketRow).where(TicketRow.parent_number == number,
                                                            TicketRow.status.in_([st.value for st in LIVE]))
                                    .order_by(TicketRow.id)).scalars())

    def dispatch(self, number: str, seat: str, department: str, now: datetime | None = None, *, city: str | None = None,
                 note: str = "", direct: bool = False) -> Ticket:
        """转办 to `department` (its code; `direct`: 一单直达, straight to a street office)."""
        def change(row: TicketRow, at: datetime) -> dict:
            self._require_holder(row, seat, "dispatch")
            row.department, row.department_handler, row.department_reply = department, None, None
            row.dispatched_at, row.department_replied_at = at, None
            return {"department": department, "direct": direct, "note": note}
        return self._step("dispatch", number, seat, city, change, now)

    def close(self, number: str, seat: str, now: datetime | None = None, *, city: str | None = None, note: str = "") -> Ticket:
        """办结: the call-back falls due the working day after. The tickets merged under it are closed with it, with its
        reply (each an event of its own)."""
        def change(row: TicketRow, at: datetime) -> dict:
            self._require_holder(row, seat, "close")
            self._close_row(row, at)
            session = object_session(row)
            children = self._merged_rows(session, row.number)
            for child in children:
                self._close_row(child, at)
                child.status, child.updated_at = TicketStatus.CLOSED.value, at
                child.reply, child.replied_at = child.reply or row.reply, child.replied_at or (at if row.reply else None)
                record_event(session, child.number, TRANSITIONS["close"].event, actor=seat, city=city, at=at, parent=row.number)
            detail = {"note": note} if note else {}
            return detail | ({"merged": [c.number for c in children]} if children else {})
        return self._step("close", number, seat, city, change, now)

    def _close_row(self, row: TicketRow, at: datetime) -> None:
        row.closed_at, row.callback_due_at = at, self.deadlines.callback_due(at)
        row.escalation, row.escalation_level = None, 0

    def call_back(self, number: str, by: str, result: CallbackResult, now: datetime | None = None, *,
                  city: str | None = None, note: str = "") -> Ticket:
        """回访: the citizen's satisfaction. 不满意 reopens the ticket: back in the queue with a new dispatch
        deadline; the other results leave it closed, ready to archive."""
        def change(row: TicketRow, at: datetime) -> dict:
            if row.callback_result is not None:
                raise TicketConflict(f"ticket {row.number} was already called back ({row.callback_result})")
            if result is CallbackResult.UNSATISFIED:
                row.seat, row.seat_city, row.claimed_at, row.replied_at, row.closed_at = None, None, None, None, None
                row.due_at = self.deadlines.dispatch_due(row.urgency, at)
                row.close_due_at = self.deadlines.close_due(row.request_type, at)
                row.callback_due_at, row.escalation, row.escalation_level = None, None, 0
            else:
                row.callback_result, row.callback_at = result.value, at
            return {"result": result.value, "note": note}
        transition = "reopen" if result is CallbackResult.UNSATISFIED else "call_back"
        return self._step(transition, number, by, city, change, now)

    def archive(self, number: str, by: str, now: datetime | None = None, *, city: str | None = None) -> Ticket:
        def change(row: TicketRow, at: datetime) -> dict:
            if row.callback_result is None:
                raise TicketConflict(f"ticket {row.number} has not been called back yet (回访); archive it after")
            row.archived_at = at
            return {}
        return self._step("archive", number, by, city, change, now)

    def reclassify(self, number: str, by: str, code: str, name: str, now: datetime | None = None, *,
                   city: str | None = None) -> Ticket:
        """A seat files the ticket under another category of the code table (the classifier's label to learn from)."""
        def change(row: TicketRow, at: datetime) -> dict:
            before = row.category_code
            row.category_code, row.category_name, row.category_score, row.category_source = code, name, None, "seat"
            return {"from": before, "to": code}
        return self._step("reclassify", number, by, city, change, now)

    def link(self, number: str, parent: str, by: str, now: datetime | None = None, *, city: str | None = None) -> Ticket:
        """Merges ticket `number` under `parent` (the same matter: one caller twice, or many callers reporting one burst
        main): closing the parent closes it with the parent's reply. One level only."""
        def change(row: TicketRow, at: datetime) -> dict:
            session = object_session(row)
            head = self._row(session, parent)
            if head.number == row.number or head.parent_number:
                raise TicketConflict(f"ticket {parent} cannot be the parent: it is {row.number} itself or merged under another")
            if TicketStatus(head.status) not in LIVE:
                raise TicketConflict(f"ticket {parent} is {head.status}; merge under a ticket still being worked")
            if session.execute(select(TicketRow.id).where(TicketRow.parent_number == row.number).limit(1)).first():
                raise TicketConflict(f"ticket {row.number} has tickets merged under it; it cannot go under another")
            row.parent_number = parent
            return {"parent": parent}
        return self._step("link", number, by, city, change, now)

    # ---- the department's steps --------------------------------------------------------------------
    def department_claim(self, number: str, department: str, handler: str, now: datetime | None = None) -> Ticket:
        def change(row: TicketRow, at: datetime) -> dict:
            self._require_department(row, department)
            row.department_handler = handler
            return {"department": department}
        return self._step("department_claim", number, handler, None, change, now)

    def department_answer(self, number: str, department: str, handler: str, text: str,
                          now: datetime | None = None) -> Ticket:
        def change(row: TicketRow, at: datetime) -> dict:
            self._require_department(row, department)
            row.department_handler, row.department_reply, row.department_replied_at = handler, text, at
            return {"department": department, "length": len(text)}
        return self._step("department_answer", number, handler, None, change, now)

    # ---- 督办 ------------------------------------------------------------------------------------
    def urge(self, number: str, supervisor: str, note: str, now: datetime | None = None, *, city: str | None = None) -> Ticket:
        """A supervisor urges the department working the ticket (催办), recorded on its timeline."""
        def change(row: TicketRow, at: datetime) -> dict:
            row.urge_count = (row.urge_count or 0) + 1
            return {"department": row.department, "note": note, "count": row.urge_count}
        return self._step("urge", number, supervisor, city, change, now)

    # ---- the machinery -------------------------------------------------------------------------
    @staticmethod
    def _require_holder(row: TicketRow, seat: str, action: str) -> None:
        if row.seat != seat:
            holder = f"claimed by {row.seat}" if row.seat else "not claimed yet"
            raise TicketConflict(f"ticket {row.number} is {holder}; claim it before you {action} it")

    @staticmethod
    def _require_department(row: TicketRow, department: str) -> None:
        if row.department != department:
            raise TicketConflict(f"ticket {row.number} is not dispatched to {department}")

    def _step(self, name: str, number: str, actor: str, city: str | None, change: Callable[[TicketRow, datetime], dict | None],
              now: datetime | None, *, scope: TicketScope | None = None) -> Ticket:
        transition: Transition = TRANSITIONS[name]
        now = as_utc(now or utcnow())
        with self._db.session(write=True) as s:
            row = self._row(s, number, lock=True)
            if scope is not None and s.execute(select(TicketRow.id).where(TicketRow.id == row.id, scope.clause())).first() is None:
                raise OutsideScope(f"ticket {number} ({row.region or 'no region'}) is neither of your city nor of a "
                                   f"city your team supports now")
            status = TicketStatus(row.status)
            if status not in transition.sources and not (name == "claim" and status is TicketStatus.CLAIMED and row.seat == actor):
                if status is TicketStatus.OPEN:
                    raise TicketConflict(f"ticket {number} is not claimed yet; claim it before it can be {transition.done}")
                holder = f" by {row.seat}" if row.seat and status is TicketStatus.CLAIMED else ""
                raise TicketConflict(f"ticket {number} is {status.value}{holder}; it cannot be {transition.done} now")
            detail = change(row, now)
            if detail is None:
                return Ticket.from_row(row)
            if transition.target is not None:
                row.status = transition.target.value
            row.updated_at = now
            record_event(s, number, transition.event, actor=actor, city=city, at=now, **detail)
            return Ticket.from_row(row)

    @staticmethod
    def _row(s, number: str, lock: bool = False) -> TicketRow:
        query = select(TicketRow).where(TicketRow.number == number)
        row = s.execute(query.with_for_update() if lock else query).scalar_one_or_none()
        if row is None:
            raise TicketNotFound(f"no ticket numbered {number}")
        return row
