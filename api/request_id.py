"""Every HTTP request carries a request id, and every log line made while it is handled names it.

The balancer's `X-Request-Id` is kept when it is a sane token (so one id follows a request from nginx's log to
ours), else a new one is made; the response carries it back. The id lives in a context variable: each request is
handled in a context of its own (uvicorn runs every request in its own task, and the thread pool and
`asyncio.to_thread` copy the context), so it needs no reset and no lock. `frontdoor/logs.py` puts it on the log
records. When the request ends, one access line is logged: method, path without its query string (WeChat's
signatures live there), status and duration."""
from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-Id"
ACCESS_LOGGER = "frontdoor.access"
# A context variable is per request by construction; this one module-level name is how a log filter reaches it.
CURRENT_REQUEST_ID: ContextVar[str | None] = ContextVar("frontdoor_request_id", default=None)
# What nginx's $request_id, a UUID or a tracing id look like; anything else (spaces, quotes, a novel) is replaced.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


def current_request_id() -> str | None:
    return CURRENT_REQUEST_ID.get()


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The balancer's X-Request-Id when it is a sane token, else a new id."""
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            if SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return new_request_id()


class RequestId:
    """Gives the request its id (and the response its `X-Request-Id`), and logs the access line when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", []))
        CURRENT_REQUEST_ID.set(request_id)
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []),
                                                  (REQUEST_ID_HEADER.lower().encode(), request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._access_line(scope, status, time.perf_counter() - started)

    def _access_line(self, scope: Scope, status: int, seconds: float) -> None:
        method, path = scope.get("method", ""), scope.get("path", "")  # ASGI keeps the query string apart
        self.log.info("%s %s %d", method, path, status,
                      extra={"method": method, "path": path, "status": status, "duration_ms": round(seconds * 1000, 1)})
