"""Asterisk's AudioSocket: the phone line over a plain TCP connection from the dialplan.

The dialplan application `AudioSocket(uuid,host:port)` (app_audiosocket, Asterisk 18+; DTMF needs 20.x/21.x/22.x
or newer) connects here and exchanges messages of 1 byte type, 2 bytes payload length (big-endian), payload:
    0x00 terminate (no payload)        either side: the AudioSocket part of the call is over
    0x01 UUID (16 raw bytes)           Asterisk, first: the call id given in the dialplan
    0x03 DTMF (1 ASCII byte)           Asterisk: a key the caller pressed
    0x10 audio                         both ways: signed linear 16-bit little-endian mono 8 kHz, 20 ms = 320 bytes
    0xff error (optional 1-byte code)  either side
Asterisk sends audio continuously (silence included), so a connection that sends nothing for `idle_seconds` is
gone. What Frontdoor says is synthesised here (espeak-ng) and sent back paced in real time: Asterisk plays frames
as they come and keeps no buffer. When the dialogue transfers or ends the call, the last prompt plays out, then
Frontdoor sends 0x00 and closes; the dialplan goes on and asks `GET /v1/voice/calls/{uuid}` where the call goes.

Each uvicorn worker runs its own server on the same port (SO_REUSEPORT): the kernel spreads the calls.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable

from voice.call import Event, Recognised, StopPlayback, VoiceCall
from voice.dialogue import KEYS, Decided, Hangup, Say, Transfer
from voice.services import CallPlace, VoiceServices
from voice.synthesis import Synthesiser, SynthesisError
from api.voice.inbox import Inbox

log = logging.getLogger(__name__)

KIND_TERMINATE, KIND_UUID, KIND_DTMF, KIND_AUDIO, KIND_ERROR = 0x00, 0x01, 0x03, 0x10, 0xFF
HEADER = struct.Struct(">BH")
RATE = 8000                  # AudioSocket() always carries 8 kHz signed linear
FRAME_SECONDS = 0.02
FRAME_BYTES = 320            # 20 ms at 8 kHz, 16-bit
MAX_LAG = 0.2                # a playback this far behind its clock (a stalled loop) restarts the clock, no burst
ERROR_PROTOCOL = 0x80        # our error code (application-specific range): the peer broke the protocol
CLOSE_TIMEOUT = 5.0


def frame(kind: int, payload: bytes = b"") -> bytes:
    """One AudioSocket message."""
    return HEADER.pack(kind, len(payload)) + payload


class _Player:
    """Plays prompts to the caller one after another: synthesised off the loop, sent as 20 ms frames in real time.

    `finished` turns true when everything queued has been played out (the adapter then tells the call)."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]], synthesise: Callable[[str], Awaitable[bytes]],
                 session: str) -> None:
        self._send = send
        self._synthesise = synthesise
        self._session = session
        self._queue: deque[Say] = deque()
        self._current: Say | None = None
        self._task: asyncio.Task | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.finished = False
        self.bytes_sent = 0

    def say(self, say: Say) -> None:
        self._queue.append(say)
        self._idle.clear()
        self.finished = False
        if self._task is None:
            self._task = asyncio.create_task(self._play(), name=f"audiosocket-playback-{self._session}")

    def stop(self) -> None:
        """Barge-in: stop the prompt playing now and forget the queued ones (a prompt without barge-in plays on)."""
        if self._current is not None and not self._current.barge_in:
            self._queue = deque(s for s in self._queue if not s.barge_in)
            return
        self.close()

    def close(self) -> None:
        """Stop playing, whatever is playing."""
        self._queue.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._current = None
        self._idle.set()

    def take_finished(self) -> bool:
        finished, self.finished = self.finished, False
        return finished

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def _play(self) -> None:
        me = asyncio.current_task()
        clock = time.monotonic()   # when the next frame is due
        try:
            while self._queue:
                say = self._current = self._queue.popleft()
                try:
                    pcm = await self._synthesise(say.text)
                except SynthesisError as error:
                    log.error("AudioSocket %s: could not synthesise the %s prompt: %s", self._session, say.purpose, error)
                    pcm = b""
                clock = max(clock, time.monotonic())
                for start in range(0, len(pcm), FRAME_BYTES):
                    delay = clock - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    elif delay < -MAX_LAG:
                        clock = time.monotonic()
                    await self._send(frame(KIND_AUDIO, pcm[start:start + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")))
                    self.bytes_sent += FRAME_BYTES
                    clock += FRAME_SECONDS
                if not self._queue:  # the last frame is being heard; a prompt queued meanwhile plays on
                    await asyncio.sleep(max(0.0, clock - time.monotonic()))
            if self._task is me:
                self.finished = True
        except (ConnectionError, OSError) as error:
            log.debug("AudioSocket %s: playback stopped, the connection is gone (%s)", self._session, error)
        except Exception:
            log.exception("AudioSocket %s: playback failed", self._session)
        finally:
            if self._task is me:
                self._task, self._current = None, None
                self._queue.clear()
                self._idle.set()


class _Connection:
    """One call from Asterisk, from its UUID to the terminate message."""

    def __init__(self, voice: VoiceServices, synthesiser: Synthesiser, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.voice = voice
        self.synthesiser = synthesiser
        self.reader = reader
        self.writer = writer
        self.peer = writer.get_extra_info("peername")
        self.session = "?"
        self.player: _Player | None = None
        self.inbox: Inbox[tuple[int, bytes]] | None = None  # the call's messages, read ahead (api/voice/inbox.py)
        self._unknown: set[int] = set()

    async def run(self) -> None:
        call: VoiceCall | None = None
        place: CallPlace | None = None
        try:
            first = await self._read_first()
            if first is None:
                return
            kind, payload = first
            if kind != KIND_UUID or len(payload) != 16:
                log.warning("AudioSocket connection from %s: the first message must be the call's UUID (type 0x01, "
                            "16 bytes), not type 0x%02x with %d bytes; closing", self.peer, kind, len(payload))
                await self._send(frame(KIND_ERROR, bytes([ERROR_PROTOCOL])))
                return
            self.session = str(uuid.UUID(bytes=payload))
            place = self.voice.admit()
            if place is None:  # full: hand the call straight back; the dialplan queues it for a seat
                await self._send(frame(KIND_TERMINATE))
                return
            self.inbox = Inbox(self._read_message, place.release)
            log.info("AudioSocket call %s from %s", self.session, self.peer)
            call = VoiceCall(self.voice, session=self.session, rate=RATE, protocol="audiosocket",
                             playback_reported=True)
            self.player = _Player(self._send, self._synthesise, self.session)
            self._handle(await call.start())
            if await self._converse(call) and await self._play_out():
                place.release()  # before the dialplan takes the call back: it may send the next one at once
                await self._send(frame(KIND_TERMINATE))
                log.info("AudioSocket call %s: handed back to the dialplan (%s)", self.session, _ending(call))
        except (ConnectionError, OSError) as error:
            log.info("AudioSocket call %s: the connection broke (%s)", self.session, error)
        finally:
            if place is not None:
                place.release()
            if self.inbox is not None:
                await self.inbox.close()
            if self.player is not None:
                self.player.close()
            try:
                if call is not None:
                    await call.close()
            finally:
                await self._close()

    # ---- the dialogue ------------------------------------------------------------------------------
    async def _converse(self, call: VoiceCall) -> bool:
        """Until the dialogue ends (True) or the caller leaves (False)."""
        while not call.ended:
            message = await self._read()
            if message is None:
                return False
            if self.player.take_finished():
                call.played()
            kind, payload = message
            if kind == KIND_AUDIO:
                events = await call.audio(payload)
            elif kind == KIND_DTMF:
                digit = payload.decode("ascii", "replace") if len(payload) == 1 else ""
                if digit not in KEYS or not digit:
                    log.info("AudioSocket call %s: ignored the DTMF message %r (keys are 0-9, * and #)", self.session, payload)
                    continue
                events = await call.key(digit)
            elif kind == KIND_UUID:
                log.info("AudioSocket call %s: ignored a second UUID message", self.session)
                continue
            else:
                self._ignore(kind, len(payload))
                continue
            self._handle(events)
        return True

    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Say):
                self.player.say(event)
            elif isinstance(event, StopPlayback):
                self.player.stop()
            elif isinstance(event, Recognised):
                log.debug("AudioSocket call %s: heard %r (%.2f)", self.session, event.text, event.confidence)
            elif isinstance(event, Decided):
                log.debug("AudioSocket call %s: %s (%s)", self.session, event.decision.kind.value, event.decision.reason)
            else:  # Transfer and Hangup end the dialogue: the adapter sees call.ended; partial results
                log.debug("AudioSocket call %s: %s", self.session, event)

    async def _play_out(self) -> bool:
        """The call is over: let the last prompts finish while the caller's audio is read and dropped.
        False when the caller hangs up (or vanishes) first."""
        listening = asyncio.create_task(self._discard())
        playing = asyncio.create_task(self.player.wait_idle())
        try:
            done, _ = await asyncio.wait({listening, playing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (listening, playing):
                task.cancel()
        return playing in done and listening not in done

    async def _discard(self) -> None:
        while await self._read() is not None:
            pass

    def _ignore(self, kind: int, length: int) -> None:
        level = logging.DEBUG if kind in self._unknown else logging.WARNING
        self._unknown.add(kind)
        log.log(level, "AudioSocket call %s: ignored a message of unknown type 0x%02x (%d bytes)", self.session, kind, length)

    # ---- the connection ------------------------------------------------------------------------------
    async def _read_first(self) -> tuple[int, bytes] | None:
        """The connection's first message (the call's UUID), read before the call takes a place."""
        try:
            return await asyncio.wait_for(self._read_message(), self.voice.idle_seconds)
        except asyncio.TimeoutError:
            log.info("AudioSocket connection from %s: no UUID within %g s; closing", self.peer, self.voice.idle_seconds)
            return None

    async def _read(self) -> tuple[int, bytes] | None:
        """The call's next message; None when the call is over on Asterisk's side or it sent nothing for
        `idle_seconds` (whatever audio is still queued: nobody is on the line to hear the answer)."""
        try:
            return await self.inbox.next(self.voice.idle_seconds)
        except asyncio.TimeoutError:
            log.info("AudioSocket call %s: nothing received for %g s; closing", self.session, self.voice.idle_seconds)
            return None

    async def _read_message(self) -> tuple[int, bytes] | None:
        """The next message off the connection as it arrives; None when the caller hung up (terminate), Asterisk
        reported an error, or the connection closed."""
        try:
            kind, length = HEADER.unpack(await self.reader.readexactly(HEADER.size))
            payload = await self.reader.readexactly(length) if length else b""
        except asyncio.IncompleteReadError as error:
            if error.partial:
                log.info("AudioSocket call %s: the connection closed in the middle of a message", self.session)
            return None
        except (ConnectionError, OSError):
            return None
        if kind == KIND_TERMINATE:
            log.info("AudioSocket call %s: the caller hung up", self.session)
            return None
        if kind == KIND_ERROR:
            log.warning("AudioSocket call %s: Asterisk reported error %s; ending the call", self.session,
                        f"0x{payload[0]:02x}" if payload else "(no code)")
            return None
        return kind, payload

    async def _send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def _synthesise(self, text: str) -> bytes:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.voice.executor, self.synthesiser.synthesise, text, RATE)

    async def _close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), CLOSE_TIMEOUT)


def _ending(call: VoiceCall) -> str:
    if isinstance(call.outcome, Transfer):
        return f"transfer to {call.outcome.to}, ticket {call.ticket_number}"
    if isinstance(call.outcome, Hangup):
        return f"hangup, {call.outcome.reason}"
    return "no outcome"


class AudioSocketServer:
    """Listens for Asterisk's AudioSocket connections; one `VoiceCall` per connection."""

    def __init__(self, voice: VoiceServices, synthesiser: Synthesiser | None, host: str, port: int) -> None:
        if synthesiser is None:
            raise SynthesisError("FRONTDOOR_AUDIOSOCKET_PORT is set, but FRONTDOOR_SYNTHESISER is 'none': AudioSocket "
                                 "callers hear only the audio Frontdoor sends, so it needs a synthesiser. Set "
                                 "FRONTDOOR_SYNTHESISER=espeak (apt-get install espeak-ng), or unset "
                                 "FRONTDOOR_AUDIOSOCKET_PORT")
        self.voice = voice
        self.synthesiser = synthesiser
        self.host = host
        self.port = port
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task] = set()

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where it listens (the real port when 0 was asked for)."""
        if self._server is None:
            return []
        return [s.getsockname()[:2] for s in self._server.sockets]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port, reuse_port=True)
        log.info("AudioSocket: listening on %s", ", ".join(f"{h}:{p}" for h, p in self.addresses))

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop listening and end the calls in progress (each still logs its outcome)."""
        if self._server is None:
            return
        self._server.close()
        calls = list(self._connections)
        for task in calls:
            task.cancel()
        if calls:
            await asyncio.wait(calls, timeout=timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), timeout)
        self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        try:
            await _Connection(self.voice, self.synthesiser, reader, writer).run()
        except asyncio.CancelledError:  # stop(): the call was ended and logged; nothing is waiting on this task
            log.info("AudioSocket connection from %s ended: the server is stopping", writer.get_extra_info("peername"))
        except Exception:
            log.exception("AudioSocket connection from %s failed", writer.get_extra_info("peername"))
        finally:
            self._connections.discard(task)
