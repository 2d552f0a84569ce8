"""The seats' API: the queue of handed-off tickets; claim, reply, close. The acting seat is the signed-in
seat account (a person at a seat, or a 多援一 desk's program with an API token)."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from accounts.roles import Account, Role
from api.bounds import Offset
from api.auth import allow
from api.services import get_desk, get_services
from desk.flows import reply_to_citizen
from desk.lifecycle import LIVE
from desk.support import city_of
from desk.tickets import Ticket, TicketDesk, TicketStatus
from ground.errors import DomainError, ErrorKind

router = APIRouter(prefix="/v1/tickets", tags=["seats"])


class TicketOut(BaseModel):
    number: str
    status: TicketStatus
    channel: str
    summary: str = Field(description="The citizen's question, as they put it.")
    reason: str = Field(description="Why it was handed off: low_confidence, asked_for_human, unsatisfied, …")
    transcript: list[dict]
    request_type: str
    urgency: str
    due_at: datetime
    region: str | None
    caller: str | None
    category_code: str | None
    category_name: str | None
    category_score: float | None
    category_source: str | None
    candidates: list[dict] = Field(description="The closest knowledge entries, with scores: suggested answers.")
    asr_confidence: float | None
    details: dict | None = Field(description="A 诉求 taken down: type, what, where, since, contact, region, and whether "
                                             "the citizen confirmed the read-back; null for other handoffs.")
    seat: str | None
    reply: str | None
    created_at: datetime
    updated_at: datetime
    claimed_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    seat_city: str | None = Field(default=None, description="The city of the seat that holds it (多援一: a remote seat's own city).")
    department: str | None = Field(default=None, description="The department (or street office) it is dispatched to (转办).")
    department_handler: str | None = None
    department_reply: str | None = None
    dispatched_at: datetime | None = None
    department_replied_at: datetime | None = None
    close_due_at: datetime | None = Field(default=None, description="办结 by: working days by request type.")
    callback_due_at: datetime | None = Field(default=None, description="回访 by: the working day after closing.")
    callback_result: str | None = None
    callback_at: datetime | None = None
    archived_at: datetime | None = None
    escalation: str | None = Field(default=None, description="督办: the deadline escalated, or null.")
    escalated_at: datetime | None = None
    urge_count: int = 0
    parent_number: str | None = Field(default=None, description="Merged under this ticket: closed with it, with its reply.")

    @classmethod
    def of(cls, ticket: Ticket) -> "TicketOut":
        return cls(**{name: getattr(ticket, name) for name in cls.model_fields})


class SeatAction(BaseModel):
    seat: str | None = Field(default=None, min_length=1, max_length=100,
                             description="Optional, for older clients: the acting seat is the signed-in account, and this must name it.")

    def acting(self, account: Account) -> str:
        if self.seat is not None and self.seat != account.username:
            raise DomainError(f"You are signed in as {account.username!r} and may act only as that seat, "
                              f"not as {self.seat!r}; leave out 'seat' or sign in as that seat.",
                              code="not_your_seat", kind=ErrorKind.FORBIDDEN)
        return account.username


class SeatReply(SeatAction):
    text: str = Field(min_length=1, max_length=5000, description="The answer given to the citizen.")


def _acting(action):
    return TicketOut.of(action())


@router.get("", response_model=list[TicketOut], summary="The queue: most urgent first, then nearest deadline",
            description="The tickets still being worked; closed and archived ones only when `status` asks for them.")
def list_tickets(region: str | None = Query(default=None, max_length=100), urgency: str | None = Query(default=None, max_length=16),
                 status: TicketStatus | None = None, seat: str | None = Query(default=None, max_length=100),
                 limit: int = Query(default=50, ge=1, le=500), offset: Offset = 0,
                 desk: TicketDesk = Depends(get_desk), account: Account = Depends(allow(Role.SEAT))) -> list[TicketOut]:
    return [TicketOut.of(t) for t in desk.list(region=region, urgency=urgency, status=status or LIVE, seat=seat, limit=limit,
                                               offset=offset)]


@router.get("/{number}", response_model=TicketOut)
def get_ticket(number: str, desk: TicketDesk = Depends(get_desk), account: Account = Depends(allow(Role.SEAT))) -> TicketOut:
    return _acting(lambda: desk.get(number))


@router.post("/{number}/claim", response_model=TicketOut, summary="Take a ticket (409 if another seat has it)")
def claim(number: str, body: SeatAction, request: Request, account: Account = Depends(allow(Role.SEAT))) -> TicketOut:
    """Only a ticket of the seat's own city, or of a city its team supports now (多援一; 403 `not_your_city`)."""
    seat, services = body.acting(account), get_services(request)
    scope = services.support.scope_for(seat, account.region) if services.support is not None else None
    return _acting(lambda: services.desk.claim(number, seat, city=city_of(account.region), scope=scope))


class RepliedTicket(TicketOut):
    delivered: str | None = Field(description="'wechat' when the reply (or, after WeChat's 48-hour window, the ticket's state "
                                              "as a subscription message) reached the citizen in WeChat; 'sms' when they were texted "
                                              "on their mobile; null when nothing reached them: the seat calls back (a chat citizen "
                                              "also reads it under 「我的工单」).")
    merged_delivered: dict[str, str | None] = Field(
        default_factory=dict, description="Each ticket merged under this one (one matter, many callers): its citizen got the "
                                          "reply too, under their own ticket's number, carried as `delivered` says.")


@router.post("/{number}/reply", response_model=RepliedTicket, summary="Record the answer given to the citizen (and send it on: WeChat, SMS)")
async def reply(number: str, body: SeatReply, request: Request, account: Account = Depends(allow(Role.SEAT))) -> RepliedTicket:
    services = get_services(request)
    replied = await reply_to_citizen(services.desk, services.deliveries, number, body.acting(account), body.text,
                                     city=city_of(account.region))
    return RepliedTicket(**TicketOut.of(replied.ticket).model_dump(), delivered=replied.delivered,
                         merged_delivered=replied.merged)


@router.post("/{number}/close", response_model=TicketOut, summary="Close (办结) a ticket")
def close(number: str, body: SeatAction, desk: TicketDesk = Depends(get_desk),
          account: Account = Depends(allow(Role.SEAT))) -> TicketOut:
    seat = body.acting(account)
    return _acting(lambda: desk.close(number, seat, city=city_of(account.region)))
