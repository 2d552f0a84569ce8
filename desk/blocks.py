"""Caller blocks: the hotline's rule for a caller who floods or harasses it (限制其占用热线话务资源) — a
time-limited block on a phone number, a WeChat openid or an address, set by the rate limit when a caller keeps
going far past it, or by an administrator; every block can be seen and lifted, and both are audited.

Blocks live in the database so that every worker refuses the same callers; a worker reads them at most every
`refresh_seconds` (a block takes effect everywhere within seconds, and costs no query per message)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from ground.clock import as_utc, utcnow
from ground.errors import DomainError, ErrorKind
from ground.privacy import mask
from storage import audit
from storage.database import Database
from storage.tables import CallerBlockRow

RATE_LIMIT = "rate_limit"  # the `by` of a block the rate limit set


class BlockNotFound(DomainError, LookupError):
    code, kind = "block_not_found", ErrorKind.NOT_FOUND


@dataclass(frozen=True)
class Block:
    id: int
    key: str
    reason: str
    by: str
    at: datetime
    until: datetime
    lifted_at: datetime | None = None
    lifted_by: str | None = None

    @property
    def shown_key(self) -> str:
        """The key with a phone number in it masked, for lists and logs."""
        return mask(self.key) or self.key


class CallerBlocks:
    def __init__(self, db: Database, *, refresh_seconds: float = 5.0, clock: Callable[[], datetime] = utcnow,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._refresh = refresh_seconds
        self._clock, self._monotonic = clock, monotonic
        self._lock = threading.Lock()
        self._active: dict[str, datetime] = {}
        self._read_at: float | None = None

    # ---- asking ----------------------------------------------------------------------------------
    def blocked_until(self, key: str) -> datetime | None:
        """When the block on `key` ends, if it is blocked now (as this worker read the blocks, seconds ago)."""
        now = self._clock()
        with self._lock:
            if self._read_at is None or self._monotonic() - self._read_at >= self._refresh:
                self._active = self._read_active(now)
                self._read_at = self._monotonic()
            until = self._active.get(key)
        return until if until is not None and until > now else None

    def _read_active(self, now: datetime) -> dict[str, datetime]:
        with self._db.session() as s:
            rows = s.execute(select(CallerBlockRow.key, CallerBlockRow.until)
                             .where(CallerBlockRow.until > now, CallerBlockRow.lifted_at.is_(None))).all()
        active: dict[str, datetime] = {}
        for key, until in rows:
            active[key] = max(as_utc(until), active.get(key, as_utc(until)))
        return active

    # ---- setting and lifting ---------------------------------------------------------------------
    def block(self, key: str, minutes: float, reason: str, by: str) -> Block:
        now = self._clock()
        with self._db.session(write=True) as s:
            row = CallerBlockRow(key=key, reason=reason, by=by, at=now, until=now + timedelta(minutes=minutes))
            s.add(row)
            s.flush()
            audit.record(s, actor=by, action="block.set", target=f"block:{row.id}", at=now, key=key, minutes=minutes,
                         reason=reason)
            block = _block(row)
        self._forget()
        return block

    def lift(self, block_id: int, by: str) -> Block:
        now = self._clock()
        with self._db.session(write=True) as s:
            row = s.get(CallerBlockRow, block_id)
            if row is None:
                raise BlockNotFound(f"No block has the id {block_id}; GET /v1/blocks lists the active ones.")
            if row.lifted_at is None:
                row.lifted_at, row.lifted_by = now, by
                audit.record(s, actor=by, action="block.lift", target=f"block:{row.id}", at=now, key=row.key)
            block = _block(row)
        self._forget()
        return block

    def active(self) -> list[Block]:
        """Every block in force now, the latest first."""
        with self._db.session() as s:
            rows = s.execute(select(CallerBlockRow).where(CallerBlockRow.until > self._clock(), CallerBlockRow.lifted_at.is_(None))
                             .order_by(CallerBlockRow.id.desc())).scalars().all()
            return [_block(row) for row in rows]

    def _forget(self) -> None:
        with self._lock:
            self._read_at = None


def _block(row: CallerBlockRow) -> Block:
    return Block(row.id, row.key, row.reason, row.by, as_utc(row.at), as_utc(row.until), as_utc(row.lifted_at), row.lifted_by)
