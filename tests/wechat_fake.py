"""A fake WeChat server API for tests, plus builders of what WeChat pushes to our message URL.

``FakeWeChat`` runs a real HTTP server (Starlette under uvicorn, in a background thread, on a free
local port) that speaks the parts of WeChat's protocol we use:

* ``GET /cgi-bin/token``: checks grant_type/appid/secret (40002/40013/40125) and issues tokens;
* ``POST /cgi-bin/message/custom/send``: checks the token (41001 missing, 40001 invalid, 42001
  expired) and the JSON body, and enforces the reply window itself: 45015 if the user never wrote
  or wrote more than 48 h ago, 45047 after 5 replies to one user message;
* ``POST /cgi-bin/message/subscribe/send`` (subscribeMessage.send): checks the token and the body
  ({touser, template_id, page, data: {keyword: {value}}}), the template (40037 unknown; 47003 when the
  keywords are not the template's or a value is too long for its type) and the user's consent: one message
  per consent given in the mini-program (``fake.subscribe(openid, template_id)``), 43101 without one.

    with FakeWeChat() as fake:
        fake.user_message("o-citizen")              # the citizen wrote to us just now
        client = CustomerServiceClient(fake.base_url, fake.appid, fake.secret, http, backoff=0)
        ...
        assert fake.sent == [("o-citizen", "您好")]

        fake.add_template("tmpl-ticket", ["character_string1", "phrase2"])
        fake.subscribe("o-citizen", "tmpl-ticket")  # the citizen tapped 「允许」 once
        …
        assert fake.subscriptions_sent == [("o-citizen", "tmpl-ticket", "pages/…", {"character_string1": …})]

``fake.expire_tokens()`` makes every issued token answer 42001; ``fake.fail_next(errcode)`` makes
the next send answer that errcode once; ``fake.fail_next_http(503)`` makes it answer that status.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from datetime import datetime
from typing import Any, Callable, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from local_server import LocalServer

from api.wechat.crypto import WeChatCrypto
from api.wechat.signature import message_signature, url_signature

MINIPROGRAM_ID = "gh_fake00000001"  # the mini-program's original id, ToUserName in pushes
# The most characters WeChat takes in a subscription keyword's value, by the keyword's type (subscribeMessage.send).
KEYWORD_LIMITS = {"thing": 20, "character_string": 32, "phrase": 5, "name": 10, "number": 32, "letter": 32}


def _err(errcode: int, errmsg: str) -> JSONResponse:
    # WeChat answers errors with HTTP 200 and an errcode; errmsg carries a request id.
    return JSONResponse({"errcode": errcode, "errmsg": f"{errmsg} rid: {secrets.token_hex(6)}"})


class FakeWeChat:
    """The fake API server; use as a context manager. State is safe to read from the test thread."""

    def __init__(
        self,
        appid: str = "wxfake0000000001",
        secret: str = "fake-app-secret",
        *,
        token_ttl: int = 7200,
        max_replies: int = 5,
        window_hours: float = 48,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.appid, self.secret, self.token_ttl = appid, secret, token_ttl
        self.max_replies, self.window_hours, self.clock = max_replies, window_hours, clock
        self.base_url = ""
        self.sent: list[tuple[str, str]] = []  # (openid, content) of accepted text messages
        self.raw_sends: list[bytes] = []  # bodies of every send request, as received
        # (openid, template_id, page, {keyword: value}) of accepted subscription messages
        self.subscriptions_sent: list[tuple[str, str, str, dict[str, str]]] = []
        self._templates: dict[str, tuple[str, ...]] = {}  # template_id -> its keywords
        self._consents: dict[tuple[str, str], int] = {}  # (openid, template_id) -> messages the user allowed
        self.token_requests = 0
        self.send_attempts = 0
        self._valid_tokens: set[str] = set()
        self._expired_tokens: set[str] = set()
        self._users: dict[str, list[float | int]] = {}  # openid -> [last message at, replies since]
        self._failures: deque[tuple[str, int]] = deque()
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/cgi-bin/token", self._token, methods=["GET"]),
                Route("/cgi-bin/message/custom/send", self._send, methods=["POST"]),
                Route("/cgi-bin/message/subscribe/send", self._subscribe_send, methods=["POST"]),
            ]
        )

    # --- controls for tests -------------------------------------------------------------------
    def user_message(self, openid: str, at: float | datetime | None = None) -> None:
        """Record that ``openid`` wrote to us (now, or at a Unix time / datetime): opens a fresh window."""
        when = self.clock() if at is None else at.timestamp() if isinstance(at, datetime) else float(at)
        with self._lock:
            self._users[openid] = [when, 0]

    def add_template(self, template_id: str, keywords: list[str]) -> None:
        """A subscription-message template chosen in the mini-program's console, with its keywords."""
        with self._lock:
            self._templates[template_id] = tuple(keywords)

    def subscribe(self, openid: str, template_id: str, times: int = 1) -> None:
        """``openid`` allowed ``times`` messages of ``template_id`` (wx.requestSubscribeMessage, 「允许」)."""
        with self._lock:
            self._consents[(openid, template_id)] = self._consents.get((openid, template_id), 0) + times

    def expire_tokens(self) -> None:
        """Every token issued so far now answers 42001 (access_token expired)."""
        with self._lock:
            self._expired_tokens |= self._valid_tokens
            self._valid_tokens.clear()

    def fail_next(self, errcode: int) -> None:
        """The next send request answers ``errcode`` (queued: call twice to fail two sends)."""
        with self._lock:
            self._failures.append(("errcode", errcode))

    def fail_next_http(self, status: int = 503) -> None:
        """The next send request answers a bare HTTP ``status``."""
        with self._lock:
            self._failures.append(("http", status))

    # --- the API -------------------------------------------------------------------------------
    async def _token(self, request: Request) -> Response:
        q = request.query_params
        with self._lock:
            self.token_requests += 1
            if q.get("grant_type") != "client_credential":
                return _err(40002, "invalid grant_type")
            if q.get("appid") != self.appid:
                return _err(40013, "invalid appid")
            if q.get("secret") != self.secret:
                return _err(40125, "invalid appsecret")
            token = f"fake-token-{self.token_requests}-{secrets.token_urlsafe(24)}"
            self._valid_tokens.add(token)
        return JSONResponse({"access_token": token, "expires_in": self.token_ttl})

    def _refusal(self, request: Request, body: bytes) -> Response | None:
        """What a send request is answered before its body is read: an injected failure or a bad token (lock held)."""
        self.send_attempts += 1
        self.raw_sends.append(body)
        if self._failures:
            kind, code = self._failures.popleft()
            if kind == "http":
                return Response("fake upstream failure", status_code=code)
            return _err(code, "injected failure")
        token = request.query_params.get("access_token")
        if not token:
            return _err(41001, "access_token missing")
        if token in self._expired_tokens:
            return _err(42001, "access_token expired")
        if token not in self._valid_tokens:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        return None

    async def _send(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            if (refusal := self._refusal(request, body)) is not None:
                return refusal
            try:
                data: Any = json.loads(body.decode("utf-8"))
                openid, msgtype = data["touser"], data["msgtype"]
                content = data["text"]["content"] if msgtype == "text" else None
            except (UnicodeDecodeError, ValueError, KeyError, TypeError):
                return _err(47001, "data format error")
            if not isinstance(openid, str) or not openid:
                return _err(40003, "invalid openid")
            if msgtype != "text" or not isinstance(content, str):
                return _err(40008, "invalid message type")
            user = self._users.get(openid)
            if user is None or self.clock() - user[0] >= self.window_hours * 3600:
                return _err(45015, "response out of time limit or subscription is canceled")
            if user[1] >= self.max_replies:
                return _err(45047, "out of response count limit")
            user[1] += 1
            self.sent.append((openid, content))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def _subscribe_send(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            if (refusal := self._refusal(request, body)) is not None:
                return refusal
            try:
                data: Any = json.loads(body.decode("utf-8"))
                openid, template_id, page = data["touser"], data["template_id"], data.get("page", "")
                values = {name: item["value"] for name, item in data["data"].items()}
            except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
                return _err(47001, "data format error")
            if not isinstance(openid, str) or not openid:
                return _err(40003, "invalid openid")
            keywords = self._templates.get(template_id)
            if keywords is None:
                return _err(40037, "invalid template_id")
            if set(values) != set(keywords) or not all(isinstance(v, str) for v in values.values()):
                return _err(47003, f"argument invalid! data keywords must be {sorted(keywords)}")
            for name, value in values.items():
                limit = KEYWORD_LIMITS.get(name.rstrip("0123456789"))
                if limit is not None and len(value) > limit:
                    return _err(47003, f"argument invalid! data.{name}.value too long")
            if self._consents.get((openid, template_id), 0) <= 0:
                return _err(43101, "user refuse to accept the msg")
            self._consents[(openid, template_id)] -= 1
            self.subscriptions_sent.append((openid, template_id, page, values))
        return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": secrets.randbits(60)})

    # --- running -------------------------------------------------------------------------------
    def __enter__(self) -> "FakeWeChat":
        self._local = LocalServer(self.app, "fake WeChat server")
        self.base_url = self._local.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._local.stop()


# --- what WeChat pushes to our message URL ----------------------------------------------------
def signed_query(
    token: str, timestamp: str | None = None, nonce: str | None = None, echostr: str | None = None
) -> dict[str, str]:
    """Query parameters of a plaintext-mode push (or, with ``echostr``, of the URL-verification GET)."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**10))
    query = {"signature": url_signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    if echostr is not None:
        query["echostr"] = echostr
    return query


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(fields: dict[str, Any]) -> bytes:
    """``<xml>`` with one child per field: strings as CDATA, integers as text, as WeChat writes them."""
    parts = [f"<{k}>{v}</{k}>" if isinstance(v, int) else f"<{k}>{_cdata(str(v))}</{k}>" for k, v in fields.items()]
    return ("<xml>" + "".join(parts) + "</xml>").encode("utf-8")


def message_json(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode("utf-8")


def _text_fields(from_user: str, content: str, to_user: str, create_time: int | None, msg_id: int | None) -> dict:
    return {
        "ToUserName": to_user,
        "FromUserName": from_user,
        "CreateTime": int(time.time()) if create_time is None else create_time,
        "MsgType": "text",
        "Content": content,
        "MsgId": secrets.randbits(63) if msg_id is None else msg_id,
    }


def text_message_xml(
    from_user: str, content: str, *, to_user: str = MINIPROGRAM_ID, create_time: int | None = None, msg_id: int | None = None
) -> bytes:
    """A text message as WeChat pushes it in XML."""
    return message_xml(_text_fields(from_user, content, to_user, create_time, msg_id))


def text_message_json(
    from_user: str, content: str, *, to_user: str = MINIPROGRAM_ID, create_time: int | None = None, msg_id: int | None = None
) -> bytes:
    """A text message as WeChat pushes it in JSON (MsgId is a JSON number)."""
    return message_json(_text_fields(from_user, content, to_user, create_time, msg_id))


def _event_fields(from_user: str, event: str, session_from: str | None, to_user: str, create_time: int | None) -> dict:
    fields: dict[str, Any] = {
        "ToUserName": to_user,
        "FromUserName": from_user,
        "CreateTime": int(time.time()) if create_time is None else create_time,
        "MsgType": "event",
        "Event": event,
    }
    if session_from is not None:
        fields["SessionFrom"] = session_from
    return fields


def event_message_xml(
    from_user: str, event: str = "user_enter_tempsession", session_from: str | None = None,
    *, to_user: str = MINIPROGRAM_ID, create_time: int | None = None,
) -> bytes:
    """An event (default: the user entered the customer-service session) in XML."""
    return message_xml(_event_fields(from_user, event, session_from, to_user, create_time))


def event_message_json(
    from_user: str, event: str = "user_enter_tempsession", session_from: str | None = None,
    *, to_user: str = MINIPROGRAM_ID, create_time: int | None = None,
) -> bytes:
    """An event (default: the user entered the customer-service session) in JSON."""
    return message_json(_event_fields(from_user, event, session_from, to_user, create_time))


def secure_envelope(
    crypto: WeChatCrypto,
    token: str,
    plaintext_body: bytes,
    fmt: Literal["xml", "json"],
    *,
    to_user: str = MINIPROGRAM_ID,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """(query params, body) of a secure-mode push of ``plaintext_body``: signature, timestamp, nonce,
    encrypt_type=aes and msg_signature, and a body ``{ToUserName, Encrypt}`` in ``fmt``."""
    encrypt = crypto.encrypt(plaintext_body)
    query = signed_query(token, timestamp, nonce)
    query["encrypt_type"] = "aes"
    query["msg_signature"] = message_signature(token, query["timestamp"], query["nonce"], encrypt)
    fields = {"ToUserName": to_user, "Encrypt": encrypt}
    return query, message_xml(fields) if fmt == "xml" else message_json(fields)
