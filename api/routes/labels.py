"""Answer labels and the measured precision of automatic answers (knowledge_base/labels.py says what counts).

A seat labels a handed-off ticket in one call (PUT /v1/tickets/{number}/label): the entry that would have answered
it, or null when none does. Editors, reviewers and administrators read the labels (GET /v1/labels) and, per
channel, how often the automatic answers were right (GET /v1/confidence/precision)."""
from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from accounts.roles import Account, Role
from api.auth import allow
from api.services import Services, get_services
from ground.clock import utcnow
from knowledge_base.labels import ChannelPrecision, Label, LabelStore
from knowledge_base.traffic import window_start

router = APIRouter()

SEATS = allow(Role.SEAT)
READERS = allow(Role.EDITOR, Role.REVIEWER, Role.ADMIN)


class LabelIn(BaseModel):
    entry_id: str | None = Field(min_length=1, max_length=200,
                                 description="The entry that would have answered the ticket's question; null: no entry "
                                             "answers it (the handoff was right).")


class LabelOut(BaseModel):
    query: str = Field(description="The question: a ticket's summary, or what the citizen asked.")
    entry_id: str | None = Field(description="null: no entry answers it.")
    correct: bool = Field(description="Whether entry_id (or, when null, 'no entry') answers the question.")
    source: str = Field(description="citizen_reject, citizen_choice or seat.")
    channel: str
    at: datetime
    conversation_id: str | None
    confidence: float | None = Field(description="The engine's confidence when it decided; null for a seat's label.")

    @classmethod
    def of(cls, label: Label) -> "LabelOut":
        return cls(**{name: getattr(label, name) for name in cls.model_fields})


class PrecisionOut(BaseModel):
    channel: str
    answers: int = Field(description="Automatic answers (confident) in the window.")
    wrong: int = Field(description="Of them, rejected by the citizen or corrected by a seat's label.")
    precision: float | None = Field(description="(answers - wrong) / answers; null without answers. An upper "
                                                "estimate: an answer nobody labelled counts as right.")
    low: float = Field(description="The Wilson 95 % interval's lower bound.")
    high: float = Field(description="Its upper bound.")
    labels: int = Field(description="How many of the answers a citizen's or a seat's label speaks about.")

    @classmethod
    def of(cls, figures: ChannelPrecision) -> "PrecisionOut":
        return cls(**{name: getattr(figures, name) for name in cls.model_fields})


def get_labels(services: Services = Depends(get_services)) -> LabelStore:
    return services.labels


@router.put("/v1/tickets/{number}/label", response_model=LabelOut, tags=["seats"],
            summary="Say which entry would have answered a ticket, or that none does",
            responses={404: {"description": "ticket_not_found"}, 422: {"description": "unknown_entry"}})
def label_ticket(number: str, body: LabelIn, labels: LabelStore = Depends(get_labels),
                 account: Account = Depends(SEATS)) -> LabelOut:
    """One label per ticket: labelling it again replaces the earlier label."""
    return LabelOut.of(labels.label_ticket(number, body.entry_id, by=account.username))


@router.get("/v1/labels", response_model=list[LabelOut], tags=["editors"],
            summary="The answer labels of the last days, newest first")
def list_labels(days: int = Query(default=7, ge=1, le=90), limit: int = Query(default=200, ge=1, le=1000),
                labels: LabelStore = Depends(get_labels), account: Account = Depends(READERS)) -> list[LabelOut]:
    """The citizens' (rejections, choices picked) and the seats' labels over the last `days` Beijing days."""
    now = utcnow()
    found = labels.labels(window_start(days, now), now)
    return [LabelOut.of(label) for label in reversed(found[-limit:])]


@router.get("/v1/confidence/precision", response_model=list[PrecisionOut], tags=["editors"],
            summary="Per channel, how often the automatic answers were right")
def precision(days: int = Query(default=7, ge=1, le=90), labels: LabelStore = Depends(get_labels),
              account: Account = Depends(READERS)) -> list[PrecisionOut]:
    """Over the last `days` Beijing days: the automatic answers, those known wrong, the precision and its
    Wilson 95 % interval, and how many labels it rests on."""
    now = utcnow()
    return [PrecisionOut.of(figures) for figures in labels.precision(window_start(days, now), now)]


class RefitIn(BaseModel):
    days: int = Field(default=90, ge=1, le=365, description="Learn from the labels of the last `days` days.")


class RefitOut(BaseModel):
    labels_since: datetime
    labels_until: datetime
    labels: int = Field(description="How many labels the window holds (each question, entry and verdict learned once).")
    revision: int | None = Field(description="The knowledge revision whose index build learns from them: every worker "
                                             "rebuilds within seconds, and the first to fit shares it with the others "
                                             "(null in the list of past refits).")
    asked_by: str


@router.get("/v1/confidence/refits", response_model=list[RefitOut], tags=["editors"],
            summary="The latest refits of the answer confidence, newest first")
def refits(limit: int = Query(default=10, ge=1, le=100), labels: LabelStore = Depends(get_labels),
           account: Account = Depends(allow(Role.EDITOR, Role.REVIEWER, Role.ADMIN))) -> list[RefitOut]:
    return [RefitOut(labels_since=r.labels_since, labels_until=r.labels_until, labels=r.labels, revision=r.revision,
                     asked_by=r.asked_by) for r in labels.refits(limit)]


@router.post("/v1/confidence/refit", response_model=RefitOut, tags=["editors"],
             summary="Learn the answer confidence again, from the hotline's labels too")
def refit(body: RefitIn, labels: LabelStore = Depends(get_labels),
          account: Account = Depends(allow(Role.REVIEWER, Role.ADMIN))) -> RefitOut:
    """The calibration of every worker learns again from the questions the knowledge base makes of itself and
    from the labels of the last `days` days; with at least a hundred labelled questions, its answer thresholds
    are read from them (knowledge_base/retrieval/self_supervision.py)."""
    done = labels.refit(by=account.username, window=timedelta(days=body.days))
    return RefitOut(labels_since=done.labels_since, labels_until=done.labels_until, labels=done.labels,
                    revision=done.revision, asked_by=done.asked_by)
