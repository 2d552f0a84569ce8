"""The phone line over WebSockets: vosk-server's recognition protocol, and the IVR dialogue.

Both run recognition on the voice thread pool; a connection that sends nothing for `voice_idle_seconds`, an
oversized message or bad audio gets an error message and a clean close, and its recogniser goes back reset.
A call's place on the worker (FRONTDOOR_VOICE_MAX_CALLS) is free the moment the caller hangs up, even behind a
backlog of audio (api/voice/inbox.py reads ahead), and before the server's own close reaches the client.
The IVR protocol is documented in the README ("Voice").
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect

from accounts.roles import Role
from api.auth import PUBLIC, allow
from api.errors import ApiError
from assistant.conversations import new_session_id
from assistant.turn import Channel
from voice.audio import AudioError, Encoding
from voice.call import Event, Recognised, StopPlayback, VoiceCall
from voice.dialogue import Decided, Hangup, Say, Transfer
from voice.listener import Partial
from voice.services import CallPlace, VoiceServices
from api.voice.inbox import Inbox
from api.voice.vosk_protocol import ProtocolError, VoskSession, parse_text_message

log = logging.getLogger(__name__)
router = APIRouter(tags=["voice"])

CALL_SESSION_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"  # the switch's call id (no ':', the mark of a WeChat id)
MAX_AUDIO_MESSAGE = 256 * 1024   # 8 s of 16 kHz audio; telephony sends 20–200 ms per message
MAX_TEXT_MESSAGE = 64 * 1024     # a config with a long phrase list
BUSY = ("this worker has as many calls as it can recognise in real time (FRONTDOOR_VOICE_MAX_CALLS); "
        "try another worker, or transfer the caller to a seat")
CLOSE_NORMAL, CLOSE_UNSUPPORTED, CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_UNAVAILABLE = 1000, 1003, 1008, 1009, 1013


class _Idle(Exception):
    pass


@dataclass(frozen=True)
class _Closing:
    """How the server ends a connection: a close code, and an error message first when something went wrong."""

    code: int
    error: str | None = None
    message: str = ""


async def _close(ws: WebSocket, closing: _Closing) -> None:
    with contextlib.suppress(Exception):
        if closing.error is not None:
            await ws.send_text(json.dumps({"type": "error", "error": closing.error, "message": closing.message},
                                          ensure_ascii=False))
        await ws.close(closing.code)


async def _refuse(ws: WebSocket, error: str, message: str, code: int) -> None:
    await _close(ws, _Closing(code, error, message))


async def _first_message(ws: WebSocket, timeout: float) -> dict:
    try:
        message = await asyncio.wait_for(ws.receive(), timeout=timeout)
    except asyncio.TimeoutError as error:
        raise _Idle from error
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    return message


def _inbox(ws: WebSocket, place: CallPlace) -> Inbox[dict]:
    """The call's messages, read ahead: the caller's place is free the moment the connection ends."""
    async def read() -> dict | None:
        message = await ws.receive()
        return None if message["type"] == "websocket.disconnect" else message

    return Inbox(read, place.release)


async def _receive(inbox: Inbox[dict], idle_seconds: float) -> dict:
    try:
        message = await inbox.next(idle_seconds)
    except asyncio.TimeoutError as error:
        raise _Idle from error
    if message is None:
        raise WebSocketDisconnect(CLOSE_NORMAL)
    return message


async def _opened(ws: WebSocket) -> tuple[VoiceServices, CallPlace, dict] | None:
    """Accepts the connection and waits `start_seconds` for its first message, holding no call's place (a
    connection that never speaks must not lock real callers out); then the worker's voice services, the call's
    place (to be released when done) and that message when it has room for one more call, else None after
    telling the client why."""
    await ws.accept()
    voice = getattr(ws.app.state.services, "voice", None)
    if voice is None:
        await _refuse(ws, "voice_unavailable", "speech recognition is not loaded on this server", CLOSE_UNAVAILABLE)
        return None
    try:
        first = await _first_message(ws, voice.start_seconds)
    except _Idle:
        await _refuse(ws, "timeout", f"nothing received within {voice.start_seconds:g} s of connecting; "
                      "open the call at once", CLOSE_POLICY)
        return None
    except WebSocketDisconnect:
        return None
    place = voice.admit()
    if place is None:
        await _refuse(ws, "busy", BUSY, CLOSE_UNAVAILABLE)
        return None
    return voice, place, first


def _closing_for(error: Exception, idle: str) -> _Closing | None:
    """How a call that raised `error` is closed; None when the caller has gone already."""
    if isinstance(error, ProtocolError):
        return _Closing(CLOSE_POLICY, "protocol", str(error))
    if isinstance(error, AudioError):
        return _Closing(CLOSE_UNSUPPORTED, "bad_audio", str(error))
    if isinstance(error, _Idle):
        return _Closing(CLOSE_POLICY, "timeout", idle)
    return None  # WebSocketDisconnect


async def _end(ws: WebSocket, place: CallPlace, closing: _Closing | None) -> None:
    # The place is free before the client learns the call is over: a switch sends its next call the moment it
    # sees the close, and that call must find the place.
    place.release()
    if closing is not None:
        await _close(ws, closing)


ENDS = (ProtocolError, AudioError, _Idle, WebSocketDisconnect)


def _too_big(message: dict) -> str | None:
    if message.get("bytes") is not None and len(message["bytes"]) > MAX_AUDIO_MESSAGE:
        return f"an audio message of {len(message['bytes'])} bytes is too large; send at most {MAX_AUDIO_MESSAGE} bytes (20–200 ms) per message"
    if message.get("text") is not None and len(message["text"]) > MAX_TEXT_MESSAGE:
        return f"a text message of {len(message['text'])} characters is too large; the limit is {MAX_TEXT_MESSAGE}"
    return None


# ---- vosk-server's protocol ------------------------------------------------------------------
@router.websocket("/v1/asr", dependencies=[Depends(PUBLIC)])  # the telephony platform's audio, like a citizen's
async def vosk_compatible(ws: WebSocket) -> None:
    opened = await _opened(ws)
    if opened is None:
        return
    voice, place, first = opened
    inbox = _inbox(ws, place)
    session = VoskSession(voice.recogniser)
    try:
        try:
            closing = await _recognise(ws, voice, session, inbox, first)
        except ENDS as error:
            closing = _closing_for(error, f"nothing received for {voice.idle_seconds:g} s; send audio continuously "
                                   'or {"eof" : 1} to finish')
        await _end(ws, place, closing)
    finally:
        place.release()
        await inbox.close()
        await asyncio.get_running_loop().run_in_executor(voice.executor, session.close)


async def _recognise(ws: WebSocket, voice: VoiceServices, session: VoskSession, inbox: Inbox[dict],
                     message: dict) -> _Closing:
    """vosk-server's exchange, from the first message to `eof`."""
    loop = asyncio.get_running_loop()
    while True:
        if (problem := _too_big(message)) is not None:
            return _Closing(CLOSE_TOO_BIG, "too_large", problem)
        if message.get("text") is None:
            await ws.send_text(await loop.run_in_executor(voice.executor, session.accept, message.get("bytes") or b""))
        else:
            parsed = parse_text_message(message["text"])
            if "config" not in parsed:
                await ws.send_text(await loop.run_in_executor(voice.executor, session.finish))
                return _Closing(CLOSE_NORMAL)
            session.configure(parsed["config"])
        message = await _receive(inbox, voice.idle_seconds)


# ---- the IVR dialogue ------------------------------------------------------------------------
def _start_call(voice: VoiceServices, text: str) -> VoiceCall:
    try:
        start = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProtocolError(f"the first message must be JSON ({error.msg})") from error
    if not isinstance(start, dict) or start.get("type") != "start":
        raise ProtocolError('the first message must be {"type": "start", "sample_rate": 8000, "encoding": "pcm_s16le"}')
    session = start.get("session") or new_session_id(Channel.VOICE)
    if not isinstance(session, str) or not re.fullmatch(CALL_SESSION_PATTERN, session):
        raise ProtocolError("session: 1–100 characters of letters, digits, _ . -")
    if voice.engine.conversations.channel_of(session) is not None:  # a new call is a new conversation
        raise ProtocolError("session: a conversation with this id exists already; give the switch's new call id, or none")
    caller, region = start.get("caller"), start.get("region")
    for name, value in (("caller", caller), ("region", region)):
        if value is not None and (not isinstance(value, str) or len(value) > 100):
            raise ProtocolError(f"{name}: a string of at most 100 characters")
    try:
        return VoiceCall(voice, session=session, rate=start.get("sample_rate", 8000),
                         encoding=Encoding.parse(str(start.get("encoding", "pcm_s16le"))), caller=caller, region=region,
                         playback_reported=start.get("reports_playback") is True)
    except AudioError as error:
        raise ProtocolError(str(error)) from error


def ivr_message(event: Event) -> dict | None:
    """An event of the call as the IVR protocol's JSON."""
    if isinstance(event, Say):
        from voice.ssml import to_ssml

        return {"type": "prompt", "purpose": event.purpose, "text": event.text, "ssml": to_ssml(event.text),
                "barge_in": event.barge_in}
    if isinstance(event, StopPlayback):
        return {"type": "stop_playback"}
    if isinstance(event, Partial):
        return {"type": "partial", "text": event.text}
    if isinstance(event, Recognised):
        return {"type": "recognised", "text": event.text, "confidence": event.confidence,
                "alternatives": [{"text": t, "confidence": c} for t, c in event.alternatives]}
    if isinstance(event, Decided):
        d = event.decision
        return {"type": "decision", "kind": d.kind.value, "reason": d.reason, "confidence": round(d.confidence, 4),
                "heard": event.heard, "entry_id": d.entry_id, "ticket": d.ticket_number, "redirect_to": d.redirect_to,
                "choices": [{"number": c.number, "entry_id": c.entry_id, "question": c.question} for c in d.choices]}
    if isinstance(event, Transfer):
        return {"type": "transfer", "to": event.to, "ticket": event.ticket_number, "reason": event.reason}
    if isinstance(event, Hangup):
        return {"type": "hangup", "reason": event.reason}
    return None


async def _send(ws: WebSocket, events: list[Event]) -> None:
    for event in events:
        message = ivr_message(event)
        if message is not None:
            await ws.send_text(json.dumps(message, ensure_ascii=False))


async def _control(call: VoiceCall, text: str) -> list[Event] | None:
    """A control message during the call; None when the caller hung up."""
    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProtocolError(f"control messages must be JSON ({error.msg}); audio goes in binary messages") from error
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "dtmf":
        digit = message.get("digit")
        if not isinstance(digit, str) or len(digit) != 1 or digit not in "0123456789*#":
            raise ProtocolError('"digit" must be one of 0-9, * or #')
        return await call.key(digit)
    if kind == "played":
        call.played()
        return []
    if kind == "text":
        return await call.recognised_elsewhere(_platform_readings(message))
    if kind == "hangup":
        return None
    raise ProtocolError('control messages are {"type": "dtmf", "digit": "1"}, {"type": "text", "text": "…"}, '
                        '{"type": "played"} or {"type": "hangup"}')


PLATFORM_TEXT_CHARS = 500
PLATFORM_ALTERNATIVES = 5


def _platform_readings(message: dict) -> tuple[tuple[str, float], ...]:
    """{"type": "text", "text": …, "confidence": 0.9, "alternatives": [{"text": …, "confidence": …}]}: what the
    platform's own recogniser heard, best first. No confidence given: the platform is taken at its word (1.0)."""
    def reading(item: object, where: str) -> tuple[str, float]:
        if not isinstance(item, dict):
            raise ProtocolError(f"{where.rstrip('.')}: an object with text and confidence")
        text, confidence = item.get("text"), item.get("confidence", 1.0)
        if not isinstance(text, str) or not text.strip() or len(text) > PLATFORM_TEXT_CHARS:
            raise ProtocolError(f"{where}text: what the caller said, 1–{PLATFORM_TEXT_CHARS} characters")
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.0 <= confidence <= 1.0:
            raise ProtocolError(f"{where}confidence: a number from 0 to 1")
        return text.strip(), float(confidence)

    alternatives = message.get("alternatives", [])
    if not isinstance(alternatives, list) or len(alternatives) > PLATFORM_ALTERNATIVES:
        raise ProtocolError(f"alternatives: a list of at most {PLATFORM_ALTERNATIVES} readings")
    return (reading(message, ""),) + tuple(reading(a, f"alternatives[{i}].") for i, a in enumerate(alternatives))


@router.websocket("/v1/ivr", dependencies=[Depends(PUBLIC)])
async def ivr(ws: WebSocket) -> None:
    opened = await _opened(ws)
    if opened is None:
        return
    voice, place, first = opened
    inbox = _inbox(ws, place)
    call: VoiceCall | None = None
    try:
        try:
            if first.get("text") is None:
                raise ProtocolError('the first message must be the text {"type": "start", …}, before any audio')
            call = _start_call(voice, first["text"])
            closing = await _converse(ws, voice, call, inbox)
        except ENDS as error:
            closing = _closing_for(error, f"nothing received for {voice.idle_seconds:g} s; a call sends audio continuously")
        await _end(ws, place, closing)
    finally:
        place.release()
        await inbox.close()
        if call is not None:
            await call.close()


async def _converse(ws: WebSocket, voice: VoiceServices, call: VoiceCall, inbox: Inbox[dict]) -> _Closing:
    """The IVR dialogue, from `started` until the dialogue or the caller ends it."""
    guard = ws.app.state.services.guard
    if guard is not None and call.caller and (refusal := guard.check(f"caller:{call.caller}")) is not None:
        return _Closing(CLOSE_POLICY, refusal.code, refusal.message)
    await ws.send_text(json.dumps({"type": "started", "session": call.session, "sample_rate": call.rate}))
    await _send(ws, await call.start())
    while not call.ended:
        message = await _receive(inbox, voice.idle_seconds)
        if (problem := _too_big(message)) is not None:
            return _Closing(CLOSE_TOO_BIG, "too_large", problem)
        if message.get("bytes") is not None:
            events = await call.audio(message["bytes"])
        else:
            events = await _control(call, message.get("text") or "")
            if events is None:  # the switch says the caller hung up
                break
        await _send(ws, events)
    return _Closing(CLOSE_NORMAL)


# ---- how a call left ---------------------------------------------------------------------------
@router.get("/v1/voice/calls/{session}", dependencies=[Depends(allow(Role.SEAT))], summary="How a phone call left Frontdoor (for the dialplan that takes it back)")
async def call_outcome(session: str, request: Request) -> dict:
    # Read from the database: any worker answers, a chat-only one too (the dialplan's lookup goes through the balancer).
    record = await asyncio.to_thread(request.app.state.services.calls.get, session)
    if record is None:
        raise ApiError(404, "call_not_found", f"no call {session!r} is known; the session is the AudioSocket UUID or the IVR session")
    return {"session": record.session, "protocol": record.protocol, "ended": record.ended_at is not None,
            "outcome": record.outcome, "transfer_to": record.transfer_to, "ticket": record.ticket_number,
            "reason": record.reason, "audio_seconds": record.audio_seconds}
