"""WeChat mini-program customer-service messages (客服消息): signatures, encryption, parsing, sending; and the
subscription message (订阅消息) that tells a ticket's state once the customer-service window has closed.

No routes and no storage here: the HTTP route verifies the signature, decrypts and parses the push,
and the service replies asynchronously through :class:`CustomerServiceClient`.
"""
from .client import (
    WECHAT_API_BASE,
    CustomerServiceClient,
    NotSubscribed,
    ReplyLimitReached,
    ReplyWindowClosed,
    WeChatApiError,
    WeChatUnavailable,
)
from .crypto import WeChatCrypto, WeChatCryptoError
from .messages import (
    InboundMessage,
    WeChatMessageError,
    detect_format,
    mask_openid,
    parse_envelope,
    parse_message,
)
from .signature import message_signature, timestamp_fresh, url_signature, verify
from .subscription import SubscriptionWordingError, TicketSubscription
from .window import ReplyWindow

__all__ = [
    "WECHAT_API_BASE",
    "CustomerServiceClient",
    "InboundMessage",
    "NotSubscribed",
    "ReplyLimitReached",
    "ReplyWindow",
    "ReplyWindowClosed",
    "SubscriptionWordingError",
    "TicketSubscription",
    "WeChatApiError",
    "WeChatCrypto",
    "WeChatCryptoError",
    "WeChatMessageError",
    "WeChatUnavailable",
    "detect_format",
    "mask_openid",
    "message_signature",
    "parse_envelope",
    "parse_message",
    "timestamp_fresh",
    "url_signature",
    "verify",
]
