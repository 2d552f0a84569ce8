"""The unanswered-question queue (GET /v1/gaps …) and each entry's traffic (GET /v1/entries/{id}/traffic).

From a cluster, an editor turns its questions into a draft in one call: a new entry (its label the question,
its other questions the samples) or new samples for an existing entry. Either closes the cluster
(the workflow: knowledge_base/gap_flows.py)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from accounts.roles import Account, Role
from api.bounds import RowId
from api.auth import allow
from api.routes.changes import ChangeOut
from api.services import Services, get_services
from knowledge_base.gap_flows import draft_new_entry, draft_samples
from knowledge_base.gaps import GapCluster, GapQueue
from knowledge_base.store import EntryNotFound
from knowledge_base.traffic import Traffic

router = APIRouter(tags=["editors"])

READERS = allow(Role.EDITOR, Role.REVIEWER)
EDITOR = allow(Role.EDITOR)
TRAFFIC_READERS = allow(Role.EDITOR, Role.REVIEWER, Role.ADMIN)


class GapQuestionOut(BaseModel):
    text: str
    at: datetime
    channel: str
    reason: str
    asr_confidence: float | None


class SuggestionOut(BaseModel):
    entry_id: str
    question: str
    score: float


class GapOut(BaseModel):
    id: int
    label: str = Field(description="The cluster's most typical question (the one closest to its centroid).")
    status: str
    size: int
    recent: int = Field(description="Questions in the last 24 hours.")
    score: float = Field(description="The ranking: the sum over its questions of exp(-age / 24 h).")
    first_at: datetime
    last_at: datetime
    channels: dict[str, int]
    questions: list[GapQuestionOut] = Field(description="The most recent first.")
    suggestions: list[SuggestionOut] = Field(description="The entries the live index finds for the label, best first.")
    region: str | None = Field(description="Where most of its questions came from.")
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: dict | None

    @classmethod
    def of(cls, cluster: GapCluster) -> "GapOut":
        return cls(id=cluster.id, label=cluster.label, status=cluster.status, size=cluster.size, recent=cluster.recent,
                   score=cluster.score, first_at=cluster.first_at, last_at=cluster.last_at, channels=cluster.channels,
                   questions=[GapQuestionOut(text=q.text, at=q.at, channel=q.channel, reason=q.reason,
                                             asr_confidence=q.asr_confidence) for q in cluster.questions],
                   suggestions=[SuggestionOut(entry_id=s.entry_id, question=s.question, score=s.score)
                                for s in cluster.suggestions],
                   region=cluster.region, resolved_by=cluster.resolved_by, resolved_at=cluster.resolved_at,
                   resolution=cluster.resolution)


class AddSamplesIn(BaseModel):
    entry_id: str = Field(min_length=1, max_length=200, description="The entry the cluster's questions are added to.")


class DayTrafficOut(BaseModel):
    day: date = Field(description="A Beijing calendar day.")
    answered: int
    rejected: int
    handed_off: int


class TrafficOut(BaseModel):
    entry_id: str
    answered: int
    rejected: int
    handed_off: int
    days: list[DayTrafficOut] = Field(description="Every day of the window, oldest first.")


class RejectedEntryOut(BaseModel):
    entry_id: str
    question: str | None
    rejected: int
    answered: int


def get_gaps(services: Services = Depends(get_services)) -> GapQueue:
    return services.gaps


@router.get("/v1/gaps", response_model=list[GapOut], summary="Clusters of unanswered questions, most pressing first")
def list_gaps(status: Literal["open", "resolved", "dismissed"] = "open", limit: int = Query(default=50, ge=1, le=200),
              services: Services = Depends(get_services), account: Account = Depends(READERS)) -> list[GapOut]:
    clusters = services.gaps.clusters(status, limit, index=services.knowledge.index.current)
    return [GapOut.of(c) for c in clusters]


@router.get("/v1/gaps/{cluster_id}", response_model=GapOut, summary="One cluster, with up to 50 of its questions")
def get_gap(cluster_id: RowId, services: Services = Depends(get_services), account: Account = Depends(READERS)) -> GapOut:
    return GapOut.of(services.gaps.get(cluster_id, index=services.knowledge.index.current))


@router.post("/v1/gaps/{cluster_id}/new-entry", response_model=ChangeOut, status_code=201,
             summary="A draft of a new entry from the cluster; closes it")
def new_entry(cluster_id: RowId, services: Services = Depends(get_services),
              account: Account = Depends(EDITOR)) -> ChangeOut:
    """The draft's question is the cluster's label, its samples the cluster's other questions; the answers are
    left empty for the editor to write (a draft may lack them; publishing one that still does is the reviewer's call).
    Scoped to the editor's own region (everywhere for an editor without one)."""
    change = draft_new_entry(services.gaps, services.changes, account, cluster_id)
    return ChangeOut.of(change, services.changes)


@router.post("/v1/gaps/{cluster_id}/add-samples", response_model=ChangeOut, status_code=201,
             summary="A draft adding the cluster's questions to an entry's samples; closes it")
def add_samples(cluster_id: RowId, body: AddSamplesIn, services: Services = Depends(get_services),
                account: Account = Depends(EDITOR)) -> ChangeOut:
    change = draft_samples(services.gaps, services.changes, services.knowledge.store, account, cluster_id, body.entry_id)
    return ChangeOut.of(change, services.changes)


@router.post("/v1/gaps/{cluster_id}/dismiss", response_model=GapOut, summary="Close a cluster that needs no entry")
def dismiss(cluster_id: RowId, services: Services = Depends(get_services), account: Account = Depends(EDITOR)) -> GapOut:
    services.gaps.dismiss(cluster_id, by=account.username)
    return GapOut.of(services.gaps.get(cluster_id))


@router.get("/v1/entries/{entry_id}/traffic", response_model=TrafficOut,
            summary="How often an entry answered, was rejected, led to a handoff")
def entry_traffic(entry_id: str, days: int = Query(default=30, ge=1, le=366), services: Services = Depends(get_services),
                  account: Account = Depends(TRAFFIC_READERS)) -> TrafficOut:
    """Counted from the conversations (knowledge_base/traffic.py says exactly what counts), per Beijing day."""
    if services.knowledge.store.get(entry_id) is None:
        raise EntryNotFound(entry_id)
    traffic = Traffic(services.db).of(entry_id, days=days)
    return TrafficOut(entry_id=entry_id, answered=traffic.answered, rejected=traffic.rejected,
                      handed_off=traffic.handed_off,
                      days=[DayTrafficOut(day=d.day, answered=d.answered, rejected=d.rejected, handed_off=d.handed_off)
                            for d in traffic.days])


@router.get("/v1/traffic/rejected", response_model=list[RejectedEntryOut],
            summary="The entries citizens rejected most often")
def most_rejected(days: int = Query(default=30, ge=1, le=366), limit: int = Query(default=20, ge=1, le=200),
                  services: Services = Depends(get_services),
                  account: Account = Depends(TRAFFIC_READERS)) -> list[RejectedEntryOut]:
    out = []
    for item in Traffic(services.db).most_rejected(days=days, limit=limit):
        entry = services.knowledge.store.get(item.entry_id)
        out.append(RejectedEntryOut(entry_id=item.entry_id, question=entry.question if entry else None,
                                    rejected=item.rejected, answered=item.answered))
    return out
