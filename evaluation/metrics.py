"""Retrieval and decision measures, as defined in the evaluation data's README."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Outcome:
    """One query's result: the expected entry (None when nothing should answer), the ranked ids, the confidence."""

    expected: str | None
    ranked: Sequence[str]
    confidence: float


def ranking_measures(outcomes: Sequence[Outcome]) -> dict[str, float]:
    answerable = [o for o in outcomes if o.expected is not None]
    if not answerable:
        return {"top1": 0.0, "top3": 0.0, "mrr": 0.0}
    ranks = [list(o.ranked).index(o.expected) + 1 if o.expected in o.ranked else None for o in answerable]
    return {
        "top1": sum(r == 1 for r in ranks) / len(ranks),
        "top3": sum(r is not None and r <= 3 for r in ranks) / len(ranks),
        "mrr": sum(1 / r for r in ranks if r) / len(ranks),
    }


def coverage_at_precision(outcomes: Sequence[Outcome], precision: float) -> float:
    """The best share of answerable queries answered correctly, over all confidence thresholds,
    such that automatic answers are right at least `precision` of the time (answering a query that
    nothing should answer counts as wrong)."""
    answerable = sum(o.expected is not None for o in outcomes)
    if not answerable:
        return 0.0
    order = sorted(outcomes, key=lambda o: -o.confidence)
    correct = np.cumsum([o.expected is not None and bool(o.ranked) and o.ranked[0] == o.expected for o in order])
    answered = np.arange(1, len(order) + 1)
    confidences = np.array([o.confidence for o in order])
    # A threshold can only fall between distinct confidences: evaluate at the last of each tie.
    cut = np.append(confidences[1:] != confidences[:-1], True)
    ok = (correct / answered >= precision) & cut
    return float(correct[ok].max() / answerable) if ok.any() else 0.0


def summary(outcomes: Sequence[Outcome]) -> dict[str, float | int]:
    result: dict[str, float | int] = {
        "queries": len(outcomes),
        "answerable": sum(o.expected is not None for o in outcomes),
        **ranking_measures(outcomes),
    }
    for p in (0.9, 0.95, 0.98):
        result[f"coverage@{p}"] = coverage_at_precision(outcomes, p)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}


def decision_measures(expected: Sequence[str | None], decisions: Sequence[tuple[str, str | None, Sequence[str]]]) -> dict:
    """The engine's decisions against the labels. Each decision is (kind, entry answered or first
    offered, entries offered). precision = correct automatic answers ÷ automatic answers (answering a
    query nothing should answer is wrong); coverage = correct automatic answers ÷ answerable queries."""
    answerable = sum(e is not None for e in expected)
    answered = [(e, d) for e, d in zip(expected, decisions) if d[0] == "answer"]
    correct = sum(e is not None and d[1] == e for e, d in answered)
    clarified = [(e, d) for e, d in zip(expected, decisions) if d[0] == "clarify"]
    figures = {
        "precision": correct / len(answered) if answered else 1.0,
        "coverage": correct / answerable if answerable else 0.0,
        "answered": len(answered),
        "clarified": len(clarified),
        "handed_off": sum(d[0] == "handoff" for d in decisions),
        "redirected": sum(d[0] == "redirect" for d in decisions),
        "refused": sum(d[0] == "refuse" for d in decisions),
        # of the clarifications of answerable questions, the share that offered the right entry
        "clarify_hit": (sum(e in d[2] for e, d in clarified if e is not None) / max(1, sum(e is not None for e, _ in clarified))),
    }
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}


@dataclass(frozen=True)
class Conversation:
    """How a simulated conversation about one question ended (evaluation/retrieval.py simulate): "contained"
    (answered right without a human), "misled" (answered wrong), "to_human", or "screened" (redirected or
    refused by the rules); and after how many of the citizen's turns."""

    ending: str
    turns: int


def conversation_measures(expected: Sequence[str | None], conversations: Sequence[Conversation]) -> dict:
    """contained ÷ answerable queries, misled ÷ all, to a human ÷ all, and the mean number of turns."""
    answerable = sum(e is not None for e in expected)
    count = len(conversations)
    figures = {
        "contained": sum(c.ending == "contained" for c in conversations) / answerable if answerable else 0.0,
        "misled": sum(c.ending == "misled" for c in conversations) / count if count else 0.0,
        "to_human": sum(c.ending == "to_human" for c in conversations) / count if count else 0.0,
        "mean_turns": sum(c.turns for c in conversations) / count if count else 0.0,
    }
    return {k: round(v, 4) for k, v in figures.items()}
