"""The mini-program / H5 chat: one message in, one decision out."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

from api.auth import PUBLIC
from api.services import get_engine
from assistant.engine import Engine
from assistant.turn import Channel, Decision, Kind, Turn

router = APIRouter(prefix="/v1", tags=["chat"], dependencies=[Depends(PUBLIC)])  # a citizen's channel

SESSION_PATTERN = r"^[A-Za-z0-9_.:-]{1,100}$"


class ChatRequest(BaseModel):
    session: str | None = Field(default=None, pattern=SESSION_PATTERN,
                                description="The conversation to continue; omit it to start one (the reply carries its id).")
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


@router.post("/chat", response_model=ChatResponse, summary="One chat message in, one decision out")
def chat(request: ChatRequest, engine: Engine = Depends(get_engine)) -> ChatResponse:
    session = request.session or uuid.uuid4().hex
    turn = Turn(session=session, channel=Channel.CHAT, text=request.text, region=request.region,
                caller=request.caller, choice=request.choice)
    return decision_out(engine.handle(turn))
