"""Messages WeChat pushes to a mini-program's message URL (小程序客服消息 / 消息推送).

WeChat POSTs each customer-service message or event as XML or JSON (chosen in the mini-program's
"消息推送" settings). In plaintext mode the body is the message itself; in secure mode it is an
envelope ``{ToUserName, Encrypt}`` whose ``Encrypt`` decrypts (see :mod:`.crypto`) to the message
in the same format. WeChat retries a push up to three times if we do not answer within 5 s, so
deduplicate: by ``MsgId``, or for events (which have none) by ``FromUserName`` + ``CreateTime``.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Literal

Format = Literal["xml", "json"]

_FORBIDDEN_XML = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class WeChatMessageError(ValueError):
    """A pushed body that is not a well-formed WeChat message."""


def mask_openid(openid: str | None) -> str:
    """An openid shortened for logs (first 4 + "…" + last 4); never log the full openid."""
    if not openid:
        return "-"
    if len(openid) <= 10:
        return openid[:2] + "…"
    return f"{openid[:4]}…{openid[-4:]}"


@dataclass(frozen=True)
class InboundMessage:
    """One customer-service message or event, with WeChat's field names in snake case."""

    to_user: str  # ToUserName: the mini-program's original id (gh_…)
    from_user: str  # FromUserName: the citizen's openid
    create_time: int  # CreateTime: Unix seconds
    msg_type: str  # MsgType: text, image, miniprogrampage, event, …
    content: str | None = None  # Content (text)
    msg_id: str | None = None  # MsgId (64-bit integer, kept as text); events have none
    event: str | None = None  # Event, e.g. user_enter_tempsession
    session_from: str | None = None  # SessionFrom: the button's session-from attribute
    pic_url: str | None = None  # PicUrl (image)
    media_id: str | None = None  # MediaId (image)
    title: str | None = None  # Title (miniprogrampage)
    app_id: str | None = None  # AppId (miniprogrampage)
    page_path: str | None = None  # PagePath (miniprogrampage)
    thumb_url: str | None = None  # ThumbUrl (miniprogrampage)
    thumb_media_id: str | None = None  # ThumbMediaId (miniprogrampage)

    @property
    def dedup_key(self) -> str:
        """MsgId when there is one, else ``from_user:create_time:event-or-type`` (WeChat's advice for events)."""
        if self.msg_id:
            return self.msg_id
        return f"{self.from_user}:{self.create_time}:{self.event or self.msg_type}"

    def __repr__(self) -> str:  # keep the openid out of logs and tracebacks
        return (
            f"InboundMessage(msg_type={self.msg_type!r}, from_user={mask_openid(self.from_user)!r}, "
            f"create_time={self.create_time}, msg_id={self.msg_id!r}, event={self.event!r})"
        )


_OPTIONAL = {
    "Content": "content",
    "MsgId": "msg_id",
    "Event": "event",
    "SessionFrom": "session_from",
    "PicUrl": "pic_url",
    "MediaId": "media_id",
    "Title": "title",
    "AppId": "app_id",
    "PagePath": "page_path",
    "ThumbUrl": "thumb_url",
    "ThumbMediaId": "thumb_media_id",
}
# Fields whose surrounding whitespace is never meaningful (user text in Content is kept as is).
_KEEP_WHITESPACE = {"Content", "Title", "SessionFrom"}


def detect_format(content_type: str | None, body: bytes) -> Format:
    """"json" or "xml": by the Content-Type header, else by the body's first non-space byte."""
    ct = (content_type or "").lower()
    if "json" in ct:
        return "json"
    if "xml" in ct:
        return "xml"
    head = body.lstrip(b"\xef\xbb\xbf").lstrip()[:1]
    if head == b"{":
        return "json"
    if head == b"<":
        return "xml"
    raise WeChatMessageError("cannot tell whether the body is XML or JSON")


def _text(body: bytes) -> str:
    if not isinstance(body, (bytes, bytearray)):
        raise WeChatMessageError("body must be bytes")
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WeChatMessageError(f"body is not valid UTF-8 (byte {exc.start})") from None


def _fields_xml(body: bytes) -> dict[str, Any]:
    text = _text(body)
    if _FORBIDDEN_XML.search(body):
        raise WeChatMessageError("XML with DOCTYPE or ENTITY declarations is refused")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise WeChatMessageError(f"body is not well-formed XML: {exc}") from None
    fields: dict[str, Any] = {}
    for child in root:
        if len(child) == 0:  # nested elements (e.g. a video's <Video>) are not fields we read
            fields.setdefault(child.tag, child.text or "")
    return fields


def _fields_json(body: bytes) -> dict[str, Any]:
    text = _text(body)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise WeChatMessageError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WeChatMessageError("JSON body must be an object")
    return data


def _fields(body: bytes, fmt: Format) -> dict[str, Any]:
    if fmt == "xml":
        return _fields_xml(body)
    if fmt == "json":
        return _fields_json(body)
    raise WeChatMessageError(f"unknown format {fmt!r} (expected 'xml' or 'json')")


def _str(fields: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        if required:
            raise WeChatMessageError(f"missing required field {name}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise WeChatMessageError(f"field {name} must be a string")
    value = str(value)
    return value if name in _KEEP_WHITESPACE else value.strip()


def parse_message(body: bytes, fmt: Format) -> InboundMessage:
    """The plaintext message in ``body`` (a plaintext-mode push, or a decrypted ``Encrypt``)."""
    fields = _fields(body, fmt)
    to_user = _str(fields, "ToUserName", required=True)
    from_user = _str(fields, "FromUserName", required=True)
    raw_time = _str(fields, "CreateTime", required=True)
    if not raw_time.isdigit():  # type: ignore[union-attr]
        raise WeChatMessageError("field CreateTime must be an integer")
    msg_type = _str(fields, "MsgType", required=True)
    optional = {attr: _str(fields, name, required=False) for name, attr in _OPTIONAL.items()}
    if msg_type == "text" and optional["content"] is None:
        raise WeChatMessageError("missing required field Content")
    if msg_type == "event" and optional["event"] is None:
        raise WeChatMessageError("missing required field Event")
    return InboundMessage(
        to_user=to_user,  # type: ignore[arg-type]
        from_user=from_user,  # type: ignore[arg-type]
        create_time=int(raw_time),  # type: ignore[arg-type]
        msg_type=msg_type,  # type: ignore[arg-type]
        **optional,
    )


def parse_envelope(body: bytes, fmt: Format) -> tuple[str | None, str]:
    """``(ToUserName or None, Encrypt)`` from a secure-mode push."""
    fields = _fields(body, fmt)
    encrypt = _str(fields, "Encrypt", required=True)
    return _str(fields, "ToUserName", required=False), encrypt  # type: ignore[return-value]
