"""The audit trail: who did what, to what, and when. Written in the same transaction as the write it records."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.privacy import mask_value
from storage.database import Database
from storage.tables import AuditEventRow


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict


def record(session: Session, *, actor: str, action: str, target: str, at: datetime, **detail: Any) -> None:
    """Adds one event to `session`'s transaction: `action` like "change.publish", `target` like "entry:covid-001".
    Citizens' numbers in the detail (a gap's text, a ticket's summary) are masked: the trail is read by reviewers."""
    session.add(AuditEventRow(at=at, actor=actor, action=action, target=target, detail=mask_value(detail)))


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, *, actor: str, action: str, target: str, at: datetime, **detail: Any) -> None:
        """One event in a transaction of its own (for writes that have no other table to change, e.g. a sign-in)."""
        with self.db.session(write=True) as session:
            record(session, actor=actor, action=action, target=target, at=at, **detail)

    def list(self, *, actor: str | None = None, target: str | None = None, action: str | None = None,
             before_id: int | None = None, limit: int = 100) -> list[AuditEvent]:
        """Newest first; `target` may be a prefix ending in ':' ("entry:") or one target ("entry:covid-001");
        `before_id` pages back through older events."""
        query = select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(limit)
        if actor:
            query = query.where(AuditEventRow.actor == actor)
        if target:
            query = query.where(AuditEventRow.target.startswith(target, autoescape=True) if target.endswith(":")
                                else AuditEventRow.target == target)
        if action:
            query = query.where(AuditEventRow.action.startswith(action, autoescape=True))
        if before_id is not None:
            query = query.where(AuditEventRow.id < before_id)
        with self.db.session() as session:
            return [AuditEvent(row.id, row.at, row.actor, row.action, row.target, dict(row.detail))
                    for row in session.scalars(query)]
