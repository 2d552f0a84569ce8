from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.errors import ApiError
from api.services import get_knowledge
from knowledge_base.entry import Entry, Status
from knowledge_base.service import KnowledgeBase

router = APIRouter(prefix="/v1/entries", tags=["knowledge"])


class EntryOut(BaseModel):
    id: str
    question: str
    samples: list[str]
    chat_answer: str
    voice_answer: str
    category: str | None
    request_type: str
    region: str
    effective_from: datetime | None
    expires_at: datetime | None
    status: Status
    version: int
    updated_by: str
    updated_at: datetime | None
    source: str

    @classmethod
    def of(cls, entry: Entry) -> "EntryOut":
        return cls(id=entry.id, question=entry.question, samples=list(entry.samples), chat_answer=entry.chat_answer,
                   voice_answer=entry.voice_answer, category=entry.category, request_type=entry.request_type.value,
                   region=entry.region, effective_from=entry.effective_from, expires_at=entry.expires_at,
                   status=entry.status, version=entry.version, updated_by=entry.updated_by,
                   updated_at=entry.updated_at, source=entry.source)


@router.get("", response_model=list[EntryOut], summary="Entries, filtered by status, region and text")
def list_entries(status: Status | None = None, region: str | None = None, text: str | None = None,
                 limit: int = Query(default=100, ge=1, le=1000),
                 knowledge: KnowledgeBase = Depends(get_knowledge)) -> list[EntryOut]:
    return [EntryOut.of(e) for e in knowledge.store.list(status=status, region=region, text=text, limit=limit)]


@router.get("/{entry_id}", response_model=EntryOut, summary="One entry, as stored now")
def get_entry(entry_id: str, knowledge: KnowledgeBase = Depends(get_knowledge)) -> EntryOut:
    entry = knowledge.store.get(entry_id)
    if entry is None:
        raise ApiError(404, "entry_not_found", f"No entry has the id {entry_id!r}.")
    return EntryOut.of(entry)
