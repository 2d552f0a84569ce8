"""How long citizens' words are kept: conversations (their turns, with the numbers citizens typed in clear),
phone-call records (the caller's number) and WeChat's inbox are deleted `days` after they were last touched.
Tickets are the hotline's record of a 诉求 and follow its own archive rules: they are not purged here. The
unanswered-question queue and answer labels hold masked text only (ground/privacy.py) and are kept."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from ground.clock import as_utc
from storage import audit
from storage.database import Database
from storage.tables import ConversationRow, TurnRow, VoiceCallRow, WeChatInboxRow

BATCH = 1000  # conversations deleted per transaction, so that a first purge of years does not lock the tables


@dataclass(frozen=True)
class Purged:
    conversations: int
    turns: int
    calls: int
    wechat_pushes: int


def purge(db: Database, *, days: float, now: datetime, by: str = "retention") -> Purged:
    """Deletes what is older than `days` before `now`; audited with the counts."""
    cutoff = as_utc(now) - timedelta(days=days)
    conversations = turns = 0
    while True:
        with db.session(write=True) as s:
            ids = list(s.scalars(select(ConversationRow.id).where(ConversationRow.updated_at < cutoff).limit(BATCH)))
            if not ids:
                break
            turns += s.execute(delete(TurnRow).where(TurnRow.conversation_id.in_(ids))).rowcount
            conversations += s.execute(delete(ConversationRow).where(ConversationRow.id.in_(ids))).rowcount
    with db.session(write=True) as s:
        calls = s.execute(delete(VoiceCallRow).where(VoiceCallRow.started_at < cutoff)).rowcount
        pushes = s.execute(delete(WeChatInboxRow).where(WeChatInboxRow.received_at < cutoff)).rowcount
        purged = Purged(conversations, turns, calls, pushes)
        audit.record(s, actor=by, action="retention.purge", target="retention", at=as_utc(now), days=days,
                     **{k: v for k, v in purged.__dict__.items()})
    return purged
