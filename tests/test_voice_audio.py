"""Telephony audio: G.711 against audioop, encodings, rates, stream decoding, WAV reading, resampling."""
import io
import struct
import warnings
import wave
from pathlib import Path

import numpy as np
import pytest

from voice.audio import (
    SUPPORTED_RATES,
    Audio,
    AudioError,
    Encoding,
    PcmDecoder,
    check_rate,
    decode_alaw,
    decode_mulaw,
    encode_alaw,
    encode_mulaw,
    read_wav,
    resample,
    to_rate,
)

REAL_WAV_DIR = Path("/work/shared/eval/spoken/covid-faq/wav8k")

ALL_CODES = bytes(range(256))
ALL_INT16 = np.arange(-32768, 32768, dtype="<i2").tobytes()


@pytest.fixture(scope="module")
def audioop():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    return audioop


def pcm_of(values) -> bytes:
    return np.asarray(values, dtype="<i2").tobytes()


def samples_of(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2")


def sine(freq: float, rate: int, seconds: float, amplitude: float = 12000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return pcm_of(np.round(amplitude * np.sin(2 * np.pi * freq * t)))


# --- G.711 -----------------------------------------------------------------------------------------


def test_decode_mulaw_equals_audioop_for_every_code(audioop):
    assert decode_mulaw(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)


def test_decode_alaw_equals_audioop_for_every_code(audioop):
    assert decode_alaw(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)


def test_encode_mulaw_equals_audioop_for_every_int16(audioop):
    assert encode_mulaw(ALL_INT16) == audioop.lin2ulaw(ALL_INT16, 2)


def test_encode_alaw_equals_audioop_for_every_int16(audioop):
    assert encode_alaw(ALL_INT16) == audioop.lin2alaw(ALL_INT16, 2)


def test_g711_round_trip_is_stable():
    assert encode_mulaw(decode_mulaw(ALL_CODES)) == encode_mulaw(decode_mulaw(encode_mulaw(decode_mulaw(ALL_CODES))))
    assert decode_alaw(encode_alaw(decode_alaw(ALL_CODES))) == decode_alaw(ALL_CODES)


def test_g711_empty_and_odd_input():
    assert decode_mulaw(b"") == b"" and decode_alaw(b"") == b""
    assert encode_mulaw(b"") == b"" and encode_alaw(b"") == b""
    with pytest.raises(AudioError, match="16-bit"):
        encode_mulaw(b"\x00\x01\x02")
    with pytest.raises(AudioError, match="16-bit"):
        encode_alaw(b"\x00")


# --- encodings and rates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        *[(n, Encoding.PCM) for n in ("pcm", "s16le", "slin", "linear16", "l16", "pcm_s16le", "PCM", " SLIN ")],
        *[
            (n, Encoding.MULAW)
            for n in ("mulaw", "ulaw", "u-law", "μ-law", "Μ-LAW", "pcmu", "PCMU", "g711u", "g711_ulaw")
        ],
        *[(n, Encoding.ALAW) for n in ("alaw", "a-law", "A-Law", "pcma", "g711a", "G711_ALAW")],
    ],
)
def test_encoding_parse_aliases(name, expected):
    assert Encoding.parse(name) is expected


def test_encoding_parse_accepts_members():
    for encoding in Encoding:
        assert Encoding.parse(encoding) is encoding


@pytest.mark.parametrize("name", ["mp3", "", "opus", "pcm_s24le", None, 7])
def test_encoding_parse_unknown_lists_accepted(name):
    with pytest.raises(AudioError) as caught:
        Encoding.parse(name)
    message = str(caught.value)
    assert "unknown audio encoding" in message
    for alias in ("pcm_s16le", "slin", "ulaw", "pcmu", "alaw", "pcma"):
        assert alias in message


def test_audio_error_is_value_error():
    assert issubclass(AudioError, ValueError)


def test_check_rate_accepts_supported():
    assert SUPPORTED_RATES == (8000, 16000)
    assert check_rate(8000) == 8000
    assert check_rate(16000) == 16000
    assert check_rate(np.int64(8000)) == 8000
    assert type(check_rate(np.int32(16000))) is int


@pytest.mark.parametrize("rate", [True, False, 0, -8000, 44100, 22050, 8000.5, "8000", None, [8000]])
def test_check_rate_rejects(rate):
    with pytest.raises(AudioError) as caught:
        check_rate(rate)
    message = str(caught.value)
    assert "8000" in message and "16000" in message
    assert "resample" in message and "8 kHz" in message


# --- stream decoding -------------------------------------------------------------------------------


def test_pcm_decoder_reassembles_a_stream_split_at_every_offset():
    stream = pcm_of(np.arange(-50, 50) * 321)
    for split in range(len(stream) + 1):
        decoder = PcmDecoder(Encoding.PCM)
        first = decoder.feed(stream[:split])
        assert len(first) % 2 == 0
        assert decoder.pending == split % 2
        second = decoder.feed(stream[split:])
        assert first + second == stream
        assert decoder.pending == 0


def test_pcm_decoder_handles_many_odd_chunks():
    stream = pcm_of(np.arange(1000) - 500)
    decoder = PcmDecoder(Encoding.PCM)
    out = b""
    for start in range(0, len(stream), 3):
        out += decoder.feed(stream[start : start + 3])
        assert decoder.pending in (0, 1)
    assert out == stream and decoder.pending == 0


@pytest.mark.parametrize("encoding, decode", [(Encoding.MULAW, decode_mulaw), (Encoding.ALAW, decode_alaw)])
def test_pcm_decoder_g711_decodes_every_chunk(encoding, decode):
    decoder = PcmDecoder(encoding)
    for split in (0, 1, 37, 255, 256):
        assert decoder.feed(ALL_CODES[:split]) + decoder.feed(ALL_CODES[split:]) == decode(ALL_CODES)
        assert decoder.pending == 0


def test_pcm_decoder_accepts_encoding_names():
    assert PcmDecoder("ulaw").feed(b"\xff") == decode_mulaw(b"\xff")


# --- WAV files -------------------------------------------------------------------------------------


def stdlib_wav(pcm: bytes, rate: int, channels: int = 1, width: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(pcm)
    return buffer.getvalue()


def chunk(chunk_id: bytes, body: bytes, declared: int | None = None) -> bytes:
    size = len(body) if declared is None else declared
    return chunk_id + struct.pack("<I", size) + body + (b"\x00" if len(body) % 2 else b"")


def riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt_chunk(tag: int, channels: int, rate: int, bits: int, extra: bytes = b"") -> bytes:
    block_align = channels * bits // 8
    body = struct.pack("<HHIIHH", tag, channels, rate, rate * block_align, block_align, bits)
    if tag != 1:
        body += struct.pack("<H", len(extra)) + extra
    return chunk(b"fmt ", body)


def extensible_fmt(subformat: int, bits: int, rate: int = 8000, channels: int = 1) -> bytes:
    guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    extra = struct.pack("<HIH", bits, 0x4 if channels == 1 else 0x3, subformat) + guid_tail
    return fmt_chunk(0xFFFE, channels, rate, bits, extra)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_read_wav_stdlib_mono_16bit(tmp_path, rate):
    pcm = sine(440, rate, 0.25)
    path = tmp_path / "tone.wav"
    path.write_bytes(stdlib_wav(pcm, rate))
    for source in (path, str(path), path.read_bytes()):
        audio = read_wav(source)
        assert audio == Audio(pcm=pcm, rate=rate)
    assert audio.seconds == pytest.approx(0.25)


@pytest.mark.parametrize("tag, decode", [(7, decode_mulaw), (6, decode_alaw)])
def test_read_wav_g711(tag, decode):
    codes = bytes(range(256)) * 3 + b"\x55"  # odd length: exercises the pad byte
    data = riff(fmt_chunk(tag, 1, 8000, 8), chunk(b"fact", struct.pack("<I", len(codes))), chunk(b"data", codes))
    audio = read_wav(data)
    assert audio.rate == 8000
    assert audio.pcm == decode(codes)
    assert len(audio.pcm) == 2 * len(codes)


def test_read_wav_g711_matches_pcm_of_same_samples():
    pcm = sine(300, 8000, 0.1)
    as_pcm = read_wav(riff(fmt_chunk(1, 1, 8000, 16), chunk(b"data", decode_mulaw(encode_mulaw(pcm)))))
    as_mulaw = read_wav(riff(fmt_chunk(7, 1, 8000, 8), chunk(b"data", encode_mulaw(pcm))))
    assert as_mulaw == as_pcm
    as_alaw = read_wav(riff(fmt_chunk(6, 1, 8000, 8), chunk(b"data", encode_alaw(pcm))))
    assert as_alaw.pcm == decode_alaw(encode_alaw(pcm))


def test_read_wav_extensible_pcm():
    pcm = sine(440, 16000, 0.05)
    audio = read_wav(riff(extensible_fmt(1, 16, rate=16000), chunk(b"data", pcm)))
    assert audio == Audio(pcm=pcm, rate=16000)


def test_read_wav_extensible_float_is_rejected():
    with pytest.raises(AudioError, match="16-bit"):
        read_wav(riff(extensible_fmt(3, 32), chunk(b"data", b"\x00" * 8)))


def test_read_wav_skips_unknown_chunks_and_accepts_any_rate():
    pcm = pcm_of([1, -2, 3])
    data = riff(chunk(b"LIST", b"INFOsome"), fmt_chunk(1, 1, 44100, 16), chunk(b"odd!", b"x"), chunk(b"data", pcm))
    audio = read_wav(data)
    assert audio == Audio(pcm=pcm, rate=44100)


def test_read_wav_empty_data():
    audio = read_wav(stdlib_wav(b"", 8000))
    assert audio.pcm == b"" and audio.rate == 8000 and audio.seconds == 0


def test_read_wav_oversized_data_is_read_to_end_of_file():
    pcm = pcm_of(np.arange(100))
    header = riff(fmt_chunk(1, 1, 8000, 16))
    for declared in (0xFFFFFFFF, len(pcm) + 1000):
        data = header + b"data" + struct.pack("<I", declared) + pcm + b"\x07"  # trailing half sample
        assert read_wav(data) == Audio(pcm=pcm, rate=8000)


def test_read_wav_oversized_mulaw_data():
    codes = bytes(range(50))
    data = riff(fmt_chunk(7, 1, 8000, 8)) + b"data" + struct.pack("<I", 0xFFFFFFFF) + codes
    assert read_wav(data).pcm == decode_mulaw(codes)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: stdlib_wav(pcm_of([1, 2, 3, 4]), 8000, channels=2), ["2 channels", "mono", "ffmpeg", "-ac 1"]),
        (lambda: stdlib_wav(b"\x80" * 10, 8000, width=1), ["8-bit", "16-bit", "-sample_fmt s16"]),
        (lambda: stdlib_wav(b"\x00" * 12, 8000, width=3), ["24-bit", "16-bit", "-sample_fmt s16"]),
        (lambda: stdlib_wav(b"\x00" * 16, 8000, width=4), ["32-bit", "16-bit", "-sample_fmt s16"]),
        (lambda: riff(fmt_chunk(3, 1, 8000, 32), chunk(b"data", b"\x00" * 8)), ["float", "16-bit", "-sample_fmt s16"]),
        (lambda: riff(fmt_chunk(0x55, 1, 8000, 0), chunk(b"data", b"\x00" * 8)), ["format tag 0x0055", "16-bit PCM"]),
        (lambda: riff(fmt_chunk(7, 1, 8000, 16), chunk(b"data", b"\x00" * 8)), ["G.711", "16 bits"]),
        (lambda: b"this is not audio at all, just some garbage bytes", ["not a RIFF/WAVE"]),
        (lambda: b"\x00\x01", ["not a RIFF/WAVE"]),
        (lambda: b"", ["not a RIFF/WAVE"]),
        (lambda: b"RIFF\x24\x00\x00\x00AVI LIST", ["not a RIFF/WAVE"]),
        (lambda: b"RIFF\x24\x00", ["truncated"]),
        (lambda: stdlib_wav(pcm_of([1, 2]), 8000)[:20], ["truncated", "fmt"]),
        (lambda: stdlib_wav(pcm_of([1, 2]), 8000)[:30], ["truncated", "fmt"]),
        (lambda: stdlib_wav(pcm_of([1, 2]), 8000)[:12], ["no fmt chunk"]),
        (lambda: riff(extensible_fmt(1, 16)[:30]), ["truncated"]),
        (lambda: riff(fmt_chunk(1, 1, 8000, 16)), ["no data chunk"]),
        (lambda: riff(fmt_chunk(1, 1, 8000, 16), chunk(b"LIST", b"INFO")), ["no data chunk"]),
        (lambda: riff(fmt_chunk(1, 0, 8000, 16), chunk(b"data", b"")), ["0 channels", "mono"]),
        (lambda: riff(fmt_chunk(1, 1, 0, 16), chunk(b"data", b"")), ["sample rate of 0"]),
    ],
    ids=[
        "stereo", "pcm8", "pcm24", "pcm32", "float", "mp3", "g711-16bit", "garbage", "tiny", "empty", "avi",
        "short-riff", "truncated-fmt-header", "truncated-fmt-body", "no-fmt", "truncated-extensible",
        "no-data", "no-data-after-list", "zero-channels", "zero-rate",
    ],
)
def test_read_wav_errors(make, words):
    with pytest.raises(AudioError) as caught:
        read_wav(make())
    message = str(caught.value)
    for word in words:
        assert word in message


def test_read_wav_missing_file(tmp_path):
    with pytest.raises(AudioError, match="cannot read"):
        read_wav(tmp_path / "absent.wav")


def test_read_real_telephony_file():
    if not REAL_WAV_DIR.is_dir():
        pytest.skip(f"{REAL_WAV_DIR} is missing")
    audio = read_wav(REAL_WAV_DIR / "q000.wav")
    assert audio.rate == 8000
    assert len(audio.pcm) // 2 == 26600
    assert audio.seconds == pytest.approx(26600 / 8000)
    assert len(to_rate(audio, 16000)) // 2 == 2 * 26600


# --- resampling ------------------------------------------------------------------------------------


def peak_frequency(pcm: bytes, rate: int) -> float:
    samples = samples_of(pcm).astype(float)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)]


def test_resample_16k_to_8k_keeps_frequency_and_halves_samples():
    pcm = sine(440, 16000, 1.0)
    out = resample(pcm, 16000, 8000)
    assert len(out) // 2 == len(pcm) // 4
    assert peak_frequency(out, 8000) == pytest.approx(440, abs=2)
    # the level is kept too (away from the filter's edge effects)
    middle = samples_of(out)[1000:-1000].astype(float)
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(12000 / np.sqrt(2), rel=0.02)


def test_resample_8k_to_16k_and_odd_ratio():
    pcm = sine(440, 8000, 0.5)
    up = resample(pcm, 8000, 16000)
    assert len(up) // 2 == 2 * len(pcm) // 2
    assert peak_frequency(up, 16000) == pytest.approx(440, abs=3)
    from_cd = resample(sine(440, 44100, 0.5), 44100, 8000)
    assert len(from_cd) // 2 == 4000
    assert peak_frequency(from_cd, 8000) == pytest.approx(440, abs=3)


def test_resample_equal_rates_returns_input():
    pcm = pcm_of([1, 2, 3])
    assert resample(pcm, 8000, 8000) is pcm


def test_resample_clips_to_int16():
    square = pcm_of(np.tile([32767] * 20 + [-32768] * 20, 20))
    out = samples_of(resample(square, 16000, 8000))
    assert out.max() == 32767 and out.min() == -32768


def test_resample_empty_and_errors():
    assert resample(b"", 16000, 8000) == b""
    with pytest.raises(AudioError, match="16-bit"):
        resample(b"\x00\x00\x00", 16000, 8000)
    for bad in (0, -8000, True, 8000.0, "8000"):
        with pytest.raises(AudioError, match="sample rate"):
            resample(b"\x00\x00", bad, 8000)
        with pytest.raises(AudioError, match="sample rate"):
            resample(b"\x00\x00", 8000, bad)


def test_to_rate():
    audio = Audio(pcm=sine(440, 16000, 0.2), rate=16000)
    assert to_rate(audio, 16000) == audio.pcm
    assert len(to_rate(audio, 8000)) == len(audio.pcm) // 2
    with pytest.raises(AudioError, match="resample"):
        to_rate(audio, 44100)
