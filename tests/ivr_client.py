"""A telephony platform's side of the IVR WebSocket, for tests: streams audio, presses keys, reads what comes back."""
from __future__ import annotations

import json
import queue
import threading
import time
import wave
from pathlib import Path

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


def read_pcm(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes()), w.getframerate()


class IvrCall:
    """One call. Audio goes out in 20 ms frames, faster than real time (the server's clock is the audio)."""

    def __init__(self, url: str, *, rate: int = 8000, encoding: str = "pcm_s16le", start: dict | None = None,
                 open_timeout: float = 30) -> None:
        self.rate = rate
        self.received: list[dict] = []
        self.close_code: int | None = None
        self._inbox: queue.Queue = queue.Queue()
        self._ws = connect(url, open_timeout=open_timeout, max_size=2**22).__enter__()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if start is not False:
            self.send_json({"type": "start", "sample_rate": rate, "encoding": encoding, **(start or {})})

    def _read(self) -> None:
        try:
            for message in self._ws:
                self._inbox.put(json.loads(message))
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self._ws.close_code
            self._inbox.put(None)

    @property
    def frame_bytes(self) -> int:
        return self.rate // 50 * 2

    def send_json(self, message: dict) -> None:
        """Sends; a connection the server already closed is left to `received` and `close_code` to tell."""
        try:
            self._ws.send(json.dumps(message, ensure_ascii=False))
        except ConnectionClosed:
            pass

    def send_bytes(self, data: bytes) -> None:
        self._ws.send(data)

    def audio(self, pcm: bytes, pause: float = 0.001) -> None:
        for start in range(0, len(pcm), self.frame_bytes):
            try:
                self._ws.send(pcm[start:start + self.frame_bytes])
            except ConnectionClosed:
                return
            time.sleep(pause)

    def silence(self, seconds: float) -> None:
        self.audio(b"\0" * (int(seconds * 50) * self.frame_bytes))

    def key(self, digit: str) -> None:
        self.send_json({"type": "dtmf", "digit": digit})

    def wait_for(self, kind: str, timeout: float = 60, **match) -> dict:
        """The next message of `kind` (earlier ones are kept in `received`); fails after `timeout` s."""
        deadline = time.monotonic() + timeout
        for message in self.received:
            if message.get("type") == kind and all(message.get(k) == v for k, v in match.items()) and not message.get("_seen"):
                message["_seen"] = True
                return message
        while time.monotonic() < deadline:
            try:
                message = self._inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            if message is None:
                self._inbox.put(None)
                break
            self.received.append(message)
            if message.get("type") == kind and all(message.get(k) == v for k, v in match.items()):
                message["_seen"] = True
                return message
        raise AssertionError(f"no {kind} {match or ''} within {timeout} s; got {[m.get('type') for m in self.received]}")

    def drain(self, seconds: float = 0.5) -> list[dict]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                message = self._inbox.get(timeout=0.05)
            except queue.Empty:
                continue
            if message is None:
                self._inbox.put(None)
                break
            self.received.append(message)
        return self.received

    def types(self) -> list[str]:
        return [m.get("type") for m in self.received]

    def wait_closed(self, timeout: float = 30) -> int | None:
        self._reader.join(timeout)
        return self.close_code

    def close(self) -> None:
        self._ws.close()
        self._reader.join(5)

    def __enter__(self) -> IvrCall:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
