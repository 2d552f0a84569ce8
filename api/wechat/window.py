"""The reply window of mini-program customer service (客服消息下发条件).

After a user sends a message, WeChat lets us send up to 5 messages within 48 hours; each new user
message resets both (the allowance does not add up). Past that, the send API answers 45015
(window closed) or 45047 (count used up). Timestamps passed here must be all aware or all naive.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ReplyWindow:
    max_replies: int = 5
    hours: float = 48

    def closes_at(self, last_user_message_at: datetime) -> datetime:
        """When the window opened by that user message closes."""
        return last_user_message_at + timedelta(hours=self.hours)

    def remaining(self, last_user_message_at: datetime | None, replies_since: int, now: datetime) -> int:
        """How many more messages we may send now (0 if the user never wrote or the window closed)."""
        if last_user_message_at is None or now >= self.closes_at(last_user_message_at):
            return 0
        return max(0, self.max_replies - replies_since)

    def may_reply(self, last_user_message_at: datetime | None, replies_since: int, now: datetime) -> bool:
        """Whether one more message may be sent now."""
        return self.remaining(last_user_message_at, replies_since, now) > 0
