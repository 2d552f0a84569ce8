"""Conversations in the database, so that any worker can continue any of them."""
from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import null, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.turn import Channel, Decision, Kind, Turn
from ground.clock import as_utc, utcnow
from ground.privacy import mask
from storage.database import Database
from storage.tables import ConversationRow, GapRow, TurnRow


@dataclass
class ConversationState:
    """What the engine remembers between turns."""

    query: str | None = None          # the citizen's last real question
    answered: str | None = None       # entry given in the last answer
    offered: list[str] = field(default_factory=list)   # entries offered in the last clarification, in order
    rejected: list[str] = field(default_factory=list)  # entries the citizen said were not it (this question)
    unsatisfied: int = 0              # rejections and "still don't understand" in this conversation
    prompts: int = 0                  # messages too garbled to be a question in this conversation
    intake: dict | None = None        # a 诉求 being taken down (assistant/intake.py's Intake, as JSON)
    repeat_told: str | None = None    # the closed ticket the citizen was told of as their matter's: they insist now

    @classmethod
    def from_json(cls, data: dict | None) -> "ConversationState":
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Unanswered:
    """A question nothing answered well, as one turn shows it: it goes to the unanswered-question queue."""

    text: str                         # what the citizen asked (on voice: the recogniser's text)
    reason: str                       # the handoff's reason, "unsatisfied" (rejected), "low_confidence"
    confidence: float | None = None   # None: the engine's confidence when the question was asked
    top_entry_id: str | None = None   # the entry closest to it (the one rejected, the top candidate)


def rejected_in_turn(before: ConversationState, after: ConversationState) -> list[str]:
    """The entries the citizen said, in this turn, were not it: the answer just given, or every choice offered
    ("不是这个", "还是不明白" after an answer or a clarification; see Engine._unsatisfied)."""
    if after.unsatisfied <= before.unsatisfied:
        return []
    return [entry_id for entry_id in after.rejected if entry_id not in before.rejected]


def unanswered(said: str, decision: Decision, before: ConversationState, after: ConversationState, *,
               gap_confidence: float) -> Unanswered | None:
    """What, if anything, this turn adds to the unanswered-question queue:
    - a rejected answer or clarification: the question the citizen had asked, reason "unsatisfied";
    - a handoff: the citizen's question (this turn's, or the one asked before a bare "转人工" or a key press),
      with the handoff's reason; a handoff with no question asked at all is not a knowledge gap;
    - an answer the engine gave with a confidence below `gap_confidence`: "low_confidence".
    """
    rejected = rejected_in_turn(before, after)
    if rejected:
        return Unanswered(before.query, "unsatisfied", None, rejected[0]) if before.query else None
    if decision.kind is Kind.HANDOFF:
        question = after.query
        if not question:
            return None
        top = decision.candidates[0].entry_id if decision.candidates else (
            before.answered or next(iter(before.offered), None))
        return Unanswered(question, decision.reason, decision.confidence if question == said else None, top)
    if decision.kind is Kind.ANSWER and decision.reason == "confident" and decision.confidence < gap_confidence:
        return Unanswered(said, "low_confidence", decision.confidence, decision.entry_id)
    return None


def new_session_id(channel: Channel) -> str:
    """A conversation's id, issued by the server: its channel and 128 random bits (no client can guess another's)."""
    return f"{channel.value}-{secrets.token_hex(16)}"


class ConversationStore:
    def __init__(self, db: Database, *, idle_minutes: float = 30.0, gap_confidence: float = 0.8):
        """`gap_confidence`: answers less confident than this are also queued as unanswered questions."""
        self._db = db
        self._idle = timedelta(minutes=idle_minutes)
        self.gap_confidence = gap_confidence

    def channel_of(self, session: str) -> str | None:
        """The channel a conversation began on; None when no conversation has this id."""
        with self._db.session() as s:
            return s.execute(select(ConversationRow.channel).where(ConversationRow.id == session)).scalar_one_or_none()

    def state(self, session: str, now: datetime | None = None) -> ConversationState:
        """The conversation's state; a new one after `idle_minutes` of silence (a new call, a new chat)."""
        now = as_utc(now or utcnow())
        with self._db.session() as s:
            row = s.get(ConversationRow, session)
            if row is None or now - row.updated_at > self._idle:
                return ConversationState()
            return ConversationState.from_json(row.state)

    def record(self, turn: Turn, decision: Decision, state: ConversationState, *, said: str,
               now: datetime | None = None, before: ConversationState | None = None) -> None:
        """The turn and the new state, in one transaction; given the state `before` the turn, also the entries
        rejected in it and, when it shows a question nothing answered well, that question (`unanswered`)."""
        now = as_utc(now or utcnow())
        rejected = rejected_in_turn(before, state) if before is not None else []
        gap = unanswered(said, decision, before, state, gap_confidence=self.gap_confidence) if before is not None else None
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
                        knowledge_revision=decision.knowledge_revision, reason=decision.reason,
                        rejected=rejected or null(),  # SQL NULL, not JSON null: traffic counts skip these
                    ))
                    if gap is not None:
                        _queue(s, gap, turn, said=said, now=now)
                return
            except IntegrityError:
                if attempt:
                    raise

    def transcript(self, session: str) -> list[dict]:
        """Every turn of the conversation, oldest first: what a seat reads before picking up."""
        with self._db.session() as s:
            rows = s.execute(select(TurnRow).where(TurnRow.conversation_id == session).order_by(TurnRow.seq)).scalars()
            return [{"at": r.at.isoformat(), "text": r.text, "asr_confidence": r.asr_confidence, "decision": r.decision} for r in rows]


def _queue(s: Session, gap: Unanswered, turn: Turn, *, said: str, now: datetime) -> None:
    """Adds `gap` to the queue in the turn's transaction. A question asked earlier in the conversation keeps the
    recogniser's and the engine's confidence of the turn that asked it; one question counts once per
    conversation (a low-confidence answer that is then rejected, then handed off, is one gap with the latest reason)."""
    asr_confidence, confidence, top = turn.asr_confidence, gap.confidence, gap.top_entry_id
    if gap.text != said:
        asked = s.execute(select(TurnRow).where(TurnRow.conversation_id == turn.session, TurnRow.text == gap.text)
                          .order_by(TurnRow.seq.desc()).limit(1)).scalar_one_or_none()
        asr_confidence = asked.asr_confidence if asked is not None else None
        if confidence is None and asked is not None:
            confidence = asked.confidence
        if top is None and asked is not None:
            top = asked.entry_id or next((c["entry_id"] for c in asked.candidates or []), None)
    text = mask(gap.text)  # editors and reviewers read the queue: no citizen's number in it
    existing = s.execute(select(GapRow).where(GapRow.session == turn.session, GapRow.text == text)
                         .order_by(GapRow.id.desc()).limit(1)).scalar_one_or_none()
    if existing is not None:
        existing.reason = gap.reason
        existing.top_entry_id = existing.top_entry_id or top
        return
    s.add(GapRow(at=now, channel=turn.channel.value, session=turn.session, region=turn.region, text=text,
                 asr_confidence=asr_confidence, reason=gap.reason, confidence=confidence, top_entry_id=top))
