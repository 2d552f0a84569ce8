"""Caller blocks (desk/blocks.py): an administrator sees who is blocked and why, blocks a harassing caller for a
while (限制其占用热线话务资源), and lifts a block set in error. Keys are "caller:<phone number>",
"wechat:<openid>", "address:<IP>" or "session:<chat id>"; phone numbers are shown masked."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from accounts.roles import Account, Role
from api.auth import allow
from api.bounds import RowId
from api.services import Services, get_services
from desk.blocks import Block

router = APIRouter(prefix="/v1/blocks", tags=["blocks"])
ADMIN = allow(Role.ADMIN)


class BlockOut(BaseModel):
    id: int
    key: str = Field(description="Who is blocked, its phone number masked.")
    reason: str
    by: str = Field(description="rate_limit, or the administrator who set it.")
    at: datetime
    until: datetime
    lifted_at: datetime | None
    lifted_by: str | None

    @classmethod
    def of(cls, block: Block) -> "BlockOut":
        return cls(id=block.id, key=block.shown_key, reason=block.reason, by=block.by, at=block.at, until=block.until,
                   lifted_at=block.lifted_at, lifted_by=block.lifted_by)


class BlockIn(BaseModel):
    kind: Literal["caller", "wechat", "address"] = Field(description="A phone number, a WeChat openid, or an IP address.")
    value: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_.:+-]+$")
    minutes: float = Field(gt=0, le=60 * 24 * 30, description="How long, at most 30 days.")
    reason: str = Field(min_length=1, max_length=500, description="Why: kept with the block and in the audit trail.")


@router.get("", response_model=list[BlockOut], summary="The blocks in force now, newest first")
def list_blocks(services: Services = Depends(get_services), admin: Account = Depends(ADMIN)) -> list[BlockOut]:
    return [BlockOut.of(b) for b in services.guard.blocks.active()]


@router.post("", response_model=BlockOut, status_code=201, summary="Block a caller, a WeChat user or an address for a while")
def set_block(body: BlockIn, services: Services = Depends(get_services), admin: Account = Depends(ADMIN)) -> BlockOut:
    return BlockOut.of(services.guard.blocks.block(f"{body.kind}:{body.value}", body.minutes, body.reason, by=admin.username))


@router.post("/{block_id}/lift", response_model=BlockOut, summary="Lift a block now")
def lift_block(block_id: RowId, services: Services = Depends(get_services), admin: Account = Depends(ADMIN)) -> BlockOut:
    return BlockOut.of(services.guard.blocks.lift(block_id, by=admin.username))
