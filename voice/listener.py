"""One caller's ear: voice activity detection, streaming recognition and endpointing.

Only speech reaches the recogniser. Before speech starts the listener keeps a short pre-roll; after speech it
feeds a short tail of silence (the decoder needs it to close the last word) and then nothing, however long the
caller stays quiet. The utterance ends after `endpoint_ms` of silence, or at `max_utterance_seconds`.
A caller listening to a prompt costs no decoding at all; that is most of a call.

Not thread-safe and blocking: a call drives its listener from one worker thread at a time.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from models.asr import Bias, Recognition, SpeechRecogniser

FRAME_MS = 20  # webrtcvad takes 10, 20 or 30 ms frames


@dataclass(frozen=True)
class Listening:
    """How a listener decides that speech started and ended (settings: FRONTDOOR_VAD_*, FRONTDOOR_ENDPOINT_MS)."""

    vad_aggressiveness: int = 2      # 0 (keeps most) … 3 (drops most non-speech)
    start_ms: int = 100              # this much speech in a row starts an utterance (and barges in)
    endpoint_ms: int = 700           # this much silence after speech ends it
    pre_roll_ms: int = 300           # audio kept from before the start
    tail_ms: int = 300               # silence still decoded after speech
    max_utterance_seconds: float = 20.0
    partial_every_ms: int = 400
    decode_chunk_ms: int = 200       # speech reaches the recogniser in chunks this long (per 20 ms frame
                                     # it decodes at half the speed); endpointing is the detector's, so no delay


@dataclass(frozen=True)
class SpeechStarted:
    at: float  # seconds of call audio


@dataclass(frozen=True)
class Partial:
    text: str


@dataclass(frozen=True)
class Heard:
    recognition: Recognition
    speech_ended_at: float  # seconds of call audio at the last speech frame
    endpoint_at: float      # seconds of call audio when the silence that ended it was complete


class Listener:
    def __init__(self, recogniser: SpeechRecogniser, rate: int, bias: Bias | None = None,
                 listening: Listening = Listening()) -> None:
        import webrtcvad

        self.rate = rate
        self.listening = listening
        self._vad = webrtcvad.Vad(listening.vad_aggressiveness)
        self._stream = recogniser.stream(rate, bias)
        self._frame_bytes = rate * FRAME_MS // 1000 * 2
        self._chunk_bytes = max(1, listening.decode_chunk_ms // FRAME_MS) * self._frame_bytes
        self._undecoded = bytearray()  # speech frames waiting to reach the recogniser as one chunk
        self._buffer = b""
        self._pre_roll: deque[bytes] = deque(maxlen=max(1, listening.pre_roll_ms // FRAME_MS))
        self._in_speech = False
        self._speech_run = 0      # consecutive speech frames (before start)
        self._silence_run = 0     # consecutive non-speech frames (in speech)
        self._utterance_frames = 0
        self._since_partial = 0
        self._last_partial = ""
        self._frames = 0          # all frames of the call
        self._decoded_frames = 0
        self._last_speech_frame = 0

    @property
    def audio_seconds(self) -> float:
        return self._frames * FRAME_MS / 1000

    @property
    def decoded_seconds(self) -> float:
        return self._decoded_frames * FRAME_MS / 1000

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    def feed(self, pcm: bytes) -> list[SpeechStarted | Partial | Heard]:
        """int16 little-endian mono at the listener's rate, any length; returns what happened in it."""
        self._buffer += pcm
        events: list = []
        whole = len(self._buffer) - len(self._buffer) % self._frame_bytes
        for start in range(0, whole, self._frame_bytes):
            events.extend(self._frame(self._buffer[start:start + self._frame_bytes]))
        self._buffer = self._buffer[whole:]
        return events

    def flush(self) -> list[Heard]:
        """The caller stopped sending audio: an utterance in progress is recognised as it is."""
        return [self._end()] if self._in_speech else []

    def close(self) -> None:
        self._stream.close()

    def _frame(self, frame: bytes) -> list:
        self._frames += 1
        speech = self._vad.is_speech(frame, self.rate)
        if not self._in_speech:
            return self._waiting(frame, speech)
        return self._listening(frame, speech)

    def _waiting(self, frame: bytes, speech: bool) -> list:
        self._pre_roll.append(frame)
        self._speech_run = self._speech_run + 1 if speech else 0
        if self._speech_run * FRAME_MS < self.listening.start_ms:
            return []
        self._in_speech = True
        self._silence_run = 0
        self._utterance_frames = 0
        self._last_partial = ""
        self._last_speech_frame = self._frames
        for buffered in self._pre_roll:
            self._decode(buffered)
        self._pre_roll.clear()
        return [SpeechStarted(at=(self._frames - self._speech_run) * FRAME_MS / 1000)]

    def _listening(self, frame: bytes, speech: bool) -> list:
        events: list = []
        self._utterance_frames += 1
        if speech:
            if self._silence_run * FRAME_MS > self.listening.tail_ms:  # speech again after a skipped pause
                for buffered in self._pre_roll:
                    self._decode(buffered)
            self._pre_roll.clear()
            self._silence_run = 0
            self._last_speech_frame = self._frames
            self._decode(frame)
        else:
            self._silence_run += 1
            if self._silence_run * FRAME_MS <= self.listening.tail_ms:
                self._decode(frame)
            else:
                self._pre_roll.append(frame)
        if self._silence_run * FRAME_MS >= self.listening.endpoint_ms or \
                self._utterance_frames * FRAME_MS >= self.listening.max_utterance_seconds * 1000:
            events.append(self._end())
        elif self._since_partial * FRAME_MS >= self.listening.partial_every_ms:
            self._since_partial = 0
            self._flush_undecoded()
            text = self._stream.partial()
            if text and text != self._last_partial:
                self._last_partial = text
                events.append(Partial(text))
        return events

    def _decode(self, frame: bytes) -> None:
        self._undecoded += frame
        if len(self._undecoded) >= self._chunk_bytes:
            self._flush_undecoded()
        self._decoded_frames += 1
        self._since_partial += 1

    def _flush_undecoded(self) -> None:
        if self._undecoded:
            self._stream.accept(bytes(self._undecoded))
            self._undecoded.clear()

    def _end(self) -> Heard:
        self._flush_undecoded()
        recognition = self._stream.finish()
        self._in_speech = False
        self._speech_run = 0
        self._since_partial = 0
        self._pre_roll.clear()
        return Heard(recognition, speech_ended_at=self._last_speech_frame * FRAME_MS / 1000,
                     endpoint_at=self._frames * FRAME_MS / 1000)
