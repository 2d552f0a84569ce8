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
from api.metrics import HttpMetrics, Metrics
from api.request_id import RequestId
from api.routes import accounts, audit, blocks, changes, chat, console, entries, gaps, health, imports, labels, my_tickets
from api.routes import operations, pages, reports, search
from api.routes import desk, tickets, tryit, voice, wechat
from api.services import Services
from api.worker_header import WorkerHeader

ROUTERS = (health, operations, accounts, blocks, search, entries, changes, imports, audit, gaps, labels, chat, my_tickets,
           tickets, desk, wechat, voice, console, tryit, pages, reports)


class Lifecycle(Protocol):
    """Builds a worker's services when the app starts and releases them when it stops."""

    async def start(self) -> Services: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class HttpLimits:
    max_body_bytes: int
    max_import_bytes: int  # for /v1/imports (editors' spreadsheets)
    max_json_depth: int = 32


@dataclass(frozen=True)
class Operations:
    """What the operations routes need: this app's metrics, who may read them, and what readiness expects."""
    metrics: Metrics
    metrics_public: bool = False  # /metrics without signing in (api/auth.py METRICS_READERS)
    voice_required: bool = False  # /readyz waits for the recogniser too


def create_app(lifecycle: Lifecycle, limits: HttpLimits, operations: Operations | None = None) -> FastAPI:
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
    operations = operations or Operations(Metrics())
    app.state.metrics = operations.metrics
    app.state.metrics_public = operations.metrics_public
    app.state.voice_required = operations.voice_required
    install_error_handlers(app)
    install_docs(app)
    app.add_middleware(JsonDepthLimit, max_depth=limits.max_json_depth)  # inside the size limit: reads a bounded body
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_body_bytes, wider={"/v1/imports": limits.max_import_bytes})
    app.add_middleware(WorkerHeader)
    app.add_middleware(HttpMetrics, metrics=operations.metrics)
    app.add_middleware(RequestId)  # outermost: the id and the access line cover every refusal inside
    for module in ROUTERS:
        app.include_router(module.router)
    app.mount("/static", pages.static_files(), name="static")
    return app
