"""Changes to entries: an editor drafts and submits, a reviewer returns or publishes (now or at a time)."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from accounts.roles import Account, Role
from api.bounds import BodyId, Offset, RowId
from api.auth import allow
from api.routes.entries import EntryOut
from api.services import Services, get_services
from knowledge_base.changes import Change, ChangeDesk, ChangeKind, ChangeStatus, InvalidChange, new_entry_id
from knowledge_base.diff import FieldDiff
from knowledge_base.entry import Entry
from knowledge_base.hints import Hint
from knowledge_base.records import InvalidEntry, entry_from_record

router = APIRouter(prefix="/v1/changes", tags=["editors"])

EDITOR = allow(Role.EDITOR)
REVIEWER = allow(Role.REVIEWER)
KNOWLEDGE_WORKER = allow(Role.EDITOR, Role.REVIEWER)


class ChangeIn(BaseModel):
    kind: Literal["create", "edit", "retire"]
    entry_id: str | None = Field(default=None, max_length=200, description="The entry to edit or retire.")
    entry: dict[str, Any] | None = Field(default=None, description="The proposed entry (entry JSON); edit and retire "
                                                                    "start from the stored entry when it is left out.")


class SaveIn(BaseModel):
    entry: dict[str, Any] = Field(description="The proposed entry (entry JSON).")


class ReturnIn(BaseModel):
    note: str = Field(min_length=1, max_length=4000, description="What the author should change.")


class PublishIn(BaseModel):
    at: datetime | None = Field(default=None, description="Publish at this time (with zone) instead of now.")


class PublishManyIn(PublishIn):
    ids: list[BodyId] = Field(min_length=1, max_length=1000, description="Changes to publish together, in one revision.")


class SegmentOut(BaseModel):
    op: Literal["equal", "insert", "delete"]
    text: str


class DiffOut(BaseModel):
    field: str
    before: Any
    after: Any
    segments: list[SegmentOut]

    @classmethod
    def of(cls, diff: FieldDiff) -> "DiffOut":
        return cls(field=diff.field, before=diff.before, after=diff.after,
                   segments=[SegmentOut(op=s.op, text=s.text) for s in diff.segments])


class HintOut(BaseModel):
    field: str
    level: Literal["warning", "info"]
    message: str

    @classmethod
    def of(cls, hint: Hint) -> "HintOut":
        return cls(field=hint.field, level=hint.level, message=hint.message)


class ChangeOut(BaseModel):
    id: int
    entry_id: str
    kind: ChangeKind
    status: ChangeStatus
    entry: EntryOut = Field(description="The proposed entry, with the status it gets when published.")
    base_version: int | None
    author: str
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    reviewer: str | None
    reviewed_at: datetime | None
    review_note: str
    publish_at: datetime | None
    published_version: int | None
    batch: str | None
    source: str
    diff: list[DiffOut] = Field(description="Against the entry as published now (a published change: the version it replaced).")
    hints: list[HintOut] = Field(description="What a caller would hear badly in the answers.")
    stale: bool = Field(description="The entry changed since the change was saved: it cannot be published as it is.")

    @classmethod
    def of(cls, change: Change, desk: ChangeDesk) -> "ChangeOut":
        review = desk.review(change)
        fields = {field.name: getattr(change, field.name) for field in dataclasses.fields(change)}
        return cls(**fields | {"entry": EntryOut.of(change.entry), "diff": [DiffOut.of(d) for d in review.diff],
                               "hints": [HintOut.of(h) for h in review.hints], "stale": review.stale})


def get_changes(services: Services = Depends(get_services)) -> ChangeDesk:
    return services.changes


def proposed_entry(record: dict[str, Any], entry_id: str | None) -> Entry:
    """An entry JSON from the console as an Entry; every problem in it is a 422 invalid_entry."""
    record = dict(record)
    if not record.get("id"):
        record["id"] = entry_id or new_entry_id(str(record.get("question") or ""))
    try:
        return entry_from_record(record)
    except InvalidEntry as invalid:
        raise InvalidChange(invalid.entry_id, invalid.problems) from None


@router.get("", response_model=list[ChangeOut], summary="Changes, newest first")
def list_changes(status: ChangeStatus | None = None, entry_id: str | None = None, author: str | None = None,
                 batch: str | None = None, limit: int = Query(default=100, ge=1, le=500), offset: Offset = 0,
                 desk: ChangeDesk = Depends(get_changes), account: Account = Depends(KNOWLEDGE_WORKER)) -> list[ChangeOut]:
    changes = desk.list(status=status, entry_id=entry_id, author=author, batch=batch, limit=limit, offset=offset)
    return [ChangeOut.of(change, desk) for change in changes]


@router.get("/{change_id}", response_model=ChangeOut, summary="One change, with its diff and hints")
def get_change(change_id: RowId, desk: ChangeDesk = Depends(get_changes),
               account: Account = Depends(KNOWLEDGE_WORKER)) -> ChangeOut:
    return ChangeOut.of(desk.get(change_id), desk)


@router.post("", response_model=ChangeOut, status_code=201, summary="Start a draft: a new entry, an edit or a retirement")
def create_change(body: ChangeIn, desk: ChangeDesk = Depends(get_changes),
                  account: Account = Depends(EDITOR)) -> ChangeOut:
    entry = proposed_entry(body.entry, body.entry_id) if body.entry is not None else None
    if body.kind != "create" and not (body.entry_id or entry):
        raise RequestValidationError([{"loc": ("body", "entry_id"), "msg": "say which entry to change",
                                       "type": "missing"}])
    change = desk.create(account, kind=body.kind, entry=entry, entry_id=body.entry_id or None)
    return ChangeOut.of(change, desk)


@router.put("/{change_id}", response_model=ChangeOut, summary="Save a draft (its author only)")
def save_change(change_id: RowId, body: SaveIn, desk: ChangeDesk = Depends(get_changes),
                account: Account = Depends(EDITOR)) -> ChangeOut:
    change = desk.get(change_id)
    return ChangeOut.of(desk.save(account, change_id, proposed_entry(body.entry, change.entry_id)), desk)


@router.post("/{change_id}/submit", response_model=ChangeOut, summary="Submit a draft for review")
def submit_change(change_id: RowId, desk: ChangeDesk = Depends(get_changes),
                  account: Account = Depends(EDITOR)) -> ChangeOut:
    return _act(lambda: desk.submit(account, change_id), desk)


@router.post("/{change_id}/withdraw", response_model=ChangeOut, summary="Abandon a change (its author only)")
def withdraw_change(change_id: RowId, desk: ChangeDesk = Depends(get_changes),
                    account: Account = Depends(EDITOR)) -> ChangeOut:
    return _act(lambda: desk.withdraw(account, change_id), desk)


@router.post("/{change_id}/return", response_model=ChangeOut, summary="Send a change back to its author with a note")
def return_change(change_id: RowId, body: ReturnIn, desk: ChangeDesk = Depends(get_changes),
                  account: Account = Depends(REVIEWER)) -> ChangeOut:
    return _act(lambda: desk.return_(account, change_id, body.note), desk)


@router.post("/publish", response_model=list[ChangeOut], summary="Publish several changes in one knowledge revision")
def publish_changes(body: PublishManyIn, desk: ChangeDesk = Depends(get_changes),
                    account: Account = Depends(REVIEWER)) -> list[ChangeOut]:
    changes = desk.publish_many(account, body.ids, body.at)
    return [ChangeOut.of(change, desk) for change in changes]


@router.post("/{change_id}/publish", response_model=ChangeOut, summary="Publish a change now, or schedule it")
def publish_change(change_id: RowId, body: PublishIn | None = Body(default=None), desk: ChangeDesk = Depends(get_changes),
                   account: Account = Depends(REVIEWER)) -> ChangeOut:
    return _act(lambda: desk.publish(account, change_id, body.at if body else None), desk)


def _act(action, desk: ChangeDesk) -> ChangeOut:
    return ChangeOut.of(action(), desk)
