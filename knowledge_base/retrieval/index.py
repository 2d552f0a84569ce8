"""The retrieval index: built from the servable entries, searched by every turn.

The route of a query, in one place:
  embed → dense search over phrasings (FAISS) ┐
  char n-grams → BM25 over phrasings          ┴→ best phrasing per entry → region filter → fuse → calibrate
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from datetime import datetime

import numpy as np

from knowledge_base.entry import Entry
from ground.clock import as_utc, utcnow
from ground.regions import region_covers, region_depth
from knowledge_base.retrieval.asks import Asks, Reading
from knowledge_base.retrieval.calibration_cache import CalibrationCache, fitted_calibration
from knowledge_base.retrieval.confidence import Calibration, Calibrator, ranking_features
from knowledge_base.retrieval.dense import DenseIndex
from knowledge_base.retrieval.embedding import QueryEmbedder, VectorCache, embed_with_cache
from knowledge_base.retrieval.fusion import FusionWeights, fuse
from knowledge_base.retrieval.lexical import LexicalIndex
from knowledge_base.retrieval.text import normalise
from knowledge_base.retrieval.wording import CallerWording

if TYPE_CHECKING:
    from knowledge_base.retrieval.self_supervision import Labelled

Progress = Callable[[int], None]
_BATCH = 64  # queries ranked at once (a dense BM25 block of _BATCH × phrasings)


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
    # The plain case: the question is, but for punctuation, spaces and width, one of the top entry's own
    # phrasings, and no other entry's ("苏康码黄码怎么转绿码" / "苏康码黄码怎么转绿码？"): the editors wrote
    # it for that entry, whatever the confidence says.
    plain: bool = False

    @property
    def top(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True)
class RetrievalParams:
    weights: FusionWeights = field(default_factory=FusionWeights)
    dense_depth: int = 64  # phrasings taken from FAISS per query before per-entry fusion
    lexical_depth: int = 32
    calibration_queries: int = 6000  # self-made questions, enough for thresholds bounded at 0.95 (confidence.py)
    # At most this many per entry: a knowledge base of a few entries has little to make questions from, and
    # beyond this they are the same few rewrites again (each costing the embedder as much as a new one).
    calibration_queries_per_entry: int = 150
    asks: Asks = field(default_factory=Asks.load, compare=False)  # the question types (content/asks.yaml)
    wording: CallerWording = field(default_factory=CallerWording.load, compare=False)  # content/wording.yaml
    # Answer thresholds hold for traffic of which this share has an answer in the knowledge base (an
    # assumption until the hotline's labels measure it), with probability 1 − threshold_risk.
    answerable_share: float = 0.5
    threshold_risk: float = 0.05


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
                 embedder: QueryEmbedder, params: RetrievalParams, revision: int, *,
                 reuse: "RetrievalIndex | None" = None):
        """`reuse`: an earlier index by the same embedder. Over exactly the same phrasings, its (immutable)
        dense and lexical indexes are shared; otherwise its lexical index lends its split of the text."""
        self.entries = list(entries)
        self.entries_by_id = {e.id: e for e in self.entries}
        self.revision = revision
        self.phrasings = phrasings
        self.phrasing_entry = phrasing_entry
        self.vectors = vectors
        self.embedder = embedder
        self._params = params
        if reuse is not None and reuse.phrasings == phrasings:
            self._dense, self._lexical = reuse._dense, reuse._lexical
        else:
            self._dense = DenseIndex(vectors)
            self._lexical = LexicalIndex(phrasings, like=reuse._lexical if reuse is not None else None)
        self._depth = np.array([region_depth(e.region) for e in self.entries], dtype=np.float32)
        self._starts = np.array([_epoch(e.effective_from, -np.inf) for e in self.entries], dtype=np.float64)
        self._ends = np.array([_epoch(e.expires_at, np.inf) for e in self.entries], dtype=np.float64)
        self._region_masks: dict[str | None, np.ndarray] = {}
        # Phrasings are stored entry by entry, so each entry's rows are one contiguous range.
        self._bounds = np.searchsorted(phrasing_entry, np.arange(len(self.entries) + 1))
        self.entry_phrasings = [np.arange(self._bounds[row], self._bounds[row + 1]) for row in range(len(self.entries))]
        self._replaces = _variant_links(self.entries)
        self._written = _written_for(phrasings, phrasing_entry)
        self.calibration = Calibration.fallback()
        self.calibrated = False  # by fit_calibrator on this index's own phrasings (not the fallback, not borrowed)
        self.labelled: tuple = ()  # the hotline's labelled questions the calibration learned from too
        self._thresholds: dict[float, float] = {}
        self._readings: dict[int, Reading] = {}  # phrasing row → its reading, as phrasings are matched

    # ---- building -------------------------------------------------------------------------------
    @classmethod
    def build(cls, entries: Sequence[Entry], embedder: QueryEmbedder, *, cache: VectorCache | None = None,
              params: RetrievalParams | None = None, revision: int = 0, progress: Progress | None = None,
              calibrate: bool = True, reuse: "RetrievalIndex | None" = None,
              calibrations: CalibrationCache | None = None,
              labelled: "Sequence[Labelled]" = ()) -> "RetrievalIndex":
        """An index over `entries`. Phrasings that `reuse` (an earlier index by the same embedder) already
        holds take its vectors; only the rest go to the cache and the embedder. What depends only on
        unchanged inputs is taken from `reuse` as it is, so that a publish that changes no phrasing (an
        answer, a date, a status) rebuilds in a fraction of the time: the dense and lexical indexes when
        the phrasings are the same, the calibration when whatever it learns from is the same too. The
        result is identical to a build without `reuse`. `calibrations`: fitted calibrations by what they learned
        from, shared with other workers (`calibration_cache.py`); one found there is not fitted again."""
        params = params or RetrievalParams()
        if reuse is not None and reuse.embedder.model_id != embedder.model_id:
            reuse = None
        phrasings, owners = _phrasings(entries, reuse)
        same = reuse if reuse is not None and reuse.phrasings == phrasings else None
        vectors = same.vectors if same is not None else _vectors(phrasings, embedder, cache, reuse, progress)
        index = cls(entries, phrasings, owners, vectors, embedder, params, revision, reuse=reuse)
        if calibrate:
            index.labelled = tuple(labelled)
            if same is not None and index._calibrates_like(same):
                index.calibrated_like(same)
            else:
                index.calibration = fitted_calibration(index, calibrations, labelled, vectors=cache)
            index.calibrated = True
        return index

    def _calibrates_like(self, other: "RetrievalIndex") -> bool:
        """Whether fitting the calibrator on this index would learn exactly what `other` learned: the
        self-made questions and their rankings depend only on the phrasings, which entry owns each, the
        entries' region depths, the parameters and the labelled questions (phrasings and vectors are known to be
        the same)."""
        return (other.calibrated and other._params == self._params and len(other.entries) == len(self.entries)
                and other.labelled == self.labelled
                and np.array_equal(other.phrasing_entry, self.phrasing_entry) and np.array_equal(other._depth, self._depth))

    def calibrated_like(self, other: "RetrievalIndex") -> "RetrievalIndex":
        """This index judging confidence exactly as `other` does (for a draft preview: no recalibration)."""
        self.calibrated = other.calibrated and self._calibrates_like(other)
        self.calibration = other.calibration
        self._thresholds = dict(other._thresholds)
        return self

    def vector_of(self) -> dict[str, np.ndarray]:
        """Each phrasing's vector, by its text."""
        return {text: self.vectors[row] for row, text in enumerate(self.phrasings)}

    @property
    def calibrator(self) -> "Calibrator":
        return self.calibration.calibrator

    def answer_threshold(self, precision: float) -> float:
        """The confidence above which answers are right at least `precision` of the time, bounded on the
        questions the calibrator held out (`inf` when no threshold reaches it); remembered per precision."""
        if precision not in self._thresholds:
            self._thresholds[precision] = self.calibration.threshold(
                precision, answerable_share=self._params.answerable_share, risk=self._params.threshold_risk)
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
        confidence = float(self.calibrator.probability(self.features(text, ranking))) if ranking.rows.size else 0.0
        candidates = [
            Candidate(entry=self.entries[row], score=float(f), dense=float(d), lexical=float(l), matched=self.phrasings[m])
            for row, f, d, l, m in zip(ranking.rows[:k], ranking.fused[:k], ranking.dense[:k], ranking.lexical[:k], ranking.matched[:k])
        ]
        return SearchResult(query=text, candidates=candidates, confidence=confidence, plain=self._plain(text, ranking))

    def _plain(self, text: str, ranking: _Ranking) -> bool:
        return bool(ranking.rows.size) and self._written.get(normalise(text), -1) == int(ranking.rows[0])

    def features(self, text: str, ranking: _Ranking) -> np.ndarray:
        """The calibrator's features of `text` ranked as `ranking`."""
        matched = self.reading_of(int(ranking.matched[0])) if ranking.rows.size else Reading(frozenset(), frozenset())
        return ranking_features(ranking.fused, ranking.lexical, self._params.asks.read(text), matched)

    def rarity(self, text: str) -> float:
        """How much a word says in this knowledge base (its rarest character 1–2-gram)."""
        return self._lexical.rarity(text)

    def reading_of(self, phrasing: int) -> Reading:
        """What a phrasing asks and is about (read once per index, when first matched)."""
        reading = self._readings.get(phrasing)
        if reading is None:
            reading = self._readings[phrasing] = self._params.asks.read(self.phrasings[phrasing])
        return reading

    def rank(self, texts: Sequence[str], vectors: np.ndarray, *, allowed: np.ndarray | None = None,
             excluded: Sequence[np.ndarray] | None = None) -> list[_Ranking]:
        """Candidate entries per query, best first. `excluded` masks phrasing rows per query (for self-supervision)."""
        if not self.phrasings:
            empty = np.zeros(0, np.float32)
            return [_Ranking(np.zeros(0, np.int64), empty, empty, empty, np.zeros(0, np.int64)) for _ in texts]
        depth = self._params.dense_depth + (max((len(x) for x in excluded), default=0) if excluded else 0)
        _, dense_rows = self._dense.search(vectors, depth)
        rankings: list[_Ranking] = []
        for start in range(0, len(texts), _BATCH):
            stop = start + _BATCH
            rankings += self._rank_batch(texts[start:stop], vectors[start:stop], dense_rows[start:stop], allowed,
                                         excluded[start:stop] if excluded else None)
        return rankings

    def _rank_batch(self, texts: Sequence[str], vectors: np.ndarray, dense_rows: np.ndarray,
                    allowed: np.ndarray | None, excluded: Sequence[np.ndarray] | None) -> list[_Ranking]:
        """`rank` for a batch of queries at once: a few operations over whole arrays rather than many small
        ones per query (the calibration ranks 2,000 questions on every rebuild)."""
        n_phrasings, n_entries = len(self.phrasings), len(self.entries)
        lexical = self._lexical.scores(texts).toarray()  # BM25 per query and phrasing; 0 where nothing is shared
        scales = self._lexical.self_scores(texts).astype(np.float32)
        masked = _masked_keys(excluded, n_phrasings)
        if masked.size:
            lexical.flat[masked] = 0.0
        # Candidates: the dense neighbours and the best lexical matches, as (query, entry) pairs.
        near_q, near_at = np.nonzero(dense_rows >= 0)
        near_rows = dense_rows[near_q, near_at]
        if masked.size:
            keep = ~np.isin(near_q * n_phrasings + near_rows, masked)
            near_q, near_rows = near_q[keep], near_rows[keep]
        top_q, top_rows = _top_per_row(lexical, self._params.lexical_depth)
        keys = np.unique(np.concatenate([near_q, top_q]) * n_entries
                         + self.phrasing_entry[np.concatenate([near_rows, top_rows])])
        pair_q, pair_entry = np.divmod(keys, n_entries)
        if allowed is not None:
            pair_q, pair_entry = self._allowed_pairs(pair_q, pair_entry, allowed, len(texts))
        dense, lexical_best, matched, live = self._score_pairs(pair_q, pair_entry, vectors, lexical, masked)
        pair_q, pair_entry = pair_q[live], pair_entry[live]
        dense, lexical_best, matched = dense[live], lexical_best[live], matched[live]
        fused = fuse(dense, lexical_best, self._depth[pair_entry], self._params.weights, scales[pair_q])
        order = np.lexsort((-fused, pair_q))  # per query, best first; ties keep the entries' order
        pair_q, pair_entry, fused, dense, lexical_best, matched = (
            a[order] for a in (pair_q, pair_entry, fused, dense, lexical_best, matched))
        bounds = np.searchsorted(pair_q, np.arange(len(texts) + 1))
        rankings = []
        for q in range(len(texts)):
            at = slice(bounds[q], bounds[q + 1])
            ranking = _Ranking(pair_entry[at], fused[at], dense[at], lexical_best[at], matched[at])
            rankings.append(self._apply_variants(ranking) if allowed is not None else ranking)
        return rankings

    def _allowed_pairs(self, pair_q: np.ndarray, pair_entry: np.ndarray, allowed: np.ndarray,
                       n_queries: int) -> tuple[np.ndarray, np.ndarray]:
        """Only the entries the caller may be told, and their own city variants."""
        keep = allowed[pair_entry]
        pair_q, pair_entry = pair_q[keep], pair_entry[keep]
        if not self._replaces:
            return pair_q, pair_entry
        bounds = np.searchsorted(pair_q, np.arange(n_queries + 1))
        entries = [self._with_variants(pair_entry[bounds[q] : bounds[q + 1]], allowed) for q in range(n_queries)]
        return np.repeat(np.arange(n_queries), [len(e) for e in entries]), np.concatenate(entries)

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

    def _score_pairs(self, pair_q: np.ndarray, pair_entry: np.ndarray, vectors: np.ndarray, lexical: np.ndarray,
                     masked: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per (query, entry) pair: the dense score (the best phrasing's cosine mixed with the mean over the
        entry's phrasings), the lexical score (its best phrasing's), the phrasing that gave the dense score,
        and whether any phrasing was left once the `masked` ones (query × phrasing keys) were taken out.

        Pairs whose entries have the same number of phrasings are scored together, one (pairs × phrasings)
        block at a time, which gives exactly the figures of scoring each pair on its own."""
        n_phrasings = len(self.phrasings)
        starts, counts = self._bounds[pair_entry], self._bounds[pair_entry + 1] - self._bounds[pair_entry]
        owner = np.repeat(np.arange(len(pair_entry)), counts)
        rows = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(starts, counts)
        if masked.size:
            keep = ~np.isin(pair_q[owner] * n_phrasings + rows, masked)
            rows, owner = rows[keep], owner[keep]
            counts = np.bincount(owner, minlength=len(pair_entry))
        dense = np.empty(len(pair_entry), np.float32)
        lexical_best = np.empty(len(pair_entry), np.float32)
        matched = np.empty(len(pair_entry), np.int64)
        share = self._params.weights.mean_phrasing
        row_counts = counts[owner]
        for count in np.unique(counts[counts > 0]):
            members = np.flatnonzero(counts == count)
            block = rows[row_counts == count].reshape(len(members), count)
            queries = pair_q[members]
            sims = np.matmul(self.vectors[block], vectors[queries][:, :, None])[:, :, 0]
            best = np.argmax(sims, axis=1)
            picked = np.arange(len(members))
            dense[members] = (1 - share) * sims[picked, best] + share * sims.mean(axis=1)
            matched[members] = block[picked, best]
            lexical_best[members] = lexical[queries[:, None], block].max(axis=1)
        return dense, lexical_best, matched, counts > 0


def _masked_keys(excluded: Sequence[np.ndarray] | None, n_phrasings: int) -> np.ndarray:
    """query × n_phrasings + phrasing, for every phrasing masked for a query of the batch (sorted)."""
    if not excluded:
        return np.zeros(0, np.int64)
    sizes = [len(rows) for rows in excluded]
    if not sum(sizes):
        return np.zeros(0, np.int64)
    rows = np.concatenate([np.asarray(rows, dtype=np.int64) for rows in excluded])
    return np.unique(np.repeat(np.arange(len(excluded), dtype=np.int64), sizes) * n_phrasings + rows)


def _top_per_row(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of each row's `k` highest positive scores; of scores tied at the cut, the lowest columns."""
    n_columns = scores.shape[1]
    if n_columns <= k:
        return np.nonzero(scores > 0)
    cut = np.partition(scores, n_columns - k, axis=1)[:, n_columns - k]
    many = np.count_nonzero(scores > 0, axis=1) > k
    cut[~many] = 0.0  # fewer than k positive scores: all of them
    better_q, better_c = np.nonzero(scores > cut[:, None])
    missing = np.where(many, k - np.bincount(better_q, minlength=len(scores)), 0)
    tied = np.flatnonzero(missing > 0)
    if not tied.size:
        return better_q, better_c
    at_cut = scores[tied] == cut[tied, None]
    first = at_cut & (np.cumsum(at_cut, axis=1) <= missing[tied, None])
    tie_q, tie_c = np.nonzero(first)
    return np.concatenate([better_q, tied[tie_q]]), np.concatenate([better_c, tie_c])


def _phrasings(entries: Sequence[Entry], reuse: "RetrievalIndex | None") -> tuple[list[str], np.ndarray]:
    """Every entry's phrasings, entry by entry, and the row of the entry each belongs to. An entry
    whose question, samples and region are as in `reuse` takes its phrasings from there."""
    earlier = {entry.id: row for row, entry in enumerate(reuse.entries)} if reuse is not None else {}
    phrasings: list[str] = []
    counts: list[int] = []
    for entry in entries:
        row = earlier.get(entry.id)
        if row is not None and _same_phrasing_inputs(reuse.entries[row], entry):
            texts = reuse.phrasings[reuse._bounds[row] : reuse._bounds[row + 1]]
        else:
            texts = entry.phrasings()
        phrasings.extend(texts)
        counts.append(len(texts))
    return phrasings, np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def _same_phrasing_inputs(a: Entry, b: Entry) -> bool:
    """Whether `Entry.phrasings` gives the same for both."""
    return a.question == b.question and a.samples == b.samples and a.region == b.region


def _vectors(phrasings: list[str], embedder: QueryEmbedder, cache: VectorCache | None, reuse: "RetrievalIndex | None",
             progress: Progress | None) -> np.ndarray:
    if not phrasings:
        return np.zeros((0, embedder.dim), np.float32)
    known = reuse.vector_of() if reuse is not None else {}
    missing = list(dict.fromkeys(text for text in phrasings if text not in known))
    if missing:
        known = {**known, **dict(zip(missing, embed_with_cache(missing, embedder, cache, progress=progress)))}
    return np.vstack([known[text] for text in phrasings]).astype(np.float32, copy=False)


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


def _written_for(phrasings: Sequence[str], owners: np.ndarray) -> dict[str, int]:
    """Each phrasing's normalised text → the row of the one entry it was written for (-1: several have it)."""
    written: dict[str, int] = {}
    for text, row in zip(phrasings, owners):
        key, row = normalise(text), int(row)
        written[key] = row if written.get(key, row) == row else -1
    return written
