"""One phone call, whatever protocol carries it: audio and keys in; prompts, results and actions out.

A protocol adapter (the IVR WebSocket, Asterisk AudioSocket) owns the connection and calls `start`, `audio`,
`key`, `played` and `close` in order, one at a time; everything blocking (recognition, the engine) runs on the
voice thread pool, never on the event loop. Time is the call's own audio clock: a telephone line sends audio
continuously, silence included, so "six seconds without an answer" is six seconds of received audio.
"""
from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from models.asr import Reading, Recognition
from voice.audio import Encoding, PcmDecoder, check_rate
from voice.dialogue import Action, Decided, Hangup, IvrDialogue, Say, Transfer
from voice.listener import Heard, Listener, Partial, SpeechStarted
from voice.services import VoiceServices

CHARACTERS_PER_SECOND = 3.0  # how fast a synthesiser reads Mandarin (espeak-ng: 3.1), to guess when a prompt ends


@dataclass(frozen=True)
class StopPlayback:
    """The caller started speaking over a prompt (barge-in): stop playing it."""


@dataclass(frozen=True)
class Recognised:
    text: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...]
    speech_ended_at: float


Event = Action | StopPlayback | Partial | Recognised


class VoiceCall:
    def __init__(self, voice: VoiceServices, *, session: str, rate: int, encoding: Encoding = Encoding.PCM,
                 caller: str | None = None, region: str | None = None, protocol: str = "ivr-websocket",
                 playback_reported: bool = False) -> None:
        self.voice = voice
        self.playback_reported = playback_reported  # the adapter calls played(); otherwise prompts' length is guessed
        self.session = session
        self.caller = caller
        self.protocol = protocol
        self.rate = check_rate(rate)
        self._decoder = PcmDecoder(encoding)
        self._listener = Listener(voice.recogniser, self.rate, voice.bias(), voice.listening)
        self.dialogue = IvrDialogue(voice.engine, session, caller=caller, region=region, reprompts=voice.reprompts)
        self._prompt_ends_at: float | None = None  # audio clock when the prompt playing now ends (estimated)
        self._answer_due_at: float | None = None   # audio clock when silence counts as no input
        self.ticket_number: str | None = None
        self.outcome: Transfer | Hangup | None = None

    @property
    def ended(self) -> bool:
        return self.dialogue.ended

    @property
    def audio_seconds(self) -> float:
        return self._listener.audio_seconds

    async def start(self) -> list[Event]:
        await self._run(self.voice.records.begin, self.session, self.protocol, self.caller)
        return self._prompted(await self._run(self.dialogue.start))

    async def audio(self, chunk: bytes) -> list[Event]:
        if self.ended:
            return []
        return await self._run(self._decode_and_hear, chunk)

    async def key(self, digit: str) -> list[Event]:
        events: list[Event] = [StopPlayback()] if self._playing else []
        return events + self._prompted(await self._run(self.dialogue.key, digit))

    async def recognised_elsewhere(self, readings: tuple[tuple[str, float], ...]) -> list[Event]:
        """The platform recognised the caller itself (its own ASR; text, best reading first): taken as heard now,
        at this point of the call's audio, exactly as Frontdoor's recogniser's result would be."""
        if self.ended:
            return []
        events: list[Event] = [StopPlayback()] if self._playing else []
        return events + await self._run(self._heard_text, readings)

    def played(self) -> None:
        """The platform says the last prompt has finished playing: the no-input clock starts now."""
        if self._prompt_ends_at is not None:
            self._prompt_ends_at = None
            self._answer_due_at = self.audio_seconds + self.voice.no_input_seconds

    async def close(self) -> None:
        """The connection is over: the recogniser goes back to the pool and the call's outcome is logged."""
        await self._run(self._listener.close)
        outcome = self.outcome
        if isinstance(outcome, Transfer):
            ending = {"outcome": "transfer", "transfer_to": outcome.to, "reason": outcome.reason}
        elif isinstance(outcome, Hangup):
            ending = {"outcome": "hangup", "reason": outcome.reason}
        else:
            ending = {"outcome": "caller_hung_up"}
        await self._run(lambda: self.voice.records.end(self.session, ticket_number=self.ticket_number,
                                                       audio_seconds=self.audio_seconds, **ending))

    # ---- on the voice thread pool -----------------------------------------------------------
    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.voice.executor, fn, *args)

    def _decode_and_hear(self, chunk: bytes) -> list[Event]:
        # μ-law and A-law are decoded here, off the event loop: the loop only moves bytes.
        return self._hear(self._decoder.feed(chunk))

    def _hear(self, pcm: bytes) -> list[Event]:
        events: list[Event] = []
        for happened in self._listener.feed(pcm):
            if self.ended:
                break
            if isinstance(happened, SpeechStarted):
                self._answer_due_at = None
                if self._playing:
                    self._prompt_ends_at = None
                    events.append(StopPlayback())
            elif isinstance(happened, Partial):
                events.append(happened)
            elif isinstance(happened, Heard):
                events.extend(self._heard(happened))
        if not self.ended and self._answer_due_at is None and self._prompt_ends_at is not None \
                and self.audio_seconds >= self._prompt_ends_at:
            self.played()
        if not self.ended and self._answer_due_at is not None and not self._listener.in_speech \
                and self.audio_seconds >= self._answer_due_at:
            self._answer_due_at = None
            events.extend(self._prompted(self.dialogue.silence()))
        return events

    def _heard(self, heard: Heard) -> list[Event]:
        recognition = heard.recognition
        recognised = Recognised(recognition.text, round(recognition.confidence, 4),
                                tuple((r.text, round(r.posterior, 4)) for r in recognition.readings),
                                heard.speech_ended_at)
        return [recognised] + self._prompted(self.dialogue.heard(recognition))

    def _heard_text(self, readings: tuple[tuple[str, float], ...]) -> list[Event]:
        self._prompt_ends_at = self._answer_due_at = None
        now = self.audio_seconds
        recognition = Recognition(tuple(Reading(text, confidence) for text, confidence in readings))
        return self._heard(Heard(recognition, speech_ended_at=now, endpoint_at=now))

    # ---- prompts and the no-input clock ------------------------------------------------------
    @property
    def _playing(self) -> bool:
        return self._prompt_ends_at is not None

    def _prompted(self, actions: list[Action]) -> list[Event]:
        """Note when the prompts just sent will have been played, and remember how the call ended."""
        speech = [a for a in actions if isinstance(a, Say)]
        if speech:
            seconds = sum(len(s.text) for s in speech) / CHARACTERS_PER_SECOND
            self._prompt_ends_at = math.inf if self.playback_reported else self.audio_seconds + seconds
            self._answer_due_at = None
        for action in actions:
            if isinstance(action, (Transfer, Hangup)):
                self.outcome = action
            if isinstance(action, Transfer) and action.ticket_number:
                self.ticket_number = action.ticket_number
            if isinstance(action, Decided) and action.decision.ticket_number:
                self.ticket_number = action.decision.ticket_number
        return list(actions)
