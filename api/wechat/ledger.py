"""What the WeChat channel must remember across workers: which pushes it has taken (WeChat retries a
push three times when it gets no answer in 5 seconds), the nonces of the signed queries it has seen (a replay
is refused), and each citizen's reply window."""
from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.database import Database
from storage.tables import WeChatInboxRow, WeChatNonceRow, WeChatUserRow

from .window import ReplyWindow


class Delivery(enum.Enum):
    FIRST = "first"    # a new message: handle it
    RETRY = "retry"    # WeChat sending again a message already taken: answer "success", do nothing
    REPLAY = "replay"  # a signed query seen before, carrying another message: refuse it


class WeChatLedger:
    def __init__(self, db: Database, window: ReplyWindow | None = None, *, nonce_window: timedelta = timedelta(minutes=10)):
        """`nonce_window`: how long a nonce is remembered; at least twice the age a push may have."""
        self._db = db
        self.window = window or ReplyWindow()
        self.nonce_window = nonce_window

    def deliver(self, key: str, openid: str, nonce: str, now: datetime) -> Delivery:
        """Records the push (its message `key` and its signed query's `nonce`, "<timestamp>:<nonce>") in one
        transaction and says whether it is a first delivery, a retry of a message already taken (WeChat may
        retry with a new nonce), or a replay: a signed query seen before carrying another message.
        A first delivery also reopens the citizen's reply window."""
        try:
            with self._db.session(write=True) as s:
                if (verdict := _seen(s, key, nonce)) is not None:
                    return verdict
                s.execute(delete(WeChatNonceRow).where(WeChatNonceRow.seen_at < now - self.nonce_window))
                s.add(WeChatNonceRow(key=nonce, message_key=key, seen_at=now))
                s.add(WeChatInboxRow(key=key, openid=openid, received_at=now))
                s.flush()
                user = s.execute(select(WeChatUserRow).where(WeChatUserRow.openid == openid).with_for_update()).scalar_one_or_none()
                if user is None:
                    s.add(WeChatUserRow(openid=openid, last_message_at=now, replies_since=0))
                else:
                    user.last_message_at, user.replies_since = now, 0
            return Delivery.FIRST
        except IntegrityError:  # another worker took this push or this nonce at the same moment
            with self._db.session() as s:
                return _seen(s, key, nonce) or Delivery.RETRY

    def take_reply(self, openid: str, now: datetime) -> bool:
        """One message of the citizen's allowance, if any is left (5 within 48 h of their last message)."""
        with self._db.session(write=True) as s:
            user = s.execute(select(WeChatUserRow).where(WeChatUserRow.openid == openid).with_for_update()).scalar_one_or_none()
            if user is None or not self.window.may_reply(user.last_message_at, user.replies_since, now):
                return False
            user.replies_since += 1
            return True

    def may_reply(self, openid: str, now: datetime) -> bool:
        """Whether the citizen's allowance has a message left now (without taking it)."""
        with self._db.session() as s:
            user = s.get(WeChatUserRow, openid)
            return user is not None and self.window.may_reply(user.last_message_at, user.replies_since, now)

    def exhaust(self, openid: str) -> None:
        """WeChat said the window is closed: believe it until the citizen writes again."""
        with self._db.session(write=True) as s:
            user = s.get(WeChatUserRow, openid)
            if user is not None:
                user.replies_since = self.window.max_replies


def _seen(s: Session, key: str, nonce: str) -> Delivery | None:
    """What an earlier push says of this one: its nonce used (by this message: a retry; by another: a replay),
    or its message taken already under another nonce (a retry); None when neither was seen."""
    used = s.get(WeChatNonceRow, nonce)
    if used is not None:
        return Delivery.RETRY if used.message_key == key else Delivery.REPLAY
    return Delivery.RETRY if s.get(WeChatInboxRow, key) is not None else None
