"""A ticket's state as a WeChat subscription message (订阅消息): the message a citizen can still get once the
customer-service window has closed, with the consent they gave to the template in the mini-program
(wx.requestSubscribeMessage). Its template id is a setting; the keywords it fills and their words are content
(api/content/wechat_subscription.yaml)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from desk.tickets import Ticket

SHIPPED_WORDING = Path(__file__).resolve().parents[1] / "content" / "wechat_subscription.yaml"
# The most characters WeChat takes in a keyword's value, by the keyword's type (the name without its position).
VALUE_LIMITS = {"thing": 20, "character_string": 32, "phrase": 5, "name": 10, "number": 32, "letter": 32}
SAMPLE_NUMBER = "20260725000001"  # a ticket number as the desk writes them: Beijing date and a sequence


class SubscriptionWordingError(ValueError):
    """The subscription message's wording cannot be used (checked when the service starts)."""


def keyword_type(name: str) -> str:
    """`thing3` -> `thing`; `character_string12` -> `character_string`."""
    return name.rstrip("0123456789")


@dataclass(frozen=True)
class TicketSubscription:
    template_id: str
    page: str  # with {number}
    data: Mapping[str, str]  # keyword -> its value, with {number} and {state}
    states: Mapping[str, str]  # a ticket status -> its words

    @classmethod
    def load(cls, template_id: str, path: Path = SHIPPED_WORDING) -> "TicketSubscription":
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8"))
            subscription = cls(template_id, str(content["page"]), dict(content["data"]), dict(content["states"]))
            subscription._check()
        except (OSError, UnicodeDecodeError, yaml.YAMLError, TypeError, KeyError, IndexError, ValueError,
                AttributeError) as error:
            raise SubscriptionWordingError(f"{path}: needs page, data (the template's keywords, with {{number}} and "
                                           f"{{state}}) and states, each value within its keyword's limit ({error!r})") from error
        return subscription

    def _check(self) -> None:
        """Every keyword's value fits WeChat's limit for its type with the longest state (an unknown {placeholder}
        fails here too), so that a seat's reply never meets WeChat's 47003 (argument invalid)."""
        self.page.format(number=SAMPLE_NUMBER)
        longest = max(self.states.values(), key=len, default="")
        for name, value in self.data.items():
            limit = VALUE_LIMITS.get(keyword_type(name))
            if limit is not None and len(value.format(number=SAMPLE_NUMBER, state=longest)) > limit:
                raise ValueError(f"the value of {name} can be longer than the {limit} characters WeChat takes")

    def message(self, ticket: Ticket) -> tuple[str, dict[str, str]]:
        """(page, keyword values) telling the state of `ticket`."""
        words = {"number": ticket.number, "state": self.states.get(ticket.status.value, "")}
        return self.page.format(**words), {name: value.format(**words) for name, value in self.data.items()}
