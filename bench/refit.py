"""How long the answer confidence takes to refit when an editor publishes a new entry: the seed knowledge base
fitted from nothing (every self-made question embedded), then the same knowledge base with one new entry, as a
worker rebuilds it after the publish (the unchanged entries' questions found in the embedding cache).

    python -m bench.refit

Prints both times, their ratio and a final JSON line.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from frontdoor.components import load_embedder
from frontdoor.settings import Settings
from knowledge_base.entry import Entry, Status
from knowledge_base.service import KnowledgeBase
from knowledge_base.store import CalibrationStore, EmbeddingCache, KnowledgeStore
from storage import Database

NEW_ENTRY = Entry(id="bench-new-bus-line", question="夜班公交九九路什么时候开通", chat_answer="九九路夜班公交下月一日开通。",
                  samples=("九九路夜班车哪天开", "夜班公交九九路开了吗"), region="江苏省", status=Status.PUBLISHED)


def timed(knowledge: KnowledgeBase) -> float:
    started = time.perf_counter()
    knowledge.index.refresh(force=True)
    return time.perf_counter() - started


def main() -> None:
    embedder = load_embedder(Settings())
    with tempfile.TemporaryDirectory(prefix="frontdoor-bench-refit-") as scratch:
        db = Database(f"sqlite:///{Path(scratch) / 'bench.db'}")
        try:
            db.migrate()
            knowledge = KnowledgeBase(KnowledgeStore(db), embedder, EmbeddingCache(db), calibrations=CalibrationStore(db))
            knowledge.load_seed_if_empty()
            cold = timed(knowledge)
            knowledge.store.save(NEW_ENTRY, by="bench")
            after_publish = timed(knowledge)
            examples = int(knowledge.index.current.calibration.confidence.size)
        finally:
            db.dispose()
    print(f"seed fitted from nothing: {cold:.1f} s; after one new entry: {after_publish:.1f} s "
          f"({cold / after_publish:.1f}× faster; {examples} calibration examples)")
    print(json.dumps({"cold_s": round(cold, 2), "after_new_entry_s": round(after_publish, 2),
                      "ratio": round(cold / after_publish, 2), "examples": examples}))


if __name__ == "__main__":
    main()
