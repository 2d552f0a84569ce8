"""The retrieval index: built from the servable entries, searched by every turn.

The route of a query, in one place:
  embed → dense search over phrasings (FAISS) ┐
  char n-grams → BM25 over phrasings          ┴→ best phrasing per entry → region filter → fuse → calibrate
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from knowledge_base.entry import Entry, as_utc, region_covers, region_depth, utcnow
from knowledge_base.retrieval.confidence import Calibrator, ranking_features, threshold_for_precision
from knowledge_base.retrieval.dense import DenseIndex
from knowledge_base.retrieval.embedding import QueryEmbedder, VectorCache, embed_with_cache
from knowledge_base.retrieval.fusion import FusionWeights, best_per_entry, fuse
from knowledge_base.retrieval.lexical import LexicalIndex

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Candidate:
    entry: Entry
    score: float
    dense: float
    lexical: float
    matched: str


@dataclass(frozen=True)
class SearchResult:
    query: str
    candidates: list[Candidate]
    confidence: float

    @property
    def top(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True)
class RetrievalParams:
    weights: FusionWeights = field(default_factory=FusionWeights)
    dense_depth: int = 64  # phrasings taken from FAISS per query before per-entry fusion
    lexical_depth: int = 32
    calibration_queries: int = 2000


@dataclass(frozen=True)
class _Ranking:
    rows: np.ndarray  # entry rows, best first
    fused: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray
    matched: np.ndarray  # phrasing row that gave each entry its dense score


class RetrievalIndex:
    """Immutable once built: a worker swaps a whole new index in when the knowledge base changes."""

    def __init__(self, entries: Sequence[Entry], phrasings: list[str], phrasing_entry: np.ndarray, vectors: np.ndarray,
                 embedder: QueryEmbedder, params: RetrievalParams, revision: int):
        self.entries = list(entries)
        self.entries_by_id = {e.id: e for e in self.entries}
        self.revision = revision
        self.phrasings = phrasings
        self.phrasing_entry = phrasing_entry
        self.vectors = vectors
        self.embedder = embedder
        self._params = params
        self._dense = DenseIndex(vectors)
        self._lexical = LexicalIndex(phrasings)
        self._depth = np.array([region_depth(e.region) for e in self.entries], dtype=np.float32)
        self._starts = np.array([_epoch(e.effective_from, -np.inf) for e in self.entries], dtype=np.float64)
        self._ends = np.array([_epoch(e.expires_at, np.inf) for e in self.entries], dtype=np.float64)
        self._region_masks: dict[str | None, np.ndarray] = {}
        # Phrasings are stored entry by entry, so each entry's rows are one contiguous range.
        bounds = np.searchsorted(phrasing_entry, np.arange(len(self.entries) + 1))
        self.entry_phrasings = [np.arange(bounds[row], bounds[row + 1]) for row in range(len(self.entries))]
        self._replaces = _variant_links(self.entries)
        self.calibrator = Calibrator.fallback()
        self._held_confidence = np.zeros(0, np.float32)
        self._held_correct = np.zeros(0, np.int64)
        self._thresholds: dict[float, float] = {}

    # ---- building -------------------------------------------------------------------------------
    @classmethod
    def build(cls, entries: Sequence[Entry], embedder: QueryEmbedder, *, cache: VectorCache | None = None,
              params: RetrievalParams | None = None, revision: int = 0, progress: Progress | None = None,
              calibrate: bool = True) -> "RetrievalIndex":
        params = params or RetrievalParams()
        phrasings: list[str] = []
        owners: list[int] = []
        for row, entry in enumerate(entries):
            for text in entry.phrasings():
                phrasings.append(text)
                owners.append(row)
        vectors = embed_with_cache(phrasings, embedder, cache, progress=progress) if phrasings else np.zeros((0, embedder.dim), np.float32)
        index = cls(entries, phrasings, np.asarray(owners, dtype=np.int64), vectors, embedder, params, revision)
        if calibrate:
            from knowledge_base.retrieval.self_supervision import fit_calibrator

            index.calibrator, index._held_confidence, index._held_correct = fit_calibrator(
                index, max_queries=params.calibration_queries)
        return index

    def answer_threshold(self, precision: float) -> float:
        """The confidence above which answers were right at least `precision` of the time on the
        questions the calibrator held out (`inf` when no threshold reaches it); remembered per precision."""
        if precision not in self._thresholds:
            self._thresholds[precision] = threshold_for_precision(self._held_confidence, self._held_correct, precision)
        return self._thresholds[precision]

    @property
    def size(self) -> int:
        return len(self.entries)

    # ---- searching ------------------------------------------------------------------------------
    def search(self, text: str, *, region: str | None = None, now: datetime | None = None, k: int = 5) -> SearchResult:
        return self.search_many([text], region=region, now=now, k=k)[0]

    def search_many(self, texts: Sequence[str], *, region: str | None = None, now: datetime | None = None, k: int = 5,
                    batch_size: int = 256, progress: Progress | None = None) -> list[SearchResult]:
        """Ranked candidates per text. Only entries in force at `now` (default: the present) and
        covering the caller's `region` are candidates, whatever the index was built from."""
        allowed = self._allowed(region, now or utcnow())
        results: list[SearchResult] = []
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            vectors = self.embedder.embed_queries(batch) if self.phrasings else np.zeros((len(batch), 0), np.float32)
            for text, ranking in zip(batch, self.rank(batch, vectors, allowed=allowed)):
                results.append(self._result(text, ranking, k))
            if progress:
                progress(len(batch))
        return results

    def _allowed(self, region: str | None, now: datetime) -> np.ndarray:
        mask = self._region_masks.get(region)
        if mask is None:  # a handful of regions per hotline: remembered for the life of this index
            mask = np.array([region_covers(e.region, region) for e in self.entries], dtype=bool)
            self._region_masks[region] = mask
        moment = _epoch(now, 0.0)
        return mask & (self._starts <= moment) & (moment < self._ends)

    def _result(self, text: str, ranking: _Ranking, k: int) -> SearchResult:
        confidence = float(self.calibrator.probability(self.features(ranking))) if ranking.rows.size else 0.0
        candidates = [
            Candidate(entry=self.entries[row], score=float(f), dense=float(d), lexical=float(l), matched=self.phrasings[m])
            for row, f, d, l, m in zip(ranking.rows[:k], ranking.fused[:k], ranking.dense[:k], ranking.lexical[:k], ranking.matched[:k])
        ]
        return SearchResult(query=text, candidates=candidates, confidence=confidence)

    def features(self, ranking: _Ranking) -> np.ndarray:
        return ranking_features(ranking.fused, ranking.lexical)

    def rank(self, texts: Sequence[str], vectors: np.ndarray, *, allowed: np.ndarray | None = None,
             excluded: Sequence[np.ndarray] | None = None) -> list[_Ranking]:
        """Candidate entries per query, best first. `excluded` masks phrasing rows per query (for self-supervision)."""
        n_entries = len(self.entries)
        if not self.phrasings:
            empty = np.zeros(0, np.float32)
            return [_Ranking(np.zeros(0, np.int64), empty, empty, empty, np.zeros(0, np.int64)) for _ in texts]
        depth = self._params.dense_depth + (max((len(x) for x in excluded), default=0) if excluded else 0)
        _, dense_rows = self._dense.search(vectors, depth)
        lexical = self._lexical.scores(texts)
        scales = self._lexical.self_scores(texts)
        rankings = []
        for q in range(len(texts)):
            mask = excluded[q] if excluded else None
            lex_row = lexical.getrow(q)
            lex_phrasings, lex_values = lex_row.indices, lex_row.data
            if mask is not None and mask.size:
                keep = ~np.isin(lex_phrasings, mask)
                lex_phrasings, lex_values = lex_phrasings[keep], lex_values[keep]
            lexical_best = best_per_entry(lex_values, self.phrasing_entry[lex_phrasings], n_entries)
            lexical_best[~np.isfinite(lexical_best)] = 0.0

            near = dense_rows[q][dense_rows[q] >= 0]
            if mask is not None and mask.size:
                near = near[~np.isin(near, mask)]
            top_lexical = lex_phrasings[np.argsort(-lex_values)[: self._params.lexical_depth]]
            entries = np.unique(self.phrasing_entry[np.concatenate([near, top_lexical])])
            if allowed is not None:
                entries = self._with_variants(entries[allowed[entries]], allowed)
            ranking = self._rank_entries(vectors[q], entries, lexical_best, mask, float(scales[q]))
            rankings.append(self._apply_variants(ranking) if allowed is not None else ranking)
        return rankings

    def _with_variants(self, entries: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """A caller's own city variant of any candidate is a candidate too."""
        present = set(entries.tolist())
        extra = [v for v, base in self._replaces.items() if base in present and allowed[v] and v not in present]
        return np.concatenate([entries, np.asarray(extra, dtype=entries.dtype)]) if extra else entries

    def _apply_variants(self, ranking: _Ranking) -> _Ranking:
        """A variant the caller may be told takes its base entry's place, with the better of the two scores."""
        position = {int(row): i for i, row in enumerate(ranking.rows)}
        keep = np.ones(len(ranking.rows), dtype=bool)
        fused, dense, lexical, matched = (a.copy() for a in (ranking.fused, ranking.dense, ranking.lexical, ranking.matched))
        for variant, base in self._replaces.items():
            if variant in position and base in position:
                v, b = position[variant], position[base]
                if fused[b] > fused[v]:
                    fused[v], dense[v], lexical[v], matched[v] = fused[b], dense[b], lexical[b], matched[b]
                keep[b] = False
        order = np.argsort(-fused[keep], kind="stable")
        return _Ranking(ranking.rows[keep][order], fused[keep][order], dense[keep][order], lexical[keep][order],
                        matched[keep][order])

    def _rank_entries(self, vector: np.ndarray, entries: np.ndarray, lexical_best: np.ndarray,
                      mask: np.ndarray | None, lexical_scale: float) -> _Ranking:
        dense = np.empty(len(entries), np.float32)
        matched = np.empty(len(entries), np.int64)
        for i, row in enumerate(entries):
            rows = self.entry_phrasings[row]
            if mask is not None and mask.size:
                rows = rows[~np.isin(rows, mask)]
            if rows.size == 0:
                dense[i], matched[i] = -np.inf, -1
                continue
            sims = self.vectors[rows] @ vector
            best = int(np.argmax(sims))
            matched[i] = rows[best]
            share = self._params.weights.mean_phrasing
            dense[i] = (1 - share) * sims[best] + share * sims.mean()
        live = np.isfinite(dense)
        entries, dense, matched = entries[live], dense[live], matched[live]
        lexical = lexical_best[entries]
        fused = fuse(dense, lexical, self._depth[entries], self._params.weights, lexical_scale)
        order = np.argsort(-fused, kind="stable")
        return _Ranking(entries[order], fused[order], dense[order], lexical[order], matched[order])


def _variant_links(entries: Sequence[Entry]) -> dict[int, int]:
    """Row of each variant → row of the entry it replaces, where that entry is present and its scope
    strictly contains the variant's."""
    rows = {e.id: row for row, e in enumerate(entries)}
    links = {}
    for row, entry in enumerate(entries):
        base = rows.get(entry.variant_of) if entry.variant_of else None
        if base is not None and entry.region != entries[base].region and region_covers(entries[base].region, entry.region):
            links[row] = base
    return links


def _epoch(moment: datetime | None, default: float) -> float:
    return default if moment is None else as_utc(moment).timestamp()
