"""BM25 over character n-grams: exact words matter (drug names, place names, document numbers)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from knowledge_base.retrieval.text import char_ngrams, char_units


class LexicalIndex:
    """Built with array operations over all documents at once. `like` (an index built with the same
    n-gram sizes, e.g. the one being served) lends its split of documents into characters, so only new
    text is split; the result is the same as without it."""

    def __init__(self, documents: Sequence[str], *, ngram_sizes: tuple[int, ...] = (1, 2), k1: float = 1.2,
                 b: float = 0.75, like: LexicalIndex | None = None):
        self._sizes = ngram_sizes
        self._units = _Units(documents, like._units if like is not None and like._sizes == ngram_sizes else None)
        rows, keys = self._units.ngram_keys(ngram_sizes)
        # Terms are numbered in order of first appearance (document by document, n-gram size by size):
        # the numbering fixes the order in which a query's scores are summed.
        distinct, first, columns = np.unique(keys, return_index=True, return_inverse=True)
        order = np.argsort(first)
        number = np.empty(distinct.size, dtype=np.int64)
        number[order] = np.arange(distinct.size)
        self._vocabulary: dict[str, int] = {gram: int(number[i]) for i, gram in zip(order, self._units.grams(distinct[order], ngram_sizes))}
        shape = (len(documents), max(len(self._vocabulary), 1))
        # Repeated (document, term) pairs are summed: the term's count in the document.
        tf = sp.csr_matrix((np.ones(keys.size, dtype=np.float32), (rows, number[columns.ravel()])), shape=shape)
        n_docs = max(len(documents), 1)
        df = np.bincount(tf.indices, minlength=shape[1]).astype(np.float32)
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

    def rarity(self, text: str) -> float:
        """How much `text` says: the highest inverse document frequency of its character 1–2-grams (a gram no
        phrasing holds counts as the rarest)."""
        top = float(self._idf.max()) if self._idf.size else 0.0
        return max((float(self._idf[self._vocabulary[g]]) if g in self._vocabulary else top
                    for g in char_ngrams(text, self._sizes)), default=0.0)

    def scores(self, queries: Sequence[str]) -> sp.csr_matrix:
        """BM25 score of every document for every query (queries × documents, sparse)."""
        return (self._query_matrix(queries) @ self._weights_t).tocsr()

    def self_scores(self, queries: Sequence[str]) -> np.ndarray:
        """The score a document made of exactly the query's own n-grams would get: a per-query scale."""
        q = self._query_matrix(queries)
        return np.asarray(q @ (self._idf[:, None] if self._idf.size else np.zeros((q.shape[1], 1)))).ravel()


class _Units:
    """Documents as numbered characters (see `char_units`): one array of unit numbers, cut per document."""

    def __init__(self, documents: Sequence[str], like: _Units | None):
        self.names: list[str] = list(like.names) if like is not None else []
        self.number: dict[str, int] = dict(like.number) if like is not None else {}
        known = like.of_text if like is not None else {}
        self.of_text: dict[str, np.ndarray] = {}
        for text in documents:
            if text not in self.of_text:
                split = known.get(text)
                self.of_text[text] = split if split is not None else self._numbered(char_units(text))
        pieces = [self.of_text[text] for text in documents]
        self.lengths = np.fromiter((piece.size for piece in pieces), dtype=np.int64, count=len(pieces))
        self.units = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)

    def _numbered(self, units: list[str]) -> np.ndarray:
        for unit in units:
            if unit not in self.number:
                self.number[unit] = len(self.names)
                self.names.append(unit)
        return np.fromiter((self.number[unit] for unit in units), dtype=np.int64, count=len(units))

    def _base(self, sizes: tuple[int, ...]) -> int:
        base = max(len(self.names), 1)
        if len(sizes) * base ** max(sizes, default=1) >= 2**62:
            raise ValueError(f"n-grams of sizes {sizes} over {base} distinct characters do not fit one number each")
        return base

    def ngram_keys(self, sizes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(document, key) of every n-gram, in `char_ngrams` order: document by document, each size in
        turn, left to right. A key numbers an n-gram's text; different texts have different keys."""
        base = self._base(sizes)
        starts = np.cumsum(self.lengths) - self.lengths
        document = np.repeat(np.arange(self.lengths.size), self.lengths)
        position = np.arange(self.units.size) - np.repeat(starts, self.lengths)
        counts = [np.maximum(self.lengths - n + 1, 0) for n in sizes]
        per_document = np.sum(counts, axis=0) if counts else np.zeros_like(self.lengths)
        slot_start = np.cumsum(per_document) - per_document  # where each document's n-grams begin
        total = int(per_document.sum())
        keys = np.empty(total, dtype=np.int64)
        rows = np.repeat(np.arange(self.lengths.size), per_document)
        before = np.zeros_like(self.lengths)  # n-grams of the smaller sizes already placed, per document
        offset = 0
        for n, count in zip(sizes, counts):
            fits = position <= self.lengths[document] - n  # an n-gram starts here
            at = np.flatnonzero(fits)
            key = np.zeros(at.size, dtype=np.int64)
            for j in range(n):
                key = key * base + self.units[at + j]
            keys[slot_start[document[at]] + before[document[at]] + position[at]] = offset + key
            before += count
            offset += base**n
        return rows, keys

    def grams(self, keys: np.ndarray, sizes: tuple[int, ...]) -> list[str]:
        """The text of each key made by `ngram_keys`."""
        base = self._base(sizes)
        bounds, offset = [], 0
        for n in sizes:
            bounds.append((offset, offset + base**n, n))
            offset += base**n
        texts = []
        for key in keys.tolist():
            for low, high, n in bounds:
                if low <= key < high:
                    key -= low
                    digits = []
                    for _ in range(n):
                        key, digit = divmod(key, base)
                        digits.append(self.names[digit])
                    texts.append("".join(reversed(digits)))
                    break
        return texts
