"""A calibrated probability that the top candidate is the right answer.

A raw cosine is not a probability: near misses ("…怎么治疗" asked of an entry "…有什么区别") score as high
as true paraphrases. The calibrator reads more than the top score — the margin to the next entry,
whether the lexical and dense rankers agree, and what the question and the top entry's phrasing ask and
are about (`asks.py`: the same ask in other words, or another ask of the same subject) — and maps them
through a logistic model fitted on questions made from the knowledge base itself (`self_supervision.py`).
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, fields, is_dataclass
from typing import get_type_hints

import numpy as np

from knowledge_base.retrieval.asks import Reading, pair_features

FEATURES = ("fused_top", "fused_margin", "rankers_agree", "ask_same", "ask_differ", "subject_of_query", "subject_of_entry")


def ranking_features(fused: np.ndarray, lexical: np.ndarray, query: Reading, matched: Reading) -> np.ndarray:
    """Features of one ranked candidate list (arrays sorted by fused score, best first).

    `query` and `matched` are the readings of the question and of the top entry's best phrasing.
    Only features whose meaning is the same for the knowledge base's own phrasings and for callers'
    questions: the lexical coverage of the query, for one, is inflated for a phrasing with a few
    characters dropped, so a calibrator that learned from it would trust callers' words too much.
    """
    if fused.size == 0:
        return np.zeros(len(FEATURES), dtype=np.float32)
    second = fused[1] if fused.size > 1 else 0.0
    agree = float(lexical.size > 0 and int(np.argmax(lexical)) == 0)
    return np.array([fused[0], fused[0] - second, agree, *pair_features(query, matched)], dtype=np.float32)


@dataclass(frozen=True)
class Calibrator:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def probability(self, features: np.ndarray) -> np.ndarray:
        z = ((features - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> "Calibrator":
        """Logistic regression on standardised features (each example counted `weights` times); falls back to
        the prior when one class is missing."""
        from sklearn.linear_model import LogisticRegression

        mean = features.mean(axis=0)
        scale = features.std(axis=0)
        scale[scale < 1e-6] = 1.0
        if len(set(labels.tolist())) < 2:
            return cls.fallback()
        model = LogisticRegression(C=1.0, max_iter=1000).fit((features - mean) / scale, labels, sample_weight=weights)
        return cls(mean=mean, scale=scale, coef=model.coef_[0].astype(np.float32), intercept=float(model.intercept_[0]))

    @classmethod
    def fallback(cls) -> "Calibrator":
        """Used when the knowledge base is too small to learn from: a cautious margin-and-score rule."""
        coef = np.zeros(len(FEATURES), dtype=np.float32)
        coef[FEATURES.index("fused_top")] = 40.0
        coef[FEATURES.index("fused_margin")] = 60.0
        return cls(mean=np.zeros(len(FEATURES), np.float32), scale=np.ones(len(FEATURES), np.float32), coef=coef, intercept=-38.0)


@dataclass(frozen=True)
class Calibration:
    """A calibrator and the examples it was judged on: its confidence on each, whether the top entry was
    right, and whether the example had an answer at all (from which answer thresholds are read)."""

    calibrator: Calibrator
    confidence: np.ndarray
    correct: np.ndarray
    answerable: np.ndarray

    @classmethod
    def fallback(cls) -> "Calibration":
        nothing = np.zeros(0, np.float32)
        return cls(Calibrator.fallback(), nothing, nothing.astype(bool), nothing.astype(bool))

    def threshold(self, precision: float, *, answerable_share: float, risk: float = 0.05) -> float:
        return threshold_for_precision(self.confidence, self.correct, precision, answerable=self.answerable,
                                       answerable_share=answerable_share, risk=risk)

    def to_bytes(self) -> bytes:
        """Every field, nested calibrator included, as one NumPy .npz archive (for `from_bytes`)."""
        arrays: dict[str, np.ndarray] = {}
        kinds: dict[str, str] = {}
        _flatten(self, "", arrays, kinds)
        buffer = io.BytesIO()
        np.savez(buffer, __kinds__=np.array(json.dumps(kinds, sort_keys=True)), **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Calibration":
        """The calibration `to_bytes` wrote; ValueError when `data` is not one of this very layout (a field
        added, removed or of another kind since it was written)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
            kinds = json.loads(str(arrays.pop("__kinds__")))
        except Exception as error:  # a truncated or foreign blob: zipfile, OSError, KeyError, JSON errors
            raise ValueError(f"not a stored calibration: {error}") from error
        calibration = _unflatten(cls, "", arrays, kinds)
        if kinds:
            raise ValueError(f"a stored calibration has fields this one does not: {sorted(kinds)}")
        return calibration


# (De)serialisation goes over the dataclasses' own fields, so that a field added to either class is stored
# without touching this code (an archive of the old layout is then refused, and the caller fits afresh).
_SCALARS = {"float": float, "int": int, "bool": bool, "str": str}


def _flatten(value, prefix: str, arrays: dict[str, np.ndarray], kinds: dict[str, str]) -> None:
    for f in fields(value):
        name, item = prefix + f.name, getattr(value, f.name)
        if is_dataclass(item):
            _flatten(item, name + ".", arrays, kinds)
        elif item is None:
            kinds[name] = "none"
        elif isinstance(item, np.ndarray):
            arrays[name], kinds[name] = item, "array"
        elif type(item).__name__ in _SCALARS or isinstance(item, np.generic):
            scalar = item.item() if isinstance(item, np.generic) else item
            arrays[name], kinds[name] = np.asarray(scalar), type(scalar).__name__
        else:
            raise TypeError(f"cannot store the calibration field {name} of type {type(item).__name__}")


def _unflatten(cls, prefix: str, arrays: dict[str, np.ndarray], kinds: dict[str, str]):
    hints = get_type_hints(cls)
    values = {}
    for f in fields(cls):
        name, hint = prefix + f.name, hints[f.name]
        if isinstance(hint, type) and is_dataclass(hint):
            values[f.name] = _unflatten(hint, name + ".", arrays, kinds)
            continue
        kind = kinds.pop(name, None)
        if kind is None:
            raise ValueError(f"a stored calibration lacks the field {name}")
        if kind == "none":
            values[f.name] = None
        elif kind == "array":
            values[f.name] = arrays[name].copy()
        elif kind in _SCALARS:
            values[f.name] = _SCALARS[kind](arrays[name].item())
        else:
            raise ValueError(f"a stored calibration's field {name} is of an unknown kind {kind!r}")
    return cls(**values)


def _binomial_bounds(hits: np.ndarray, total: int, risk: float) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson (lower, upper) bounds on a rate from `hits` of `total`, each missed with probability ≤ `risk`."""
    from scipy.stats import beta

    hits = np.asarray(hits, dtype=np.float64)
    if total <= 0:
        return np.zeros_like(hits), np.ones_like(hits)
    lower = np.where(hits > 0, beta.ppf(risk, np.maximum(hits, 1e-9), total - hits + 1.0), 0.0)
    upper = np.where(hits < total, beta.ppf(1.0 - risk, hits + 1.0, np.maximum(total - hits, 1e-9)), 1.0)
    return lower, upper


def precision_lower_bound(right: np.ndarray, wrong: np.ndarray, false: np.ndarray, n_answerable: int,
                          n_unanswerable: int, *, answerable_share: float, risk: float) -> np.ndarray:
    """A lower bound on the precision of answering at each threshold, where of the examples at or above it
    `right` and `wrong` are answerable ones answered with the right and a wrong entry and `false` are
    unanswerable ones, and a share `answerable_share` of the traffic has an answer.

    precision = π·R / (π·(R + W) + (1 − π)·F) with R, W the rates among answerable questions and F among
    unanswerable ones; each rate takes its worst Clopper-Pearson bound, at a third of the risk each."""
    share = float(np.clip(answerable_share, 0.0, 1.0))
    r_low, _ = _binomial_bounds(right, n_answerable, risk / 3)
    _, w_high = _binomial_bounds(wrong, n_answerable, risk / 3)
    _, f_high = _binomial_bounds(false, n_unanswerable, risk / 3)
    if n_unanswerable <= 0 or share >= 1.0:
        f_high = np.zeros_like(f_high)
    if n_answerable <= 0:
        return np.zeros_like(r_low)
    hit = share * r_low
    miss = share * w_high + (1.0 - share) * f_high
    return np.divide(hit, hit + miss, out=np.zeros_like(hit), where=hit + miss > 0)


def threshold_for_precision(confidences: np.ndarray, correct: np.ndarray, precision: float, *,
                            answerable: np.ndarray | None = None, answerable_share: float | None = None,
                            risk: float = 0.05, min_answers: int = 5, candidates: int = 16) -> float:
    """The lowest confidence threshold at which answers at or above it are right at least `precision` of the
    time with probability 1 − `risk`, on traffic like these examples; `inf` when none is.

    With `answerable` (which examples have an answer) and `answerable_share` (the share of traffic that has
    one), precision is bounded for traffic of that mix, whatever the mix of the examples
    (`precision_lower_bound`); without, for traffic mixed as the examples are.

    The guarantee (fixed-sequence testing, as in "Learn then Test"): up to `candidates` thresholds, from the
    strictest down, are each tested at the full `risk` — is precision at or above it at least `precision`? —
    and the search stops at the first that fails; the one chosen is the last that passed. The chance that a
    threshold whose true precision is below `precision` is chosen is then at most `risk`, with no division of
    the risk among the thresholds tried, because a test is reached only when every stricter one passed. It
    holds for new questions exchangeable with these examples (per class, when the mix is given); a threshold
    falls at the last of tied confidences, and needs at least `min_answers` answers above it."""
    if len(confidences) == 0:
        return float("inf")
    order = np.argsort(-np.asarray(confidences), kind="stable")
    conf = np.asarray(confidences)[order]
    right_flags = np.asarray(correct)[order].astype(bool)
    if answerable is None or answerable_share is None:
        has_answer = np.ones(len(conf), dtype=bool)
        share = 1.0
        wrong_flags = ~right_flags
    else:
        has_answer = np.asarray(answerable)[order].astype(bool)
        share = answerable_share
        wrong_flags = has_answer & ~right_flags
    right = np.cumsum(right_flags & has_answer)
    wrong = np.cumsum(wrong_flags)
    false = np.cumsum(~has_answer)
    answered = np.arange(1, len(conf) + 1)
    n_answerable, n_unanswerable = int(has_answer.sum()), int((~has_answer).sum())
    # Where the sequence starts is fixed before the examples are looked at: the fewest answers at which a record
    # halfway between the wanted precision and perfection (none of them unanswerable) would pass; a stricter
    # threshold would fail for want of examples and end the search before it began.
    good = (1.0 + precision) / 2
    record = precision_lower_bound(good * answered, (1 - good) * answered, np.zeros(len(conf)), n_answerable,
                                   n_unanswerable, answerable_share=share, risk=risk)
    passing_record = np.flatnonzero(record >= precision)
    if not passing_record.size:
        return float("inf")
    fewest = max(min_answers, int(answered[passing_record[0]]))
    cut = np.flatnonzero(np.append(conf[1:] != conf[:-1], True) & (answered >= fewest))
    if not cut.size:
        return float("inf")
    at = np.unique(cut[np.searchsorted(cut, np.linspace(cut[0], cut[-1], candidates), side="left").clip(0, cut.size - 1)])
    bound = precision_lower_bound(right[at], wrong[at], false[at], n_answerable, n_unanswerable,
                                  answerable_share=share, risk=risk)
    failing = np.flatnonzero(bound < precision)
    passed = failing[0] if failing.size else at.size  # the tests before the first failure
    return float(conf[at[passed - 1]]) if passed else float("inf")
