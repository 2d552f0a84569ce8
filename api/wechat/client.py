"""Sending customer-service messages (客服消息) and subscription messages (订阅消息) through WeChat's server API.

* ``GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…`` gives
  ``{"access_token", "expires_in"}`` (7200 s); we cache it until 5 minutes before it expires.
* ``POST /cgi-bin/message/custom/send?access_token=…`` with
  ``{"touser", "msgtype": "text", "text": {"content"}}`` answers ``{"errcode": 0, "errmsg": "ok"}``.

* ``POST /cgi-bin/message/subscribe/send?access_token=…`` with ``{"touser", "template_id", "page",
  "data": {"thing1": {"value"}, "character_string2": {"value"}, …}}`` (subscribeMessage.send) answers the same way.

WeChat allows 5 customer-service messages within 48 h of the user's last message (45015 once the window is
closed, 45047 once the count is used up); a subscription message needs the user's consent to that template
(one message per consent) and answers 43101 without it; 40001/40014/42001 mean the token is invalid or
expired; -1 means "system busy, try again".
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable

import httpx

from .messages import mask_openid

log = logging.getLogger(__name__)

WECHAT_API_BASE = "https://api.weixin.qq.com"
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
SYSTEM_BUSY = -1
WINDOW_CLOSED = 45015
LIMIT_REACHED = 45047
NOT_SUBSCRIBED = 43101
TOKEN_MARGIN = 300.0  # refresh this many seconds before WeChat's expiry


class WeChatApiError(Exception):
    """WeChat answered a non-zero ``errcode`` (or could not be reached: see :class:`WeChatUnavailable`)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class ReplyWindowClosed(WeChatApiError):
    """45015: more than 48 h since the user's last message; we may not send until they write again."""


class ReplyLimitReached(WeChatApiError):
    """45047: the 5 messages allowed per user message are used up."""


class NotSubscribed(WeChatApiError):
    """43101: the user has not accepted (or has refused, or used up) subscription messages of this template."""


class WeChatUnavailable(WeChatApiError):
    """WeChat stayed busy (-1), answered HTTP 5xx, or was unreachable, after the retries."""


def _error_for(errcode: int, errmsg: str) -> WeChatApiError:
    cls = {WINDOW_CLOSED: ReplyWindowClosed, LIMIT_REACHED: ReplyLimitReached, NOT_SUBSCRIBED: NotSubscribed,
           SYSTEM_BUSY: WeChatUnavailable}
    return cls.get(errcode, WeChatApiError)(errcode, errmsg)


class CustomerServiceClient:
    """Async client for the customer-service send API of one mini-program (appid + secret)."""

    def __init__(
        self,
        base_url: str,
        appid: str,
        secret: str,
        http: httpx.AsyncClient,
        clock: Callable[[], float] = time.monotonic,
        *,
        retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.appid = appid
        self._secret = secret
        self._http = http
        self._clock = clock
        self.retries = retries
        self.backoff = backoff
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"CustomerServiceClient(base_url={self.base_url!r}, appid={self.appid!r})"

    async def access_token(self) -> str:
        """A valid access_token, fetched once and shared by concurrent callers until near expiry."""
        if self._token and self._clock() < self._token_expires:
            return self._token
        async with self._lock:
            if self._token and self._clock() < self._token_expires:
                return self._token
            data = await self._call(
                "GET",
                "/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": self.appid, "secret": self._secret},
            )
            if errcode := _errcode(data):  # e.g. 40013 invalid appid, 40125 invalid secret
                raise _error_for(errcode, str(data.get("errmsg", "")))
            token, expires_in = data.get("access_token"), data.get("expires_in")
            if not isinstance(token, str) or not token or not isinstance(expires_in, (int, float)):
                raise WeChatApiError(-1, "token response without access_token/expires_in")
            margin = min(TOKEN_MARGIN, expires_in / 2)
            self._token, self._token_expires = token, self._clock() + expires_in - margin
            log.info("wechat: new access_token for %s, valid %ss", self.appid, expires_in)
            return token

    def _drop_token(self, token: str) -> None:
        """Forget ``token`` (unless a concurrent caller already replaced it)."""
        if self._token == token:
            self._token, self._token_expires = None, 0.0

    async def send_text(self, openid: str, content: str) -> None:
        """Send a text message to ``openid``; raises ReplyWindowClosed, ReplyLimitReached, WeChatApiError."""
        await self._send("/cgi-bin/message/custom/send", openid, {"touser": openid, "msgtype": "text", "text": {"content": content}})

    async def send_subscription(self, openid: str, template_id: str, page: str, data: dict[str, str]) -> None:
        """Send a subscription message of ``template_id`` to ``openid``, its keywords ``data`` (name -> value), opening
        ``page`` of the mini-program when tapped; raises NotSubscribed, WeChatApiError."""
        payload = {"touser": openid, "template_id": template_id, "page": page,
                   "data": {name: {"value": value} for name, value in data.items()}}
        await self._send("/cgi-bin/message/subscribe/send", openid, payload)

    async def _send(self, path: str, openid: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        refreshed = False
        while True:
            token = await self.access_token()
            data = await self._call(
                "POST",
                path,
                params={"access_token": token},
                content=body,
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
            errcode, errmsg = _errcode(data), str(data.get("errmsg", ""))
            if errcode == 0:
                log.info("wechat: sent %s to %s", payload.get("msgtype", "a subscription message"), mask_openid(openid))
                return
            if errcode in TOKEN_ERRORS and not refreshed:
                log.warning("wechat: access_token rejected (%s), fetching a new one", errcode)
                self._drop_token(token)
                refreshed = True
                continue
            log.warning("wechat: send to %s failed: %s %s", mask_openid(openid), errcode, errmsg)
            raise _error_for(errcode, errmsg)

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One API call, retried on -1 (system busy), HTTP 5xx and network errors; returns the JSON object."""
        attempts = 1 + max(0, self.retries)
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                resp = await self._http.request(method, self.base_url + path, **kwargs)
            except httpx.TransportError as exc:
                problem = f"network error: {type(exc).__name__}"
            else:
                if resp.status_code >= 500:
                    problem = f"HTTP {resp.status_code}"
                elif resp.status_code != 200:
                    raise WeChatApiError(-1, f"HTTP {resp.status_code} from {path}")
                else:
                    try:
                        data = resp.json()
                    except ValueError:
                        raise WeChatApiError(-1, f"non-JSON response from {path}") from None
                    if not isinstance(data, dict):
                        raise WeChatApiError(-1, f"unexpected response from {path}")
                    errcode = _errcode(data)
                    if errcode != SYSTEM_BUSY:
                        return data
                    problem = f"system busy: {data.get('errmsg', '')}"
            log.warning("wechat: %s %s attempt %d/%d failed (%s)", method, path, attempt + 1, attempts, problem)
        raise WeChatUnavailable(SYSTEM_BUSY, problem)


def _errcode(data: dict[str, Any]) -> int:
    try:
        return int(data.get("errcode", 0) or 0)
    except (TypeError, ValueError):
        return SYSTEM_BUSY
