"""What the WeChat channel must remember across workers: which pushes it has taken (WeChat retries a
push three times when it gets no answer in 5 seconds) and each citizen's reply window."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.database import Database
from storage.tables import WeChatInboxRow, WeChatUserRow

from .window import ReplyWindow


class WeChatLedger:
    def __init__(self, db: Database, window: ReplyWindow | None = None):
        self._db = db
        self.window = window or ReplyWindow()

    def first_delivery(self, key: str, openid: str, now: datetime) -> bool:
        """Records the push; False when it was already taken (a retry), so it is handled once only.
        A new message from the citizen also reopens their reply window."""
        try:
            with self._db.session(write=True) as s:
                s.add(WeChatInboxRow(key=key, openid=openid, received_at=now))
                s.flush()
                user = s.execute(select(WeChatUserRow).where(WeChatUserRow.openid == openid).with_for_update()).scalar_one_or_none()
                if user is None:
                    s.add(WeChatUserRow(openid=openid, last_message_at=now, replies_since=0))
                else:
                    user.last_message_at, user.replies_since = now, 0
            return True
        except IntegrityError:
            return False

    def take_reply(self, openid: str, now: datetime) -> bool:
        """One message of the citizen's allowance, if any is left (5 within 48 h of their last message)."""
        with self._db.session(write=True) as s:
            user = s.execute(select(WeChatUserRow).where(WeChatUserRow.openid == openid).with_for_update()).scalar_one_or_none()
            if user is None or not self.window.may_reply(user.last_message_at, user.replies_since, now):
                return False
            user.replies_since += 1
            return True

    def exhaust(self, openid: str) -> None:
        """WeChat said the window is closed: believe it until the citizen writes again."""
        with self._db.session(write=True) as s:
            user = s.get(WeChatUserRow, openid)
            if user is not None:
                user.replies_since = self.window.max_replies
