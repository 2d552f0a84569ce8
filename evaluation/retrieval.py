"""`frontdoor eval retrieval`: a pack through the service's own retrieval and the engine's decisions,
in a throw-away store."""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from pathlib import Path

from evaluation.metrics import Conversation, Outcome, conversation_measures, decision_measures, summary
from evaluation.packs import Query, read_queries
from knowledge_base.io import read_entries
from knowledge_base.retrieval.embedding import QueryEmbedder
from knowledge_base.retrieval.index import RetrievalParams
from knowledge_base.service import KnowledgeBase
from knowledge_base.store import EmbeddingCache, KnowledgeStore
from storage.database import Database

if TYPE_CHECKING:
    from assistant.engine import Engine, Verdict

# Builds the engine over a knowledge base with its rules and thresholds (the composition root's build_engine).
EngineFactory = Callable[[Database, KnowledgeBase], "Engine"]

ProgressFactory = Callable[[int, str], Callable[[int], None]]


def _silent(total: int, description: str) -> Callable[[int], None]:
    return lambda n: None


def evaluate_retrieval(kb_path: Path, queries_path: Path, embedder: QueryEmbedder, build_engine: EngineFactory, *,
                       channel: str = "chat", params: RetrievalParams | None = None,
                       progress: ProgressFactory = _silent, with_labels: bool = False, seed: int = 0) -> dict:
    """Loads the pack into an isolated temporary database and index (never the service's own) and
    returns the ranking measures and the engine's decisions on `channel`.

    `with_labels`: the hotline's labels, played by the pack itself — its entries are split in half at random;
    the queries about one half (and half of those nothing answers) are the labelled traffic the confidence is
    refitted from (knowledge_base/labels.py), and only the other half's are measured."""
    entries = read_entries(kb_path)
    queries = read_queries(queries_path)
    labelled: list = []
    if with_labels:
        labelled, queries = split_for_labels(entries, queries, seed=seed)
    with tempfile.TemporaryDirectory(prefix="frontdoor-eval-") as scratch:
        db = Database(f"sqlite:///{Path(scratch) / 'eval.db'}")
        try:
            db.migrate()
            store = KnowledgeStore(db)
            store.import_entries(entries, by="eval", source=str(kb_path))
            knowledge = KnowledgeBase(store, embedder, EmbeddingCache(db), params,
                                      progress=progress(sum(len(e.phrasings()) for e in entries), "indexing"),
                                      labelled=lambda: labelled)
            knowledge.index.refresh(force=True)
            figures = evaluate_engine(knowledge, queries, channel=channel, build_engine=build_engine, db=db,
                                      progress=progress)
            figures["labelled"] = len(labelled)
            return figures
        finally:
            db.dispose()


def split_for_labels(entries, queries: Sequence[Query], *, seed: int = 0) -> tuple[list, list[Query]]:
    """(the labelled traffic, the queries to measure): entries split in half at random; queries about the first
    half, and every other query nothing answers, become labels (as a citizen's choice or a seat's "no entry
    answers this" would); the rest are measured."""
    import numpy as np

    from knowledge_base.retrieval.self_supervision import Labelled

    rng = np.random.default_rng(seed)
    ids = sorted(e.id for e in entries)
    labelled_half = set(np.array(ids)[rng.permutation(len(ids))[: len(ids) // 2]].tolist())
    labelled, measured = [], []
    for query in queries:
        learn = query.expected in labelled_half if query.expected is not None else rng.random() < 0.5
        if learn:
            labelled.append(Labelled(query.text, query.expected, True))
        else:
            measured.append(query)
    return labelled, measured


def evaluate_engine(knowledge: KnowledgeBase, queries: Sequence[Query], *, channel: str, build_engine: EngineFactory,
                    db: Database,
                    progress: ProgressFactory = _silent) -> dict:
    """Every query as the first turn of a new conversation, decided by the engine's own rules and thresholds."""
    from assistant.turn import Channel

    engine = build_engine(db, knowledge)
    index = knowledge.index.current
    results = index.search_many([q.text for q in queries], k=10, progress=progress(len(queries), "querying"))
    outcomes, decisions, conversations = [], [], []
    for query, result in zip(queries, results):
        outcomes.append(Outcome(query.expected, [c.entry.id for c in result.candidates], result.confidence))
        screened = engine.screen(query.text)
        if screened is not None:
            decisions.append((screened.value, None, []))
            conversations.append(Conversation("screened", 1))
            continue
        verdict = engine.judge(result, Channel(channel), index)
        decisions.append((verdict.kind.value, verdict.offered[0].entry.id if verdict.offered else None,
                          [c.entry.id for c in verdict.offered]))
        conversations.append(simulate(lambda rejected: engine.judge(result, Channel(channel), index, rejected),
                                      query.expected, unsatisfied_limit=engine.policy.unsatisfied_limit))
    figures = summary(outcomes)
    figures.update(decision_measures([q.expected for q in queries], decisions))
    figures["conversation"] = conversation_measures([q.expected for q in queries], conversations)
    figures["channel"] = channel
    return figures


def simulate(judge: Callable[[list[str]], "Verdict"], expected: str | None, *, unsatisfied_limit: int) -> Conversation:
    """A citizen who knows what they asked, through the engine's decisions on one question: picks the expected
    entry when a clarification offers it, else says "不是这个", which asks again with the choices rejected (as
    Engine._unsatisfied does) until `unsatisfied_limit` rejections hand it to a seat; an automatic answer that is
    not the expected entry (or answers a question nothing should answer) misleads them. Turns are the citizen's."""
    from assistant.turn import Kind

    rejected: list[str] = []
    turns = 1
    while True:
        verdict = judge(rejected)
        if verdict.kind is Kind.ANSWER:
            right = expected is not None and verdict.offered[0].entry.id == expected
            return Conversation("contained" if right else "misled", turns)
        if verdict.kind is not Kind.CLARIFY:
            return Conversation("to_human", turns)
        offered = [c.entry.id for c in verdict.offered]
        turns += 1  # a pick, or "不是这个"
        if expected in offered:
            return Conversation("contained", turns)
        rejected = rejected + offered
        if turns - 1 >= unsatisfied_limit:  # each turn after the first rejected what was offered
            return Conversation("to_human", turns)
