"""The unanswered-question queue: questions nothing answered well, grouped by the need behind them.

The conversation store writes one `GapRow` per such question and conversation (a handoff, a rejected answer or clarification, a
low-confidence answer; assistant/conversations.py). Here they are grouped into clusters an editor can close in
two clicks, with a new entry or with new sample questions for an existing one.

Grouping is online leader clustering on meaning and sound (knowledge_base/gap_clusters.py), run when the queue is
read (never on a citizen's turn). A cluster is labelled with the member closest to its centroid (among its new
questions, its label and its recent distinct questions: what a pass has at hand without reading every member).
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ground.clock import as_utc, utcnow
from ground.errors import DomainError, ErrorKind
from knowledge_base.gap_clusters import OpenCluster, Similarity, place, sound_bigrams, unit
from knowledge_base.retrieval.embedding import QueryEmbedder
from storage import audit
from storage.database import Database
from storage.tables import GapClusterRow, GapRow

# A question's weight in the ranking decays with this time constant: exp(-age / 24 h).
RECENCY = timedelta(hours=24)
# Questions older than this weigh under 1e-6 and are left out of the ranking's sum.
RANKING_HORIZON = timedelta(days=14)


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


class GapNotFound(DomainError, LookupError):
    """No unanswered-question cluster has that id."""

    code, kind = "gap_not_found", ErrorKind.NOT_FOUND

    def __init__(self, cluster_id: int) -> None:
        super().__init__(f"No unanswered-question cluster has the id {cluster_id}; list the open ones with GET /v1/gaps.")
        self.cluster_id = cluster_id


class GapClosed(DomainError, ValueError):
    """The cluster was already resolved or dismissed. Its `status` is that word, not an HTTP status."""

    code, kind = "gap_closed", ErrorKind.CONFLICT

    def __init__(self, cluster_id: int, status: str) -> None:
        super().__init__(f"Cluster {cluster_id} is already {status}; it needs nothing more. "
                         "New questions of the same need will form a new cluster.")
        self.cluster_id, self.status = cluster_id, status


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
            place(clusters, gap_id, text, as_utc(at), vector, self.similarity)
        return self._write(clusters)

    def _open_clusters(self, s: Session) -> list[OpenCluster]:
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
                centroid = unit(self.embedder.embed_queries(texts[row.id] or [row.label]).mean(axis=0))
            sounds = [sound_bigrams(t) for t in dict.fromkeys([row.label, *texts[row.id]])]
            clusters.append(OpenCluster(row.id, centroid, row.size, sounds, as_utc(row.first_at), as_utc(row.last_at),
                                  known_size=row.size, label=row.label, texts=distinct([row.label, *texts[row.id]])))
        return clusters

    def _write(self, clusters: list[OpenCluster]) -> int | None:
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

    def _labels(self, clusters: list[OpenCluster]) -> list[str]:
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
