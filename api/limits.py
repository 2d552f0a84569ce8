"""Refusing oversized request bodies before they are read into memory, and JSON nested deeper than any
request of ours before it is parsed (a parser's recursion is not a 500)."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body


class BodySizeLimit:
    """`max_bytes` for every request, except paths under a prefix of `wider` (e.g. file uploads), which get theirs."""

    def __init__(self, app: ASGIApp, max_bytes: int, wider: Mapping[str, int] | None = None):
        self.app, self.max_bytes, self.wider = app, max_bytes, dict(wider or {})

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.wider.items():
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        body = json.dumps(error_body("too_large", f"The request body is larger than {limit} bytes; send less.")).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = bytes.maketrans(b"", b"")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_PAIRS = re.compile(rb"\[\]|\{\}")


def json_depth(body: bytes, limit: int = 1000) -> int:
    """How deeply `body`'s arrays and objects nest (strings skipped), without parsing it; `limit` + 1 for anything
    deeper than `limit`. Each pass strips the innermost empty pairs, in C: `limit` passes over the body at most."""
    brackets = _STRINGS.sub(b"", body).translate(_BRACKETS, _NOT_BRACKETS)
    too_deep = re.compile(rb"[\[{]{%d}" % (limit + 1))  # that many openings in a row: deeper than `limit`
    depth = 0
    while brackets and depth <= limit:
        if too_deep.search(brackets):
            return depth + limit + 1
        stripped = _PAIRS.sub(b"", brackets)
        if stripped == brackets:  # unbalanced or mismatched: the parser will say so; count what is there
            return max(depth, 1)
        brackets, depth = stripped, depth + 1
    return depth


class JsonDepthLimit:
    """Reads a JSON request's body (already bounded by BodySizeLimit, which sits outside) and refuses it with a
    400 `too_deep` when it nests deeper than `max_depth`; otherwise hands the body on untouched."""

    def __init__(self, app: ASGIApp, max_depth: int):
        self.app, self.max_depth = app, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        if content_type and b"json" not in content_type:
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if json_depth(body, self.max_depth) > self.max_depth:
            payload = json.dumps(error_body("too_deep", f"The JSON body nests deeper than {self.max_depth} levels; "
                                                        "no request of this service needs that. Send it flatter.")).encode()
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
            await send({"type": "http.response.body", "body": payload})
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A receive that gives `messages` first, then waits on `then` (for the disconnect a handler may await)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
