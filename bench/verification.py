"""Verifying the retrieval's candidates with a learned pair verifier (`bench/pair_verifier.py`).

Retrieval ranks; the verifier reads the caller's question and each top candidate together and says whether
that entry answers it. This module makes its training pairs and turns its scores into the final decision:

- `pairs_from_labels`: a hotline's labelled traffic ({"text", "expected" | null}) through the index's own
  search; each query's top-k candidates become (query, candidate text) pairs, 1 iff the candidate is the
  expected entry (the expected entry is added as a positive when the search missed it);
- `pairs_from_knowledge`: self-supervised pairs from the entries' own phrasings, for a hotline with no
  labelled traffic: a held-out sample against the rest (its own entry is the positive, its neighbours are
  negatives), and a phrasing whose whole entry is held out (every candidate is a near miss);
- `Combiner`: a small per-candidate logistic over (verifier logit, its lead over the other candidates, fused
  score, gap to the fused top) fitted on pairs the verifier did not train on. Candidates are re-ranked by
  it and the confidence is its probability for the new top; thresholds per wanted precision are read on
  those same held-out queries and stored with it.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from knowledge_base.retrieval.confidence import threshold_for_precision
from knowledge_base.retrieval.self_supervision import drop_characters

CANDIDATE_TEXTS = ("title", "matched", "both")


@dataclass(frozen=True)
class Ranked:
    """One query's top candidates as the retrieval ranked them."""

    query: str
    expected: str | None  # None: nothing in the knowledge base answers it
    ids: tuple[str, ...]
    titles: tuple[str, ...]
    matched: tuple[str, ...]  # the phrasing that matched best, per candidate
    fused: np.ndarray
    confidence: float = 0.0  # the retrieval's own (Calibrator) confidence, for comparison

    def texts(self, how: str = "title") -> list[str]:
        return [candidate_text(t, m, how) for t, m in zip(self.titles, self.matched)]

    def labels(self) -> np.ndarray:
        return np.array([int(self.expected is not None and i == self.expected) for i in self.ids], dtype=np.int64)

    def top(self, k: int) -> "Ranked":
        return Ranked(self.query, self.expected, self.ids[:k], self.titles[:k], self.matched[:k], self.fused[:k],
                      self.confidence)


def candidate_text(title: str, matched: str, how: str = "title") -> str:
    if how == "title" or (how == "both" and matched == title):
        return title
    if how == "matched":
        return matched
    if how == "both":
        return f"{title}；{matched}"
    raise ValueError(f"candidate text must be one of {CANDIDATE_TEXTS}, not {how!r}")


@dataclass
class PairSet:
    """Training pairs, kept per query so that scores can be put back together per ranking."""

    ranked: list[Ranked]
    how: str = "title"
    # Extra positives: (query, text of the expected entry) where the search did not find it in the top k.
    extra: list[tuple[str, str]] = field(default_factory=list)

    def pairs(self, *, with_extra: bool = True) -> tuple[list[tuple[str, str]], np.ndarray]:
        pairs: list[tuple[str, str]] = []
        labels: list[int] = []
        for r in self.ranked:
            pairs.extend((r.query, t) for t in r.texts(self.how))
            labels.extend(r.labels().tolist())
        if with_extra:
            pairs.extend(self.extra)
            labels.extend([1] * len(self.extra))
        return pairs, np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return sum(len(r.ids) for r in self.ranked) + len(self.extra)


def _ranked_from_result(result, expected: str | None) -> Ranked:
    c = result.candidates
    return Ranked(result.query, expected, tuple(x.entry.id for x in c), tuple(x.entry.question for x in c),
                  tuple(x.matched for x in c), np.array([x.score for x in c], dtype=np.float32), result.confidence)


def pairs_from_labels(index, queries: Sequence[tuple[str, str | None]], k: int = 3, *, how: str = "title",
                      add_missed: bool = True, progress=None) -> PairSet:
    """Labelled traffic → pairs: each query through `index.search_many`, its top-k candidates labelled 1 iff
    the candidate is the expected entry (`None`: nothing answers, every candidate is 0). With `add_missed`,
    an expected entry the search did not rank in the top k is added as an extra positive."""
    results = index.search_many([q for q, _ in queries], k=k, progress=progress)
    ranked = [_ranked_from_result(r, e) for r, (_, e) in zip(results, queries)]
    extra = []
    if add_missed:
        for r in ranked:
            if r.expected is not None and r.expected not in r.ids and r.expected in index.entries_by_id:
                entry = index.entries_by_id[r.expected]
                extra.append((r.query, candidate_text(entry.question, entry.question, how)))
    return PairSet(ranked, how, extra)


def pairs_from_knowledge(index, *, k: int = 3, how: str = "title", samples_per_entry: int = 2,
                         max_entries: int | None = None, entry_ids: Collection[str] | None = None,
                         seed: int = 0) -> PairSet:
    """Self-supervised pairs from the knowledge base's own phrasings (no labelled traffic needed).

    Per entry (up to `max_entries`, chosen at random): up to `samples_per_entry` of its sample questions,
    each held out of the index in turn and asked of the rest — its own entry is the right candidate, the
    others are neighbours on the same subject (an entry with only its title asks the title with a few
    characters dropped); and one phrasing asked with the whole entry held out, whose candidates are all
    near misses: the question a hotline must not answer with a confident guess. `entry_ids` limits which
    entries ask (all of them stay in the index), e.g. to keep a calibration part apart."""
    rng = np.random.default_rng(seed)
    rows = rng.permutation(index.size)
    if entry_ids is not None:
        wanted = set(entry_ids)
        rows = np.array([r for r in rows if index.entries[r].id in wanted], dtype=np.int64)
    rows = rows[: max_entries or len(rows)]
    texts, vectors, excluded, owners = [], [], [], []
    to_embed: list[tuple[int, str]] = []
    for row in rows:
        own = index.entry_phrasings[row]
        if own.size == 0:
            continue
        held = own[int(rng.integers(0, own.size))]
        texts.append(index.phrasings[held]); vectors.append(index.vectors[held]); excluded.append(own); owners.append(-1)
        if own.size >= 2:
            for held in rng.permutation(own[1:])[:samples_per_entry]:
                texts.append(index.phrasings[held]); vectors.append(index.vectors[held])
                excluded.append(np.array([held])); owners.append(int(row))
        else:
            to_embed.append((len(texts), drop_characters(index.phrasings[own[0]], rng)))
            texts.append(""); vectors.append(index.vectors[own[0]]); excluded.append(np.zeros(0, np.int64)); owners.append(int(row))
    if to_embed:
        fresh = index.embedder.embed_queries([t for _, t in to_embed])
        for (slot, text), vector in zip(to_embed, fresh):
            texts[slot], vectors[slot] = text, vector
    rankings = index.rank(texts, np.vstack(vectors), excluded=excluded) if texts else []
    ranked = []
    for text, owner, ranking in zip(texts, owners, rankings):
        rows_k = ranking.rows[:k]
        ranked.append(Ranked(
            text, index.entries[owner].id if owner >= 0 else None,
            tuple(index.entries[r].id for r in rows_k), tuple(index.entries[r].question for r in rows_k),
            tuple(index.phrasings[m] for m in ranking.matched[:k]), ranking.fused[:k].astype(np.float32),
            float(index.calibrator.probability(index.features(text, ranking))) if ranking.rows.size else 0.0))
    return PairSet(ranked, how)


# ---- from verifier scores to a decision -------------------------------------------------------------
COMBINER_FEATURES = ("verifier_logit", "verifier_lead", "fused", "fused_gap")


def candidate_features(logits: np.ndarray, fused: np.ndarray) -> np.ndarray:
    """Per candidate of one ranking (in retrieval order): its verifier logit, that logit minus the best
    other candidate's, its fused score and its gap to the fused top."""
    n = len(logits)
    if n == 0:
        return np.zeros((0, len(COMBINER_FEATURES)), np.float32)
    if n > 1:
        best_other = np.array([np.max(np.delete(logits, i)) for i in range(n)])
    else:
        best_other = np.full(1, -10.0)
    return np.column_stack([logits, logits - best_other, fused, fused - fused[0]]).astype(np.float32)


@dataclass
class Combiner:
    """Re-ranks a query's top-k by P(candidate answers) from the verifier and the ranking; the confidence is
    that probability for the new top. `thresholds[P]`: the lowest confidence at which held-out answers were
    right at least P of the time (inf when none)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    thresholds: dict[float, float] = field(default_factory=dict)

    def probabilities(self, logits: np.ndarray, fused: np.ndarray) -> np.ndarray:
        x = (candidate_features(logits, fused) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(x @ self.coef + self.intercept)))

    def decide(self, logits: np.ndarray, fused: np.ndarray) -> tuple[np.ndarray, float]:
        """(order of the candidates, best first; confidence that the first is right)."""
        if len(logits) == 0:
            return np.zeros(0, np.int64), 0.0
        p = self.probabilities(logits, fused)
        order = np.argsort(-p, kind="stable")
        return order, float(p[order[0]])

    def threshold(self, precision: float) -> float:
        return self.thresholds.get(float(precision), float("inf"))

    @classmethod
    def verifier_only(cls) -> "Combiner":
        """No held-out data to fit on: the verifier's own probability, re-ranked by it."""
        coef = np.zeros(len(COMBINER_FEATURES), np.float32)
        coef[0] = 1.0
        return cls(np.zeros_like(coef), np.ones_like(coef), coef, 0.0)

    @classmethod
    def fit(cls, ranked: Sequence[Ranked], logits: Sequence[np.ndarray],
            precisions: Sequence[float] = (0.9, 0.95, 0.98), C: float = 1.0) -> "Combiner":
        """Fitted on rankings the verifier did not train on, with its logits per ranking (same order)."""
        from sklearn.linear_model import LogisticRegression

        features = [candidate_features(l, r.fused) for r, l in zip(ranked, logits)]
        x = np.vstack(features) if features else np.zeros((0, len(COMBINER_FEATURES)), np.float32)
        y = np.concatenate([r.labels() for r in ranked]) if ranked else np.zeros(0, np.int64)
        if len(set(y.tolist())) < 2:
            combiner = cls.verifier_only()
        else:
            mean, scale = x.mean(0), x.std(0)
            scale[scale < 1e-6] = 1.0
            model = LogisticRegression(C=C, max_iter=1000).fit((x - mean) / scale, y)
            combiner = cls(mean.astype(np.float32), scale.astype(np.float32), model.coef_[0].astype(np.float32),
                           float(model.intercept_[0]))
        combiner.thresholds = combiner.read_thresholds(ranked, logits, precisions)
        return combiner

    def read_thresholds(self, ranked: Sequence[Ranked], logits: Sequence[np.ndarray],
                        precisions: Sequence[float]) -> dict[float, float]:
        confidence, correct = self.outcomes(ranked, logits)
        return {float(p): threshold_for_precision(confidence, correct, p) for p in precisions}

    def outcomes(self, ranked: Sequence[Ranked], logits: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Confidence and right/wrong of the re-ranked top, per ranking."""
        confidence, correct = [], []
        for r, l in zip(ranked, logits):
            order, c = self.decide(l, r.fused)
            confidence.append(c)
            correct.append(int(order.size > 0 and r.expected is not None and r.ids[order[0]] == r.expected))
        return np.asarray(confidence, np.float64), np.asarray(correct, np.int64)

    def to_dict(self) -> dict:
        return {"features": list(COMBINER_FEATURES), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept,
                "thresholds": {str(p): (None if not np.isfinite(t) else t) for p, t in self.thresholds.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "Combiner":
        if list(data.get("features", [])) != list(COMBINER_FEATURES):
            raise ValueError(f"combiner features {data.get('features')} are not {COMBINER_FEATURES}")
        return cls(np.asarray(data["mean"], np.float32), np.asarray(data["scale"], np.float32),
                   np.asarray(data["coef"], np.float32), float(data["intercept"]),
                   {float(p): (float("inf") if t is None else float(t)) for p, t in data.get("thresholds", {}).items()})


def split_logits(ranked: Sequence[Ranked], flat: np.ndarray) -> list[np.ndarray]:
    """Flat per-pair logits (in `PairSet.pairs(with_extra=False)` order) back into one array per ranking."""
    out, start = [], 0
    for r in ranked:
        out.append(np.asarray(flat[start : start + len(r.ids)], np.float32))
        start += len(r.ids)
    return out


def verify(verifier, ranked: Sequence[Ranked], how: str = "title", batch_size: int = 64) -> list[np.ndarray]:
    """The verifier's logits for each ranking's candidates."""
    pairs = [(r.query, t) for r in ranked for t in r.texts(how)]
    return split_logits(ranked, verifier.logits(pairs, batch_size=batch_size))
