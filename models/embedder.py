"""Sentence embeddings for questions and knowledge entries: a thin adapter over sentence-transformers.

Loading takes seconds; whoever owns an Embedder (the app factory) loads it once per process and shares it.

Two paths compute the same vectors:
- batches (index building, evaluation) go through sentence-transformers' `encode` in float32 on the
  process's torch threads, exactly as before;
- small batches (a chat turn's question) go through `FastBert` (models/bert_fast.py), an inference-only forward over the same
  BERT weights: fused QKV, GELU fused into its matmul, matmuls on weights prepacked for oneDNN, in
  bfloat16 where the CPU computes it natively (float32 otherwise), the residual stream in float32. It runs
  on worker threads of its own that use one torch thread each, so a single question neither waits on
  OpenMP's two-thread hand-offs nor changes the thread count the rest of the process uses. Its vectors
  agree with the batch path's to a cosine above 0.9999 (`python -m bench.embedder`), and it checks that
  itself on load, falling back to the batch path for a model it cannot reproduce.
Query vectors of small batches are also kept in a bounded LRU cache: in a surge many callers type the
very same question.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .bert_fast import FastPath
from .cpus import available_cores
from .errors import ModelUnavailable
from .manifest import read_manifest, sha256_of

log = logging.getLogger(__name__)

# The files that decide what a folder embeds to; their contents name the model in `model_id`.
_IDENTITY_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json",
                   "sentencepiece.bpe.model", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json")


class Embedder:
    """Embeds queries and passages as float32, L2-normalised rows of shape (n, dim).

    Prefixes default to e5's ("query: ", "passage: "); give empty ones for models trained without them.

    Batches of at most `fast_batch_max` texts take the fast path (see the module's docstring) when
    `fast_path` is on and the model is one it supports; `fast_threads` is the torch thread count of each
    of its worker threads. `query_cache_size` bounds the cache of query text → vector (0 turns it off);
    only batches the fast path would take are looked up in it and added to it, so building an index
    neither fills it nor is served from it.
    """

    def __init__(self, model, *, model_id: str, query_prefix: str, passage_prefix: str, batch_size: int,
                 query_cache_size: int = 4096, fast_path: bool = True, fast_batch_max: int = 16,
                 fast_threads: int = 1) -> None:
        self._model = model
        self.model_id = model_id
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        # sentence-transformers 6 renamed get_sentence_embedding_dimension
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.fast_batch_max = fast_batch_max
        self._query_cache = _LruCache(query_cache_size) if query_cache_size > 0 else None
        self._fast = FastPath.build(model, self._encode_batch, threads=fast_threads) if fast_path else None
        if self._fast is not None:
            # an Embedder that is dropped stops its workers; at exit the executor joins them itself
            weakref.finalize(self, self._fast.close).atexit = False

    @classmethod
    def load(
        cls,
        path_or_name: str | Path,
        *,
        query_prefix: str = "query: ",
        passage_prefix: str = "passage: ",
        batch_size: int = 32,
        device: str = "cpu",
        **options: Any,
    ) -> Embedder:
        """Load a local sentence-transformers folder (never touching the network) or a hub model name.

        `options` are the constructor's (`query_cache_size`, `fast_path`, `fast_batch_max`, `fast_threads`).
        """
        import torch
        from sentence_transformers import SentenceTransformer

        folder = Path(path_or_name)
        is_folder = folder.is_dir()
        meant_as_folder = isinstance(path_or_name, Path) or folder.is_absolute() or str(path_or_name)[:1] in ".~"
        if meant_as_folder and not is_folder:
            raise ModelUnavailable(
                f"embedder at {folder}", [f"the folder {folder}, which does not exist"],
                "give the path of a sentence-transformers model folder, or a hub model name when online.",
            )
        if "OMP_NUM_THREADS" not in os.environ:  # an explicit setting wins
            torch.set_num_threads(available_cores())
        model = SentenceTransformer(
            str(folder) if is_folder else str(path_or_name),
            device=device,
            local_files_only=is_folder,
            # transformers' default dtype follows the checkpoint; a float16 one would run slowly on CPU.
            model_kwargs={_dtype_keyword(): torch.float32},
        )
        label = folder.resolve().name if is_folder else str(path_or_name)
        identity = _folder_identity(folder) if is_folder else "hub"
        model_id = f"{label}@{identity} query={query_prefix!r} passage={passage_prefix!r}"
        return cls(model, model_id=model_id, query_prefix=query_prefix, passage_prefix=passage_prefix,
                   batch_size=batch_size, **options)

    @property
    def fast_path(self) -> str | None:
        """What the fast path computes in ("bfloat16", "float32"), or None when small batches take the batch path."""
        return self._fast.precision if self._fast is not None else None

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self.query_prefix, self._query_cache)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self.passage_prefix, None)

    def _embed(self, texts: Sequence[str], prefix: str, cache: _LruCache | None) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a sequence of texts, not a single string")
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        if len(texts) > self.fast_batch_max:
            return self._encode_batch([prefix + text for text in texts])
        if cache is None:
            return self._encode_small([prefix + text for text in texts])
        found = {text: vector for text in texts if (vector := cache.get(text)) is not None}
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        if missing:
            vectors = self._encode_small([prefix + text for text in missing])
            for text, vector in zip(missing, vectors):
                vector = vector.copy()
                vector.flags.writeable = False  # shared by every later caller: nobody may change it
                cache.put(text, vector)
                found[text] = vector
        return np.stack([found[text] for text in texts])

    def _encode_small(self, texts: list[str]) -> np.ndarray:
        if self._fast is not None:
            try:
                return self._fast.encode(texts)
            except Exception:
                log.exception("the embedder's fast path failed; using the batch path for %d text(s)", len(texts))
        return self._encode_batch(texts)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class _LruCache:
    """A thread-safe, bounded mapping that forgets the least recently used key first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: np.ndarray) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def _dtype_keyword() -> str:
    import transformers

    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"  # renamed in 4.56


def _folder_identity(folder: Path) -> str:
    """A short digest of the files that decide the embeddings, so a changed model is a new cache key.

    A folder provisioned by the store has their SHA-256s in its manifest; any other folder is hashed once.
    """
    manifest = read_manifest(folder)
    recorded = manifest["files"] if manifest else {}
    digests = {}
    for rel in _IDENTITY_FILES:
        if (folder / rel).is_file():
            digests[rel] = recorded[rel]["sha256"] if rel in recorded else sha256_of(folder / rel)
    return hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()[:16]
