"""Pair-verifier benchmark: does a cross-encoder over (question, candidate) lift coverage at precision?

    .venv/bin/python -m bench.verifier [--layers 4] [--k 3] [--train-pairs 3000] [--test-queries 0] ...

Measured, each next to today's Calibrator on the same held-out queries:
  covid-medical, query-random 50/50 (seed 0): every entry stays in the index; a verifier is trained on
      labelled pairs from 80 % of the training half, the combiner and its thresholds are fitted on the
      other 20 %, and everything is reported on the held-out half. The case of a hotline that labelled
      its own past traffic.
  covid-medical, entry-grouped 50/50: the training half is the queries of half the entries plus half the
      nulls; the held-out half asks about entries the verifier never saw labelled. The stricter case.
  gov-policy, covid-faq: no labels from them. (a) a verifier trained self-supervised on our seed
      knowledge's sample questions (combiner and thresholds from held-out seed entries); (b) the
      covid-medical query-random verifier applied as it is (a measurement only: a model trained on
      evaluation data is never shipped).
Columns: top1 after re-ranking the top-k; best coverage at precision 0.90/0.95/0.98 (hindsight over
thresholds); precision and coverage at the threshold for P=0.95 chosen on training data (the Calibrator's
own self-supervised threshold for today's system). Retrieval results are cached under --cache.
Prints a Markdown table, then one JSON line per row and a final JSON summary line.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from evaluation.metrics import Outcome, summary
from evaluation.packs import read_queries
from knowledge_base.io import read_entries
from knowledge_base.retrieval.confidence import threshold_for_precision
from bench.verification import (
    Combiner, PairSet, Ranked, pairs_from_knowledge, pairs_from_labels, verify)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PACKS = ROOT.parent / "shared" / "eval" / "retrieval"
E5 = ROOT / "var" / "models" / "multilingual-e5-small"
SEARCH_K = 5


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- retrieval, cached ----------------------------------------------------------------------------
def _embedder():
    from frontdoor.components import load_embedder
    from frontdoor.settings import Settings

    return load_embedder(Settings())


class Lazy:
    def __init__(self, make):
        self._make, self._value = make, None

    def __call__(self):
        if self._value is None:
            self._value = self._make()
        return self._value


def searched_pack(pack: str, packs: Path, cache: Path, embedder: Lazy) -> dict:
    """Every query of a pack through the product's own index (k=SEARCH_K), with the Calibrator's confidence
    and its self-supervised threshold for P=0.95."""
    from knowledge_base.retrieval.index import RetrievalIndex

    kb_path, q_path = packs / f"{pack}.kb.jsonl", packs / f"{pack}.queries.jsonl"
    key = hashlib.sha256(kb_path.read_bytes() + q_path.read_bytes()).hexdigest()[:12]
    path = cache / f"{pack}-{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    entries = read_entries(kb_path)
    queries = read_queries(q_path)
    started = time.perf_counter()
    index = RetrievalIndex.build(entries, embedder())
    log(f"{pack}: index built in {time.perf_counter() - started:.0f} s")
    pairs = pairs_from_labels(index, [(q.text, q.expected) for q in queries], k=SEARCH_K, add_missed=False)
    data = {"ranked": pairs.ranked, "titles": {e.id: e.question for e in entries},
            "threshold95": index.answer_threshold(0.95)}
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(data))
    log(f"{pack}: {len(queries)} queries searched in {time.perf_counter() - started:.0f} s")
    return data


# ---- measures ---------------------------------------------------------------------------------------
def at_threshold(outcomes: list[Outcome], threshold: float) -> tuple[float, float]:
    answerable = sum(o.expected is not None for o in outcomes)
    answered = [o for o in outcomes if o.confidence >= threshold]
    right = sum(o.expected is not None and o.ranked[:1] == [o.expected] for o in answered)
    return (right / len(answered) if answered else float("nan")), (right / answerable if answerable else 0.0)


def figures(outcomes: list[Outcome], threshold: float) -> dict:
    s = summary(outcomes)
    precision, coverage = at_threshold(outcomes, threshold)
    return {"queries": s["queries"], "top1": s["top1"], "cov@0.9": s["coverage@0.9"], "cov@0.95": s["coverage@0.95"],
            "cov@0.98": s["coverage@0.98"], "thr95": round(threshold, 4) if np.isfinite(threshold) else None,
            "prec@thr": None if np.isnan(precision) else round(precision, 4), "cov@thr": round(coverage, 4)}


def today(ranked: list[Ranked], threshold: float) -> dict:
    return figures([Outcome(r.expected, list(r.ids), r.confidence) for r in ranked], threshold)


def verified(ranked: list[Ranked], logits: list[np.ndarray], combiner: Combiner, k: int) -> dict:
    """Re-ranked top-k by the combiner; candidates below k stay after them in retrieval order."""
    outcomes = []
    for r, l in zip(ranked, logits):
        order, confidence = combiner.decide(l, r.fused[:k])
        ids = [r.ids[i] for i in order] + list(r.ids[k:])
        outcomes.append(Outcome(r.expected, ids, confidence))
    return figures(outcomes, combiner.threshold(0.95))


# ---- training ---------------------------------------------------------------------------------------
def fit_pairs(ranked: list[Ranked], titles: dict[str, str], k: int, max_pairs: int, rng) -> tuple[list, np.ndarray]:
    """Top-k pairs of labelled queries, plus the expected entry as a positive where the search missed it;
    when there are more than `max_pairs`, positives are sampled to at most 40 % of them and negatives fill the
    rest, hardest first (each query's top candidate, then its second, ...)."""
    top = [r.top(k) for r in ranked]
    extra = [(r.query, titles[r.expected]) for r in top if r.expected is not None and r.expected not in r.ids]
    pairs, labels = PairSet(top, "title", extra).pairs()
    if len(pairs) > max_pairs:
        rank = np.concatenate([np.arange(len(r.ids)) for r in top] + [np.zeros(len(extra), np.int64)])
        positive = np.flatnonzero(labels == 1)
        positive = rng.permutation(positive)[: int(max_pairs * 0.4)]
        negative = np.flatnonzero(labels == 0)
        negative = negative[np.lexsort((rng.random(len(negative)), rank[negative]))][: max_pairs - len(positive)]
        keep = np.sort(np.concatenate([positive, negative]))
        pairs, labels = [pairs[i] for i in keep], labels[keep]
    return pairs, labels


def train(pairs, labels, args, tag: str):
    from bench.pair_verifier import PairVerifier

    verifier = PairVerifier.from_encoder(E5, layers=args.layers, max_length=96, seed=args.seed)
    log(f"{tag}: training on {len(pairs)} pairs ({int(labels.sum())} positive), {args.layers} layers")
    stats = verifier.fit(pairs, labels, epochs=args.epochs, batch_size=32, lr=args.lr, seed=args.seed)
    log(f"{tag}: trained {stats}")
    return verifier, stats


def labelled_split(name: str, ranked: list[Ranked], titles: dict[str, str], train_rows: np.ndarray,
                   test_rows: np.ndarray, calib_share: float, args, rng, group_of=None) -> tuple[list[dict], object, Combiner]:
    """Train on `train_rows` (the verifier on 1 - calib_share of them, the combiner on the rest), report on `test_rows`."""
    train_rows = np.asarray(train_rows)
    if group_of is None:
        calib_mask = rng.random(len(train_rows)) < calib_share
    else:  # whole groups (entries) to the calibration part, nulls at random
        groups = sorted({group_of(i) for i in train_rows if group_of(i) is not None})
        calib_groups = set(rng.permutation(groups)[: int(len(groups) * calib_share)].tolist())
        calib_mask = np.array([(group_of(i) in calib_groups) if group_of(i) is not None else rng.random() < calib_share
                               for i in train_rows])
    fit_ranked = [ranked[i] for i in train_rows[~calib_mask]]
    calib_ranked = [ranked[i].top(args.k) for i in train_rows[calib_mask]]
    test_ranked = [ranked[i] for i in test_rows]
    if args.test_queries and len(test_ranked) > args.test_queries:
        test_ranked = [test_ranked[i] for i in np.sort(rng.choice(len(test_ranked), args.test_queries, replace=False))]
    pairs, labels = fit_pairs(fit_ranked, titles, args.k, args.train_pairs, rng)
    verifier, stats = train(pairs, labels, args, name)
    started = time.perf_counter()
    calib_logits = verify(verifier, calib_ranked)
    combiner = Combiner.fit(calib_ranked, calib_logits)
    test_logits = verify(verifier, [r.top(args.k) for r in test_ranked])
    scoring = time.perf_counter() - started
    n_scored = sum(len(r.ids) for r in calib_ranked) + sum(min(args.k, len(r.ids)) for r in test_ranked)
    log(f"{name}: scored {n_scored} pairs in {scoring:.0f} s; combiner {combiner.to_dict()}")
    # Today's threshold: the Calibrator's own; also the one a hotline could read from its labelled half.
    anchor_thr = threshold_for_precision(np.array([r.confidence for r in calib_ranked]),
                                         np.array([int(r.expected is not None and r.ids[:1] == (r.expected,)) for r in calib_ranked]), 0.95)
    info = {"train_pairs": len(pairs), "fit_queries": len(fit_ranked), "calib_queries": len(calib_ranked),
            "train_pairs_per_s": stats["pairs_per_second"], "score_pairs_per_s": round(n_scored / scoring, 1)}
    rows = [
        {"pack": "covid-medical", "split": name, "system": "calibrator (today)", **today(test_ranked, args.threshold95)},
        {"pack": "covid-medical", "split": name, "system": "calibrator, thr from labels", **today(test_ranked, anchor_thr)},
        {"pack": "covid-medical", "split": name, "system": f"verifier L{args.layers} + combiner", **verified(test_ranked, test_logits, combiner, args.k), **info},
        {"pack": "covid-medical", "split": name, "system": f"verifier L{args.layers} only",
         **verified(test_ranked, test_logits, _verifier_only(calib_ranked, calib_logits), args.k)},
    ]
    return rows, verifier, combiner


def _verifier_only(calib_ranked, calib_logits) -> Combiner:
    combiner = Combiner.verifier_only()
    combiner.thresholds = combiner.read_thresholds(calib_ranked, calib_logits, (0.9, 0.95, 0.98))
    return combiner


# ---- speed ------------------------------------------------------------------------------------------
def speed(texts: list[str]) -> dict:
    from bench.pair_verifier import PairVerifier

    out = {}
    pairs = [(a, b) for a, b in zip(texts[:64], texts[64:128])]
    for layers in (6, 12):
        v = PairVerifier.from_encoder(E5, layers=layers)
        stats = v.fit(pairs, np.arange(len(pairs)) % 2, epochs=1, batch_size=32)
        v.score(pairs[:5])
        times = []
        for i in range(10):
            started = time.perf_counter()
            v.score(pairs[5 * i : 5 * i + 5])
            times.append(time.perf_counter() - started)
        started = time.perf_counter()
        v.score(pairs)
        out[layers] = {"train_pairs_per_s": stats["pairs_per_second"], "score_5_ms": round(1000 * float(np.median(times)), 1),
                       "score_pairs_per_s": round(len(pairs) / (time.perf_counter() - started), 1)}
        log(f"speed L{layers}: {out[layers]}")
    return out


# ---- main -------------------------------------------------------------------------------------------
def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packs", type=Path, default=DEFAULT_PACKS)
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench-cache" / "verifier")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--k", type=int, default=3, help="candidates verified per query")
    parser.add_argument("--train-pairs", type=int, default=2000)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=1.5e-4)
    parser.add_argument("--test-queries", type=int, default=2000, help="score at most this many held-out queries (0: all)")
    parser.add_argument("--calib-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", default="random,seed,speed", help="any of random,seed,grouped,speed (grouped: not yet run)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    parts = set(args.parts.split(","))
    embedder = Lazy(_embedder)
    rows: list[dict] = []
    began = time.perf_counter()

    medical = searched_pack("covid-medical", args.packs, args.cache, embedder)
    ranked, titles = medical["ranked"], medical["titles"]
    args.threshold95 = medical["threshold95"]
    others = {p: searched_pack(p, args.packs, args.cache, embedder) for p in ("gov-policy", "covid-faq")}
    n = len(ranked)

    medical_verifier = None
    if "random" in parts:
        order = np.random.default_rng(args.seed).permutation(n)
        split_rows, medical_verifier, medical_combiner = labelled_split("query-random", ranked, titles, order[: n // 2], order[n // 2 :],
                                                      args.calib_share, args, np.random.default_rng(args.seed))
        rows += split_rows

    def other_rows(tag: str, verifier, combiner: Combiner) -> None:
        for pack, data in others.items():
            test = data["ranked"]
            logits = verify(verifier, [r.top(args.k) for r in test])
            rows.append({"pack": pack, "split": "no labels", "system": "calibrator (today)", **today(test, data["threshold95"])})
            rows.append({"pack": pack, "split": "no labels", "system": tag, **verified(test, logits, combiner, args.k)})

    if medical_verifier is not None:
        # Combiner and thresholds as read on held-out medical traffic, applied as they are (a measurement only).
        other_rows(f"medical-trained L{args.layers} (measurement only)", medical_verifier, medical_combiner)
        del medical_verifier

    if "seed" in parts:
        from knowledge_base.retrieval.index import RetrievalIndex
        from knowledge_base.seed import read_seed_entries

        entries = read_seed_entries()
        index = RetrievalIndex.build(entries, embedder())
        ids = [e.id for e in entries]
        perm = np.random.default_rng(args.seed).permutation(len(ids))
        calib_ids = {ids[i] for i in perm[: int(len(ids) * 0.3)]}
        fit_set = pairs_from_knowledge(index, k=args.k, samples_per_entry=3, entry_ids=set(ids) - calib_ids, seed=args.seed)
        calib_set = pairs_from_knowledge(index, k=args.k, samples_per_entry=3, entry_ids=calib_ids, seed=args.seed + 1)
        pairs, labels = fit_set.pairs()
        verifier, stats = train(pairs, labels, args, "seed")
        combiner = Combiner.fit(calib_set.ranked, verify(verifier, calib_set.ranked))
        log(f"seed: combiner {combiner.to_dict()}")
        other_rows(f"seed-trained L{args.layers} ({len(pairs)} pairs)", verifier, combiner)
        del verifier

    if "grouped" in parts:
        rng = np.random.default_rng(args.seed)
        expected_ids = sorted({r.expected for r in ranked if r.expected})
        train_entries = set(rng.permutation(expected_ids)[: len(expected_ids) // 2].tolist())
        nulls = np.array([i for i, r in enumerate(ranked) if r.expected is None])
        train_nulls = set(rng.permutation(nulls)[: len(nulls) // 2].tolist())
        train_rows = np.array([i for i, r in enumerate(ranked) if (r.expected in train_entries) or i in train_nulls])
        test_rows = np.array([i for i, r in enumerate(ranked) if not ((r.expected in train_entries) or i in train_nulls)])
        split_rows, _, _ = labelled_split("entry-grouped", ranked, titles, train_rows, test_rows, args.calib_share, args,
                                       np.random.default_rng(args.seed), group_of=lambda i: ranked[i].expected)
        rows += split_rows

    speeds = speed([r.query for r in ranked[:128]]) if "speed" in parts else {}

    columns = ("queries", "top1", "cov@0.9", "cov@0.95", "cov@0.98", "thr95", "prec@thr", "cov@thr")
    print("| pack | split | system | " + " | ".join(columns) + " |")
    print("|---|---|---|" + "---|" * len(columns))
    for row in rows:
        cells = " | ".join("–" if row.get(c) is None else (f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]))
                           for c in columns)
        print(f"| {row['pack']} | {row['split']} | {row['system']} | {cells} |")
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    print(json.dumps({"bench": "verifier", "layers": args.layers, "k": args.k, "train_pairs": args.train_pairs,
                      "epochs": args.epochs, "seconds": round(time.perf_counter() - began), "speed": speeds,
                      "rows": len(rows)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
