"""WeChat mini-program customer-service messages (客服消息): signatures, encryption, parsing, sending.

No routes and no storage here: the HTTP route verifies the signature, decrypts and parses the push,
and the service replies asynchronously through :class:`CustomerServiceClient`.
"""
from .client import (
    WECHAT_API_BASE,
    CustomerServiceClient,
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
from .window import ReplyWindow

__all__ = [
    "WECHAT_API_BASE",
    "CustomerServiceClient",
    "InboundMessage",
    "ReplyLimitReached",
    "ReplyWindow",
    "ReplyWindowClosed",
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
