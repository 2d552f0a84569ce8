"""Building the long-lived parts from settings: one place, used by the web app and by the command line."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from frontdoor.settings import Settings
from models.embedder import Embedder
from models.provision import ModelStore
from storage.database import Database

if TYPE_CHECKING:
    from assistant.engine import Engine

E5_NAME = "multilingual-e5-small"


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    if migrate:
        db.migrate()
    return db


def model_store(settings: Settings) -> ModelStore:
    return ModelStore(settings.resolved_model_dir, allow_download=settings.allow_download)


def load_embedder(settings: Settings, progress_factory: Callable | None = None) -> Embedder:
    """The configured sentence embedder: the provisioned multilingual-e5-small by default, or any
    sentence-transformers folder (or hub name, when online) named by FRONTDOOR_EMBEDDER."""
    if settings.embedder == E5_NAME:
        path = model_store(settings).embedder_dir(settings.embedder_path, progress=progress_factory)
        prefix = "query: " if settings.embedder_query_prefix is None else settings.embedder_query_prefix
        return Embedder.load(path, query_prefix=prefix, passage_prefix="passage: ")
    is_e5 = "e5" in settings.embedder.lower()
    prefix = settings.embedder_query_prefix if settings.embedder_query_prefix is not None else ("query: " if is_e5 else "")
    return Embedder.load(settings.embedder, query_prefix=prefix, passage_prefix="passage: " if is_e5 else "")


def build_engine(settings: Settings, db: Database, knowledge, embedder: Embedder | None = None) -> "Engine":
    """The conversation engine over a knowledge base, with the configured rules and per-channel precision.
    With an embedder, handoff tickets are filed by the trained classifier or the code table."""
    from assistant.conversations import ConversationStore
    from assistant.engine import Engine, classify_by_top_entry
    from assistant.policy import Policy
    from assistant.rules import load_rules
    from assistant.turn import Channel
    from desk.classification import CodeTable, TicketClassifier, load_classifier
    from desk.tickets import TicketDesk

    classify = classify_by_top_entry
    if embedder is not None:
        classify = TicketClassifier(CodeTable(db).all(), embedder,
                                    load_classifier(settings.resolved_classifier_dir, embedder.model_id))

    policy = Policy(precision={Channel.CHAT: settings.chat_precision, Channel.WECHAT: settings.chat_precision,
                               Channel.VOICE: settings.voice_precision})
    return Engine(knowledge, ConversationStore(db, idle_minutes=settings.conversation_idle_minutes), TicketDesk(db),
                  load_rules(settings.rules_dir), policy, classify)


def load_seed_code_table(db: Database) -> int | None:
    """A fresh install files tickets under the shipped sample code table until a province's is imported."""
    from desk.categories import read_code_table
    from desk.classification import CodeTable
    from knowledge_base.seed import category_table

    table = CodeTable(db)
    if table.all():
        return None
    return table.replace(read_code_table(category_table()))
