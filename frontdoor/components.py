"""Building the long-lived parts from settings: one place, used by the web app and by the command line."""
from __future__ import annotations

from collections.abc import Callable

from frontdoor.settings import Settings
from models.embedder import Embedder
from models.provision import ModelStore
from storage.database import Database

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
