"""Ticket-classification benchmark: every method of models/text_classifier.py on one labelled JSONL file.

    .venv/bin/python -m bench.classify --data FILE [--code-table CSV] [--prefix passage|query] [--methods a,b]

1. A deterministic stratified split (70/30, seed 0), written to a temporary folder and read back as the
   product reads labelled files; each method trained on the 70 and measured on the 30.
2. 5-fold stratified cross-validation (seed 0) of each method: the figure the default method is chosen by.
3. With --code-table (a table whose top-level names are the file's labels): the untrained fallback,
   desk.categories.CategoryMatcher, scored by the top-level name of its best category.
Embeddings are e5's "passage: " vectors (or "query: " with --prefix query), computed once per distinct text and
shared by all methods and folds; a method's seconds include embedding only the texts no earlier method needed.
Prints a Markdown table, then one JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from evaluation.classify import evaluate_classifier, read_labelled, write_labelled
from frontdoor.components import load_embedder
from frontdoor.settings import Settings
from models.text_classifier import DEFAULT_METHOD, METHODS

SEED = 0
FOLDS = 5


class CachedEmbed:
    """`embed` that remembers each text's vector, so methods and folds pay for a text once."""

    def __init__(self, embed) -> None:
        self._embed = embed
        self._vectors: dict[str, np.ndarray] = {}
        self.model_id = getattr(getattr(embed, "__self__", None), "model_id", None)

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, self._embed(missing)))
        return np.stack([self._vectors[t] for t in texts])


def split(rows, folder: Path) -> tuple[list, list]:
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(rows, test_size=0.3, random_state=SEED, stratify=[label for _, label in rows])
    write_labelled(train, folder / "train.jsonl")
    write_labelled(test, folder / "test.jsonl")
    return read_labelled(folder / "train.jsonl"), read_labelled(folder / "test.jsonl")


def cross_validate(rows, embed, method: str) -> dict[str, float]:
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    labels = [label for _, label in rows]
    scores = [evaluate_classifier([rows[i] for i in train], [rows[i] for i in test], embed, method=method)
              for train, test in folds.split(np.zeros(len(rows)), labels)]
    f1 = [s["macro_f1"] for s in scores]
    return {"cv_accuracy": round(float(np.mean([s["accuracy"] for s in scores])), 4),
            "cv_macro_f1": round(float(np.mean(f1)), 4), "cv_macro_f1_sd": round(float(np.std(f1)), 4)}


def fallback(rows, code_table: Path, embedder) -> dict[str, float]:
    """The untrained CategoryMatcher's best category, judged by its top-level name."""
    from sklearn.metrics import accuracy_score, f1_score

    from desk.categories import CategoryMatcher, read_code_table

    matcher = CategoryMatcher(read_code_table(code_table), embedder)
    truth = [label for _, label in rows]
    predicted = [matcher.classify(text, k=1)[0][0].path[0] for text, _ in rows]
    return {"accuracy": round(float(accuracy_score(truth, predicted)), 4),
            "macro_f1": round(float(f1_score(truth, predicted, average="macro", labels=sorted(set(truth)),
                                             zero_division=0)), 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="labelled JSONL: {\"text\", \"label\"} per line")
    parser.add_argument("--code-table", type=Path, help="category CSV whose top-level names are the labels")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of methods")
    parser.add_argument("--prefix", choices=("passage", "query"), default="passage",
                        help="which e5 side embeds a message (default: passage)")
    args = parser.parse_args()
    rows = read_labelled(args.data)
    embedder = load_embedder(Settings())
    embed = CachedEmbed(embedder.embed_passages if args.prefix == "passage" else embedder.embed_queries)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        train, test = split(rows, Path(folder))
        for method in args.methods.split(","):
            started = time.perf_counter()
            held_out = evaluate_classifier(train, test, embed, method=method)
            figures = {"method": method, **held_out, **cross_validate(rows, embed, method)}
            figures["seconds"] = round(time.perf_counter() - started, 1)
            results.append(figures)
    print(f"{args.data.name}: {len(rows)} messages, {len(set(label for _, label in rows))} labels; "
          f"split {len(train)}/{len(test)}; {FOLDS}-fold CV (seed {SEED}); e5 {args.prefix} vectors\n")
    print("| method | held-out accuracy | held-out macro-F1 | CV accuracy | CV macro-F1 (± sd) | seconds |")
    print("|---|---|---|---|---|---|")
    for r in results:
        name = f"**{r['method']}** (default)" if r["method"] == DEFAULT_METHOD else r["method"]
        print(f"| {name} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {r['cv_accuracy']:.3f} | "
              f"{r['cv_macro_f1']:.3f} ± {r['cv_macro_f1_sd']:.3f} | {r['seconds']:.0f} |")
    summary = {"data": str(args.data), "prefix": args.prefix, "default": DEFAULT_METHOD, "methods": results}
    if args.code_table:
        summary["fallback"] = f = fallback(rows, args.code_table, embedder)
        print(f"\nUntrained fallback (CategoryMatcher over {args.code_table.name}, top-level name of its best "
              f"category), all {len(rows)} messages: accuracy {f['accuracy']:.3f}, macro-F1 {f['macro_f1']:.3f}")
    print()
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
