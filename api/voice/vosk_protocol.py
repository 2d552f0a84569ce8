"""vosk-server's WebSocket protocol, so existing vosk clients and PBX plugins can use Frontdoor's recogniser.

The client may first send `{"config": {"sample_rate": 8000, "words": true, "max_alternatives": 0,
"phrase_list": [...]}}`, then binary chunks of 16-bit mono PCM; every chunk is answered with vosk's own JSON
(`{"partial": …}` while speaking, `{"text": …, "result": [...]}` at an endpoint). `{"eof" : 1}` asks for
the final result, after which the server closes. Defaults follow vosk-server: 8 kHz, words on, no alternatives.
Unlike vosk-server, a bad config or bad audio gets `{"error": …, "message": …}` instead of a dead connection.
"""
from __future__ import annotations

import json

from voice.audio import AudioError, check_rate
from models.asr import SpeechRecogniser

MAX_PHRASES = 5000


class ProtocolError(ValueError):
    """The client broke the protocol; the message says how to fix it."""


class VoskSession:
    """One client's recogniser: configured by the first config message, taken from the pool at the first audio."""

    def __init__(self, recogniser: SpeechRecogniser) -> None:
        self._speech = recogniser
        self.sample_rate = 8000
        self.words = True
        self.max_alternatives = 0
        self.phrase_list: list[str] | None = None
        self._recogniser = None
        self._pending = b""  # an odd byte kept for the next chunk

    @property
    def started(self) -> bool:
        return self._recogniser is not None

    def configure(self, config: object) -> None:
        if self.started:
            raise ProtocolError("send the config message before the first audio")
        if not isinstance(config, dict):
            raise ProtocolError('"config" must be an object, e.g. {"config": {"sample_rate": 8000}}')
        if "sample_rate" in config:
            rate = config["sample_rate"]
            if isinstance(rate, float) and rate.is_integer():
                rate = int(rate)
            try:
                self.sample_rate = check_rate(rate)
            except AudioError as error:
                raise ProtocolError(str(error)) from error
        if "words" in config:
            self.words = bool(config["words"])
        if "max_alternatives" in config:
            value = config["max_alternatives"]
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 50:
                raise ProtocolError('"max_alternatives" must be a whole number from 0 to 50')
            self.max_alternatives = value
        if config.get("phrase_list") is not None:
            phrases = config["phrase_list"]
            if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases) or len(phrases) > MAX_PHRASES:
                raise ProtocolError(f'"phrase_list" must be a list of at most {MAX_PHRASES} strings')
            self.phrase_list = phrases or None

    def accept(self, chunk: bytes) -> str:
        """One chunk of audio in, vosk's JSON for it out (blocking: run it on the voice pool)."""
        recogniser = self._ensure()
        data = self._pending + chunk
        whole = len(data) - len(data) % 2
        self._pending = data[whole:]
        if recogniser.AcceptWaveform(data[:whole]):
            return recogniser.Result()
        return recogniser.PartialResult()

    def finish(self) -> str:
        return self._ensure().FinalResult()

    def close(self) -> None:
        """Give a pooled recogniser back in its pool's configuration; a phrase-list recogniser is dropped."""
        recogniser, self._recogniser = self._recogniser, None
        if recogniser is None or self.phrase_list:
            return
        recogniser.SetWords(False)
        recogniser.SetMaxAlternatives(self._speech.max_alternatives)
        self._speech.pool.give_back(self.sample_rate, recogniser)

    def _ensure(self):
        if self._recogniser is None:
            if self.phrase_list:
                import vosk

                recogniser = vosk.KaldiRecognizer(self._speech.model, float(self.sample_rate),
                                                  json.dumps(self.phrase_list, ensure_ascii=False))
            else:
                recogniser = self._speech.pool.take(self.sample_rate)
            recogniser.SetWords(self.words)
            recogniser.SetMaxAlternatives(self.max_alternatives)
            self._recogniser = recogniser
        return self._recogniser


def parse_text_message(text: str) -> dict:
    """A text frame: the config, or eof. Anything else is a protocol error that says what is expected."""
    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProtocolError(f'text messages must be JSON ({error.msg}); send {{"config": {{...}}}} or {{"eof" : 1}}, '
                            "and audio as binary messages") from error
    if not isinstance(message, dict) or not ({"config", "eof"} & message.keys()):
        raise ProtocolError('expected {"config": {...}} or {"eof" : 1}; audio goes in binary messages')
    return message
