"""Mandarin speech recognition with vosk: one loaded model per process, recognisers reused across calls.

A vosk recogniser over the small Chinese model composes its decoding graph lazily, and that cache is what
makes a fresh recogniser slow (measured here: real-time factor 0.26 fresh against 0.08 warm on the same
audio). So recognisers live in a pool per sample rate: a call takes one, has it to itself for the whole call,
and gives it back reset (`FinalResult` drops the feature pipeline and its speaker adaptation), so nothing of
one caller reaches the next. Nothing here is thread-safe per stream: one stream is driven by one call at a time.

Every utterance is decoded with an n-best list. A `VocabularyBias` (models/vocabulary.py) may re-rank the
readings towards the knowledge base's words; the posterior of each reading comes from the recogniser's
lattice scores over that list.
"""
from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

SAMPLE_RATES = (8000, 16000)
_SPACES_BETWEEN_HAN = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")


class Bias(Protocol):
    def bonus(self, text: str) -> float: ...

    def corrected(self, text: str) -> str: ...


@dataclass(frozen=True)
class Reading:
    """One way to read what was said; `posterior` is its share of the n-best list (0..1)."""

    text: str
    posterior: float


@dataclass(frozen=True)
class Recognition:
    """One utterance, recognised: readings best first (after any knowledge-base re-ranking)."""

    readings: tuple[Reading, ...]
    seconds: float = 0.0  # audio decoded for it
    variants: tuple[Reading, ...] = ()  # readings rewritten into the knowledge base's sound-alike words

    @property
    def hypotheses(self) -> tuple[Reading, ...]:
        """What to search for: the recogniser's readings, then their sound-alike variants."""
        return self.readings + self.variants

    @property
    def text(self) -> str:
        return self.readings[0].text if self.readings else ""

    @property
    def confidence(self) -> float:
        return self.readings[0].posterior if self.readings else 0.0

    @property
    def empty(self) -> bool:
        return not self.text


def with_variants(recognition: Recognition, bias: Bias | None) -> Recognition:
    """The recognition with each reading's sound-alike variant in the knowledge base's words (same posterior)."""
    if bias is None:
        return recognition
    seen = {r.text for r in recognition.readings}
    variants = []
    for reading in recognition.readings:
        text = bias.corrected(reading.text)
        if text not in seen:
            seen.add(text)
            variants.append(Reading(text, reading.posterior))
    return Recognition(recognition.readings, recognition.seconds, tuple(variants))


def plain_text(vosk_text: str) -> str:
    """vosk separates Chinese words by spaces; a sentence has none (Latin words keep theirs)."""
    return _SPACES_BETWEEN_HAN.sub("", vosk_text.strip())


@dataclass(frozen=True)
class _Alternative:
    text: str
    score: float  # the lattice score vosk reports as "confidence": higher is better, in log units


def _alternatives(result_json: str) -> list[_Alternative]:
    result = json.loads(result_json)
    if "alternatives" in result:
        found = [_Alternative(plain_text(a.get("text", "")), float(a.get("confidence", 0.0))) for a in result["alternatives"]]
    else:
        found = [_Alternative(plain_text(result.get("text", "")), 0.0)]
    return [a for a in found if a.text]


def _combine(segments: Sequence[list[_Alternative]], bias: Bias | None, bias_weight: float, keep: int) -> tuple[Reading, ...]:
    """One utterance's readings from the n-best lists of its segments (vosk may endpoint inside an utterance);
    the bias adds `bias_weight × bonus` to each alternative's lattice score."""
    def rescored(alternative: _Alternative) -> float:
        return alternative.score + (bias_weight * bias.bonus(alternative.text) if bias is not None else 0.0)

    return _joined([[(a.text, rescored(a)) for a in segment] for segment in segments], keep)


def join(parts: Sequence[Recognition], keep: int = 5) -> Recognition:
    """Several utterances of one recording as one recognition (posteriors multiply, then renormalise)."""
    scored = [[(r.text, math.log(r.posterior)) for r in p.readings if r.posterior > 0] for p in parts]
    return Recognition(_joined(scored, keep), sum(p.seconds for p in parts))


def _joined(segments: Sequence[list[tuple[str, float]]], keep: int) -> tuple[Reading, ...]:
    """The best path takes every segment's best reading; the other readings swap one segment's alternative in
    at a time. Log scores add up across segments; posteriors are a softmax over the `keep` best."""
    ranked = [sorted(s, key=lambda ts: ts[1], reverse=True) for s in segments if s]
    if not ranked:
        return ()
    best = [s[0] for s in ranked]
    base = sum(score for _, score in best)
    candidates: dict[str, float] = {"".join(text for text, _ in best): base}
    for i, alternatives in enumerate(ranked):
        for text, score in alternatives[1:]:
            joined = "".join(text if j == i else best[j][0] for j in range(len(best)))
            candidates[joined] = max(candidates.get(joined, -math.inf), base - best[i][1] + score)
    ordered = sorted(candidates.items(), key=lambda kv: kv[1], reverse=True)[:keep]
    top = ordered[0][1]
    weights = [math.exp(score - top) for _, score in ordered]
    total = sum(weights)
    return tuple(Reading(text, weight / total) for (text, _), weight in zip(ordered, weights))


class RecogniserPool:
    """Idle vosk recognisers per sample rate; `take` hands one to a single call, `give_back` resets it."""

    def __init__(self, model, max_alternatives: int, max_idle: int) -> None:
        self._model = model
        self._max_alternatives = max_alternatives
        self._max_idle = max_idle
        self._idle: dict[int, list] = {rate: [] for rate in SAMPLE_RATES}
        self._lock = threading.Lock()

    def take(self, rate: int):
        if rate not in SAMPLE_RATES:
            raise ValueError(f"sample rate {rate} Hz is not supported; use one of {SAMPLE_RATES}")
        with self._lock:
            if self._idle[rate]:
                return self._idle[rate].pop()
        import vosk

        recogniser = vosk.KaldiRecognizer(self._model, float(rate))
        recogniser.SetMaxAlternatives(self._max_alternatives)
        return recogniser

    def give_back(self, rate: int, recogniser) -> None:
        recogniser.FinalResult()  # finalises any half utterance and resets the feature pipeline
        with self._lock:
            if len(self._idle[rate]) < self._max_idle:
                self._idle[rate].append(recogniser)

    def idle(self, rate: int) -> int:
        with self._lock:
            return len(self._idle[rate])


class RecognitionStream:
    """One call's recogniser: feed audio, read partial text, take the recognition of each utterance."""

    def __init__(self, pool: RecogniserPool, rate: int, bias: Bias | None, bias_weight: float, keep: int,
                 on_recognised: Callable[[float, float], None] | None = None) -> None:
        self.rate = rate
        self._pool = pool
        self._recogniser = pool.take(rate)
        self._bias = bias
        self._bias_weight = bias_weight
        self._keep = keep
        self._segments: list[list[_Alternative]] = []
        self._samples = 0
        self._decoding = 0.0  # seconds spent in the recogniser on this utterance, for its real-time factor
        self._on_recognised = on_recognised
        self._closed = False

    def accept(self, pcm: bytes) -> None:
        """int16 little-endian mono samples at the stream's rate."""
        if self._closed:
            raise RuntimeError("the recognition stream is closed")
        if not pcm:
            return
        self._samples += len(pcm) // 2
        started = time.perf_counter()
        if self._recogniser.AcceptWaveform(pcm):  # vosk found an endpoint inside the utterance
            self._segments.append(_alternatives(self._recogniser.Result()))
        self._decoding += time.perf_counter() - started

    def partial(self) -> str:
        heard = "".join(a[0].text for a in self._segments if a)
        return heard + plain_text(json.loads(self._recogniser.PartialResult()).get("partial", ""))

    def finish(self) -> Recognition:
        """The utterance so far, recognised; the stream is ready for the next one."""
        started = time.perf_counter()
        self._segments.append(_alternatives(self._recogniser.FinalResult()))
        readings = _combine(self._segments, self._bias, self._bias_weight, self._keep)
        seconds, decoding = self._samples / self.rate, self._decoding + time.perf_counter() - started
        self._segments, self._samples, self._decoding = [], 0, 0.0
        if self._on_recognised is not None:
            self._on_recognised(seconds, decoding)
        return with_variants(Recognition(readings, seconds), self._bias)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pool.give_back(self.rate, self._recogniser)
            self._recogniser = None

    def __enter__(self) -> RecognitionStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class SpeechRecogniser:
    """The loaded Mandarin model and its recogniser pool. Build with `SpeechRecogniser.load(folder)`."""

    model: object
    pool: RecogniserPool
    max_alternatives: int = 8
    bias_weight: float = 0.5
    readings_kept: int = 5
    folder: Path | None = field(default=None)
    # Told (audio seconds, decoding seconds) of every utterance recognised: the composition root wires metrics here.
    on_recognised: Callable[[float, float], None] | None = field(default=None)

    @classmethod
    def load(cls, folder: Path, *, max_alternatives: int = 8, bias_weight: float = 0.5, readings_kept: int = 5,
             max_idle_per_rate: int = 64) -> SpeechRecogniser:
        import vosk

        vosk.SetLogLevel(-1)
        folder = Path(folder)
        if not (folder / "am").is_dir() or not (folder / "conf").is_dir():
            raise FileNotFoundError(f"{folder} is not an unpacked vosk model (no am/ and conf/); run `frontdoor models fetch`")
        model = vosk.Model(str(folder))
        return cls(model, RecogniserPool(model, max_alternatives, max_idle_per_rate), max_alternatives, bias_weight,
                   readings_kept, folder)

    def stream(self, rate: int, bias: Bias | None = None) -> RecognitionStream:
        return RecognitionStream(self.pool, rate, bias, self.bias_weight, self.readings_kept, self.on_recognised)

    def recognise(self, pcm: bytes, rate: int, bias: Bias | None = None, chunk_seconds: float = 0.2) -> Recognition:
        """A whole recording as one utterance, fed in telephony-sized chunks (no silence skipping)."""
        step = int(rate * chunk_seconds) * 2
        with self.stream(rate, bias) as stream:
            for start in range(0, len(pcm), step):
                stream.accept(pcm[start:start + step])
            return stream.finish()

