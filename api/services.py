"""The long-lived parts a request handler may need, built once per worker by the app factory."""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from api.voice.services import VoiceServices
from api.wechat.channel import WeChatChannel
from assistant.engine import Engine
from desk.tickets import TicketDesk
from frontdoor.settings import Settings
from knowledge_base.service import KnowledgeBase
from storage.database import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    knowledge: KnowledgeBase
    engine: Engine
    desk: TicketDesk
    wechat: WeChatChannel | None = None
    voice: VoiceServices | None = None


def get_services(request: Request) -> Services:
    return request.app.state.services


def get_knowledge(request: Request) -> KnowledgeBase:
    return request.app.state.services.knowledge


def get_engine(request: Request) -> Engine:
    return request.app.state.services.engine


def get_desk(request: Request) -> TicketDesk:
    return request.app.state.services.desk
