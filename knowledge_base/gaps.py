"""The unanswered-question queue: questions nothing answered well, grouped by the need behind them.

The conversation store writes one `GapRow` per such question and conversation (a handoff, a rejected answer or clarification, a
low-confidence answer; assistant/conversations.py). Here they are grouped into clusters an editor can close in
two clicks, with a new entry or with new sample questions for an existing one.

Grouping is online leader clustering, run when the queue is read (never on a citizen's turn): each question not
yet in a cluster joins the most similar open cluster when the similarity reaches `Similarity.join`, else it starts
a new one. A cluster keeps its centroid as the running mean of its members' unit-length e5 query vectors,
renormalised, and is labelled with the member closest to that centroid (among its new questions, its label and
its recent distinct questions: what a pass has at hand without reading every member).

Similarity is the larger of two readings of "the same question":
- the cosine of the question's vector to the cluster's centroid (meaning), and
- a pinyin similarity to the cluster's label and members (sound): the Jaccard overlap of the bigrams of toneless
  pinyin syllables. The phone line's recogniser writes 新官 for 新冠, 合算 for 核酸, 黄马 for 黄码; such a reading
  embeds far from what the caller meant, but sounds exactly like it.
"""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ground.clock import as_utc, utcnow
from knowledge_base.retrieval.embedding import QueryEmbedder
from storage import audit
from storage.database import Database
from storage.tables import GapClusterRow, GapRow

_WORD = re.compile(r"[0-9a-z]+")

# A question's weight in the ranking decays with this time constant: exp(-age / 24 h).
RECENCY = timedelta(hours=24)
# Questions older than this weigh under 1e-6 and are left out of the ranking's sum.
RANKING_HORIZON = timedelta(days=14)


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


@dataclass(frozen=True)
class GapQuestion:
    text: str
    at: datetime
    channel: str
    reason: str
    asr_confidence: float | None
    region: str | None = None


@dataclass(frozen=True)
class Suggestion:
    entry_id: str
    question: str
    score: float


@dataclass(frozen=True)
class GapCluster:
    id: int
    label: str
    status: str
    size: int
    recent: int                 # questions in the last 24 hours
    score: float                # the ranking: Σ over its questions of exp(-age / 24 h)
    first_at: datetime
    last_at: datetime
    channels: dict[str, int]
    questions: list[GapQuestion]  # the most recent first
    suggestions: list[Suggestion] = field(default_factory=list)
    region: str | None = None     # where most of its questions came from
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    resolution: dict | None = None


class GapNotFound(LookupError):
    def __init__(self, cluster_id: int) -> None:
        super().__init__(f"no unanswered-question cluster has the id {cluster_id}")
        self.cluster_id = cluster_id


class GapClosed(ValueError):
    def __init__(self, cluster_id: int, status: str) -> None:
        super().__init__(f"the cluster {cluster_id} is already {status}")
        self.cluster_id, self.status = cluster_id, status


@dataclass
class _Open:
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


class GapQueue:
    def __init__(self, db: Database, embedder: QueryEmbedder, similarity: Similarity | None = None, *,
                 batch: int = 500) -> None:
        self.db = db
        self.embedder = embedder
        self.similarity = similarity or Similarity()
        self.batch = batch

    # ---- grouping ------------------------------------------------------------------------------
    def cluster_pending(self) -> int:
        """Puts every question not yet in a cluster into one (in batches of `batch`); returns how many.

        Reads and embeds outside any transaction, then writes in one; if another worker clustered the same
        questions meanwhile, this batch's work is dropped and redone against what it wrote."""
        done, conflicts = 0, 0
        while conflicts < 3:
            placed = self._cluster_batch()
            if placed is None:
                conflicts += 1
                continue
            if placed == 0:
                break
            done += placed
        return done

    def _cluster_batch(self) -> int | None:
        with self.db.session() as s:
            pending = s.execute(select(GapRow.id, GapRow.text, GapRow.at).where(GapRow.cluster_id.is_(None))
                                .order_by(GapRow.id).limit(self.batch)).all()
            if not pending:
                return 0
            clusters = self._open_clusters(s)
        vectors = self.embedder.embed_queries([text for _, text, _ in pending])
        for (gap_id, text, at), vector in zip(pending, vectors):
            self._place(clusters, gap_id, text, as_utc(at), vector)
        return self._write(clusters)

    def _open_clusters(self, s: Session) -> list[_Open]:
        rows = s.execute(select(GapClusterRow).where(GapClusterRow.status == "open").order_by(GapClusterRow.id)).scalars().all()
        texts: dict[int, list[str]] = defaultdict(list)
        if rows:
            member_rows = s.execute(
                select(GapRow.cluster_id, GapRow.text).where(GapRow.cluster_id.in_([r.id for r in rows]))
                .order_by(GapRow.id.desc())).all()
            for cluster_id, text in member_rows:
                if text not in texts[cluster_id] and len(texts[cluster_id]) < self.similarity.members_compared:
                    texts[cluster_id].append(text)
        clusters = []
        for row in rows:
            if row.model_id == self.embedder.model_id:
                centroid = np.frombuffer(row.centroid, dtype="<f4").astype(np.float32)
            else:  # another model's centroid: recomputed from the cluster's questions in this one
                centroid = _unit(self.embedder.embed_queries(texts[row.id] or [row.label]).mean(axis=0))
            sounds = [sound_bigrams(t) for t in dict.fromkeys([row.label, *texts[row.id]])]
            clusters.append(_Open(row.id, centroid, row.size, sounds, as_utc(row.first_at), as_utc(row.last_at),
                                  known_size=row.size, label=row.label, texts=distinct([row.label, *texts[row.id]])))
        return clusters

    def _place(self, clusters: list[_Open], gap_id: int, text: str, at: datetime, vector: np.ndarray) -> None:
        sound = sound_bigrams(text)
        best, best_similarity = None, -1.0
        for cluster in clusters:
            heard = max((sound_similarity(sound, other) for other in cluster.sounds), default=0.0)
            similarity = self.similarity(float(vector @ cluster.centroid), heard)
            if similarity > best_similarity:
                best, best_similarity = cluster, similarity
        if best is None or best_similarity < self.similarity.join:
            best = _Open(None, vector.astype(np.float32), 0, [], at, at)
            clusters.append(best)
        best.centroid = _unit(best.centroid * best.size + vector)
        best.size += 1
        best.first_at, best.last_at = min(best.first_at, at), max(best.last_at, at)
        best.members.append((gap_id, text, vector))
        if len(best.sounds) < self.similarity.members_compared + 1 and sound not in best.sounds:
            best.sounds.append(sound)

    def _write(self, clusters: list[_Open]) -> int | None:
        touched = [c for c in clusters if c.members]
        labels = self._labels(touched)
        with self.db.session(write=True) as s:
            for cluster in touched:
                if cluster.id is None:
                    continue
                row = s.execute(select(GapClusterRow).where(GapClusterRow.id == cluster.id).with_for_update()).scalar_one()
                if row.status != "open" or row.size != cluster.known_size:
                    s.rollback()
                    return None
            placed = 0
            for cluster, label in zip(touched, labels):
                if cluster.id is None:
                    row = GapClusterRow(label=label, status="open", size=cluster.size, first_at=cluster.first_at,
                                        last_at=cluster.last_at, centroid=_bytes(cluster.centroid),
                                        model_id=self.embedder.model_id)
                    s.add(row)
                    s.flush()
                    cluster.id = row.id
                else:
                    s.execute(update(GapClusterRow).where(GapClusterRow.id == cluster.id).values(
                        label=label, size=cluster.size, first_at=cluster.first_at, last_at=cluster.last_at,
                        centroid=_bytes(cluster.centroid), model_id=self.embedder.model_id))
                ids = [gap_id for gap_id, _, _ in cluster.members]
                result = s.execute(update(GapRow).where(GapRow.id.in_(ids), GapRow.cluster_id.is_(None))
                                   .values(cluster_id=cluster.id).execution_options(synchronize_session=False))
                if result.rowcount != len(ids):  # another worker placed some of them first
                    s.rollback()
                    return None
                placed += len(ids)
        return placed

    def _labels(self, clusters: list[_Open]) -> list[str]:
        """Each cluster's question closest to its centroid, among its new questions, its label and the recent
        distinct questions read with it (all the earlier ones' vectors in one batch)."""
        earlier = distinct([t for c in clusters for t in c.texts])
        vectors = dict(zip(earlier, self.embedder.embed_queries(earlier))) if earlier else {}
        labels = []
        for cluster in clusters:
            scored = [(float(vectors[t] @ cluster.centroid), t) for t in cluster.texts]
            scored += [(float(v @ cluster.centroid), t) for _, t, v in cluster.members]
            labels.append(max(scored, key=lambda pair: pair[0])[1])
        return labels

    # ---- reading ---------------------------------------------------------------------------
    def clusters(self, status: str = "open", limit: int = 50, *, index=None, now: datetime | None = None,
                 questions: int = 10, refresh: bool = True) -> list[GapCluster]:
        """Clusters with `status`, most pressing first: ranked by Σ over their questions of exp(-age / 24 h)
        (volume and recency at once: a question asked now counts 1, a day ago 0.37, a week ago 0.001), then by
        size. Open clusters are brought up to date first (`refresh`). With the live retrieval `index`, each
        carries the three entries it finds for the label: an entry to add the questions to, or a near miss."""
        if refresh and status == "open":
            self.cluster_pending()
        now = as_utc(now or utcnow())
        with self.db.session() as s:
            query = select(GapClusterRow).where(GapClusterRow.status == status)
            if status != "open":  # closed ones pile up: the most recently closed first, straight from the database
                query = query.order_by(GapClusterRow.resolved_at.desc(), GapClusterRow.id.desc()).limit(limit)
            rows = s.execute(query).scalars().all()
            if not rows:
                return []
            scores, recent = _weights(s, [r.id for r in rows], now)
            if status == "open":
                rows.sort(key=lambda r: (-scores[r.id], -r.size, -as_utc(r.last_at).timestamp(), r.id))
                rows = rows[:limit]
            return self._described(s, rows, scores, recent, index, questions)

    def get(self, cluster_id: int, *, index=None, now: datetime | None = None, questions: int = 50) -> GapCluster:
        now = as_utc(now or utcnow())
        with self.db.session() as s:
            row = s.get(GapClusterRow, cluster_id)
            if row is None:
                raise GapNotFound(cluster_id)
            scores, recent = _weights(s, [cluster_id], now)
            return self._described(s, [row], scores, recent, index, questions)[0]

    def questions(self, cluster_id: int) -> list[str]:
        """The cluster's distinct questions, the most often asked first (ties: the earliest first)."""
        with self.db.session() as s:
            if s.get(GapClusterRow, cluster_id) is None:
                raise GapNotFound(cluster_id)
            rows = s.execute(select(GapRow.text, func.count(), func.min(GapRow.id)).where(GapRow.cluster_id == cluster_id)
                             .group_by(GapRow.text)).all()
        return [text for text, _, _ in sorted(rows, key=lambda r: (-r[1], r[2]))]

    def _described(self, s: Session, rows, scores, recent, index, limit: int) -> list[GapCluster]:
        ids = [r.id for r in rows]
        channels: dict[int, Counter] = defaultdict(Counter)
        regions: dict[int, Counter] = defaultdict(Counter)
        for cluster_id, channel, region, count in s.execute(
                select(GapRow.cluster_id, GapRow.channel, GapRow.region, func.count()).where(GapRow.cluster_id.in_(ids))
                .group_by(GapRow.cluster_id, GapRow.channel, GapRow.region)).all():
            channels[cluster_id][channel] += count
            regions[cluster_id][region] += count
        ranked = func.row_number().over(partition_by=GapRow.cluster_id, order_by=(GapRow.at.desc(), GapRow.id.desc()))
        inner = select(GapRow.cluster_id, GapRow.text, GapRow.at, GapRow.channel, GapRow.reason, GapRow.asr_confidence,
                       GapRow.region, ranked.label("n")).where(GapRow.cluster_id.in_(ids)).subquery()
        questions: dict[int, list[GapQuestion]] = defaultdict(list)
        for row in s.execute(select(inner).where(inner.c.n <= limit).order_by(inner.c.cluster_id, inner.c.n)).all():
            questions[row.cluster_id].append(GapQuestion(row.text, as_utc(row.at), row.channel, row.reason,
                                                         row.asr_confidence, row.region))
        out = []
        for row in rows:
            region = regions[row.id].most_common(1)[0][0] if regions[row.id] else None
            out.append(GapCluster(
                id=row.id, label=row.label, status=row.status, size=row.size, recent=recent[row.id],
                score=round(scores[row.id], 4), first_at=as_utc(row.first_at), last_at=as_utc(row.last_at),
                channels={name: channels[row.id].get(name, 0) for name in ("chat", "voice", "wechat")},
                questions=questions[row.id], suggestions=suggest(index, row.label, region), region=region,
                resolved_by=row.resolved_by, resolved_at=as_utc(row.resolved_at), resolution=row.resolution))
        return out

    # ---- closing ---------------------------------------------------------------------------
    def resolve(self, cluster_id: int, *, by: str, how: str, change_id: int | None = None,
                entry_id: str | None = None, now: datetime | None = None) -> None:
        """Closes an open cluster because an editor acted on it: `how` is "new_entry" (a draft of a new entry) or
        "samples" (its questions added to `entry_id`); audited as gap.new_entry / gap.add_samples."""
        action = {"new_entry": "gap.new_entry", "samples": "gap.add_samples"}.get(how)
        if action is None:
            raise ValueError(f"how must be new_entry or samples, not {how!r}")
        self._close(cluster_id, by=by, status="resolved", action=action, now=now,
                    resolution={"how": how, "change": change_id, "entry_id": entry_id})

    def dismiss(self, cluster_id: int, *, by: str, now: datetime | None = None) -> None:
        """Closes an open cluster that needs no entry (noise, a one-off); audited as gap.dismiss."""
        self._close(cluster_id, by=by, status="dismissed", action="gap.dismiss", now=now, resolution={"how": "dismissed"})

    def ensure_open(self, cluster_id: int) -> None:
        with self.db.session() as s:
            row = s.get(GapClusterRow, cluster_id)
            if row is None:
                raise GapNotFound(cluster_id)
            if row.status != "open":
                raise GapClosed(cluster_id, row.status)

    def _close(self, cluster_id: int, *, by: str, status: str, action: str, resolution: dict,
               now: datetime | None) -> None:
        now = as_utc(now or utcnow())
        with self.db.session(write=True) as s:
            row = s.execute(select(GapClusterRow).where(GapClusterRow.id == cluster_id).with_for_update()).scalar_one_or_none()
            if row is None:
                raise GapNotFound(cluster_id)
            if row.status != "open":
                raise GapClosed(cluster_id, row.status)
            row.status, row.resolved_by, row.resolved_at, row.resolution = status, by, now, resolution
            audit.record(s, actor=by, action=action, target=f"gap:{cluster_id}", at=now, label=row.label,
                         size=row.size, **{k: v for k, v in resolution.items() if k != "how" and v is not None})


def _weights(s: Session, cluster_ids: list[int], now: datetime) -> tuple[dict[int, float], Counter[int]]:
    """Per cluster: Σ over its questions of exp(-age / 24 h), and how many were asked in the last 24 hours."""
    scores: dict[int, float] = defaultdict(float)
    recent: Counter[int] = Counter()
    for cluster_id, at in s.execute(select(GapRow.cluster_id, GapRow.at).where(
            GapRow.cluster_id.in_(cluster_ids), GapRow.at >= now - RANKING_HORIZON)).all():
        age = max((now - as_utc(at)).total_seconds(), 0.0)
        scores[cluster_id] += math.exp(-age / RECENCY.total_seconds())
        recent[cluster_id] += age <= RECENCY.total_seconds()
    return scores, recent


def suggest(index, text: str, region: str | None, k: int = 3) -> list[Suggestion]:
    """The `k` entries the retrieval index finds for `text` (none without an index)."""
    if index is None or not text:
        return []
    result = index.search(text, region=region, k=k)
    return [Suggestion(c.entry.id, c.entry.question, round(float(c.score), 4)) for c in result.candidates[:k]]


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


def _bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def distinct(texts: Sequence[str], *, without: Sequence[str] = ()) -> list[str]:
    """`texts` without repeats and without any of `without` (compared after trimming), in order."""
    skip = {t.strip() for t in without}
    seen: dict[str, None] = {}
    for text in texts:
        text = text.strip()
        if text and text not in skip:
            seen.setdefault(text, None)
    return list(seen)
