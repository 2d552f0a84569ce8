"""Embedder latency benchmark: ways of embedding one question, measured interleaved in one run.

    .venv/bin/python -m bench.embedder [--model DIR] [--rounds 6] [--queries 10]

Every variant embeds the same typical questions (10–30 characters, from the seed knowledge) in turns,
round after round, so that load from other processes falls on all of them alike; compare ratios.
Columns: p50/p95 latency of one question (ms), sentences/s at batch 32, and the cosine between each
variant's vectors (one question at a time) and the current batch path's, over 200 varied sentences
(questions, colloquial phrasings, spoken and written answers up to 300 characters).

Variants ("Nt" = torch threads; the process default is what `Embedder.load` sets):
  old ST encode            sentence-transformers `encode`, the path every batch took before
  HF direct fp32           transformers' BertModel + our mean pooling under inference_mode, fast tokenizer
  HF direct int8 …         the same after torch.ao quantize_dynamic (qint8) of every Linear / of attention's
  lean fp32 / lean bf16    `FastBert`: fused QKV and GELU, oneDNN-prepacked weights (float32 / bfloat16)
  product fast path        `Embedder.embed_queries` now: lean bf16 on its own 1-thread workers, cache off
                           (at batch 32 it takes the old path, on the process's threads)
  product cache hit        the same question again with the query cache on
Under CPU load from other processes the process-thread (2t) rows suffer most (OpenMP's threads wait on
each other for a core); the "vs old 1t" column is the fairer ratio then.
Then a breakdown of the old path's time, and one JSON line with every figure.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import random
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "var" / "models" / "multilingual-e5-small"


def sentences(count: int = 200) -> tuple[list[str], list[str]]:
    """(varied sentences for agreement, typical questions of 10–30 characters for latency), from the seed."""
    from knowledge_base.seed import read_seed_entries

    entries = read_seed_entries()
    rng = random.Random(12345)
    asked = sorted({text for entry in entries for text in (entry.question, *entry.samples) if text.strip()})
    spoken = sorted({entry.voice_answer.strip() for entry in entries if entry.voice_answer.strip()})
    written = sorted({entry.chat_answer.strip()[:300] for entry in entries if entry.chat_answer.strip()})
    varied = rng.sample(asked, 150) + rng.sample(spoken, 30) + rng.sample(written, 20)
    typical = [text for text in asked if 10 <= len(text) <= 30]
    return varied[:count], rng.sample(typical, 40)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="sentence-transformers folder")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds of latency measurement")
    parser.add_argument("--queries", type=int, default=10, help="questions per variant per round")
    args = parser.parse_args()

    import torch

    from models.bert_fast import FastBert, supported_parts
    from models.embedder import Embedder

    warnings.filterwarnings("ignore")
    embedder = Embedder.load(args.model, query_cache_size=0)
    cached = Embedder(embedder._model, model_id=embedder.model_id, query_prefix=embedder.query_prefix,
                      passage_prefix=embedder.passage_prefix, batch_size=embedder.batch_size, fast_path=False)
    model = embedder._model
    prefix = embedder.query_prefix
    process_threads = torch.get_num_threads()
    hf = model[0].auto_model.eval()
    _, tokenizer, pad_id = supported_parts(model)
    varied, typical = sentences()
    typical = typical[: args.queries]

    def tensors(texts: list[str]):
        encodings = [tokenizer.encode(prefix + text) for text in texts]
        length = max(len(e.ids) for e in encodings)
        ids = torch.full((len(texts), length), pad_id, dtype=torch.long)
        mask = torch.zeros((len(texts), length), dtype=torch.long)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = torch.tensor(encoding.ids)
            mask[row, : len(encoding.ids)] = 1
        return ids, mask

    def pooled(states, mask) -> np.ndarray:
        weights = mask.unsqueeze(-1).to(states.dtype)
        mean = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean.float(), dim=-1).numpy()

    def hf_direct(module) -> Callable[[list[str]], np.ndarray]:
        def run(texts: list[str]) -> np.ndarray:
            ids, mask = tensors(texts)
            with torch.inference_mode():
                return pooled(module(input_ids=ids, attention_mask=mask).last_hidden_state, mask)
        return run

    def lean(encoder: FastBert) -> Callable[[list[str]], np.ndarray]:
        def run(texts: list[str]) -> np.ndarray:
            ids, mask = tensors(texts)
            with torch.inference_mode():
                return pooled(encoder(ids, mask.bool()), mask)
        return run

    word = hf.embeddings.word_embeddings.weight
    quantize = torch.ao.quantization.quantize_dynamic
    int8_all = quantize(copy.deepcopy(hf, memo={id(word): word}), {torch.nn.Linear}, dtype=torch.qint8)
    attention = {name: torch.ao.quantization.per_channel_dynamic_qconfig for name, module in hf.named_modules()
                 if isinstance(module, torch.nn.Linear) and ".attention." in name}
    int8_attention = quantize(copy.deepcopy(hf, memo={id(word): word}), attention, dtype=torch.qint8)
    lean_fp32, lean_bf16 = FastBert(hf, precision="float32"), FastBert(hf, precision="bfloat16")

    def old(texts: list[str]) -> np.ndarray:
        return embedder._encode_batch([prefix + text for text in texts])

    # name -> (torch threads of the calling thread; function; numerics, so that agreement is measured once each)
    n, one = process_threads, 1
    variants: dict[str, tuple[int, Callable, str]] = {
        f"old ST encode ({n}t)": (n, old, "old"),
        "old ST encode (1t)": (one, old, "old"),
        f"HF direct fp32 ({n}t)": (n, hf_direct(hf), "hf"),
        "HF direct fp32 (1t)": (one, hf_direct(hf), "hf"),
        "HF direct int8 all Linear (1t)": (one, hf_direct(int8_all), "int8 all"),
        "HF direct int8 attention (1t)": (one, hf_direct(int8_attention), "int8 attention"),
        "lean fp32 (1t)": (one, lean(lean_fp32), "lean fp32"),
        f"lean bf16 ({n}t)": (n, lean(lean_bf16), "lean bf16"),
        "lean bf16 (1t)": (one, lean(lean_bf16), "lean bf16"),
        # the product's small batches run on its own 1-thread workers; its batches of 32 on the process's threads
        "product fast path": (n, embedder.embed_queries, "product"),
        "product cache hit": (n, cached.embed_queries, "cache"),
    }
    baseline = f"old ST encode ({n}t)"

    def call(name: str, texts: list[str]) -> np.ndarray:
        threads, function, _ = variants[name]
        torch.set_num_threads(threads)
        return function(texts)

    # agreement with the current batch path, one sentence at a time (and 8 at a time: padding)
    reference = embedder._encode_batch([prefix + text for text in varied])
    agreement: dict[str, dict[str, float]] = {}
    for name, (threads, _, numerics) in variants.items():
        if numerics in agreement or numerics == "cache" or (threads != 1 and numerics != "product"):
            continue  # the thread count does not change the numerics: measured at 1 thread, where it is quick
        single = np.concatenate([call(name, [t]) for t in varied])
        batched = np.concatenate([call(name, varied[i : i + 8]) for i in range(0, len(varied), 8)])
        cos, cos8 = np.sum(single * reference, axis=1), np.sum(batched * reference, axis=1)
        agreement[numerics] = {"cos_mean": float(cos.mean()), "cos_min": float(cos.min()), "cos_min_b8": float(cos8.min())}
        print(f"agreement {numerics:16s} mean {cos.mean():.6f} min {cos.min():.6f} min(b8) {cos8.min():.6f}", flush=True)
    cached.embed_queries(typical)  # the cache-hit variant's questions are all in its cache
    agreement["cache"] = agreement["product"]

    latency: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name in variants:
            call(name, typical[:1])  # warm after the other variants ran
            for text in typical:
                started = time.perf_counter()
                call(name, [text])
                latency[name].append((time.perf_counter() - started) * 1000)

    batch = varied[:32]
    throughput: dict[str, list[float]] = {name: [] for name in variants if name != "product cache hit"}
    for _ in range(3):
        for name in throughput:
            started = time.perf_counter()
            call(name, batch)
            throughput[name].append(32 / (time.perf_counter() - started))

    # where the old path's time goes, interleaved the same way
    text = prefix + typical[0]
    ids, mask = tensors([typical[0]])
    preprocess = getattr(model, "preprocess", None) or model.tokenize
    parts = {
        "ST tokenizer call": (n, lambda: preprocess([text])),
        "fast tokenizer (tokenizers) encode": (n, lambda: tokenizer.encode(text)),
        f"HF forward fp32 ({n}t)": (n, lambda: hf(input_ids=ids, attention_mask=mask)),
        "HF forward fp32 (1t)": (one, lambda: hf(input_ids=ids, attention_mask=mask)),
        f"ST encode, all of it ({n}t)": (n, lambda: old([typical[0]])),
    }
    spent: dict[str, list[float]] = {name: [] for name in parts}
    with torch.inference_mode():
        for _ in range(args.rounds * 4):
            for name, (threads, function) in parts.items():
                torch.set_num_threads(threads)
                started = time.perf_counter()
                function()
                spent[name].append((time.perf_counter() - started) * 1000)
    torch.set_num_threads(process_threads)

    figures = {}
    base_p50 = statistics.median(latency[baseline])
    base_rate = statistics.median(throughput[baseline])
    one_p50 = statistics.median(latency["old ST encode (1t)"])
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; process torch threads {n}; "
          f"fast path {embedder.fast_path}; {len(typical)} questions × {args.rounds} rounds per variant\n")
    print(f"| variant | p50 ms | p95 ms | × p50 vs old {n}t | × p50 vs old 1t | sent/s b32 | × b32 | cos mean | cos min "
          "| cos min b8 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, (_, _, numerics) in variants.items():
        p50, p95 = statistics.median(latency[name]), percentile(latency[name], 0.95)
        rate = statistics.median(throughput[name]) if name in throughput else None
        agree = agreement[numerics]
        figures[name] = {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2), "speedup_p50": round(base_p50 / p50, 2),
                         "speedup_p50_vs_old_1t": round(one_p50 / p50, 2),
                         "per_s_b32": rate and round(rate, 1), "ratio_b32": rate and round(rate / base_rate, 2),
                         **{key: round(value, 6) for key, value in agree.items()}}
        rate_cells = f"{rate:.1f} | {rate / base_rate:.2f}" if rate else "– | –"
        print(f"| {name} | {p50:.2f} | {p95:.2f} | {base_p50 / p50:.2f} | {one_p50 / p50:.2f} | {rate_cells} | "
              f"{agree['cos_mean']:.6f} | {agree['cos_min']:.6f} | {agree['cos_min_b8']:.6f} |")
    print("\n| old path, one question | p50 ms | p95 ms |\n|---|---|---|")
    for name, values in spent.items():
        print(f"| {name} | {statistics.median(values):.2f} | {percentile(values, 0.95):.2f} |")
    print(json.dumps({"bench": "embedder", "load_average": round(os.getloadavg()[0], 2), "process_threads": n,
                      "fast_path": embedder.fast_path, "tokens": int(ids.shape[1]), "variants": figures,
                      "old_path_parts_p50_ms": {k: round(statistics.median(v), 3) for k, v in spent.items()}},
                     ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
