"""The WeChat channel: a verified push in, "success" out at once, the decision sent back afterwards
through the customer-service API (WeChat waits only 5 seconds for the push's answer). Once the citizen's
48-hour window for those has closed, a ticket's state still reaches them as a subscription message."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from assistant.engine import Engine
from assistant.turn import Channel, Decision, Kind, Turn
from ground.clock import utcnow

from .client import CustomerServiceClient, NotSubscribed, ReplyLimitReached, ReplyWindowClosed, WeChatApiError
from .crypto import WeChatCrypto
from .ledger import Delivery, WeChatLedger
from .messages import InboundMessage, detect_format, mask_openid, parse_envelope, parse_message
from .signature import message_signature, timestamp_fresh, url_signature, verify

log = logging.getLogger(__name__)

GREETING = "您好，这里是12345热线智能客服。请直接输入您的问题，例如“黄码怎么转绿码”。需要人工请回复「人工」。"
NOT_TEXT = "目前只能识别文字消息，请用文字描述您的问题；需要人工请回复「人工」。"


class ForgedPush(Exception):
    """The signature does not match: not from WeChat (or not for our token)."""


class StalePush(ForgedPush):
    """Signed, but its timestamp is older (or further ahead) than the channel accepts: a replayed query."""


class ReplayedPush(ForgedPush):
    """Signed, but with a timestamp and nonce already seen on another message: a replayed query."""


@dataclass(frozen=True)
class PushQuery:
    signature: str | None
    timestamp: str | None
    nonce: str | None
    encrypt_type: str | None = None
    msg_signature: str | None = None


class WeChatChannel:
    def __init__(self, token: str, engine: Engine, ledger: WeChatLedger, client: CustomerServiceClient,
                 crypto: WeChatCrypto | None = None, region: str | None = None, *, max_age_seconds: float = 300,
                 clock: Callable[[], datetime] = utcnow):
        """`max_age_seconds`: how far a push's timestamp may be from now (WeChat sends it as it pushes)."""
        self._token = token
        self._max_age = max_age_seconds
        self._clock = clock
        self._engine = engine
        self._ledger = ledger
        self._client = client
        self._crypto = crypto
        self._region = region

    # ---- receiving --------------------------------------------------------------------------
    def verify_url(self, query: PushQuery, echostr: str | None) -> str:
        """The URL check WeChat makes when the push URL is configured: echo `echostr` if signed by our token."""
        if not verify(url_signature(self._token, query.timestamp or "", query.nonce or ""), query.signature) or echostr is None:
            raise ForgedPush("the signature does not match the configured token")
        self._check_fresh(query)
        return echostr

    def _check_fresh(self, query: PushQuery) -> None:
        if not timestamp_fresh(query.timestamp or "", self._clock().timestamp(), self._max_age):
            raise StalePush(f"the timestamp is more than {self._max_age:g} s from now: a replayed or delayed query")

    def read(self, query: PushQuery, body: bytes, content_type: str | None) -> InboundMessage:
        """The push, verified (and decrypted in secure mode). Raises ForgedPush before reading anything else."""
        if not verify(url_signature(self._token, query.timestamp or "", query.nonce or ""), query.signature):
            raise ForgedPush("the signature does not match the configured token")
        self._check_fresh(query)
        fmt = detect_format(content_type, body)
        if query.encrypt_type == "aes":
            if self._crypto is None:
                raise ForgedPush("a secure-mode push arrived but no EncodingAESKey is configured")
            _, encrypted = parse_envelope(body, fmt)
            expected = message_signature(self._token, query.timestamp or "", query.nonce or "", encrypted)
            if not verify(expected, query.msg_signature):
                raise ForgedPush("msg_signature does not match the encrypted message")
            return parse_message(self._crypto.decrypt(encrypted), fmt)
        return parse_message(body, fmt)

    def accept(self, query: PushQuery, message: InboundMessage) -> bool:
        """True the first time a push is seen; WeChat's retries of it are dropped (False). Raises ReplayedPush
        when the signed query was seen before with another message (in plaintext mode the body is not signed)."""
        delivery = self._ledger.deliver(message.dedup_key, message.from_user, f"{query.timestamp}:{query.nonce}", self._clock())
        if delivery is Delivery.REPLAY:
            raise ReplayedPush("this timestamp and nonce were already used by another message: a replayed query")
        return delivery is Delivery.FIRST

    # ---- replying (after the push has been answered) ----------------------------------------
    async def respond(self, message: InboundMessage) -> None:
        if message.msg_type == "text" and message.content and message.content.strip():
            turn = Turn(session=f"wx:{message.from_user}", channel=Channel.WECHAT, text=message.content,
                        region=self._region, caller=message.from_user)
            decision = await asyncio.to_thread(self._engine.handle, turn)
            text = _as_message(decision)
        elif message.msg_type == "event":
            text = GREETING if message.event == "user_enter_tempsession" else None
        else:
            text = NOT_TEXT
        if text:
            await self.send(message.from_user, text)

    async def send(self, openid: str, text: str) -> bool:
        """Sends if the citizen's reply window allows it; False (and logged) when it does not."""
        if not await asyncio.to_thread(self._ledger.take_reply, openid, utcnow()):
            log.warning("no reply sent to %s: their WeChat reply window is used up or closed", mask_openid(openid))
            return False
        try:
            await self._client.send_text(openid, text)
            return True
        except (ReplyWindowClosed, ReplyLimitReached) as error:
            await asyncio.to_thread(self._ledger.exhaust, openid)
            log.warning("WeChat refused a reply to %s: %s", mask_openid(openid), error)
        except WeChatApiError as error:
            log.error("sending a reply to %s failed: %s", mask_openid(openid), error)
        return False

    async def notify(self, openid: str, template_id: str, page: str, data: dict[str, str]) -> bool:
        """A subscription message (template `template_id`, keyword values `data`, opening `page`) in place of a
        customer-service message, when the citizen's reply window is closed or used up. False while it is open (a
        send that failed there failed for another reason), or when the citizen has not consented to the template
        (43101) or WeChat refuses."""
        if await asyncio.to_thread(self._ledger.may_reply, openid, utcnow()):
            return False
        try:
            await self._client.send_subscription(openid, template_id, page, data)
            return True
        except NotSubscribed as error:
            log.warning("no subscription message to %s: %s", mask_openid(openid), error)
        except WeChatApiError as error:
            log.error("sending a subscription message to %s failed: %s", mask_openid(openid), error)
        return False


def _as_message(decision: Decision) -> str:
    """WeChat text messages carry no buttons: choices are numbered and answered by number."""
    if decision.kind is Kind.ANSWER and decision.entry_question:
        return f"【{decision.entry_question}】\n{decision.text}"
    return decision.text
