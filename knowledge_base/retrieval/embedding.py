"""Embedding knowledge-base text, re-using vectors of text that has not changed."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np


class QueryEmbedder(Protocol):
    model_id: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


class VectorCache(Protocol):
    def get_many(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_many(self, model_id: str, vectors: dict[str, np.ndarray]) -> None: ...


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embed_with_cache(
    texts: Sequence[str],
    embedder: QueryEmbedder,
    cache: VectorCache | None,
    *,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Vectors for `texts` (as queries: an entry's phrasings are questions, matched question to question).

    Only text whose hash the cache does not hold is embedded; new vectors are written back.
    """
    hashes = [text_hash(t) for t in texts]
    known = cache.get_many(embedder.model_id, sorted(set(hashes))) if cache else {}
    missing = sorted({h: t for h, t in zip(hashes, texts) if h not in known}.items())
    if progress and known:
        progress(sum(1 for h in hashes if h in known))
    for start in range(0, len(missing), batch_size):
        chunk = missing[start : start + batch_size]
        vectors = embedder.embed_queries([t for _, t in chunk])
        fresh = {h: v for (h, _), v in zip(chunk, vectors)}
        known.update(fresh)
        if cache:
            cache.put_many(embedder.model_id, fresh)
        if progress:
            progress(len(chunk))
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    for row, h in enumerate(hashes):
        out[row] = known[h]
    return out
