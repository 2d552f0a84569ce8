"""When to answer, clarify or hand off, per channel.

"Answered automatically" must mean "right at least P of the time": the answer threshold for a
channel is read from the index's held-out calibration at that channel's precision P. A wrong spoken
answer costs a whole call, so voice asks for more than chat.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from assistant.turn import Channel


@dataclass(frozen=True)
class Policy:
    precision: dict[Channel, float] = field(default_factory=lambda: {Channel.CHAT: 0.95, Channel.WECHAT: 0.95, Channel.VOICE: 0.98})
    # Clarify (offer choices) when the top entry is right at least this often but not often enough to answer.
    clarify_precision: float = 0.5
    # Entries offered together must score within this much of the best one.
    clarify_margin: float = 0.04
    max_choices: int = 3
    # This many unsatisfied turns ("不是这个", "还是不明白", rejected choices) hand the conversation off.
    unsatisfied_limit: int = 2

    def answer_precision(self, channel: Channel) -> float:
        return self.precision.get(channel, max(self.precision.values()))
