"""BM25 over character n-grams: exact words matter (drug names, place names, document numbers)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from knowledge_base.retrieval.text import char_ngrams


class LexicalIndex:
    def __init__(self, documents: Sequence[str], *, ngram_sizes: tuple[int, ...] = (1, 2), k1: float = 1.2, b: float = 0.75):
        self._sizes = ngram_sizes
        self._vocabulary: dict[str, int] = {}
        rows, cols, counts = [], [], []
        for row, document in enumerate(documents):
            grams: dict[int, int] = {}
            for gram in char_ngrams(document, ngram_sizes):
                col = self._vocabulary.setdefault(gram, len(self._vocabulary))
                grams[col] = grams.get(col, 0) + 1
            rows.extend([row] * len(grams))
            cols.extend(grams)
            counts.extend(grams.values())
        shape = (len(documents), max(len(self._vocabulary), 1))
        tf = sp.csr_matrix((np.asarray(counts, dtype=np.float32), (rows, cols)), shape=shape)
        n_docs = max(len(documents), 1)
        df = np.bincount(np.asarray(cols, dtype=np.int64), minlength=shape[1]).astype(np.float32)
        self._idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        lengths = np.asarray(tf.sum(axis=1)).ravel()
        norm = k1 * (1 - b + b * lengths / max(lengths.mean(), 1e-9)) if len(documents) else lengths
        tf = tf.tocoo()
        weights = tf.data * (k1 + 1) / (tf.data + norm[tf.row]) * self._idf[tf.col]
        # Stored transposed (terms × documents) so that a query batch is one sparse product.
        self._weights_t = sp.csr_matrix((weights.astype(np.float32), (tf.col, tf.row)), shape=(shape[1], shape[0]))

    def _query_matrix(self, queries: Sequence[str]) -> sp.csr_matrix:
        rows, cols = [], []
        for row, query in enumerate(queries):
            terms = {self._vocabulary[g] for g in char_ngrams(query, self._sizes) if g in self._vocabulary}
            rows.extend([row] * len(terms))
            cols.extend(terms)
        data = np.ones(len(rows), dtype=np.float32)
        return sp.csr_matrix((data, (rows, cols)), shape=(len(queries), self._weights_t.shape[0]))

    def scores(self, queries: Sequence[str]) -> sp.csr_matrix:
        """BM25 score of every document for every query (queries × documents, sparse)."""
        return (self._query_matrix(queries) @ self._weights_t).tocsr()

    def self_scores(self, queries: Sequence[str]) -> np.ndarray:
        """The score a document made of exactly the query's own n-grams would get: a per-query scale."""
        q = self._query_matrix(queries)
        return np.asarray(q @ (self._idf[:, None] if self._idf.size else np.zeros((q.shape[1], 1)))).ravel()
