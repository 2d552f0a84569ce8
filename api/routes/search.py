from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from accounts.roles import STAFF
from api.auth import allow
from api.services import get_knowledge
from knowledge_base.service import KnowledgeBase

router = APIRouter(prefix="/v1", tags=["knowledge"])


class SearchRequest(BaseModel):
    text: str = Field(min_length=1, max_length=500, description="The citizen's question.")
    region: str | None = Field(default=None, max_length=100, description="Caller's region, e.g. 江苏省/南京市.")
    k: int = Field(default=5, ge=1, le=20)


class CandidateOut(BaseModel):
    entry_id: str
    question: str
    score: float
    dense: float
    lexical: float
    matched: str
    region: str
    category: str | None


class SearchResponse(BaseModel):
    query: str
    confidence: float = Field(description="Calibrated probability that the first candidate answers the question.")
    knowledge_revision: int
    candidates: list[CandidateOut]


@router.post("/search", response_model=SearchResponse, dependencies=[Depends(allow(*STAFF))], summary="Ranked knowledge-base entries for a question")
def search(request: SearchRequest, knowledge: KnowledgeBase = Depends(get_knowledge)) -> SearchResponse:
    index = knowledge.index.current
    result = index.search(request.text, region=request.region, k=request.k)
    return SearchResponse(
        query=result.query,
        confidence=round(result.confidence, 4),
        knowledge_revision=index.revision,
        candidates=[
            CandidateOut(entry_id=c.entry.id, question=c.entry.question, score=round(c.score, 4), dense=round(c.dense, 4),
                         lexical=round(c.lexical, 4), matched=c.matched, region=c.entry.region, category=c.entry.category)
            for c in result.candidates
        ],
    )
