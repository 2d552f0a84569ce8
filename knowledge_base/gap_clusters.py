"""Grouping unanswered questions by the need behind them: online leader clustering on meaning and sound.

Each question not yet in a cluster joins the most similar open cluster when the similarity reaches
`Similarity.join`, else it starts a new one (`place`). A cluster keeps its centroid as the running mean of its
members' unit-length e5 query vectors, renormalised.

Similarity is the larger of two readings of "the same question":
- the cosine of the question's vector to the cluster's centroid (meaning), and
- a pinyin similarity to the cluster's label and members (sound): the Jaccard overlap of the bigrams of toneless
  pinyin syllables. The phone line's recogniser writes 新官 for 新冠, 合算 for 核酸, 黄马 for 黄码; such a reading
  embeds far from what the caller meant, but sounds exactly like it.

The queue that reads and stores the clusters is knowledge_base/gaps.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

_WORD = re.compile(r"[0-9a-z]+")


def syllables(text: str) -> list[str]:
    """Toneless pinyin, one syllable per Chinese character; runs of Latin letters and digits as words;
    punctuation and spaces dropped ("新官疫苗 ok?" → xin guan yi miao ok)."""
    from pypinyin import lazy_pinyin

    return [word for piece in lazy_pinyin(text.lower()) for word in _WORD.findall(piece)]


def sound_bigrams(text: str) -> frozenset[tuple[str, ...]]:
    """The bigrams of a text's syllables (the one syllable of a one-character text)."""
    words = syllables(text)
    if len(words) < 2:
        return frozenset((w,) for w in words)
    return frozenset(zip(words, words[1:]))


def sound_similarity(a: frozenset, b: frozenset) -> float:
    """Jaccard overlap of two texts' `sound_bigrams`: 1.0 for homophones (新官疫苗在哪打 / 新冠疫苗在哪打)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class Similarity:
    """When a question belongs to a cluster: max(cosine to the centroid, pinyin similarity to its questions) ≥ `join`.

    `join` was picked on tests/data/gap_needs.yaml, a labelled set written for it (15 needs, 73 questions, 14 of
    them recogniser homophones; needs that share a subject: 核酸 where / price / report, 疫苗 where / booster),
    clustering it in 20 shuffled orders (mixed clusters, needs left without a cluster of their own, clusters
    beyond one per need, homophone readings not with their need's typed questions; per order):
        join 0.92: 3.3 mixed, 0.75 hidden, 4.2 extra, 0.8 apart
        join 0.93: 2.4 mixed, 0.35 hidden, 6.3 extra, 0.9 apart   ← chosen
        join 0.94: 2.1 mixed, 0.15 hidden, 9.9 extra, 1.6 apart
        join 0.93 by cosine alone: 3.8 mixed, 7.0 apart
    - e5-small's query cosines overlap: paraphrases of one need 0.87 (5th percentile) to 0.94 (median), different
      needs on one subject up to 0.97 (核酸检测在哪里做 / 在哪看核酸检测结果). No threshold separates them; a
      wrong merge hides a need from the editors, a split only shows it twice, so `join` sits at the knee where
      merges stop falling fast and splits start rising fast. The remaining merges are among the three 核酸 needs.
    - the pinyin overlap of different needs stays at or below 0.40 (they share 怎么办, 多少钱, 在哪里); of a
      homophone reading and its need's closest typed question it is 1.0 for 11 of 14, 0.67 for two and 0.5 for
      one (合算点在哪 / 核酸检测点在哪: different words as well as a homophone). The same `join` on the sound
      asks for the same words, heard alike: safe (社保卡 and 医保卡 questions differ by one syllable, 0.78, and are
      not merged by sound), and enough, since a typed question in the same words is usually in the cluster.
    """

    join: float = 0.93
    members_compared: int = 30  # by sound: the label and up to this many of a cluster's distinct questions

    def __call__(self, cosine: float, sound: float) -> float:
        return max(cosine, sound)


@dataclass
class OpenCluster:
    """An open cluster while clustering: its centroid and the sounds of its questions."""

    id: int | None
    centroid: np.ndarray
    size: int
    sounds: list[frozenset]
    first_at: datetime
    last_at: datetime
    members: list[tuple[int, str, np.ndarray]] = field(default_factory=list)  # new members: gap id, text, vector
    known_size: int = 0          # its size when read, to notice another worker's clustering
    label: str = ""
    texts: list[str] = field(default_factory=list)  # the label and recent distinct questions, when read


def place(clusters: list[OpenCluster], gap_id: int, text: str, at: datetime, vector: np.ndarray,
          similarity: Similarity) -> OpenCluster:
    """Puts one question into the most similar of `clusters` when `similarity.join` is reached, else into a new
    cluster appended to them; returns the cluster it went to."""
    sound = sound_bigrams(text)
    best, best_similarity = None, -1.0
    for cluster in clusters:
        heard = max((sound_similarity(sound, other) for other in cluster.sounds), default=0.0)
        score = similarity(float(vector @ cluster.centroid), heard)
        if score > best_similarity:
            best, best_similarity = cluster, score
    if best is None or best_similarity < similarity.join:
        best = OpenCluster(None, vector.astype(np.float32), 0, [], at, at)
        clusters.append(best)
    best.centroid = unit(best.centroid * best.size + vector)
    best.size += 1
    best.first_at, best.last_at = min(best.first_at, at), max(best.last_at, at)
    best.members.append((gap_id, text, vector))
    if len(best.sounds) < similarity.members_compared + 1 and sound not in best.sounds:
        best.sounds.append(sound)
    return best


def unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)
