"""Telephony audio for the voice channel: G.711 μ-law/A-law, 16-bit PCM, WAV files, resampling.

Everything here works on signed 16-bit little-endian mono PCM (Asterisk "slin"); numpy and scipy only.
The G.711 codecs are bit-exact with ITU-T G.711 as implemented by the old stdlib `audioop` module.
"""
from __future__ import annotations

import enum
import math
import operator
import os
import struct
from dataclasses import dataclass

import numpy as np

__all__ = [
    "AudioError", "Encoding", "SUPPORTED_RATES", "check_rate",
    "decode_mulaw", "decode_alaw", "encode_mulaw", "encode_alaw",
    "PcmDecoder", "Audio", "read_wav", "resample", "to_rate",
]

SAMPLE_WIDTH = 2  # bytes per int16 sample
_PCM_DTYPE = np.dtype("<i2")


class AudioError(ValueError):
    """Bad audio. The message says what was wrong and what to send instead."""


# --- encodings -------------------------------------------------------------------------------------


class Encoding(str, enum.Enum):
    """How the samples of a telephony stream are coded."""

    PCM = "pcm_s16le"   # signed 16-bit little-endian linear PCM (Asterisk 'slin')
    MULAW = "mulaw"     # G.711 μ-law (PCMU)
    ALAW = "alaw"       # G.711 A-law (PCMA)

    @classmethod
    def parse(cls, name: str) -> "Encoding":
        """The encoding called `name` (case-insensitive; common aliases such as 'ulaw', 'pcma', 'slin')."""
        if isinstance(name, str):
            found = _ENCODING_ALIASES.get(name.strip().casefold())
            if found is not None:
                return cls(found)
        accepted = "; ".join(f"{value}: {', '.join(aliases)}" for value, aliases in _ENCODING_NAMES.items())
        raise AudioError(f"unknown audio encoding {name!r}; send one of ({accepted})")


_ENCODING_NAMES = {
    Encoding.PCM.value: ("pcm_s16le", "pcm", "s16le", "slin", "linear16", "l16"),
    Encoding.MULAW.value: ("mulaw", "ulaw", "u-law", "μ-law", "pcmu", "g711u", "g711_ulaw"),
    Encoding.ALAW.value: ("alaw", "a-law", "pcma", "g711a", "g711_alaw"),
}
_ENCODING_ALIASES = {
    alias.casefold(): value for value, aliases in _ENCODING_NAMES.items() for alias in aliases
}  # casefold also maps the MICRO SIGN "µ-law" to "μ-law"


# --- sample rates ----------------------------------------------------------------------------------

SUPPORTED_RATES = (8000, 16000)


def check_rate(rate) -> int:
    """`rate` as an int if it is one of SUPPORTED_RATES, else AudioError."""
    value = None
    if not isinstance(rate, bool):
        try:
            value = operator.index(rate)
        except TypeError:
            value = None
    if value not in SUPPORTED_RATES:
        supported = " or ".join(f"{r} Hz" for r in SUPPORTED_RATES)
        raise AudioError(
            f"unsupported sample rate {rate!r}; supported rates are {supported}: "
            f"resample the audio, or send telephony audio at 8 kHz"
        )
    return value


# --- G.711 -----------------------------------------------------------------------------------------
# The classic Sun/CCITT reference algorithms (as in CPython's audioop.c), vectorised once at import
# into read-only lookup tables: 256 codes -> int16, and every int16 value (by its uint16 bit pattern)
# -> code.

_MULAW_BIAS = 0x84
_MULAW_CLIP = 8159
_MULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _mulaw_decode_table() -> np.ndarray:
    code = ~np.arange(256, dtype=np.int64) & 0xFF
    magnitude = (((code & 0x0F) << 3) + _MULAW_BIAS) << ((code & 0x70) >> 4)
    linear = np.where(code & 0x80, _MULAW_BIAS - magnitude, magnitude - _MULAW_BIAS)
    return _frozen(linear.astype(_PCM_DTYPE))


def _alaw_decode_table() -> np.ndarray:
    code = np.arange(256, dtype=np.int64) ^ 0x55
    segment = (code & 0x70) >> 4
    magnitude = (code & 0x0F) << 4
    magnitude = np.where(segment == 0, magnitude + 8, (magnitude + 0x108) << np.maximum(segment - 1, 0))
    linear = np.where(code & 0x80, magnitude, -magnitude)
    return _frozen(linear.astype(_PCM_DTYPE))


def _all_int16_by_bit_pattern() -> np.ndarray:
    """Index i (0..65535) -> the int16 value whose bit pattern is i."""
    patterns = np.arange(65536, dtype=np.int64)
    return np.where(patterns >= 32768, patterns - 65536, patterns)


def _mulaw_encode_table() -> np.ndarray:
    value = _all_int16_by_bit_pattern() >> 2  # 14-bit
    negative = value < 0
    mask = np.where(negative, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(value), _MULAW_CLIP) + (_MULAW_BIAS >> 2)
    segment = np.searchsorted(_MULAW_SEG_END, magnitude, side="left")
    in_range = segment < 8
    shift = np.where(in_range, segment + 1, 0)
    code = np.where(in_range, (segment << 4) | ((magnitude >> shift) & 0x0F), 0x7F)
    return _frozen((code ^ mask).astype(np.uint8))


def _alaw_encode_table() -> np.ndarray:
    value = _all_int16_by_bit_pattern() >> 3  # 13-bit
    negative = value < 0
    mask = np.where(negative, 0x55, 0xD5)
    magnitude = np.where(negative, -value - 1, value)
    segment = np.searchsorted(_ALAW_SEG_END, magnitude, side="left")  # always < 8 for 13-bit input
    shift = np.where(segment < 2, 1, segment)
    code = (segment << 4) | ((magnitude >> shift) & 0x0F)
    return _frozen((code ^ mask).astype(np.uint8))


_MULAW_TO_PCM = _mulaw_decode_table()
_ALAW_TO_PCM = _alaw_decode_table()
_PCM_TO_MULAW = _mulaw_encode_table()
_PCM_TO_ALAW = _alaw_encode_table()


def _codes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8)


def _bit_patterns(pcm: bytes) -> np.ndarray:
    _check_whole_samples(pcm)
    return np.frombuffer(pcm, dtype="<u2")


def _check_whole_samples(pcm: bytes) -> None:
    if len(pcm) % SAMPLE_WIDTH:
        raise AudioError(
            f"PCM has {len(pcm)} bytes, not a whole number of 16-bit samples; "
            f"send signed 16-bit little-endian mono samples (2 bytes each)"
        )


def decode_mulaw(data: bytes) -> bytes:
    """G.711 μ-law codes -> int16 little-endian PCM (two bytes per code)."""
    return _MULAW_TO_PCM[_codes(data)].tobytes()


def decode_alaw(data: bytes) -> bytes:
    """G.711 A-law codes -> int16 little-endian PCM (two bytes per code)."""
    return _ALAW_TO_PCM[_codes(data)].tobytes()


def encode_mulaw(pcm: bytes) -> bytes:
    """int16 little-endian PCM -> G.711 μ-law codes (one byte per sample)."""
    return _PCM_TO_MULAW[_bit_patterns(pcm)].tobytes()


def encode_alaw(pcm: bytes) -> bytes:
    """int16 little-endian PCM -> G.711 A-law codes (one byte per sample)."""
    return _PCM_TO_ALAW[_bit_patterns(pcm)].tobytes()


# --- streams ---------------------------------------------------------------------------------------


class PcmDecoder:
    """Turns one stream's chunks of any Encoding into whole int16 samples; a PCM chunk of odd length keeps its last byte for the next chunk."""

    def __init__(self, encoding: Encoding):
        self.encoding = Encoding.parse(encoding)
        self._carry = b""

    def feed(self, chunk: bytes) -> bytes:
        """The whole little-endian int16 samples this chunk completes."""
        if self.encoding is Encoding.MULAW:
            return decode_mulaw(chunk)
        if self.encoding is Encoding.ALAW:
            return decode_alaw(chunk)
        data = self._carry + bytes(chunk)
        whole = len(data) - len(data) % SAMPLE_WIDTH
        self._carry = data[whole:]
        return data[:whole]

    @property
    def pending(self) -> int:
        """Bytes held back for the next chunk (0 or 1)."""
        return len(self._carry)


# --- WAV files -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Audio:
    """Mono int16 little-endian PCM at a sample rate."""

    pcm: bytes      # int16 LE mono
    rate: int

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return (len(self.pcm) // SAMPLE_WIDTH) / self.rate if self.rate else 0.0


_FORMAT_PCM = 0x0001
_FORMAT_FLOAT = 0x0003
_FORMAT_ALAW = 0x0006
_FORMAT_MULAW = 0x0007
_FORMAT_EXTENSIBLE = 0xFFFE
_FMT_MIN_SIZE = 16
_FMT_EXTENSIBLE_SIZE = 40
_CONVERT_TO_S16 = "convert it to 16-bit PCM, e.g. ffmpeg -i in.wav -ac 1 -sample_fmt s16 out.wav"
_SEND_INSTEAD = "send 16-bit PCM, 8-bit μ-law or 8-bit A-law mono WAV"


@dataclass(frozen=True)
class _WavFormat:
    tag: int          # the effective format tag (an extensible file's subformat)
    channels: int
    rate: int
    bits: int


def _read_source(source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    try:
        with open(source, "rb") as file:
            return file.read()
    except OSError as error:
        raise AudioError(f"cannot read WAV file {os.fspath(source)!r}: {error.strerror or error}") from error


def _riff_chunks(data: bytes) -> dict[bytes, bytes]:
    """The top-level chunks of a RIFF/WAVE file by id (first of each); a chunk running past the end is cut."""
    if len(data) < 12:
        if data[:4] == b"RIFF"[: len(data)] and data:
            raise AudioError(f"truncated WAV header ({len(data)} bytes); {_SEND_INSTEAD}")
        raise AudioError(f"not a RIFF/WAVE file; {_SEND_INSTEAD}")
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioError(f"not a RIFF/WAVE file (starts with {data[:12]!r}); {_SEND_INSTEAD}")
    chunks: dict[bytes, bytes] = {}
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        body = data[offset + 8 : offset + 8 + size]
        chunks.setdefault(chunk_id, body)
        if len(body) < size:  # declared past the end: streaming writers; nothing follows
            break
        offset += 8 + size + (size & 1)
    return chunks


def _parse_fmt(fmt: bytes) -> _WavFormat:
    if len(fmt) < _FMT_MIN_SIZE:
        raise AudioError(f"truncated WAV header: fmt chunk has {len(fmt)} bytes, needs {_FMT_MIN_SIZE}")
    tag, channels, rate, _byte_rate, _block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _FORMAT_EXTENSIBLE:
        if len(fmt) < _FMT_EXTENSIBLE_SIZE:
            raise AudioError(
                f"truncated WAV header: extensible fmt chunk has {len(fmt)} bytes, needs {_FMT_EXTENSIBLE_SIZE}"
            )
        tag = struct.unpack_from("<H", fmt, 24)[0]  # first two bytes of the SubFormat GUID
    return _WavFormat(tag=tag, channels=channels, rate=rate, bits=bits)


def _check_format(fmt: _WavFormat) -> None:
    if fmt.channels != 1:
        raise AudioError(
            f"WAV has {fmt.channels} channels; only mono is accepted: "
            f"mix it down to mono, e.g. ffmpeg -i in.wav -ac 1 out.wav"
        )
    if fmt.rate <= 0:
        raise AudioError(f"WAV declares a sample rate of {fmt.rate} Hz; {_SEND_INSTEAD}")
    if fmt.tag == _FORMAT_PCM and fmt.bits != 16:
        raise AudioError(f"WAV is {fmt.bits}-bit PCM; only 16-bit PCM is accepted: {_CONVERT_TO_S16}")
    if fmt.tag == _FORMAT_FLOAT:
        raise AudioError(f"WAV is {fmt.bits}-bit float; only 16-bit PCM is accepted: {_CONVERT_TO_S16}")
    if fmt.tag in (_FORMAT_ALAW, _FORMAT_MULAW) and fmt.bits != 8:
        raise AudioError(f"WAV is G.711 with {fmt.bits} bits per sample (should be 8); {_CONVERT_TO_S16}")
    if fmt.tag not in (_FORMAT_PCM, _FORMAT_ALAW, _FORMAT_MULAW):
        raise AudioError(f"unsupported WAV format tag 0x{fmt.tag:04X}; {_SEND_INSTEAD} ({_CONVERT_TO_S16})")


def _samples_to_pcm(fmt: _WavFormat, samples: bytes) -> bytes:
    if fmt.tag == _FORMAT_MULAW:
        return decode_mulaw(samples)
    if fmt.tag == _FORMAT_ALAW:
        return decode_alaw(samples)
    return samples[: len(samples) - len(samples) % SAMPLE_WIDTH]


def read_wav(source: str | os.PathLike | bytes) -> Audio:
    """A mono WAV file (a path or its bytes) as 16-bit PCM at the file's own rate."""
    chunks = _riff_chunks(_read_source(source))
    if b"fmt " not in chunks:
        raise AudioError(f"WAV has no fmt chunk (truncated or not a WAV file); {_SEND_INSTEAD}")
    fmt = _parse_fmt(chunks[b"fmt "])
    _check_format(fmt)
    if b"data" not in chunks:
        raise AudioError(f"WAV has no data chunk (the file is truncated or empty); {_SEND_INSTEAD}")
    return Audio(pcm=_samples_to_pcm(fmt, chunks[b"data"]), rate=fmt.rate)


# --- resampling ------------------------------------------------------------------------------------


def _check_positive_rate(rate, what: str) -> int:
    try:
        value = operator.index(rate) if not isinstance(rate, bool) else 0
    except TypeError:
        value = 0
    if value <= 0:
        raise AudioError(f"{what} sample rate must be a positive whole number of Hz, got {rate!r}")
    return value


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """int16 LE mono PCM at `from_rate` -> the same at `to_rate` (polyphase filter, clipped to int16)."""
    source_rate = _check_positive_rate(from_rate, "source")
    target_rate = _check_positive_rate(to_rate, "target")
    _check_whole_samples(pcm)
    if source_rate == target_rate:
        return pcm
    if not pcm:
        return b""
    divisor = math.gcd(source_rate, target_rate)
    samples = np.frombuffer(pcm, dtype=_PCM_DTYPE).astype(np.float64)
    from scipy.signal import resample_poly  # scipy.signal takes 0.7 s to import

    resampled = resample_poly(samples, target_rate // divisor, source_rate // divisor)
    return np.clip(np.rint(resampled), -32768, 32767).astype(_PCM_DTYPE).tobytes()


def to_rate(audio: Audio, rate: int) -> bytes:
    """audio.pcm at `rate` (one of SUPPORTED_RATES)."""
    return resample(audio.pcm, audio.rate, check_rate(rate))
