"""Try it (POST /v1/try): what the engine would do with a question now, and with a draft published.
Nothing is recorded: no conversation, no ticket."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from accounts.roles import Account, Role
from api.bounds import BodyId
from api.auth import allow
from api.routes.changes import proposed_entry
from api.services import Services, get_services
from assistant.tryout import Conflict, Tryout
from assistant.turn import Channel, Decision, Kind
from knowledge_base.changes import ChangeKind
from knowledge_base.entry import Entry, Status

router = APIRouter(prefix="/v1", tags=["editors"])


class TryRequest(BaseModel):
    text: str = Field(min_length=1, max_length=500, description="The question to try, as a citizen would ask it.")
    region: str | None = Field(default=None, max_length=100, description="The caller's region, e.g. 江苏省/南京市.")
    channel: Literal["chat", "voice"] = Field(default="chat", description="Which answer the citizen would get.")
    entry: dict[str, Any] | None = Field(default=None, description="A proposed entry (the entry JSON), as being edited.")
    change_id: BodyId | None = Field(default=None, description="A change whose draft to try (when `entry` is not given).")


class ScoredOut(BaseModel):
    entry_id: str
    question: str
    score: float


class OutcomeOut(BaseModel):
    decision: Kind
    confidence: float
    text: str = Field(description="What the citizen would get (the voice answer on the voice channel).")
    reason: str
    entry_id: str | None
    entry_question: str | None
    candidates: list[ScoredOut]
    knowledge_revision: int | None
    at: datetime = Field(description="The moment the decision was made for.")

    @classmethod
    def of(cls, decision: Decision, at: datetime) -> "OutcomeOut":
        return cls(decision=decision.kind, confidence=round(decision.confidence, 4), text=decision.text,
                   reason=decision.reason, entry_id=decision.entry_id, entry_question=decision.entry_question,
                   candidates=[ScoredOut(entry_id=c.entry_id, question=c.question, score=round(c.score, 4))
                               for c in decision.candidates],
                   knowledge_revision=decision.knowledge_revision, at=at)


class ConflictOut(BaseModel):
    sample: str
    closer_entry_id: str
    closer_question: str
    matched: str = Field(description="The other entry's phrasing the sample came closest to.")
    own_score: float | None
    other_score: float
    new: bool = Field(description="False when the published version already had this problem.")

    @classmethod
    def of(cls, conflict: Conflict) -> "ConflictOut":
        return cls(sample=conflict.sample, closer_entry_id=conflict.closer_entry_id,
                   closer_question=conflict.closer_question, matched=conflict.matched, own_score=conflict.own_score,
                   other_score=conflict.other_score, new=conflict.new)


class NoteOut(BaseModel):
    code: str
    message: str


class TryResponse(BaseModel):
    now: OutcomeOut
    with_draft: OutcomeOut | None
    conflicts: list[ConflictOut] = Field(description="Draft phrasings another entry would win.")
    near_duplicates: list[ConflictOut] = Field(description="Draft phrasings nearly identical to another entry's.")
    notes: list[NoteOut]


@router.post("/try", response_model=TryResponse, summary="What the engine would answer, now and with a draft")
def try_it(request: TryRequest, services: Services = Depends(get_services),
           account: Account = Depends(allow(Role.EDITOR, Role.REVIEWER))) -> TryResponse:
    # A plain `def`: FastAPI runs it in the thread pool, where building the draft's index belongs.
    draft = _draft(request, services)
    tryout = services.tryout or Tryout(services.engine, services.knowledge.index.current.embedder)
    result = tryout.run(request.text, request.region or None, Channel(request.channel), draft)
    moment = result.now_at
    return TryResponse(
        now=OutcomeOut.of(result.now, moment),
        with_draft=OutcomeOut.of(result.with_draft, result.draft_at or moment) if result.with_draft else None,
        conflicts=[ConflictOut.of(c) for c in result.conflicts],
        near_duplicates=[ConflictOut.of(c) for c in result.near_duplicates],
        notes=[NoteOut(code=n.code, message=n.message) for n in result.notes],
    )


def _draft(request: TryRequest, services: Services) -> Entry | None:
    """The proposed entry: the one sent (as being edited), else the change's saved draft; retired when
    the change retires the entry."""
    if request.change_id is None:
        return proposed_entry(request.entry, None) if request.entry is not None else None
    change = services.changes.get(request.change_id)
    draft = proposed_entry(request.entry, change.entry_id) if request.entry is not None else change.entry
    if change.kind is ChangeKind.RETIRE:
        draft = draft.with_changes(status=Status.RETIRED)
    return draft
