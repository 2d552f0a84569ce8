"""The knowledge base as the rest of the product sees it: the stored entries and the live index over
the servable ones, kept in step."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from ground.clock import utcnow
from knowledge_base.retrieval.embedding import QueryEmbedder
from knowledge_base.retrieval.holder import IndexHolder
from knowledge_base.retrieval.index import RetrievalIndex, RetrievalParams
from knowledge_base.retrieval.self_supervision import Labelled
from knowledge_base.seed import SEED_AUTHOR, read_seed_entries
from knowledge_base.store import CalibrationStore, EmbeddingCache, ImportReport, KnowledgeStore


class KnowledgeBase:
    def __init__(self, store: KnowledgeStore, embedder: QueryEmbedder, cache: EmbeddingCache | None,
                 params: RetrievalParams | None = None, progress: Callable[[int], None] | None = None,
                 calibrations: CalibrationStore | None = None,
                 labelled: Callable[[], Sequence[Labelled]] | None = None):
        """`calibrations`: where fitted calibrations are shared with the other workers (none: each build fits its own).
        `labelled`: the hotline's labelled questions the calibration learns from too (the latest refit's)."""
        self.store = store
        self._embedder = embedder
        self._cache = cache
        self._calibrations = calibrations
        self._labelled = labelled
        self._params = params or RetrievalParams()
        self._progress = progress
        self.index = IndexHolder(self._build_index, store.revision, store.next_change_at)

    def _build_index(self) -> RetrievalIndex:
        # The revision is read before the entries: a publish that lands during the build leaves the
        # index one revision behind, and the next refresh picks it up.
        revision = self.store.revision()
        served = self.index.latest
        entries = self.store.servable(utcnow(), known=served.entries_by_id if served is not None else None)
        return RetrievalIndex.build(entries, self._embedder, cache=self._cache, params=self._params,
                                    revision=revision, progress=self._progress, reuse=self.index.latest,
                                    calibrations=self._calibrations,
                                    labelled=self._labelled() if self._labelled is not None else ())

    def load_seed_if_empty(self) -> ImportReport | None:
        """A fresh install answers at once: the shipped sample entries go into an empty knowledge base."""
        if self.store.count():
            return None
        return self.store.import_entries(read_seed_entries(), by=SEED_AUTHOR, source="seed")
