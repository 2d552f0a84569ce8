"""Asterisk's side of an AudioSocket connection, for tests: sends the call's UUID, audio and keys; collects what
comes back (audio, the terminate message, errors, the close)."""
from __future__ import annotations

import asyncio
import struct
import time
import uuid
import wave
from dataclasses import dataclass, field
from pathlib import Path

TERMINATE, UUID, DTMF, AUDIO, ERROR = 0x00, 0x01, 0x03, 0x10, 0xFF
FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit mono


def read_pcm(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 8000 and w.getsampwidth() == 2 and w.getnchannels() == 1, path
        return w.readframes(w.getnframes())


def message(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack(">BH", kind, len(payload)) + payload


def peak(pcm: bytes) -> int:
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2])
    return max((abs(s) for s in samples), default=0)


@dataclass
class Received:
    audio_bytes: int = 0
    audio_peak: int = 0
    audio_times: list[float] = field(default_factory=list)   # monotonic arrival of each audio message
    terminated_at: float | None = None                       # the 0x00 message
    errors: list[bytes] = field(default_factory=list)         # payloads of 0xff messages
    other: list[int] = field(default_factory=list)            # types of anything else
    closed_at: float | None = None                            # end of stream


class AudioSocketCall:
    """One connection, as Asterisk's AudioSocket() makes it. Audio goes out faster than real time by default."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, call_id: uuid.UUID) -> None:
        self.reader, self.writer, self.call_id = reader, writer, call_id
        self.received = Received()
        self.closed = asyncio.Event()
        self._reading = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1", *, call_id: uuid.UUID | None = None,
                      send_uuid: bool = True) -> AudioSocketCall:
        reader, writer = await asyncio.open_connection(host, port)
        call = cls(reader, writer, call_id or uuid.uuid4())
        if send_uuid:
            await call.send(UUID, call.call_id.bytes)
        return call

    @property
    def session(self) -> str:
        return str(self.call_id)

    async def _read(self) -> None:
        try:
            while True:
                kind, length = struct.unpack(">BH", await self.reader.readexactly(3))
                payload = await self.reader.readexactly(length) if length else b""
                now = time.monotonic()
                if kind == AUDIO:
                    self.received.audio_bytes += len(payload)
                    self.received.audio_peak = max(self.received.audio_peak, peak(payload))
                    self.received.audio_times.append(now)
                elif kind == TERMINATE:
                    self.received.terminated_at = now
                elif kind == ERROR:
                    self.received.errors.append(payload)
                else:
                    self.received.other.append(kind)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.received.closed_at = time.monotonic()
            self.closed.set()

    # ---- sending -------------------------------------------------------------------------------------
    async def send_raw(self, data: bytes) -> bool:
        """False when the server has closed the connection."""
        if self.writer.is_closing():
            return False
        try:
            self.writer.write(data)
            await self.writer.drain()
            return True
        except ConnectionError:
            return False

    async def send(self, kind: int, payload: bytes = b"") -> bool:
        return await self.send_raw(message(kind, payload))

    async def audio(self, pcm: bytes, pause: float = 0.002) -> None:
        for start in range(0, len(pcm), FRAME_BYTES):
            if self.closed.is_set() or not await self.send(AUDIO, pcm[start:start + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")):
                return
            await asyncio.sleep(pause)

    async def silence(self, seconds: float, pause: float = 0.002) -> None:
        await self.audio(b"\0" * (round(seconds * 50) * FRAME_BYTES), pause)

    async def dtmf(self, digit: str) -> bool:
        return await self.send(DTMF, digit.encode("ascii"))

    async def hangup(self) -> None:
        await self.send(TERMINATE)
        await self.close()

    async def close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 5)
        except (asyncio.TimeoutError, ConnectionError):
            pass
        self._reading.cancel()
        try:
            await self._reading
        except asyncio.CancelledError:
            pass

    # ---- waiting -------------------------------------------------------------------------------------
    async def wait_closed(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def wait_for_audio(self, timeout: float, min_peak: int = 1000, pace: float = 0.02) -> bool:
        """Streams silence in real time until audio louder than `min_peak` has come back."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.closed.is_set():
            if self.received.audio_peak >= min_peak:
                return True
            await self.audio(b"\0" * FRAME_BYTES, 0)
            await asyncio.sleep(pace)
        return self.received.audio_peak >= min_peak

    async def keep_line_open(self, until, timeout: float) -> bool:
        """Streams silence in real time, as Asterisk does, until `until()` holds or the connection closes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.closed.is_set():
            if until():
                return True
            await self.audio(b"\0" * FRAME_BYTES, 0)
            await asyncio.sleep(0.02)
        return until()

    async def wait_for_new_prompt(self, after: float, timeout: float, gap: float = 0.5) -> bool:
        """Streams silence in real time until a prompt starts after `after`: audio that follows at least `gap` s
        without audio (or the first audio at all after `after`). True also when the server ends the call."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.closed.is_set():
            if self.received.terminated_at is not None:
                return True
            times = self.received.audio_times
            previous = max((t for t in times if t < after), default=float("-inf"))
            for t in times:
                if t < after:
                    continue
                if t - previous >= gap:
                    return True
                previous = t
            await self.audio(b"\0" * FRAME_BYTES, 0)
            await asyncio.sleep(0.02)
        return self.received.terminated_at is not None or self.closed.is_set()

    async def __aenter__(self) -> AudioSocketCall:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
