"""The app factory: it takes what the composition root (frontdoor/components.py) builds and only mounts routers.

Every worker builds its own app; no module-level state. The long-lived parts are built when the app starts
(its lifespan), by the `Lifecycle` the composition root hands in, so that each worker process builds its own."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from fastapi import FastAPI

from api.docs import install_docs
from api.errors import install_error_handlers
from api.limits import BodySizeLimit, JsonDepthLimit
from api.routes import accounts, audit, blocks, changes, chat, console, entries, gaps, health, imports, labels, pages, search
from api.routes import tickets, tryit, voice, wechat
from api.services import Services
from api.worker_header import WorkerHeader

ROUTERS = (health, accounts, blocks, search, entries, changes, imports, audit, gaps, labels, chat, tickets, wechat, voice,
           console, tryit, pages)


class Lifecycle(Protocol):
    """Builds a worker's services when the app starts and releases them when it stops."""

    async def start(self) -> Services: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class HttpLimits:
    max_body_bytes: int
    max_import_bytes: int  # for /v1/imports (editors' spreadsheets)
    max_json_depth: int = 32


def create_app(lifecycle: Lifecycle, limits: HttpLimits) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await lifecycle.start()
        try:
            yield
        finally:
            await lifecycle.stop()

    app = FastAPI(
        title="Frontdoor",
        summary="The self-service front door of a 12345 government service hotline.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_docs(app)
    app.add_middleware(JsonDepthLimit, max_depth=limits.max_json_depth)  # inside the size limit: reads a bounded body
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_body_bytes, wider={"/v1/imports": limits.max_import_bytes})
    app.add_middleware(WorkerHeader)
    for module in ROUTERS:
        app.include_router(module.router)
    app.mount("/static", pages.static_files(), name="static")
    return app
