"""Small stand-ins for the heavy parts, for tests where the real one is not the point."""
from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np


class HashingEmbedder:
    """A deterministic sentence embedder: each text's character 1- and 2-grams hashed (CRC-32, stable across
    processes, unlike hash()) into `dim` buckets, L2-normalised. Texts that share characters come out similar, so
    retrieval over it is crude but not random; it loads in no time and needs no model files.

    It offers what the product calls on an embedder (models/embedder.py's `Embedder`): `model_id`, `dim`,
    `embed_queries`, `embed_passages`, and `fast_path` (None: there is no fast path)."""

    def __init__(self, dim: int = 256, *, name: str = "test-hashing") -> None:
        self.dim = dim
        self.model_id = f"{name}@crc32-1-2grams dim={dim}"
        self.query_prefix = ""
        self.passage_prefix = ""
        self.calls = 0  # how many embed_* calls, for tests that care

    @property
    def fast_path(self) -> str | None:
        return None

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a sequence of texts, not a single string")
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            chars = "".join(str(text).lower().split())
            grams = list(chars) + [chars[i:i + 2] for i in range(len(chars) - 1)]
            for gram in grams:
                out[row, zlib.crc32(gram.encode("utf-8")) % self.dim] += 1.0
            if not grams:
                out[row, 0] = 1.0  # an empty text still gets a unit vector (no NaN downstream)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out
