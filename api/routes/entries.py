from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from accounts.roles import STAFF, Account, Role
from api.bounds import Offset, Version
from api.auth import allow
from api.errors import ApiError
from api.services import Services, get_knowledge, get_services
from knowledge_base.entry import Entry, Status
from knowledge_base.service import KnowledgeBase
from knowledge_base.store import EntryNotFound

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
    variant_of: str | None = None
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
                   region=entry.region, variant_of=entry.variant_of, effective_from=entry.effective_from,
                   expires_at=entry.expires_at,
                   status=entry.status, version=entry.version, updated_by=entry.updated_by,
                   updated_at=entry.updated_at, source=entry.source)


@router.get("", response_model=list[EntryOut], dependencies=[Depends(allow(*STAFF))], summary="Entries, filtered by status, region and text")
def list_entries(status: str | None = Query(default=None, description="draft, in_review, published, retired, or "
                                                                      "has_draft (entries with a change on its way)"),
                 region: str | None = None, text: str | None = None, category: str | None = None,
                 expires_before: datetime | None = None,
                 limit: int = Query(default=100, ge=1, le=1000), offset: Offset = 0,
                 knowledge: KnowledgeBase = Depends(get_knowledge)) -> list[EntryOut]:
    has_draft = status == HAS_DRAFT
    if status is not None and not has_draft and status not in {s.value for s in Status}:
        allowed = ", ".join([s.value for s in Status] + [HAS_DRAFT])
        raise ApiError(422, "invalid_request", f"Unknown status {status!r}; use one of {allowed}.")
    entries = knowledge.store.list(status=None if has_draft else status, region=region, text=text, category=category,
                                   expires_before=expires_before, has_draft=has_draft, limit=limit, offset=offset)
    return [EntryOut.of(e) for e in entries]


@router.get("/{entry_id}", response_model=EntryOut, dependencies=[Depends(allow(*STAFF))], summary="One entry, as stored now")
def get_entry(entry_id: str, knowledge: KnowledgeBase = Depends(get_knowledge)) -> EntryOut:
    entry = knowledge.store.get(entry_id)
    if entry is None:
        raise EntryNotFound(entry_id)
    return EntryOut.of(entry)


HAS_DRAFT = "has_draft"


class VersionOut(BaseModel):
    version: int
    status: Status
    changed_by: str
    changed_at: datetime
    note: str
    entry: EntryOut


class RollbackIn(BaseModel):
    version: Version = Field(description="The version to restore.")
    note: str = Field(default="", max_length=4000, description="Why (kept with the new version and in the audit trail).")


@router.get("/{entry_id}/history", response_model=list[VersionOut],
            dependencies=[Depends(allow(Role.EDITOR, Role.REVIEWER, Role.ADMIN))],
            summary="Every saved version of an entry, oldest first")
def entry_history(entry_id: str, knowledge: KnowledgeBase = Depends(get_knowledge)) -> list[VersionOut]:
    history = knowledge.store.history(entry_id)
    if not history:
        raise EntryNotFound(entry_id)
    return [VersionOut(version=v.entry.version, status=v.entry.status, changed_by=v.changed_by, changed_at=v.changed_at,
                       note=v.note, entry=EntryOut.of(v.entry)) for v in history]


@router.post("/{entry_id}/rollback", response_model=EntryOut,
             summary="Restore an earlier version as a new one, published at once as it was then")
def rollback_entry(entry_id: str, body: RollbackIn, services: Services = Depends(get_services),
                   account: Account = Depends(allow(Role.REVIEWER))) -> EntryOut:
    return EntryOut.of(services.changes.rollback(account, entry_id, body.version, body.note))
