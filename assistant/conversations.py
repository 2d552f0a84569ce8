"""Conversations in the database, so that any worker can continue any of them."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from assistant.turn import Decision, Turn
from knowledge_base.entry import as_utc, utcnow
from storage.database import Database
from storage.tables import ConversationRow, TurnRow


@dataclass
class ConversationState:
    """What the engine remembers between turns."""

    query: str | None = None          # the citizen's last real question
    answered: str | None = None       # entry given in the last answer
    offered: list[str] = field(default_factory=list)   # entries offered in the last clarification, in order
    rejected: list[str] = field(default_factory=list)  # entries the citizen said were not it (this question)
    unsatisfied: int = 0              # rejections and "still don't understand" in this conversation

    @classmethod
    def from_json(cls, data: dict | None) -> "ConversationState":
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


class ConversationStore:
    def __init__(self, db: Database, *, idle_minutes: float = 30.0):
        self._db = db
        self._idle = timedelta(minutes=idle_minutes)

    def state(self, session: str, now: datetime | None = None) -> ConversationState:
        """The conversation's state; a new one after `idle_minutes` of silence (a new call, a new chat)."""
        now = as_utc(now or utcnow())
        with self._db.session() as s:
            row = s.get(ConversationRow, session)
            if row is None or now - row.updated_at > self._idle:
                return ConversationState()
            return ConversationState.from_json(row.state)

    def record(self, turn: Turn, decision: Decision, state: ConversationState, *, said: str,
               now: datetime | None = None) -> None:
        """The turn and the new state, in one transaction."""
        now = as_utc(now or utcnow())
        for attempt in range(2):  # two workers may create the same new conversation at once
            try:
                with self._db.session(write=True) as s:
                    row = s.execute(select(ConversationRow).where(ConversationRow.id == turn.session).with_for_update()).scalar_one_or_none()
                    if row is None:
                        row = ConversationRow(id=turn.session, channel=turn.channel.value, region=turn.region, caller=turn.caller,
                                              state={}, turns=0, created_at=now, updated_at=now)
                        s.add(row)
                    row.turns += 1
                    row.state = asdict(state)
                    row.updated_at = now
                    row.region = turn.region or row.region
                    row.caller = turn.caller or row.caller
                    if decision.ticket_number:
                        row.ticket_number = decision.ticket_number
                    s.add(TurnRow(
                        conversation_id=turn.session, seq=row.turns, at=now, text=said, asr_confidence=turn.asr_confidence,
                        decision=decision.kind.value, entry_id=decision.entry_id, confidence=decision.confidence,
                        candidates=[{"entry_id": c.entry_id, "score": round(c.score, 4)} for c in decision.candidates],
                        knowledge_revision=decision.knowledge_revision,
                    ))
                return
            except IntegrityError:
                if attempt:
                    raise

    def transcript(self, session: str) -> list[dict]:
        """Every turn of the conversation, oldest first: what a seat reads before picking up."""
        with self._db.session() as s:
            rows = s.execute(select(TurnRow).where(TurnRow.conversation_id == session).order_by(TurnRow.seq)).scalars()
            return [{"at": r.at.isoformat(), "text": r.text, "asr_confidence": r.asr_confidence, "decision": r.decision} for r in rows]
