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

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from knowledge_base.retrieval.confidence import FEATURES, Calibration, Calibrator
from knowledge_base.retrieval.embedding import VectorCache, embed_with_cache

MIN_EXAMPLES = 40
# Labelled questions of the hotline's own traffic from which answer thresholds are read instead of from the
# self-made ones (they are what the promise is about); fewer only help the calibrator learn.
MIN_LABELLED = 100
# How much one labelled question counts against the self-made ones, at most.
MAX_LABELLED_WEIGHT = 20.0
QUESTIONS_PER_DRAW = 4  # held out, paraphrase, near miss, unanswerable
MAX_NEAR_MISSES = 6     # per drawn entry, in a small knowledge base
CALLERS_WORDING = 0.8   # the share of made questions reworded as a caller would say them (wording.py)


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


def _entry_stream(index, row: int, seed: int) -> int:
    """A number that names entry `row` as its questions are made from it: its id and phrasings (so that its
    questions stay the same while it does, whatever happens to the other entries)."""
    digest = hashlib.sha256(index.entries[row].id.encode("utf-8"))
    for phrasing in index.entry_phrasings[row]:
        digest.update(b"\0" + index.phrasings[phrasing].encode("utf-8"))
    return int.from_bytes(digest.digest()[:8], "little") ^ seed


def _draws(index, n_draws: int, seed: int) -> list[tuple[int, np.random.Generator]]:
    """(entry row, its own random stream) for each draw: every entry drawn about `n_draws / size` times (a small
    knowledge base is drawn from again, each time with other rewrites, so that thresholds rest on enough
    examples to bound). An entry's draws depend only on itself and that share, not on the order or the other
    entries, so that after an edit most questions are the same texts again and their vectors are cached."""
    base, share = divmod(n_draws, index.size)
    draws = []
    for row in range(index.size):
        stream = _entry_stream(index, row, seed)
        extra = (stream & 0xFFFFFFFF) / 2**32 < share / index.size  # which entries take the remainder
        draws.extend((row, np.random.default_rng([stream, j])) for j in range(base + int(extra)))
    return draws


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
    for m in made:
        if rng.random() < CALLERS_WORDING:
            m.text = index._params.wording.say(m.text, rng, keep=asks.pattern, rarity=index.rarity)
            m.vector = None
    return made


def _may_answer(index, text: str, ranking) -> bool:
    """Whether the top entry's best phrasing asks what `text` asks, of much the same subject."""
    if not ranking.rows.size:
        return False
    query, matched = index._params.asks.read(text), index.reading_of(int(ranking.matched[0]))
    shared = len(query.subject & matched.subject)
    return bool(query.asks) and query.asks == matched.asks and shared >= 0.6 * max(1, len(query.subject))


@dataclass(frozen=True)
class SelfMade:
    """The questions a knowledge base makes of itself, each ranked by the index, with whether its top entry
    is right and whether it has an answer at all."""

    texts: list[str]
    vectors: np.ndarray
    rankings: list
    labels: np.ndarray
    answerable: np.ndarray


def self_made_examples(index, *, max_queries: int, seed: int = 0, vectors: VectorCache | None = None) -> SelfMade:
    """Questions made from the entries' own phrasings (see the module's docstring), ranked with their own
    phrasing masked where they were held out. `vectors`: where the made questions' vectors are kept, so that
    a refit after an edit embeds only the questions of the entries that changed."""
    made, seen = [], set()
    # A small knowledge base makes more near misses of each entry: the thresholds' bounds need examples.
    near_misses = int(np.clip(max_queries // (QUESTIONS_PER_DRAW * index.size), 1, MAX_NEAR_MISSES))
    for row, rng in _draws(index, max(1, max_queries // (QUESTIONS_PER_DRAW + near_misses - 1)), seed):
        for m in _questions(index, row, rng, near_misses):
            key = (m.text, m.owner, m.near_miss_of)
            if key not in seen:  # the same question twice would count twice towards a threshold
                seen.add(key)
                made.append(m)
    to_embed = [m for m in made if m.vector is None]
    if to_embed:
        for m, vector in zip(to_embed, embed_with_cache([m.text for m in to_embed], index.embedder, vectors)):
            m.vector = vector
    rankings = index.rank([m.text for m in made], np.vstack([m.vector for m in made]), excluded=[m.excluded for m in made])
    texts, vectors, kept, labels, answerable = [], [], [], [], []
    for m, r in zip(made, rankings):
        top = int(r.rows[0]) if r.rows.size else -1
        if m.near_miss_of >= 0 and top != m.near_miss_of and _may_answer(index, m.text, r):
            continue  # another entry that asks the same of a like subject comes first: it may be right
        texts.append(m.text)
        vectors.append(m.vector)
        kept.append(r)
        labels.append(int(m.owner >= 0 and top == m.owner))
        answerable.append(m.owner >= 0)
    return SelfMade(texts, np.vstack(vectors) if vectors else np.zeros((0, 0), np.float32), kept, np.array(labels, dtype=np.int64), np.array(answerable, dtype=bool))


@dataclass(frozen=True)
class Labelled:
    """A question from the hotline's traffic and what a citizen or a seat said of it (knowledge_base/labels.py)."""

    text: str
    entry_id: str | None   # the entry it is about; None: no entry answers it
    correct: bool          # whether `entry_id` answers it (False: a citizen's "不是这个")


def labelled_examples(index, labelled: Sequence[Labelled]) -> SelfMade:
    """The labelled questions ranked by the index, each with whether its top entry is right: right when the
    label names it as the answer; wrong when the label names another entry, says no entry answers, or is a
    rejection of that very entry. A rejection of an entry that is not on top says nothing of the top one,
    and is left out. All count as answerable: thresholds read from them hold for traffic mixed as they are."""
    usable = [item for item in labelled if item.text.strip()]
    if not usable or not index.size:
        return SelfMade([], np.zeros((0, 0), np.float32), [], np.zeros(0, np.int64), np.zeros(0, bool))
    vectors = index.embedder.embed_queries([item.text for item in usable])
    rankings = index.rank([item.text for item in usable], vectors)
    texts, kept_vectors, kept, labels = [], [], [], []
    for item, vector, ranking in zip(usable, vectors, rankings):
        top = index.entries[int(ranking.rows[0])].id if ranking.rows.size else None
        if item.entry_id is None:
            right = False
        elif item.correct:
            right = top == item.entry_id
        elif top == item.entry_id:
            right = False
        else:
            continue
        texts.append(item.text)
        kept_vectors.append(vector)
        kept.append(ranking)
        labels.append(int(right))
    return SelfMade(texts, np.vstack(kept_vectors) if kept_vectors else np.zeros((0, 0), np.float32), kept,
                    np.array(labels, dtype=np.int64), np.ones(len(labels), dtype=bool))


def fit_calibrator(index, *, max_queries: int, seed: int = 0, labelled: Sequence[Labelled] = (),
                   vectors: VectorCache | None = None) -> Calibration:
    """The calibrator, with its confidence and right/wrong labels on the questions its answer thresholds are
    read from: the hotline's labelled questions when there are `MIN_LABELLED` of them, else the self-made ones.

    The calibrator learns from both, each labelled question counting as much as several self-made ones (up to
    `MAX_LABELLED_WEIGHT`), so that a few hundred labels weigh as much as thousands of made questions."""
    if index.size < 3:
        return Calibration.fallback()
    made = self_made_examples(index, max_queries=max_queries, seed=seed, vectors=vectors)
    real = labelled_examples(index, labelled)
    if len(made.labels) + len(real.labels) < MIN_EXAMPLES:
        return Calibration.fallback()
    made_features = _features(index, made)
    real_features = _features(index, real)
    features = np.vstack([made_features, real_features])
    y = np.concatenate([made.labels, real.labels])
    weight = min(MAX_LABELLED_WEIGHT, max(1.0, 0.5 * len(made.labels) / max(1, len(real.labels))))
    weights = np.concatenate([np.ones(len(made.labels)), np.full(len(real.labels), weight)])
    calibrator = Calibrator.fit(features, y, weights)
    if len(real.labels) >= MIN_LABELLED:
        return Calibration(calibrator, calibrator.probability(real_features), real.labels, real.answerable)
    return Calibration(calibrator, calibrator.probability(made_features), made.labels, made.answerable)


def _features(index, examples: SelfMade) -> np.ndarray:
    rows = [index.features(text, r) for text, r in zip(examples.texts, examples.rankings)]
    return np.vstack(rows) if rows else np.zeros((0, len(FEATURES)), np.float32)
