"""`frontdoor eval retrieval`: a pack through the service's own retrieval, in a throw-away store."""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from evaluation.metrics import Outcome, summary
from evaluation.packs import read_queries
from knowledge_base.io import read_entries
from knowledge_base.retrieval.embedding import QueryEmbedder
from knowledge_base.retrieval.index import RetrievalParams
from knowledge_base.service import KnowledgeBase
from knowledge_base.store import EmbeddingCache, KnowledgeStore
from storage.database import Database

ProgressFactory = Callable[[int, str], Callable[[int], None]]


def _silent(total: int, description: str) -> Callable[[int], None]:
    return lambda n: None


def evaluate_retrieval(kb_path: Path, queries_path: Path, embedder: QueryEmbedder, *,
                       params: RetrievalParams | None = None, progress: ProgressFactory = _silent) -> dict:
    """Loads the pack into an isolated temporary database and index (never the service's own) and
    returns the measures."""
    entries = read_entries(kb_path)
    queries = read_queries(queries_path)
    with tempfile.TemporaryDirectory(prefix="frontdoor-eval-") as scratch:
        db = Database(f"sqlite:///{Path(scratch) / 'eval.db'}")
        try:
            db.migrate()
            store = KnowledgeStore(db)
            store.import_entries(entries, by="eval", source=str(kb_path))
            knowledge = KnowledgeBase(store, embedder, EmbeddingCache(db), params,
                                      progress=progress(sum(len(e.phrasings()) for e in entries), "indexing"))
            knowledge.index.refresh(force=True)
            results = knowledge.index.current.search_many(
                [q.text for q in queries], k=10, progress=progress(len(queries), "querying"))
        finally:
            db.dispose()
    outcomes = [Outcome(q.expected, [c.entry.id for c in r.candidates], r.confidence) for q, r in zip(queries, results)]
    return summary(outcomes)
