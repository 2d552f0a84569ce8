"""What the voice channel says as audio (optionally): espeak-ng for the self-contained demo and the Asterisk
AudioSocket adapter. Telephony platforms synthesise speech themselves from text or SSML (voice/ssml.py).

`EspeakSynthesiser` is the built-in fallback: espeak-ng's Mandarin voice `cmn` reads pinyin as English in the
Debian version, but `cmn-latn-pinyin` speaks Mandarin from tone-numbered pinyin. So a text goes
    Chinese text -> `number_words` (voice/numbers.py) -> pinyin with tone numbers (pypinyin, Style.TONE3,
    neutral tone as 5, tone sandhi of 一/不 applied) -> `espeak-ng -v cmn-latn-pinyin --stdout` -> WAV (22050 Hz, 16-bit mono)
    -> resampled to the call's rate -> int16 little-endian mono PCM.
It sounds robotic but is intelligible; the choice is the setting FRONTDOOR_SYNTHESISER ('espeak' or 'none').
"""
from __future__ import annotations

import math
import re
import shutil
import struct
import subprocess
import threading
from collections import OrderedDict
from typing import Protocol

from voice.numbers import number_words

SYNTHESISER_CHOICES = ("espeak", "none")


class SynthesisError(RuntimeError):
    """Speech could not be synthesised; the message says what failed and how to fix it."""


class Synthesiser(Protocol):
    def synthesise(self, text: str, rate: int) -> bytes:
        """`text` spoken as int16 little-endian mono PCM at `rate` Hz (8000 or 16000)."""
        ...


# espeak-ng's cmn-latn-pinyin pauses at these (measured: ，、 ~0.24 s, ；：… ~0.34 s, 。？ ~0.43 s);
# an ASCII '.' after a syllable gives no pause at all, so every mark is mapped onto one of three.
_PAUSES = {"，": 1, "；": 2, "。": 3}
_PUNCTUATION = {
    **dict.fromkeys("，,、（）()[]【】/|", "，"),
    **dict.fromkeys("；;：:…—–-~～", "；"),
    **dict.fromkeys("。.！!？?\n", "。"),
}


def _non_han(chunk: str) -> list[str]:
    """pypinyin's callback for text without Chinese characters: pauses and Latin words."""
    tokens = []
    for piece in re.findall(r"[A-Za-z]+|\d|\n|\S", chunk):
        if piece.isascii() and piece.isalpha():
            tokens.append(piece)  # espeak-ng reads what is not pinyin with its English rules
        elif piece.isdigit():
            tokens.append(number_words(piece))
        elif piece in _PUNCTUATION:
            tokens.append(_PUNCTUATION[piece])
    return tokens


def speakable_pinyin(text: str) -> str:
    """What espeak-ng's cmn-latn-pinyin voice is given: 'qing3 bo1 da3 yi1 er4 san1 si4 wu3 。'.

    Tone numbers 1–4, the neutral tone as 5 (espeak-ng reads a syllable without a number as tone 1 at the start
    of a clause), ü as v (lv4), the tone sandhi of 一 and 不 from pypinyin (espeak-ng does the third-tone sandhi
    itself); punctuation as ，；。 which espeak-ng turns into pauses of increasing length.
    """
    from pypinyin import Style, lazy_pinyin

    def more_words(chunk: str) -> list[str]:
        # numbers became words already; what pypinyin cannot read (a rare character) is dropped
        return _non_han(chunk) if not re.search(r"[\u3400-\u9fff]", chunk) else []

    syllables = lazy_pinyin(number_words(text), style=Style.TONE3, neutral_tone_with_five=True,
                            tone_sandhi=True, errors=more_words)
    tokens: list[str] = []
    for token in syllables:
        for part in (token if isinstance(token, list) else [token]):
            part = part.strip()
            if not part:
                continue
            if part in _PAUSES:
                if not tokens:
                    continue
                if tokens[-1] in _PAUSES:
                    if _PAUSES[part] > _PAUSES[tokens[-1]]:
                        tokens[-1] = part
                    continue
            tokens.append(part)
    if not any(t not in _PAUSES for t in tokens):
        return ""
    return " ".join(tokens)


def _wav_samples(wav: bytes) -> tuple[int, bytes]:
    """(sample rate, 16-bit mono samples) of espeak-ng's --stdout WAV, whose size fields are not to be trusted."""
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise SynthesisError("espeak-ng wrote no WAV audio to stdout; check that `espeak-ng --stdout hello` works")
    position, rate = 12, None
    while position + 8 <= len(wav):
        chunk, size = wav[position:position + 4], struct.unpack("<I", wav[position + 4:position + 8])[0]
        body = position + 8
        if chunk == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", wav[body:body + 16])
            if fmt != 1 or channels != 1 or bits != 16:
                raise SynthesisError(f"espeak-ng wrote {channels}-channel {bits}-bit audio (format {fmt}); "
                                     "expected 16-bit mono PCM")
        elif chunk == b"data":
            if rate is None:
                break
            data = wav[body:]
            return rate, data[:len(data) - len(data) % 2]
        position = body + size + (size & 1)
    raise SynthesisError("espeak-ng's WAV output has no audio data")


def _resample(samples: bytes, from_rate: int, to_rate: int) -> bytes:
    import numpy as np

    audio = np.frombuffer(samples, dtype="<i2")
    if from_rate != to_rate and audio.size:
        from scipy.signal import resample_poly

        common = math.gcd(from_rate, to_rate)
        audio = resample_poly(audio.astype(np.float32), to_rate // common, from_rate // common)
        audio = np.clip(np.round(audio), -32768, 32767)
    return audio.astype("<i2").tobytes()


class EspeakSynthesiser:
    """Mandarin from espeak-ng (robotic but intelligible), with an LRU cache because IVR prompts repeat.

    Thread-safe: calls may run concurrently on a thread pool; each runs its own espeak-ng process.
    """

    def __init__(self, binary: str = "espeak-ng", voice: str = "cmn-latn-pinyin", words_per_minute: int = 150,
                 cache_size: int = 256, timeout: float = 30.0) -> None:
        path = shutil.which(binary)
        if path is None:
            raise SynthesisError(f"the speech synthesiser {binary!r} was not found on PATH: install espeak-ng "
                                 "(apt-get install espeak-ng), or set FRONTDOOR_SYNTHESISER=none to return text only")
        self.binary = path
        self.voice = voice
        self.words_per_minute = words_per_minute
        self.cache_size = cache_size
        self.timeout = timeout
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._check_voice()

    def _check_voice(self) -> None:
        """espeak-ng quietly speaks with another voice when the one asked for is missing: check it is there."""
        try:
            listing = subprocess.run([self.binary, "--voices"], capture_output=True, timeout=self.timeout,
                                     check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SynthesisError(f"could not run {self.binary} --voices: {error}; reinstall espeak-ng "
                                 "(apt-get install --reinstall espeak-ng) or set FRONTDOOR_SYNTHESISER=none") from error
        names = set()
        for line in listing.stdout.decode("utf-8", "replace").splitlines()[1:]:
            columns = line.split()
            if len(columns) >= 5:  # Pty Language Age/Gender VoiceName File ...
                names.update(c.lower() for c in (columns[1], columns[3], columns[4], columns[4].rsplit("/", 1)[-1]))
        if self.voice.split("+", 1)[0].lower() not in names:
            raise SynthesisError(f"espeak-ng has no voice {self.voice!r} (list them: espeak-ng --voices=cmn); "
                                 "use 'cmn-latn-pinyin', install espeak-ng-data, or set FRONTDOOR_SYNTHESISER=none")

    def synthesise(self, text: str, rate: int) -> bytes:
        if not isinstance(rate, int) or rate <= 0:
            raise ValueError(f"rate must be a positive number of samples per second (8000 or 16000), not {rate!r}")
        key = (text, rate)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        pcm = self._synthesise(text, rate)
        if self.cache_size > 0:
            with self._lock:
                self._cache[key] = pcm
                self._cache.move_to_end(key)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return pcm

    def _synthesise(self, text: str, rate: int) -> bytes:
        pinyin = speakable_pinyin(text)
        if not pinyin:
            return b""
        command = [self.binary, "-v", self.voice, "-s", str(self.words_per_minute), "--stdout", "--stdin"]
        try:
            done = subprocess.run(command, input=pinyin.encode("utf-8"), capture_output=True,
                                  timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired as error:
            raise SynthesisError(f"espeak-ng took longer than {self.timeout:g} s for {len(text)} characters; "
                                 "shorten the text or raise the timeout") from error
        except OSError as error:
            raise SynthesisError(f"could not run {self.binary}: {error}; reinstall espeak-ng "
                                 "(apt-get install --reinstall espeak-ng) or set FRONTDOOR_SYNTHESISER=none") from error
        stderr = done.stderr.decode("utf-8", "replace").strip()
        if done.returncode != 0 or not done.stdout:
            hint = (f"the voice {self.voice!r} is missing (list voices: espeak-ng --voices=cmn; "
                    "install espeak-ng-data)" if "voice" in stderr.lower() else "check that espeak-ng runs")
            raise SynthesisError(f"espeak-ng failed (exit {done.returncode}): {stderr or 'no output'}; {hint}")
        source_rate, samples = _wav_samples(done.stdout)
        return _resample(samples, source_rate, rate)


def load_synthesiser(name: str) -> Synthesiser | None:
    """The synthesiser named by the setting FRONTDOOR_SYNTHESISER: 'espeak' or 'none' (no audio: text and SSML)."""
    choice = (name or "").strip().lower()
    if choice == "espeak":
        return EspeakSynthesiser()
    if choice == "none":
        return None
    raise SynthesisError(f"unknown speech synthesiser {name!r}: FRONTDOOR_SYNTHESISER must be one of "
                         + ", ".join(repr(c) for c in SYNTHESISER_CHOICES))
