"""The log of phone calls, in the database so that any worker can say how a call left (a dialplan asks
`GET /v1/voice/calls/{session}` after the AudioSocket connection closes)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ground.clock import utcnow
from storage.database import Database
from storage.tables import VoiceCallRow


@dataclass(frozen=True)
class CallRecord:
    session: str
    protocol: str
    caller: str | None
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    transfer_to: str | None
    ticket_number: str | None
    reason: str | None
    audio_seconds: float


class CallRecords:
    def __init__(self, db: Database) -> None:
        self._db = db

    def begin(self, session: str, protocol: str, caller: str | None) -> None:
        with self._db.session(write=True) as s:
            row = s.get(VoiceCallRow, session)
            if row is None:
                s.add(VoiceCallRow(session=session, protocol=protocol, caller=caller, started_at=utcnow(), audio_seconds=0.0))
            else:  # the same call reconnected: it goes on
                row.ended_at, row.outcome = None, None

    def end(self, session: str, *, outcome: str, transfer_to: str | None = None, ticket_number: str | None = None,
            reason: str | None = None, audio_seconds: float = 0.0) -> None:
        with self._db.session(write=True) as s:
            row = s.get(VoiceCallRow, session)
            if row is None:
                return
            row.ended_at, row.outcome, row.transfer_to = utcnow(), outcome, transfer_to
            row.ticket_number, row.reason = ticket_number, reason
            row.audio_seconds = round((row.audio_seconds or 0.0) + audio_seconds, 2)

    def get(self, session: str) -> CallRecord | None:
        with self._db.session() as s:
            row = s.get(VoiceCallRow, session)
            if row is None:
                return None
            return CallRecord(row.session, row.protocol, row.caller, row.started_at, row.ended_at, row.outcome,
                              row.transfer_to, row.ticket_number, row.reason, row.audio_seconds)
