"""Sentence embeddings for questions and knowledge entries: a thin adapter over sentence-transformers.

Loading takes seconds; whoever owns an Embedder (the app factory) loads it once per process and shares it.

Two paths compute the same vectors:
- batches (index building, evaluation) go through sentence-transformers' `encode` in float32 on the
  process's torch threads, exactly as before;
- small batches (a chat turn's question) go through `_FastBert`, an inference-only forward over the same
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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelUnavailable
from .manifest import read_manifest, sha256_of

log = logging.getLogger(__name__)

# The files that decide what a folder embeds to; their contents name the model in `model_id`.
_IDENTITY_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json",
                   "sentencepiece.bpe.model", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json")

# Sentences the fast path must reproduce (cosine to the batch path) before it is used.
_SELF_CHECK = ("健康码变成黄码了怎么办？", "How do I apply for a 健康码 for my parents?",
               "小区门口的路灯坏了好几天了，晚上出行很不方便，希望有关部门尽快派人来修理。")
_SELF_CHECK_MIN_COSINE = 0.999


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
        self._fast = _FastPath.build(model, self._encode_batch, threads=fast_threads) if fast_path else None
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


class _FastPath:
    """Small batches: the model's own fast tokenizer, `_FastBert`, mean pooling and L2 normalisation,
    run on `_TorchWorkers`."""

    def __init__(self, tokenizer, pad_id: int, encoder: _FastBert, workers: _TorchWorkers | None) -> None:
        self._tokenizer = tokenizer
        self._pad_id = pad_id
        self._encoder = encoder
        self._workers = workers
        self._pid = os.getpid()
        self.precision = "bfloat16" if encoder.dtype_name == "bfloat16" else "float32"

    @classmethod
    def build(cls, model, reference: Callable[[list[str]], np.ndarray], *, threads: int = 1,
              precision: str = "auto") -> _FastPath | None:
        """The fast path for a sentence-transformers `model`, or None (logged) when it is not one that
        `_FastBert` reproduces: a BERT encoder, then mean pooling, then (or not) normalisation."""
        try:
            parts = _supported_parts(model)
            if isinstance(parts, str):
                log.info("the embedder's fast path is off: %s", parts)
                return None
            transformer, tokenizer, pad_id = parts
            workers = _TorchWorkers(min(4, max(1, available_cores() // max(1, threads))), threads)
        except Exception:
            log.exception("the embedder's fast path is off: it could not be set up")
            return None
        try:
            # Built and checked on a worker, like all its later work: the loading thread starts no OpenMP
            # threads of its own, so a process forked after loading does not wait on threads it lacks.
            path, agreement = workers.run(cls._checked, transformer, tokenizer, pad_id, precision, reference)
        except Exception:
            log.exception("the embedder's fast path is off: it could not be set up")
            workers.close()
            return None
        if not agreement >= _SELF_CHECK_MIN_COSINE:
            log.warning("the embedder's fast path is off: its vectors agree with the batch path's only to a "
                        "cosine of %.5f", agreement)
            workers.close()
            return None
        path._workers = workers
        return path

    @classmethod
    def _checked(cls, transformer, tokenizer, pad_id: int, precision: str,
                 reference: Callable[[list[str]], np.ndarray]) -> tuple[_FastPath, float]:
        path = cls(tokenizer, pad_id, _FastBert(transformer.auto_model, precision=precision), None)
        probe = list(_SELF_CHECK)
        return path, float(np.min(np.sum(path._encode_here(probe) * reference(probe), axis=1)))

    def encode(self, texts: list[str]) -> np.ndarray:
        if self._workers is None or os.getpid() != self._pid:  # a forked child has none of the workers' threads
            return self._encode_here(texts)
        return self._workers.run(self._encode_here, texts)

    def close(self) -> None:
        if self._workers is not None:
            self._workers.close()

    def _encode_here(self, texts: list[str]) -> np.ndarray:
        import torch

        encodings = [self._tokenizer.encode(text) for text in texts]
        lengths = [len(encoding.ids) for encoding in encodings]
        ids = np.full((len(texts), max(lengths)), self._pad_id, dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : lengths[row]] = encoding.ids
        lengths_t = torch.tensor(lengths)
        mask = torch.arange(ids.shape[1])[None, :] < lengths_t[:, None]
        with torch.inference_mode():
            states = self._encoder(torch.from_numpy(ids), mask)
            summed = (states * mask.unsqueeze(-1)).sum(dim=1)
            vectors = torch.nn.functional.normalize(summed / lengths_t[:, None], dim=-1)
        return np.ascontiguousarray(vectors.numpy(), dtype=np.float32)


def _supported_parts(model):
    """(transformer module, tokenizer, pad id) when the fast path reproduces `model`; else why not."""
    from tokenizers import Tokenizer

    modules = list(model) if hasattr(model, "__iter__") else []
    names = [type(module).__name__ for module in modules]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return f"its modules are {names}, not Transformer, Pooling and Normalize"
    transformer, pooling = modules[0], modules[1]
    pooling_config = pooling.get_config_dict()
    modes = {key for key, on in pooling_config.items() if key.startswith("pooling_mode_") and on is True}
    if pooling_config.get("pooling_mode", "mean") != "mean" or modes - {"pooling_mode_mean_tokens"}:
        return f"its pooling is {pooling_config}, not a mean over tokens"
    if getattr(transformer, "do_lower_case", False):
        return "its tokenizer lower-cases its input"
    supported = _FastBert.unsupported(getattr(transformer, "auto_model", None))
    if supported:
        return supported
    hf_tokenizer = getattr(transformer, "tokenizer", None)
    backend = getattr(hf_tokenizer, "backend_tokenizer", None)
    if backend is None:
        return "its tokenizer is not a fast (tokenizers) one"
    tokenizer = Tokenizer.from_str(backend.to_str())
    tokenizer.no_padding()
    max_length = model.max_seq_length or transformer.auto_model.config.max_position_embeddings
    tokenizer.enable_truncation(max_length=int(max_length), strategy="longest_first",
                                direction=getattr(hf_tokenizer, "truncation_side", "right"))
    pad_id = hf_tokenizer.pad_token_id if hf_tokenizer.pad_token_id is not None else 0
    return transformer, tokenizer, int(pad_id)


class _FastBert:
    """The forward pass of a transformers `BertModel` (absolute positions, GELU, encoder only), for
    inference on CPU: token states of shape (batch, length, hidden) in float32.

    Its matmuls take their weights prepacked for oneDNN, in bfloat16 when the CPU has native bfloat16
    arithmetic (`precision="auto"`) and float32 otherwise, with float32 bias, LayerNorm and residual
    stream. Only the matmul weights are copied (12 layers of e5-small: 42 MB in bfloat16); the
    embedding tables are shared with the model.
    """

    @staticmethod
    def unsupported(bert) -> str | None:
        config = getattr(bert, "config", None)
        if config is None or getattr(config, "model_type", None) != "bert":
            return f"its encoder is not a BERT ({getattr(config, 'model_type', type(bert).__name__)})"
        if getattr(config, "position_embedding_type", "absolute") != "absolute":
            return f"its positions are {config.position_embedding_type}, not absolute"
        if config.hidden_act != "gelu" or config.is_decoder or getattr(config, "add_cross_attention", False):
            return "its BERT is not a plain GELU encoder"
        return None

    def __init__(self, bert, *, precision: str = "auto") -> None:
        import torch

        self._torch = torch
        if precision == "auto":
            precision = "bfloat16" if _native_bfloat16() else "float32"
        self.dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32}[precision]
        self.dtype_name = precision
        config = bert.config
        self.hidden = config.hidden_size
        self.heads = config.num_attention_heads
        embeddings = bert.embeddings
        self.word = embeddings.word_embeddings.weight.detach()
        self.position = embeddings.position_embeddings.weight.detach()
        self.token_type = embeddings.token_type_embeddings.weight.detach()[0]
        self.embedding_norm = _norm(embeddings.LayerNorm)
        self.layers = []
        for layer in bert.encoder.layer:
            attention = layer.attention.self
            qkv_weight = torch.cat([attention.query.weight, attention.key.weight, attention.value.weight])
            qkv_bias = torch.cat([attention.query.bias, attention.key.bias, attention.value.bias])
            self.layers.append((
                _Linear(qkv_weight, qkv_bias, self.dtype),
                _Linear(layer.attention.output.dense.weight, layer.attention.output.dense.bias, self.dtype),
                _norm(layer.attention.output.LayerNorm),
                _Linear(layer.intermediate.dense.weight, layer.intermediate.dense.bias, self.dtype, gelu=True),
                _Linear(layer.output.dense.weight, layer.output.dense.bias, self.dtype),
                _norm(layer.output.LayerNorm),
            ))

    def __call__(self, ids, mask):
        """`ids` (batch, length) int64; `mask` (batch, length) bool, True on real tokens."""
        functional = self._torch.nn.functional
        batch, length = ids.shape
        hidden, heads = self.hidden, self.heads
        x = functional.embedding(ids, self.word) + self.position[:length] + self.token_type
        x = functional.layer_norm(x, (hidden,), *self.embedding_norm)
        attention_mask = None if bool(mask.all()) else mask[:, None, None, :]
        for qkv, output, norm1, intermediate, output2, norm2 in self.layers:
            q, k, v = qkv(x.to(self.dtype)).view(batch, length, 3, heads, hidden // heads).permute(2, 0, 3, 1, 4)
            context = functional.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask)
            x = functional.layer_norm(output(context.transpose(1, 2).reshape(batch, length, hidden)) + x,
                                      (hidden,), *norm1)
            x = functional.layer_norm(output2(intermediate(x.to(self.dtype))) + x, (hidden,), *norm2)
        return x


class _Linear:
    """y = x Wᵀ + b (then GELU when asked) with W prepacked for oneDNN, or plain `F.linear` where
    PyTorch has no oneDNN."""

    def __init__(self, weight, bias, dtype, *, gelu: bool = False) -> None:
        import torch

        self._torch = torch
        self.gelu = gelu
        weight = weight.detach().to(dtype).contiguous()
        self.bias = bias.detach().float().contiguous()
        self.packed = None
        if torch.backends.mkldnn.is_available():
            try:
                packed = torch.ops.mkldnn._reorder_linear_weight(weight, None)
                probe = torch.randn(2, weight.shape[1]).to(dtype)
                if torch.allclose(self._packed(probe, packed).float(), self._plain(probe, weight).float(),
                                  rtol=2e-2, atol=2e-2):
                    self.packed = packed
            except (RuntimeError, AttributeError):
                pass
        self.weight = None if self.packed is not None else weight

    def __call__(self, x):
        return self._packed(x, self.packed) if self.packed is not None else self._plain(x, self.weight)

    def _packed(self, x, packed):
        gelu = self.gelu
        return self._torch.ops.mkldnn._linear_pointwise(x, packed, self.bias, "gelu" if gelu else "none", [],
                                                        "none" if gelu else "")

    def _plain(self, x, weight):
        y = self._torch.nn.functional.linear(x, weight, self.bias.to(x.dtype))
        return self._torch.nn.functional.gelu(y) if self.gelu else y


def _norm(layer_norm) -> tuple:
    return layer_norm.weight.detach().float(), layer_norm.bias.detach().float(), layer_norm.eps


def _native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); emulated it is no faster."""
    import torch

    cpu = getattr(torch, "cpu", None)
    checks = (getattr(cpu, "_is_avx512_bf16_supported", None), getattr(cpu, "_is_amx_tile_supported", None))
    return torch.backends.mkldnn.is_available() and any(check is not None and check() for check in checks)


class _TorchWorkers:
    """Worker threads that run torch work with an intra-op thread count of their own.

    Torch's thread count is per thread underneath (OpenMP's and MKL's settings are), but
    `torch.set_num_threads` also sets the count that other threads take on their first torch call. So all
    workers are started here, each takes the process's count and then sets its own, and the process's
    count is put back once they all have. (A thread making its very first torch call inside that window of
    a few milliseconds would keep the workers' count.) The threads are a ThreadPoolExecutor's: they are
    joined when the interpreter exits, before it tears anything down.
    """

    def __init__(self, count: int, threads: int) -> None:
        import torch

        self._executor = ThreadPoolExecutor(max_workers=count, thread_name_prefix="embedder-fast")
        started = threading.Barrier(count + 1)
        default = torch.get_num_threads()
        try:
            # each task blocks a thread until all have started, so the pool starts `count` of them
            pending = [self._executor.submit(self._prepare, threads, started) for _ in range(count)]
            started.wait(timeout=60)
            for future in pending:
                future.result(timeout=60)
        except BaseException:
            self._executor.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            torch.set_num_threads(default)

    def run(self, function: Callable, *args):
        return self._executor.submit(function, *args).result()

    def close(self) -> None:
        self._executor.shutdown(wait=False)

    @staticmethod
    def _prepare(threads: int, started: threading.Barrier) -> None:
        import torch

        torch.get_num_threads()  # takes the process's count on this thread's first torch call…
        torch.set_num_threads(threads)  # …which this then replaces, for this thread only
        started.wait(timeout=60)


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
