"""The desk's workflows that reach past the database: a seat's reply, recorded on its ticket and sent on to the
citizen where the ticket's channel can carry it (WeChat; an SMS to a phone citizen's mobile); a chat citizen also reads
it under 「我的工单」 on the chat page (api/routes/my_tickets.py); when nothing carries it, the seat calls back.

A way to carry a reply is a `ReplyDelivery` (WeChat's: api/wechat/delivery.py; SMS: api/sms/delivery.py; wired in
frontdoor/components.py). A channel may have several, tried in order until one delivers. What the citizen reads in
WeChat is content: desk/content/replies.yaml.
"""
from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from desk.tickets import Ticket, TicketDesk

SHIPPED_WORDING = Path(__file__).resolve().parent / "content" / "replies.yaml"


class ReplyDelivery(Protocol):
    """Sends a seat's reply to the citizen of a ticket, on one channel."""

    channel: str  # the channel of the tickets it serves ("wechat", "voice")
    # Optional: `via`, what carries the reply ("sms") where that is not the tickets' own channel.

    async def deliver(self, ticket: Ticket, text: str) -> bool:
        """True when `text` was sent to the citizen; False when they cannot be reached this way now."""
        ...


class WordingError(ValueError):
    """The replies' wording file cannot be used (checked when the service starts, not on a seat's reply)."""


@dataclass(frozen=True)
class Deliveries:
    """The channels on which a seat's reply reaches the citizen, and the wording it reaches them in."""

    channels: Mapping[str, tuple[ReplyDelivery, ...]]  # by the tickets' channel, in the order they are tried
    seat_reply: str  # the wording: {number} is the ticket's number, {text} the seat's reply

    @classmethod
    def load(cls, *deliveries: ReplyDelivery, wording: Path = SHIPPED_WORDING) -> "Deliveries":
        """`deliveries` (those of one channel tried in the order given) with the wording of the file `wording`
        (a file like desk/content/replies.yaml)."""
        try:
            content = yaml.safe_load(wording.read_text(encoding="utf-8"))
            seat_reply = content["seat_reply"]
            seat_reply.format(number="", text="")  # an unknown {placeholder} fails here, not on a seat's reply
        except (OSError, UnicodeDecodeError, yaml.YAMLError, TypeError, KeyError, IndexError, ValueError,
                AttributeError) as error:
            raise WordingError(f"{wording}: needs seat_reply, a text with {{number}} and {{text}} ({error!r})") from error
        channels: dict[str, tuple[ReplyDelivery, ...]] = {}
        for delivery in deliveries:
            channels[delivery.channel] = (*channels.get(delivery.channel, ()), delivery)
        return cls(channels, seat_reply)


@dataclass(frozen=True)
class Replied:
    ticket: Ticket
    delivered: str | None  # what carried the reply to the citizen ("wechat", "sms"); None: the seat calls back
    merged: dict[str, str | None] = field(default_factory=dict)  # each ticket merged under it → what carried it


async def reply_to_citizen(desk: TicketDesk, deliveries: Deliveries, number: str, seat: str, text: str,
                           city: str | None = None) -> Replied:
    """Records `seat`'s reply on ticket `number` (only the seat that claimed it may reply; `city`: the city of its
    seat, 多援一), then sends it to the citizen by the first of the ticket's channel's deliveries that can carry it
    now — and to the citizen of each ticket merged under it (one matter, many callers), each under their own number."""
    ticket = await asyncio.to_thread(lambda: desk.reply(number, seat, text, city=city))
    merged = await asyncio.to_thread(desk.merged_under, ticket.number)
    return Replied(ticket, await _deliver(deliveries, ticket, text),
                   {child.number: await _deliver(deliveries, child, text) for child in merged})


async def _deliver(deliveries: Deliveries, ticket: Ticket, text: str) -> str | None:
    """What carried `text` to `ticket`'s citizen, in the replies' wording; None when nothing could now."""
    worded = deliveries.seat_reply.format(number=ticket.number, text=text)
    for delivery in deliveries.channels.get(ticket.channel, ()):
        if await delivery.deliver(ticket, worded):
            return getattr(delivery, "via", delivery.channel)
    return None
