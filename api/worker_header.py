"""`X-Frontdoor-Worker: <pid>` on every HTTP response: which worker process answered (several share a port)."""
from __future__ import annotations

import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WORKER_HEADER = "X-Frontdoor-Worker"


class WorkerHeader:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_naming_the_worker(message: Message) -> None:
            if message["type"] == "http.response.start":
                worker = (WORKER_HEADER.lower().encode(), str(os.getpid()).encode())
                message = {**message, "headers": [*message.get("headers", []), worker]}
            await send(message)

        await self.app(scope, receive, send_naming_the_worker)
