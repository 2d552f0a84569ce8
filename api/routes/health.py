from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.services import get_knowledge
from knowledge_base.service import KnowledgeBase

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    knowledge_revision: int
    entries_served: int


@router.get("/healthz", response_model=Health, summary="Is this worker serving, and from which knowledge revision")
def healthz(knowledge: KnowledgeBase = Depends(get_knowledge)) -> Health:
    index = knowledge.index.current
    return Health(status="ok", knowledge_revision=index.revision, entries_served=index.size)
