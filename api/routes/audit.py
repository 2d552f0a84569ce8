"""The audit trail (GET /v1/audit): who did what, to what, and when; newest first."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from accounts.roles import Role
from api.bounds import BeforeId
from api.auth import allow
from api.services import Services, get_services

router = APIRouter(prefix="/v1/audit", tags=["editors"])


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


@router.get("", response_model=list[AuditEventOut], dependencies=[Depends(allow(Role.REVIEWER, Role.ADMIN))],
            summary="Audit events, newest first; page back with before_id")
def list_events(actor: str | None = None,
                target: str | None = Query(default=None, description="One target (entry:covid-001) or a kind (entry:)."),
                action: str | None = Query(default=None, description="An action (change.publish) or its start (change.)."),
                before_id: BeforeId = None, limit: int = Query(default=100, ge=1, le=1000),
                services: Services = Depends(get_services)) -> list[AuditEventOut]:
    events = services.audit.list(actor=actor, target=target, action=action, before_id=before_id, limit=limit)
    return [AuditEventOut(id=e.id, at=e.at, actor=e.actor, action=e.action, target=e.target, detail=e.detail)
            for e in events]
