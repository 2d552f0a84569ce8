"""A calibrated probability that the top candidate is the right answer.

A raw cosine is not a probability: near misses ("…怎么治疗" asked of an entry "…有什么区别") score as high
as true paraphrases. The calibrator reads more than the top score — the margin to the next entry and
whether the lexical and dense rankers agree — and maps them through a logistic model fitted on the
knowledge base's own phrasings (see `self_supervision.py`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FEATURES = ("fused_top", "fused_margin", "rankers_agree")


def ranking_features(fused: np.ndarray, lexical: np.ndarray) -> np.ndarray:
    """Features of one ranked candidate list (arrays sorted by fused score, best first).

    Only features whose meaning is the same for the knowledge base's own phrasings and for callers'
    questions: the lexical coverage of the query, for one, is inflated for a phrasing with a few
    characters dropped, so a calibrator that learned from it would trust callers' words too much.
    """
    if fused.size == 0:
        return np.zeros(len(FEATURES), dtype=np.float32)
    second = fused[1] if fused.size > 1 else 0.0
    agree = float(lexical.size > 0 and int(np.argmax(lexical)) == 0)
    return np.array([fused[0], fused[0] - second, agree], dtype=np.float32)


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
    def fit(cls, features: np.ndarray, labels: np.ndarray) -> "Calibrator":
        """Logistic regression on standardised features; falls back to the prior when one class is missing."""
        from sklearn.linear_model import LogisticRegression

        mean = features.mean(axis=0)
        scale = features.std(axis=0)
        scale[scale < 1e-6] = 1.0
        if len(set(labels.tolist())) < 2:
            return cls.fallback()
        model = LogisticRegression(C=1.0, max_iter=1000).fit((features - mean) / scale, labels)
        return cls(mean=mean, scale=scale, coef=model.coef_[0].astype(np.float32), intercept=float(model.intercept_[0]))

    @classmethod
    def fallback(cls) -> "Calibrator":
        """Used when the knowledge base is too small to learn from: a cautious margin-and-score rule."""
        coef = np.zeros(len(FEATURES), dtype=np.float32)
        coef[FEATURES.index("fused_top")] = 40.0
        coef[FEATURES.index("fused_margin")] = 60.0
        return cls(mean=np.zeros(len(FEATURES), np.float32), scale=np.ones(len(FEATURES), np.float32), coef=coef, intercept=-38.0)


def threshold_for_precision(confidences: np.ndarray, correct: np.ndarray, precision: float, *, min_answers: int = 5) -> float:
    """The lowest confidence threshold at which answers at or above it were right at least `precision`
    of the time on these examples (with at least `min_answers` of them); `inf` when none is.

    Thresholds can only fall at the last of tied confidences."""
    if len(confidences) == 0:
        return float("inf")
    order = np.argsort(-confidences, kind="stable")
    conf = confidences[order]
    hits = np.cumsum(correct[order].astype(np.float64))
    answered = np.arange(1, len(conf) + 1)
    cut = np.append(conf[1:] != conf[:-1], True)
    ok = (hits / answered >= precision) & cut & (answered >= min_answers)
    if not ok.any():
        return float("inf")
    return float(conf[np.flatnonzero(ok).max()])
