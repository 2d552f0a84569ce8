"""Learning the calibrator from the knowledge base itself, with no labelled traffic.

Two kinds of question are made from the entries' own phrasings:
- answerable: a sample question held out of the index (its entry still answers through its other
  phrasings); for an entry with a single phrasing, that phrasing with a few characters dropped;
- unanswerable: a phrasing whose whole entry is held out, so that the best remaining entry is a near
  miss on the same subject — exactly the question a hotline must not answer with a confident guess.
The calibrator learns which rankings look like the first kind.
"""
from __future__ import annotations

import numpy as np

from knowledge_base.retrieval.confidence import Calibrator

MIN_EXAMPLES = 40


def drop_characters(text: str, rng: np.random.Generator) -> str:
    """A phrasing with one or two characters dropped: an answerable question made from a lone phrasing."""
    if len(text) < 6:
        return text
    chars = list(text)
    for _ in range(1 + int(len(chars) > 12)):
        del chars[int(rng.integers(0, len(chars)))]
    return "".join(chars)


def fit_calibrator(index, *, max_queries: int, seed: int = 0) -> tuple[Calibrator, np.ndarray, np.ndarray]:
    """The calibrator, and its probabilities and right/wrong labels on the questions it learned from
    (from which answer thresholds for a wanted precision are read)."""
    rng = np.random.default_rng(seed)
    n_entries = index.size
    nothing = np.zeros(0, np.float32)
    if n_entries < 3:
        return Calibrator.fallback(), nothing, nothing
    rows = rng.permutation(n_entries)[: max(1, max_queries // 2)]

    texts: list[str] = []
    vectors: list[np.ndarray] = []
    excluded: list[np.ndarray] = []
    owners: list[int] = []
    to_embed: list[tuple[int, str]] = []
    for row in rows:
        own = index.entry_phrasings[row]
        # Unanswerable: the whole entry held out.
        held = own[int(rng.integers(0, own.size))]
        texts.append(index.phrasings[held]); vectors.append(index.vectors[held]); excluded.append(own); owners.append(-1)
        # Answerable.
        if own.size >= 2:
            held = own[1 + int(rng.integers(0, own.size - 1))]
            texts.append(index.phrasings[held]); vectors.append(index.vectors[held]); excluded.append(np.array([held])); owners.append(row)
        else:
            to_embed.append((len(texts), drop_characters(index.phrasings[own[0]], rng)))
            texts.append(""); vectors.append(index.vectors[own[0]]); excluded.append(np.zeros(0, np.int64)); owners.append(row)
    if to_embed:
        fresh = index.embedder.embed_queries([t for _, t in to_embed])
        for (slot, text), vector in zip(to_embed, fresh):
            texts[slot], vectors[slot] = text, vector

    rankings = index.rank(texts, np.vstack(vectors), excluded=excluded)
    features = np.vstack([index.features(r) for r in rankings])
    labels = np.array([int(o >= 0 and r.rows.size > 0 and r.rows[0] == o) for o, r in zip(owners, rankings)])
    calibrator = Calibrator.fallback() if len(labels) < MIN_EXAMPLES else Calibrator.fit(features, labels)
    return calibrator, calibrator.probability(features), labels
