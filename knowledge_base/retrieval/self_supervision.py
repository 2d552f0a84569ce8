"""Learning the calibrator from the knowledge base itself, with no labelled traffic.

Questions are made from the entries' own phrasings, each with whether the index's top entry for it is right:
- held out: a sample question held out of the index (its entry still answers through its other
  phrasings); for an entry with a single phrasing, that phrasing with a few characters dropped;
- paraphrase: a phrasing asking the same thing in other words ("…是什么原因" → "…怎么回事", `asks.py`);
- near miss: a phrasing rewritten to ask something else about the same subject ("…是什么原因" →
  "…怎么治疗"): answering it is wrong, unless another entry that asks just that of a like subject comes
  first (then nobody knows, and the question is left out); counting an unknown as wrong only makes the
  thresholds stricter;
- unanswerable: a phrasing whose whole entry is held out, so that the best remaining entry is another
  question on a neighbouring subject.
The calibrator learns which of these rankings are right.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from knowledge_base.retrieval.confidence import Calibration, Calibrator

MIN_EXAMPLES = 40
QUESTIONS_PER_DRAW = 4  # held out, paraphrase, near miss, unanswerable
MAX_NEAR_MISSES = 6     # per drawn entry, in a small knowledge base


@dataclass
class _Made:
    text: str
    vector: np.ndarray | None     # None: to embed
    excluded: np.ndarray          # phrasing rows masked for it
    owner: int                    # the entry that answers it; -1 none
    near_miss_of: int = -1        # the entry it must not be answered with


def drop_characters(text: str, rng: np.random.Generator) -> str:
    """A phrasing with one or two characters dropped: an answerable question made from a lone phrasing."""
    if len(text) < 6:
        return text
    chars = list(text)
    for _ in range(1 + int(len(chars) > 12)):
        del chars[int(rng.integers(0, len(chars)))]
    return "".join(chars)


def _draws(n_entries: int, max_queries: int, rng: np.random.Generator) -> np.ndarray:
    """Rows of the entries to make questions from: each entry once where there are enough of them; a small
    knowledge base is drawn from again, each time with other rewrites, so that thresholds rest on enough
    examples to bound."""
    wanted = max(1, max_queries // QUESTIONS_PER_DRAW)
    rounds = -(-wanted // n_entries)
    return np.concatenate([rng.permutation(n_entries) for _ in range(rounds)])[:wanted]


def _questions(index, row: int, rng: np.random.Generator, near_misses: int) -> list[_Made]:
    own = index.entry_phrasings[row]
    none = np.zeros(0, np.int64)
    made: list[_Made] = []
    held = own[int(rng.integers(0, own.size))]
    made.append(_Made(index.phrasings[held], index.vectors[held], own, -1))
    if own.size >= 2:
        held = own[1 + int(rng.integers(0, own.size - 1))]
        made.append(_Made(index.phrasings[held], index.vectors[held], np.array([held]), row))
    else:
        made.append(_Made(drop_characters(index.phrasings[own[0]], rng), None, none, row))
    source = index.phrasings[own[int(rng.integers(0, own.size))]]
    asks = index._params.asks
    paraphrase = asks.rewrite(source, rng, same=True)
    if paraphrase:
        made.append(_Made(paraphrase, None, none, row))
    for _ in range(near_misses):
        near_miss = asks.rewrite(source, rng, same=False)
        if near_miss:
            made.append(_Made(near_miss, None, none, -1, near_miss_of=row))
    return made


def _may_answer(index, text: str, ranking) -> bool:
    """Whether the top entry's best phrasing asks what `text` asks, of much the same subject."""
    if not ranking.rows.size:
        return False
    query, matched = index._params.asks.read(text), index.reading_of(int(ranking.matched[0]))
    shared = len(query.subject & matched.subject)
    return bool(query.asks) and query.asks == matched.asks and shared >= 0.6 * max(1, len(query.subject))


def fit_calibrator(index, *, max_queries: int, seed: int = 0) -> Calibration:
    """The calibrator, with its confidence and right/wrong labels on the questions it learned from (from
    which answer thresholds for a wanted precision are read)."""
    rng = np.random.default_rng(seed)
    if index.size < 3:
        return Calibration.fallback()
    made, seen = [], set()
    draws = _draws(index.size, max_queries, rng)
    # A small knowledge base makes more near misses of each entry: the thresholds' bounds need examples.
    near_misses = int(np.clip(max_queries // (QUESTIONS_PER_DRAW * index.size), 1, MAX_NEAR_MISSES))
    for row in draws[: max(1, max_queries // (QUESTIONS_PER_DRAW + near_misses - 1))]:
        for m in _questions(index, int(row), rng, near_misses):
            key = (m.text, m.owner, m.near_miss_of)
            if key not in seen:  # the same question twice would count twice towards a threshold
                seen.add(key)
                made.append(m)
    to_embed = [m for m in made if m.vector is None]
    if to_embed:
        for m, vector in zip(to_embed, index.embedder.embed_queries([m.text for m in to_embed])):
            m.vector = vector
    rankings = index.rank([m.text for m in made], np.vstack([m.vector for m in made]), excluded=[m.excluded for m in made])
    kept, labels, answerable = [], [], []
    for m, r in zip(made, rankings):
        top = int(r.rows[0]) if r.rows.size else -1
        if m.near_miss_of >= 0 and top != m.near_miss_of and _may_answer(index, m.text, r):
            continue  # another entry that asks the same of a like subject comes first: it may be right
        kept.append((m.text, r))
        labels.append(int(m.owner >= 0 and top == m.owner))
        answerable.append(m.owner >= 0)
    if len(labels) < MIN_EXAMPLES:
        return Calibration.fallback()
    features = np.vstack([index.features(text, r) for text, r in kept])
    y = np.array(labels)
    calibrator = Calibrator.fit(features, y)
    return Calibration(calibrator, calibrator.probability(features), y, np.array(answerable, dtype=bool))
