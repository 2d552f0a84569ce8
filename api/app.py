"""The app factory: every worker builds its own app from settings; no module-level state."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from api.errors import install_error_handlers
from api.limits import BodySizeLimit
from api.routes import accounts, chat, console, entries, health, pages, search, tickets, voice, wechat
from api.routes import tryit
from api.routes import audit, changes, imports
from api.routes import gaps
from api.services import Services
from api.worker_header import WorkerHeader
from api.wechat import CustomerServiceClient, WeChatCrypto
from api.wechat.channel import WeChatChannel
from api.wechat.ledger import WeChatLedger
from assistant.engine import Engine
from assistant.tryout import Tryout
from frontdoor.components import account_store, build_engine, build_voice, load_embedder, load_seed_code_table, open_database
from frontdoor.settings import Settings
from knowledge_base.changes import ChangeDesk
from knowledge_base.follower import PublishFollower
from knowledge_base.gaps import GapQueue
from knowledge_base.service import KnowledgeBase
from knowledge_base.store import EmbeddingCache, KnowledgeStore
from storage.audit import AuditLog
from storage.database import Database


def _wechat_channel(settings: Settings, db: Database, engine: Engine, http: httpx.AsyncClient) -> WeChatChannel | None:
    """The WeChat channel when its token is configured (sending replies also needs the app id and secret)."""
    if not settings.wechat_token:
        return None
    crypto = None
    if settings.wechat_encoding_aes_key:
        crypto = WeChatCrypto(settings.wechat_encoding_aes_key, settings.wechat_appid or "")
    client = CustomerServiceClient(settings.wechat_api_base, settings.wechat_appid or "", settings.wechat_secret or "", http)
    return WeChatChannel(settings.wechat_token, engine, WeChatLedger(db), client, crypto, region=settings.wechat_region)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    # httpx logs every request URL at INFO, and WeChat's URLs carry the app secret and access token.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = await asyncio.to_thread(open_database, settings)
        embedder = await asyncio.to_thread(load_embedder, settings)
        knowledge = KnowledgeBase(KnowledgeStore(db), embedder, EmbeddingCache(db))
        if settings.seed_on_start:
            await asyncio.to_thread(knowledge.load_seed_if_empty)
            await asyncio.to_thread(load_seed_code_table, db)
        await asyncio.to_thread(knowledge.index.refresh, force=True)
        engine = await asyncio.to_thread(build_engine, settings, db, knowledge, embedder)
        voice_services = await asyncio.to_thread(build_voice, settings, db, knowledge, engine) if settings.voice else None
        audiosocket = None
        if voice_services is not None and settings.audiosocket_port:  # Asterisk's AudioSocket (api/voice/audiosocket.py)
            from api.voice.audiosocket import AudioSocketServer
            from voice.speech import load_synthesiser

            synthesiser = await asyncio.to_thread(load_synthesiser, settings.synthesiser)
            audiosocket = AudioSocketServer(voice_services, synthesiser, settings.audiosocket_host, settings.audiosocket_port)
            await audiosocket.start()
        http = httpx.AsyncClient(timeout=10.0)
        app.state.services = Services(settings=settings, db=db, knowledge=knowledge, engine=engine, desk=engine.desk,
                                      accounts=account_store(settings, db), audit=AuditLog(db),
                                      changes=ChangeDesk(db, knowledge.store),
                                      gaps=GapQueue(db, embedder),
                                      wechat=_wechat_channel(settings, db, engine, http), voice=voice_services,
                                      tryout=Tryout(engine, embedder))
        # Publishes reach this worker within seconds (knowledge_base/follower.py); it also applies due scheduled ones.
        follower = PublishFollower(knowledge, db, poll_seconds=settings.kb_poll_seconds,
                                   publish_due=app.state.services.changes.publish_due)
        app.state.services.follower = follower
        following = asyncio.create_task(follower.run())
        try:
            yield
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
            await http.aclose()
            if audiosocket is not None:
                await audiosocket.stop()
            if voice_services is not None:
                voice_services.close()
            db.dispose()

    app = FastAPI(
        title="Frontdoor",
        summary="The self-service front door of a 12345 government service hotline.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, wider={"/v1/imports": settings.max_import_bytes})
    app.add_middleware(WorkerHeader)
    for module in (health, accounts, search, entries, changes, imports, audit, gaps, chat, tickets, wechat, voice, console, tryit, pages):
        app.include_router(module.router)
    app.mount("/static", pages.static_files(), name="static")
    return app
