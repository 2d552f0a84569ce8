"""The long-lived parts a request handler may need, built once per worker by the app factory."""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from frontdoor.settings import Settings
from knowledge_base.service import KnowledgeBase
from storage.database import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    knowledge: KnowledgeBase


def get_knowledge(request: Request) -> KnowledgeBase:
    return request.app.state.services.knowledge
