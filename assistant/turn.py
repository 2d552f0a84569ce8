"""What goes into the engine (a turn) and what comes out (one decision)."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Channel(str, enum.Enum):
    CHAT = "chat"      # the mini-program / H5 chat
    WECHAT = "wechat"  # WeChat customer-service messages
    VOICE = "voice"    # the phone line

    @property
    def speaks(self) -> bool:
        return self is Channel.VOICE

    @property
    def wording(self) -> str:
        """Which group of replies.yaml this channel's replies come from."""
        return "voice" if self.speaks else "chat"


@dataclass(frozen=True)
class Hypothesis:
    """One reading of what a caller said, with the recogniser's confidence in it (0..1)."""

    text: str
    confidence: float


@dataclass(frozen=True)
class Turn:
    session: str
    channel: Channel
    text: str
    region: str | None = None
    caller: str | None = None           # phone number or WeChat openid: for the seat's call-back
    hypotheses: tuple[Hypothesis, ...] = ()  # voice: the recogniser's n-best, best first
    asr_confidence: float | None = None
    choice: str | None = None           # an offered entry picked directly (a button, a key press)
    at: datetime | None = None


class Kind(str, enum.Enum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    HANDOFF = "handoff"
    REDIRECT = "redirect"
    REFUSE = "refuse"
    INTAKE = "intake"   # a 诉求 being taken down: the next question, or the read-back to confirm


@dataclass(frozen=True)
class Choice:
    number: int
    entry_id: str
    question: str


@dataclass(frozen=True)
class Scored:
    entry_id: str
    question: str
    score: float


@dataclass(frozen=True)
class Decision:
    kind: Kind
    session: str
    text: str                       # what to show (chat) or say (voice)
    reason: str                     # why: confident, chosen, low_confidence, asked_for_human, …
    confidence: float = 0.0         # calibrated probability that the top entry is right
    entry_id: str | None = None
    entry_question: str | None = None
    choices: tuple[Choice, ...] = ()
    ticket_number: str | None = None
    redirect_to: str | None = None  # 110 / 119 / 120 / 122
    candidates: tuple[Scored, ...] = field(default_factory=tuple)
    knowledge_revision: int | None = None
