"""「我的工单」: a citizen looks up their own ticket, its state in plain words, and the seat's reply.

A ticket is theirs when it was raised in their chat conversation (the server-issued session id, which only their
page holds) or carries the phone number they give with it. Anything else is "not found", whether or not the
number exists."""
from __future__ import annotations

from datetime import datetime
from functools import cache
from fastapi import APIRouter, Depends, Path as PathParam, Query, Request
from pydantic import BaseModel, Field

from api.addresses import client_address
from api.auth import PUBLIC
from api.errors import ErrorBody
from api.routes.chat import CHAT_SESSION_PATTERN
from api.services import get_services
from desk.lifecycle import citizen_states
from desk.tickets import Ticket

router = APIRouter(prefix="/v1/chat", tags=["chat"], dependencies=[Depends(PUBLIC)])  # a citizen's channel

TICKET_NUMBER_PATTERN = r"^[0-9]{8,20}$"


@cache
def _citizen_states() -> dict[str, str]:
    return citizen_states()


class CitizenTicketOut(BaseModel):
    number: str
    status: str = Field(description="open, claimed, replied or closed")
    state: str = Field(description="The status in plain words, for the citizen.")
    said: str = Field(description="What the citizen asked, as they put it.")
    reply: str | None = Field(description="The seat's answer, once there is one.")
    created_at: datetime
    replied_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def of(cls, ticket: Ticket) -> "CitizenTicketOut":
        return cls(number=ticket.number, status=ticket.status.value, state=_citizen_states()[ticket.status.value],
                   said=ticket.summary, reply=ticket.reply, created_at=ticket.created_at, replied_at=ticket.replied_at,
                   closed_at=ticket.closed_at)


@router.get("/tickets/{number}", response_model=CitizenTicketOut, summary="A citizen's own ticket (「我的工单」)",
            responses={404: {"model": ErrorBody, "description": "ticket_not_found, in Chinese for the citizen"},
                       429: {"model": ErrorBody, "description": "rate_limited or blocked (with Retry-After)"}})
def my_ticket(request: Request, number: str = PathParam(pattern=TICKET_NUMBER_PATTERN),
              session: str | None = Query(default=None, pattern=CHAT_SESSION_PATTERN,
                                          description="The chat conversation the ticket was raised in."),
              phone: str | None = Query(default=None, min_length=7, max_length=20, pattern=r"^[0-9 +\-]+$",
                                        description="Or the phone number the citizen left with it.")) -> CitizenTicketOut:
    services = get_services(request)
    if services.guard is not None:  # numbers are sequential: lookups are rate-limited like messages
        address = client_address(request)
        if refusal := services.guard.check(f"address:{address}" if address else None):
            raise refusal.as_error()
    return CitizenTicketOut.of(services.desk.for_citizen(number, conversation_id=session, phone=phone))
