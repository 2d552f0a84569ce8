"""A seat's reply to a WeChat ticket, sent to the citizen through the customer-service API, or, once their
48-hour window has closed, the ticket's state as a subscription message (api/wechat/subscription.py): the desk's
`ReplyDelivery` (desk/flows.py) for the WeChat channel."""
from __future__ import annotations

from assistant.turn import Channel
from desk.tickets import Ticket

from .channel import WeChatChannel
from .subscription import TicketSubscription


class WeChatReplyDelivery:
    channel = Channel.WECHAT.value  # the tickets it serves: those opened in WeChat

    def __init__(self, wechat: WeChatChannel, subscription: TicketSubscription | None = None) -> None:
        """`subscription`: the message that tells the ticket's state once the window has closed (none: nothing then)."""
        self._wechat = wechat
        self._subscription = subscription

    async def deliver(self, ticket: Ticket, text: str) -> bool:
        """False without the citizen's openid (the ticket's caller), or when neither the reply (window closed)
        nor the subscription message (none configured, or no consent to it) reaches them."""
        if not ticket.caller:
            return False
        if await self._wechat.send(ticket.caller, text):
            return True
        if self._subscription is None:
            return False
        page, data = self._subscription.message(ticket)
        return await self._wechat.notify(ticket.caller, self._subscription.template_id, page, data)
