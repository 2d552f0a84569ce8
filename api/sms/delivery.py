"""A seat's reply told to the citizen by SMS: the desk's `ReplyDelivery` (desk/flows.py) for phone tickets, and for
chat tickets left with a mobile number.

An SMS is a template the provider has approved, so what it carries is the ticket's number and a short state (and the
seat's reply only when it is short: api/content/sms.yaml); the reply itself the citizen reads under 「我的工单」 with
their number, or hears when the seat calls back. Only mobile numbers (11 digits, 1[3-9]…) get one; a landline cannot.

Length: one SMS is 70 characters with the signature (longer ones go as 67-character parts, each billed), and the
provider refuses a template variable over 35 characters. So the shipped template is about 60 characters with its
variables filled, the seat's reply goes in (when the template has a {reply} variable) only up to `reply_max_chars`
(30), a longer one is replaced by a pointer to 「我的工单」, never cut, and a wording whose variables could outgrow 35
characters is refused when the service starts.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from desk.tickets import Ticket
from ground.privacy import mask

from .aliyun import AliyunSms, SmsError

log = logging.getLogger(__name__)

SHIPPED_WORDING = Path(__file__).resolve().parents[1] / "content" / "sms.yaml"
VARIABLE_LIMIT = 35  # characters in one template variable (the provider's default; isv.PARAM_LENGTH_LIMIT beyond)
_MOBILE = re.compile(r"1[3-9]\d{9}")
_FULL_WIDTH = str.maketrans("０１２３４５６７８９＋", "0123456789+")


class SmsWordingError(ValueError):
    """The SMS wording file cannot be used (checked when the service starts, not on a seat's reply)."""


def mobile_number(number: str | None) -> str | None:
    """`number` as the 11 digits of a mainland mobile number, or None (a landline, an openid, nothing).
    A caller ID may come as +86…, 0086…, 86… or with a trunk 0 before the mobile number (dialled from another city)."""
    if not number:
        return None
    digits = re.sub(r"[\s\-()（）]", "", number.translate(_FULL_WIDTH)).removeprefix("+")
    for prefix in ("0086", "86", "0"):
        if len(digits) == 11 + len(prefix) and digits.startswith(prefix):
            digits = digits[len(prefix):]
            break
    return digits if _MOBILE.fullmatch(digits) else None


def ticket_mobile(ticket: Ticket) -> str | None:
    """The mobile number a ticket's citizen can be texted on: the number they called from or gave in the chat,
    else the contact they gave while their 诉求 was taken down."""
    for number in (ticket.caller, (ticket.details or {}).get("contact")):
        if (mobile := mobile_number(number)) is not None:
            return mobile
    return None


@dataclass(frozen=True)
class SmsWording:
    """What the template's variables carry (a file like api/content/sms.yaml)."""

    variables: Mapping[str, str]  # variable -> its value, with {number}, {state}, {reply}
    states: Mapping[str, str]  # a ticket status -> its words
    reply_max_chars: int
    long_reply: str

    @classmethod
    def load(cls, path: Path = SHIPPED_WORDING) -> "SmsWording":
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8"))
            wording = cls(dict(content["variables"]), dict(content["states"]), int(content["reply_max_chars"]),
                          str(content["long_reply"]))
            wording._check()
        except (OSError, UnicodeDecodeError, yaml.YAMLError, TypeError, KeyError, IndexError, ValueError,
                AttributeError) as error:
            raise SmsWordingError(f"{path}: needs variables ({{number}}, {{state}}, {{reply}} in their values), states, "
                                  f"reply_max_chars and long_reply, each variable at most {VARIABLE_LIMIT} characters "
                                  f"({error!r})") from error
        return wording

    def _check(self) -> None:
        """Every variable fits the provider's limit with the longest words it can carry (an unknown {placeholder}
        fails here too)."""
        longest = {"number": "0" * 14, "state": max(self.states.values(), key=len, default=""),
                   "reply": max("字" * self.reply_max_chars, self.long_reply, key=len)}
        for name, value in self.variables.items():
            if len(value.format(**longest)) > VARIABLE_LIMIT:
                raise ValueError(f"the variable {name} can be longer than {VARIABLE_LIMIT} characters")

    def fill(self, ticket: Ticket) -> dict[str, str]:
        """The template's variables for `ticket` (its state now, and its reply if short enough)."""
        reply = (ticket.reply or "").strip()
        words = {"number": ticket.number, "state": self.states.get(ticket.status.value, ""),
                 "reply": reply if len(reply) <= self.reply_max_chars else self.long_reply}
        return {name: value.format(**words) for name, value in self.variables.items()}


class SmsReplyDelivery:
    """Texts the citizen of a ticket of `channel` that their ticket has a reply."""

    via = "sms"  # what carries the reply (desk/flows.py `Replied.delivered`)

    def __init__(self, gateway: AliyunSms, template_code: str, wording: SmsWording, channel: str) -> None:
        self.channel = channel  # the tickets it serves: "voice", or "chat"
        self._gateway = gateway
        self._template_code = template_code
        self._wording = wording

    async def deliver(self, ticket: Ticket, text: str) -> bool:
        """False without a mobile number, or when the gateway refuses or cannot be reached (the seat calls back).
        `text` (the seat's reply in the replies' wording) is not sent: an SMS is the provider's approved template."""
        mobile = ticket_mobile(ticket)
        if mobile is None:
            return False
        try:
            receipt = await self._gateway.send(mobile, self._template_code, self._wording.fill(ticket))
        except SmsError as error:
            log.warning("no SMS for ticket %s to %s: %s", ticket.number, mask(mobile), mask(str(error)))
            return False
        log.info("SMS for ticket %s sent to %s (receipt %s)", ticket.number, mask(mobile), receipt)
        return True
