"""The app factory: every worker builds its own app from settings; no module-level state."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.limits import BodySizeLimit
from api.routes import entries, health, search
from api.services import Services
from frontdoor.components import load_embedder, open_database
from frontdoor.settings import Settings
from knowledge_base.service import KnowledgeBase
from knowledge_base.store import EmbeddingCache, KnowledgeStore

log = logging.getLogger(__name__)


async def _follow_publishes(knowledge: KnowledgeBase, every: float) -> None:
    """Rebuild off the event loop whenever the published knowledge changes; swap when complete."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(knowledge.index.refresh)
        except Exception:  # a failed rebuild keeps serving the previous index
            log.exception("rebuilding the retrieval index failed; still serving revision %s", knowledge.index.current.revision)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = await asyncio.to_thread(open_database, settings)
        embedder = await asyncio.to_thread(load_embedder, settings)
        knowledge = KnowledgeBase(KnowledgeStore(db), embedder, EmbeddingCache(db))
        if settings.seed_on_start:
            await asyncio.to_thread(knowledge.load_seed_if_empty)
        await asyncio.to_thread(knowledge.index.refresh, force=True)
        app.state.services = Services(settings=settings, db=db, knowledge=knowledge)
        follower = asyncio.create_task(_follow_publishes(knowledge, settings.kb_poll_seconds))
        try:
            yield
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            db.dispose()

    app = FastAPI(
        title="Frontdoor",
        summary="The self-service front door of a 12345 government service hotline.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    for module in (health, search, entries):
        app.include_router(module.router)
    return app
