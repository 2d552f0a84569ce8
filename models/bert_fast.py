"""The embedder's fast path for small batches: a hand-written, inference-only BERT forward on CPU.

`FastPath` tokenizes with the model's own fast tokenizer, runs `FastBert` (fused QKV, GELU fused into its
matmul, matmuls on weights prepacked for oneDNN, in bfloat16 where the CPU computes it natively, float32
otherwise, the residual stream in float32), then mean-pools and L2-normalises. It runs on worker threads of its
own that use one torch thread each (`_TorchWorkers`), and checks on being built that it reproduces the batch
path's vectors (`supported_parts` says which sentence-transformers models it can reproduce at all).
The adapter that uses it is models/embedder.py.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .cpus import available_cores

log = logging.getLogger(__name__)

# Sentences the fast path must reproduce (cosine to the batch path) before it is used.
_SELF_CHECK = ("健康码变成黄码了怎么办？", "How do I apply for a 健康码 for my parents?",
               "小区门口的路灯坏了好几天了，晚上出行很不方便，希望有关部门尽快派人来修理。")
_SELF_CHECK_MIN_COSINE = 0.999


class FastPath:
    """Small batches: the model's own fast tokenizer, `FastBert`, mean pooling and L2 normalisation,
    run on `_TorchWorkers`."""

    def __init__(self, tokenizer, pad_id: int, encoder: FastBert, workers: _TorchWorkers | None) -> None:
        self._tokenizer = tokenizer
        self._pad_id = pad_id
        self._encoder = encoder
        self._workers = workers
        self._pid = os.getpid()
        self.precision = "bfloat16" if encoder.dtype_name == "bfloat16" else "float32"

    @classmethod
    def build(cls, model, reference: Callable[[list[str]], np.ndarray], *, threads: int = 1,
              precision: str = "auto") -> FastPath | None:
        """The fast path for a sentence-transformers `model`, or None (logged) when it is not one that
        `FastBert` reproduces: a BERT encoder, then mean pooling, then (or not) normalisation."""
        try:
            parts = supported_parts(model)
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
                 reference: Callable[[list[str]], np.ndarray]) -> tuple[FastPath, float]:
        path = cls(tokenizer, pad_id, FastBert(transformer.auto_model, precision=precision), None)
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


def supported_parts(model):
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
    supported = FastBert.unsupported(getattr(transformer, "auto_model", None))
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


class FastBert:
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
