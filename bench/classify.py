"""Ticket-classification benchmark: every method of models/text_classifier.py on one labelled JSONL file.

    .venv/bin/python -m bench.classify --data FILE [--code-table CSV] [--unlabelled JSONL] [--prefix passage|query]
        [--methods a,b] [--repeats N] [--vectors-cache PATH]

1. A deterministic stratified split (70/30, seed 0), written to a temporary folder and read back as the
   product reads labelled files; each method trained on the 70 and measured on the 30.
2. 5-fold stratified cross-validation repeated --repeats times (default 5, seeds 0…): mean ± sd over the
   folds, the figure the default method is chosen by (the split alone moves by ±0.05 on 74 messages).
3. With --code-table (a table whose top-level names are the file's labels): the names under each label, for
   e5-codes, and the untrained fallback, desk.categories.CategoryMatcher, scored by the top-level name of its
   best category.
With --unlabelled (JSONL, "text" and an optional "subject"): the hotline's past messages, read by e5-codes as
the product reads them at `frontdoor train classifier --unlabelled`; any that share a passage with a labelled
message are dropped first, so no measured message is seen unlabelled.
Embeddings are e5's "passage: " vectors (or "query: " with --prefix query), computed once per distinct text and
shared by all methods and folds (--vectors-cache keeps them in a file between runs); a method's seconds include
embedding only the texts no earlier method needed, and "s/fit" is one training and prediction with warm vectors.
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

from desk.classification import label_names
from evaluation.classify import evaluate_classifier, read_labelled, read_unlabelled, write_labelled
from frontdoor.components import load_embedder
from frontdoor.settings import Settings
from models.text_classifier import DEFAULT_METHOD, METHODS, clean

SEED = 0
FOLDS = 5
OVERLAP_CHARS = 30  # an unlabelled message sharing this many characters in a row with a labelled one is dropped


class CachedEmbed:
    """`embed` that remembers each text's vector, so methods and folds pay for a text once."""

    def __init__(self, embed, vectors: dict[str, np.ndarray] | None = None) -> None:
        self._embed = embed
        self._vectors: dict[str, np.ndarray] = vectors if vectors is not None else {}
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


def cross_validate(rows, embed, method: str, repeats: int, **extra) -> dict[str, float]:
    from sklearn.model_selection import RepeatedStratifiedKFold

    folds = RepeatedStratifiedKFold(n_splits=FOLDS, n_repeats=repeats, random_state=SEED)
    labels = [label for _, label in rows]
    scores, started = [], time.perf_counter()
    for train, test in folds.split(np.zeros(len(rows)), labels):
        scores.append(evaluate_classifier([rows[i] for i in train], [rows[i] for i in test], embed, method=method,
                                          **extra))
    f1 = [s["macro_f1"] for s in scores]
    return {"cv_accuracy": round(float(np.mean([s["accuracy"] for s in scores])), 4),
            "cv_macro_f1": round(float(np.mean(f1)), 4), "cv_macro_f1_sd": round(float(np.std(f1)), 4),
            "cv_folds": len(scores), "cv_f1": [round(float(f), 4) for f in f1],
            "fit_seconds": round((time.perf_counter() - started) / len(scores), 2)}


def unseen(unlabelled: list[str], rows) -> list[str]:
    """The unlabelled texts that share no OVERLAP_CHARS-character passage with a labelled one."""
    labelled = [clean(text) for text, _ in rows]
    windows = {text[i:i + OVERLAP_CHARS] for text in labelled for i in range(max(len(text) - OVERLAP_CHARS, 0) + 1)}

    def shared(text: str) -> bool:
        text = clean(text)
        return any(text[i:i + OVERLAP_CHARS] in windows for i in range(0, max(len(text) - OVERLAP_CHARS, 0) + 1, 10))

    return [text for text in unlabelled if not shared(text)]


def load_vectors(path: Path | None, prefix: str, model_id: str | None) -> dict[str, np.ndarray]:
    import pickle

    if path is None or not path.is_file():
        return {}
    saved = pickle.loads(path.read_bytes())
    return saved["vectors"] if saved.get("key") == [prefix, model_id] else {}


def save_vectors(path: Path | None, prefix: str, embed: CachedEmbed) -> None:
    import pickle

    if path is not None:
        path.write_bytes(pickle.dumps({"key": [prefix, embed.model_id], "vectors": embed._vectors}))


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
    parser.add_argument("--unlabelled", type=Path, help="unlabelled past messages, JSONL {text[, subject]}")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the 5-fold cross-validation (default 5)")
    parser.add_argument("--vectors-cache", type=Path, help="a file that keeps the embeddings between runs")
    args = parser.parse_args()
    rows = read_labelled(args.data)
    embedder = load_embedder(Settings())
    side = embedder.embed_passages if args.prefix == "passage" else embedder.embed_queries
    embed = CachedEmbed(side, load_vectors(args.vectors_cache, args.prefix, embedder.model_id))
    extra = {}
    if args.code_table:
        from desk.categories import read_code_table

        extra["label_names"] = label_names(read_code_table(args.code_table), [label for _, label in rows])
    if args.unlabelled:
        extra["unlabelled"] = unseen(read_unlabelled(args.unlabelled), rows)
    results = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            train, test = split(rows, Path(folder))
            for method in args.methods.split(","):
                started = time.perf_counter()
                held_out = evaluate_classifier(train, test, embed, method=method, **extra)
                figures = {"method": method, **held_out, **cross_validate(rows, embed, method, args.repeats, **extra)}
                figures["seconds"] = round(time.perf_counter() - started, 1)
                results.append(figures)
    finally:
        save_vectors(args.vectors_cache, args.prefix, embed)
    used = (f"; {len(extra['label_names'])} labels named by {args.code_table.name}" if "label_names" in extra else "") + (
        f"; {len(extra['unlabelled'])} unlabelled messages (of which e5-codes reads the first 1,000)"
        if "unlabelled" in extra else "")
    print(f"{args.data.name}: {len(rows)} messages, {len(set(label for _, label in rows))} labels; "
          f"split {len(train)}/{len(test)}; {FOLDS}-fold CV × {args.repeats} (seed {SEED}); e5 {args.prefix} vectors{used}\n")
    print("| method | held-out accuracy | held-out macro-F1 | CV accuracy | CV macro-F1 (± sd) | s/fit | seconds |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        name = f"**{r['method']}** (default)" if r["method"] == DEFAULT_METHOD else r["method"]
        print(f"| {name} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {r['cv_accuracy']:.3f} | "
              f"{r['cv_macro_f1']:.3f} ± {r['cv_macro_f1_sd']:.3f} | {r['fit_seconds']:.1f} | {r['seconds']:.0f} |")
    if len(results) > 1 and any(r["method"] == DEFAULT_METHOD for r in results):
        default = next(r for r in results if r["method"] == DEFAULT_METHOD)
        print()
        for r in results:
            if r is not default:
                gain = np.subtract(default["cv_f1"], r["cv_f1"])
                print(f"{DEFAULT_METHOD} − {r['method']}: {gain.mean():+.3f} ± {gain.std():.3f} over the same folds "
                      f"(better in {(gain > 0).sum()}, worse in {(gain < 0).sum()} of {len(gain)})")
    summary = {"data": str(args.data), "prefix": args.prefix, "default": DEFAULT_METHOD, "repeats": args.repeats,
               "methods": results}
    if args.code_table:
        summary["fallback"] = f = fallback(rows, args.code_table, embedder)
        print(f"\nUntrained fallback (CategoryMatcher over {args.code_table.name}, top-level name of its best "
              f"category), all {len(rows)} messages: accuracy {f['accuracy']:.3f}, macro-F1 {f['macro_f1']:.3f}")
    print()
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
