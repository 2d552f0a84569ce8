"""Sentence embeddings for questions and knowledge entries: a thin adapter over sentence-transformers.

Loading takes seconds; whoever owns an Embedder (the app factory) loads it once per process and shares it.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import ModelUnavailable
from .manifest import read_manifest, sha256_of

# The files that decide what a folder embeds to; their contents name the model in `model_id`.
_IDENTITY_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json",
                   "sentencepiece.bpe.model", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json")


class Embedder:
    """Embeds queries and passages as float32, L2-normalised rows of shape (n, dim).

    Prefixes default to e5's ("query: ", "passage: "); give empty ones for models trained without them.
    """

    def __init__(self, model, *, model_id: str, query_prefix: str, passage_prefix: str, batch_size: int) -> None:
        self._model = model
        self.model_id = model_id
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        # sentence-transformers 6 renamed get_sentence_embedding_dimension
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dimension())

    @classmethod
    def load(
        cls,
        path_or_name: str | Path,
        *,
        query_prefix: str = "query: ",
        passage_prefix: str = "passage: ",
        batch_size: int = 32,
        device: str = "cpu",
    ) -> Embedder:
        """Load a local sentence-transformers folder (never touching the network) or a hub model name."""
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
                   batch_size=batch_size)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self.query_prefix)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self.passage_prefix)

    def _embed(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a sequence of texts, not a single string")
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            [prefix + text for text in texts],
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def available_cores() -> int:
    """CPUs this process may run on, capped by a cgroup v2 CPU quota (containers) when there is one."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


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
