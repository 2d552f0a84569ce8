"""Fusing the dense and lexical rankers into one score per entry.

Both rankers score phrasings (an entry's title and each sample question); an entry takes the best of
its phrasings. The fused score is the dense cosine plus a small weight on the lexical score normalised
by the query's own lexical weight: the cosine orders paraphrases well, the lexical term breaks its near
ties in favour of entries that share the caller's exact words (drug names, place names, numbers).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FusionWeights:
    lexical: float = 0.03
    # Weight of the mean similarity over an entry's phrasings beside the best one: the mean reads the
    # entry's topic, so a rambling question is not won by whichever sample happens to ramble alike.
    mean_phrasing: float = 0.7
    # A city's own answer beats the province-wide one for the same question, all else equal.
    region_depth: float = 0.01


def best_per_entry(phrasing_scores: np.ndarray, phrasing_entry: np.ndarray, n_entries: int) -> np.ndarray:
    """Max over each entry's phrasings; -inf for an entry none of whose phrasings is scored."""
    best = np.full(n_entries, -np.inf, dtype=np.float32)
    np.maximum.at(best, phrasing_entry, phrasing_scores.astype(np.float32))
    return best


def fuse(dense: np.ndarray, lexical: np.ndarray, depth: np.ndarray, weights: FusionWeights,
         lexical_scale: float | np.ndarray) -> np.ndarray:
    """`lexical_scale` is the query's own weight (the summed IDF of its n-grams), so the lexical term
    says how much of what the caller said an entry covers, whatever the other candidates cover. One
    number, or one per element when the elements belong to different queries."""
    scale = np.asarray(lexical_scale, dtype=np.float32)
    lexical_norm = np.divide(lexical, scale, out=np.zeros_like(lexical), where=scale > 0)
    return dense + weights.lexical * lexical_norm + weights.region_depth * depth
