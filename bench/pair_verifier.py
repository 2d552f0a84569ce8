"""A learned pair verifier: does this knowledge entry answer this question?

A cross-encoder read as "query </s></s> candidate" by the first N layers of the provisioned e5 encoder,
mean-pooled, with one linear unit on top. Unlike two separately embedded sentences, the layers attend
across both texts, so "…有什么区别" and "…怎么治疗" are not the same question just because they share
their nouns.

Training freezes the word-embedding matrix (250k rows: most of the parameters, and never updated by a
few thousand pairs anyway). Because it is frozen, a saved verifier does not copy it by default: the
folder records which encoder folder it came from and a digest of the matrix, and `load` reads it from
there (and refuses a different one). `save(..., include_word_embeddings=True)` writes a self-contained
folder instead.

Benchmark code, not used by the product; it imports nothing else of Frontdoor.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
FORMAT = "frontdoor-pair-verifier/1"
_WEIGHTS = "verifier.safetensors"
_WORDS = "word_embeddings.safetensors"
_META = "verifier.json"

Progress = Callable[[int], None]


def _dtype_keyword() -> str:
    import transformers

    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def _words_digest(tensor) -> str:
    """Digest of the word-embedding matrix as stored on disk (float16), so a verifier knows its encoder."""
    import torch

    data = tensor.detach().to(torch.float16).contiguous().numpy().tobytes()
    return hashlib.sha256(data).hexdigest()[:32]


class PairVerifier:
    """Probability that a candidate text answers a query. Build with `from_encoder` or `load`."""

    def __init__(self, encoder, head, tokenizer, *, max_length: int, encoder_folder: str, words_digest: str,
                 meta: dict | None = None) -> None:
        self.encoder = encoder
        self.head = head
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.encoder_folder = encoder_folder
        self.words_digest = words_digest
        # Whatever callers want kept with the model (thresholds, a combiner, how it was trained).
        self.meta: dict = dict(meta or {})

    @property
    def layers(self) -> int:
        return int(self.encoder.config.num_hidden_layers)

    # ---- building ---------------------------------------------------------------------------------
    @classmethod
    def from_encoder(cls, folder: str | Path, *, layers: int | None = 6, max_length: int = 96,
                     seed: int = 0) -> "PairVerifier":
        """A new, untrained verifier from a BERT-architecture encoder folder (e.g. multilingual-e5-small),
        keeping only its first `layers` transformer layers (None: all of them)."""
        import torch
        from transformers import AutoModel, AutoTokenizer

        folder = Path(folder)
        torch.manual_seed(seed)
        encoder = AutoModel.from_pretrained(str(folder), local_files_only=True, add_pooling_layer=False,
                                            **{_dtype_keyword(): torch.float32})
        total = int(encoder.config.num_hidden_layers)
        if layers is not None and not 1 <= layers <= total:
            raise ValueError(f"layers must be between 1 and {total}, not {layers}")
        if layers is not None and layers < total:
            encoder.encoder.layer = encoder.encoder.layer[:layers]
            encoder.config.num_hidden_layers = layers
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        head = torch.nn.Linear(encoder.config.hidden_size, 1)
        torch.nn.init.normal_(head.weight, std=0.02)
        torch.nn.init.zeros_(head.bias)
        words = encoder.get_input_embeddings().weight
        return cls(encoder, head, tokenizer, max_length=max_length, encoder_folder=str(folder.resolve()),
                   words_digest=_words_digest(words))

    # ---- the forward pass -------------------------------------------------------------------------
    def _batch(self, pairs: Sequence[tuple[str, str]]):
        return self.tokenizer([q for q, _ in pairs], [c for _, c in pairs], truncation=True,
                              max_length=self.max_length, padding=True, return_tensors="pt")

    def _logits(self, batch):
        output = self.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        mask = batch["attention_mask"].unsqueeze(-1).to(output.last_hidden_state.dtype)
        pooled = (output.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(pooled).squeeze(-1)

    # ---- training ---------------------------------------------------------------------------------
    def fit(self, pairs: Sequence[tuple[str, str]], labels: Sequence[int] | np.ndarray, *, epochs: float = 1.0,
            batch_size: int = 32, lr: float = 5e-5, head_lr: float | None = None, weight_decay: float = 0.01,
            warmup: float = 0.1, progress: Progress | None = None, seed: int = 0) -> dict:
        """Fine-tunes on (query, candidate) pairs labelled 1 (answers) / 0 (does not), with binary cross-entropy,
        AdamW and a linear warm-up then decay. `epochs` may be fractional. The word embeddings stay frozen.
        `progress(n)` is called after each batch with its number of pairs. Returns figures of the run."""
        import torch

        labels = np.asarray(labels, dtype=np.float32)
        if len(pairs) != len(labels):
            raise ValueError(f"{len(pairs)} pairs but {len(labels)} labels")
        if len(pairs) == 0:
            raise ValueError("nothing to train on")
        self.encoder.get_input_embeddings().weight.requires_grad_(False)
        encoder_params = [p for p in self.encoder.parameters() if p.requires_grad]
        decay = [p for p in encoder_params if p.ndim >= 2]
        no_decay = [p for p in encoder_params if p.ndim < 2]
        optimizer = torch.optim.AdamW([
            {"params": decay, "lr": lr, "weight_decay": weight_decay},
            {"params": no_decay, "lr": lr, "weight_decay": 0.0},
            {"params": list(self.head.parameters()), "lr": head_lr or lr * 20, "weight_decay": 0.0},
        ])
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        per_epoch = math.ceil(len(pairs) / batch_size)
        steps = max(1, int(round(per_epoch * epochs)))
        warm = max(1, int(steps * warmup))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
        loss_fn = torch.nn.BCEWithLogitsLoss()
        self.encoder.train()
        self.head.train()
        order: list[int] = []
        losses: list[float] = []
        started = time.perf_counter()
        seen = 0
        for _ in range(steps):
            if len(order) < batch_size:
                order.extend(rng.permutation(len(pairs)).tolist())
            chosen, order = order[:batch_size], order[batch_size:]
            batch = self._batch([pairs[i] for i in chosen])
            target = torch.from_numpy(labels[chosen])
            loss = loss_fn(self._logits(batch), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(encoder_params + list(self.head.parameters()), 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            seen += len(chosen)
            if progress:
                progress(len(chosen))
        self.encoder.eval()
        self.head.eval()
        seconds = time.perf_counter() - started
        tail = losses[-max(1, len(losses) // 10):]
        return {"steps": steps, "pairs_seen": seen, "seconds": round(seconds, 1),
                "pairs_per_second": round(seen / seconds, 1) if seconds else None,
                "final_loss": round(float(np.mean(tail)), 4)}

    # ---- scoring ----------------------------------------------------------------------------------
    def score(self, pairs: Sequence[tuple[str, str]], batch_size: int = 64) -> np.ndarray:
        """Probability, per (query, candidate) pair, that the candidate answers the query (float32)."""
        return 1.0 / (1.0 + np.exp(-self.logits(pairs, batch_size=batch_size)))

    def logits(self, pairs: Sequence[tuple[str, str]], batch_size: int = 64) -> np.ndarray:
        import torch

        out = np.zeros(len(pairs), dtype=np.float32)
        if not len(pairs):
            return out
        # Similar lengths batched together: less padding.
        order = np.argsort([len(q) + len(c) for q, c in pairs], kind="stable")
        self.encoder.eval()
        self.head.eval()
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                out[rows] = self._logits(self._batch([pairs[i] for i in rows])).float().numpy()
        return out

    # ---- files ------------------------------------------------------------------------------------
    def save(self, folder: str | Path, *, include_word_embeddings: bool = False) -> Path:
        """Writes verifier.safetensors (every weight but the frozen word embeddings), config.json, verifier.json
        and the tokenizer files; with `include_word_embeddings`, also the matrix (float16, as provisioned)."""
        import torch
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {f"encoder.{k}": v.detach().contiguous() for k, v in self.encoder.state_dict().items()
                 if k != WORD_EMBEDDINGS}
        state.update({f"head.{k}": v.detach().contiguous() for k, v in self.head.state_dict().items()})
        save_file(state, str(folder / _WEIGHTS))
        words_file = folder / _WORDS
        if include_word_embeddings:
            words = self.encoder.get_input_embeddings().weight.detach().to(torch.float16).contiguous()
            save_file({WORD_EMBEDDINGS: words}, str(words_file))
        elif words_file.exists():
            words_file.unlink()
        self.encoder.config.save_pretrained(str(folder))
        self.tokenizer.save_pretrained(str(folder))
        (folder / _META).write_text(json.dumps({
            "format": FORMAT, "layers": self.layers, "max_length": self.max_length, "pooling": "mean",
            "encoder_folder": self.encoder_folder, "word_embeddings_digest": self.words_digest,
            "meta": self.meta,
        }, ensure_ascii=False, indent=2), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, encoder: str | Path | None = None) -> "PairVerifier":
        """A saved verifier. Its word embeddings come from the folder when it holds them, else from
        `encoder` (default: the encoder folder it was trained from), whose matrix must be the same."""
        import torch
        from safetensors import safe_open
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        folder = Path(folder)
        info = json.loads((folder / _META).read_text(encoding="utf-8"))
        if info.get("format") != FORMAT:
            raise ValueError(f"{folder}: not a pair verifier ({info.get('format')!r})")
        config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
        encoder_model = AutoModel.from_config(config, add_pooling_layer=False)
        head = torch.nn.Linear(config.hidden_size, 1)
        state = load_file(str(folder / _WEIGHTS))
        words_file = folder / _WORDS
        source = words_file if words_file.exists() else Path(encoder or info["encoder_folder"]) / "model.safetensors"
        if not source.exists():
            raise FileNotFoundError(f"{folder}: its word embeddings are not saved with it and {source} does not exist; "
                                    "pass encoder= the e5 folder it was trained from")
        with safe_open(str(source), "pt") as handle:
            key = next((k for k in handle.keys() if k.endswith(WORD_EMBEDDINGS)), None)
            if key is None:
                raise ValueError(f"{source}: no {WORD_EMBEDDINGS}")
            words = handle.get_tensor(key)
        digest = _words_digest(words)
        if digest != info["word_embeddings_digest"]:
            raise ValueError(f"{source}: its word embeddings are not the ones this verifier was trained with")
        encoder_state = {k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")}
        encoder_state[WORD_EMBEDDINGS] = words.float()
        missing, unexpected = encoder_model.load_state_dict(encoder_state, strict=False)
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing or unexpected:
            raise ValueError(f"{folder}: weights do not fit (missing {missing[:3]}, unexpected {unexpected[:3]})")
        head.load_state_dict({k.removeprefix("head."): v for k, v in state.items() if k.startswith("head.")})
        encoder_model.eval()
        head.eval()
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        return cls(encoder_model, head, tokenizer, max_length=int(info["max_length"]),
                   encoder_folder=info["encoder_folder"], words_digest=digest, meta=info.get("meta") or {})
