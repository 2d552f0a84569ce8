"""The mini-program / H5 chat: one message in, one decision out."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, model_validator

from api.auth import PUBLIC
from api.addresses import client_address
from api.errors import ErrorBody
from api.services import get_engine, get_services
from assistant.conversations import new_session_id
from assistant.engine import Engine
from assistant.turn import Channel, Decision, Kind, Turn

router = APIRouter(prefix="/v1", tags=["chat"], dependencies=[Depends(PUBLIC)])  # a citizen's channel

CHAT_SESSION_PATTERN = r"^chat-[0-9a-f]{32}$"  # as assistant.conversations.new_session_id issues them


class ChatRequest(BaseModel):
    session: str | None = Field(default=None, pattern=CHAT_SESSION_PATTERN,
                                description="The conversation to continue, as an earlier reply gave it; omit it to start one. "
                                            "An id this server did not issue to a chat starts a new conversation, "
                                            "whose id the reply carries.")
    text: str = Field(default="", max_length=500, description="What the citizen typed.")
    choice: str | None = Field(default=None, max_length=200, description="An entry id picked from the choices of the last reply.")
    region: str | None = Field(default=None, max_length=100, description="The citizen's region, e.g. 江苏省/南京市.")
    caller: str | None = Field(default=None, max_length=100, description="A phone number to call back on, if the citizen gave one.")

    @model_validator(mode="after")
    def _something_said(self) -> "ChatRequest":
        if not self.text.strip() and not self.choice:
            raise ValueError("say something: give 'text' (what the citizen typed) or 'choice' (an offered entry id)")
        return self


class ChoiceOut(BaseModel):
    number: int
    entry_id: str
    question: str


class EntryRef(BaseModel):
    id: str
    question: str


class TicketRef(BaseModel):
    number: str


class ChatResponse(BaseModel):
    session: str
    decision: Kind = Field(description="answer, clarify, handoff, redirect or refuse")
    text: str = Field(description="What to show the citizen.")
    reason: str
    confidence: float = Field(description="Calibrated probability that the best entry answers the question.")
    entry: EntryRef | None = None
    choices: list[ChoiceOut] = []
    ticket: TicketRef | None = None
    redirect_to: str | None = None
    knowledge_revision: int | None = None


def decision_out(decision: Decision) -> ChatResponse:
    return ChatResponse(
        session=decision.session, decision=decision.kind, text=decision.text, reason=decision.reason,
        confidence=round(decision.confidence, 4),
        entry=EntryRef(id=decision.entry_id, question=decision.entry_question or "") if decision.entry_id else None,
        choices=[ChoiceOut(number=c.number, entry_id=c.entry_id, question=c.question) for c in decision.choices],
        ticket=TicketRef(number=decision.ticket_number) if decision.ticket_number else None,
        redirect_to=decision.redirect_to, knowledge_revision=decision.knowledge_revision,
    )


@router.post("/chat", response_model=ChatResponse, summary="One chat message in, one decision out",
             responses={429: {"model": ErrorBody, "description": "rate_limited or blocked (with Retry-After): in Chinese, for the citizen"}})
def chat(request: ChatRequest, http: Request, engine: Engine = Depends(get_engine)) -> ChatResponse:
    guard = get_services(http).guard
    if guard is not None:
        address = client_address(http)
        if refusal := guard.check(f"address:{address}" if address else None,
                                  f"session:{request.session}" if request.session else None,
                                  f"caller:{request.caller}" if request.caller else None):
            raise refusal.as_error()
    session = request.session
    if session is None or engine.conversations.channel_of(session) != Channel.CHAT.value:
        session = new_session_id(Channel.CHAT)  # a client names only a conversation the server gave it
    turn = Turn(session=session, channel=Channel.CHAT, text=request.text, region=request.region,
                caller=request.caller, choice=request.choice)
    return decision_out(engine.handle(turn))
