"""Retrieval benchmark: the product's figures next to two anchors measured in the same run.

    .venv/bin/python -m bench.retrieval [--packs DIR]

Anchors (each with its top score as confidence, i.e. the best threshold in hindsight for coverage@P):
  tfidf       character 1–2-gram TF-IDF cosine between the query and each entry's question
  e5 q-q      plain multilingual-e5-small cosine, "query: " on both sides (the model card's symmetric use)
  e5 q-p      plain multilingual-e5-small cosine, "query: " vs "passage: " (its asymmetric retrieval use)
Prints a Markdown table, then one JSON line per pack and system.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from evaluation.metrics import Outcome, summary
from evaluation.packs import read_queries
from evaluation.retrieval import evaluate_retrieval
from frontdoor.cli import stage_progress
from frontdoor.components import engine_factory, load_embedder
from frontdoor.settings import Settings
from knowledge_base.io import read_entries

DEFAULT_PACKS = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "retrieval"
COLUMNS = ("top1", "top3", "mrr", "coverage@0.9", "coverage@0.95", "coverage@0.98")


def _outcomes(scores: np.ndarray, ids: list[str], expected: list[str | None], k: int = 10) -> list[Outcome]:
    order = np.argsort(-scores, axis=1)[:, :k]
    return [Outcome(e, [ids[j] for j in row], float(scores[i, row[0]])) for i, (e, row) in enumerate(zip(expected, order))]


def anchors(kb_path: Path, queries_path: Path, embedder) -> dict[str, dict]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    entries = read_entries(kb_path)
    queries = read_queries(queries_path)
    ids = [e.id for e in entries]
    titles = [e.question for e in entries]
    texts = [q.text for q in queries]
    expected = [q.expected for q in queries]
    tfidf = TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit(titles)
    lexical = (tfidf.transform(texts) @ tfidf.transform(titles).T).toarray()
    q = embedder.embed_queries(texts)
    return {
        "tfidf": summary(_outcomes(lexical, ids, expected)),
        "e5 q-q": summary(_outcomes(q @ embedder.embed_queries(titles).T, ids, expected)),
        "e5 q-p": summary(_outcomes(q @ embedder.embed_passages(titles).T, ids, expected)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packs", type=Path, default=DEFAULT_PACKS, help="folder of NAME.kb.jsonl + NAME.queries.jsonl")
    args = parser.parse_args()
    embedder = load_embedder(Settings())
    rows = []
    for kb_path in sorted(args.packs.glob("*.kb.jsonl")):
        pack = kb_path.name.removesuffix(".kb.jsonl")
        queries_path = args.packs / f"{pack}.queries.jsonl"
        started = time.perf_counter()
        product = evaluate_retrieval(kb_path, queries_path, embedder, engine_factory(Settings()), progress=stage_progress())
        seconds = time.perf_counter() - started
        rows.append((pack, "frontdoor", product, seconds))
        for name, figures in anchors(kb_path, queries_path, embedder).items():
            rows.append((pack, name, figures, None))
    print("| pack | system | " + " | ".join(COLUMNS) + " | seconds |")
    print("|---|---|" + "---|" * (len(COLUMNS) + 1))
    for pack, name, figures, seconds in rows:
        cells = " | ".join(f"{figures[c]:.3f}" for c in COLUMNS)
        print(f"| {pack} | {name} | {cells} | {'' if seconds is None else f'{seconds:.0f}'} |")
    for pack, name, figures, seconds in rows:
        print(json.dumps({"pack": pack, "system": name, **figures, "seconds": seconds and round(seconds, 1)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
