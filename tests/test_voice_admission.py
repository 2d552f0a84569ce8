"""A worker's places for calls (FRONTDOOR_VOICE_MAX_CALLS): a caller who hangs up frees the place at once.

The in-process app with a phone line whose recogniser is a stand-in: admission is the point here, not speech.
A busy worker (every recognition thread taken) is made by holding the voice thread pool's only thread, so that
the calls' audio waits, as it does on a worker that has fallen behind real time."""
from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from voice.listener import Listening
from voice.services import VoiceServices

PLACES = 3
FRAME = bytes(320)  # 20 ms of 8 kHz silence


class _Stream:
    def accept(self, pcm: bytes) -> None:
        pass

    def partial(self) -> str:
        return ""

    def finish(self):
        from models.asr import Recognition

        return Recognition(())

    def close(self) -> None:
        pass


class _Recogniser:
    def stream(self, rate: int, bias=None) -> _Stream:
        return _Stream()


@pytest.fixture
def phone_line(inprocess, monkeypatch):
    """The in-process app with PLACES places for calls and one recognition thread."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-voice")
    voice = VoiceServices(_Recogniser(), inprocess.services.engine, executor, Listening(), None, inprocess.services.calls,
                          idle_seconds=30, start_seconds=5, max_calls=PLACES)
    monkeypatch.setattr(inprocess.services, "voice", voice)
    yield voice
    executor.shutdown(wait=False, cancel_futures=True)


@contextlib.contextmanager
def busy(voice: VoiceServices):
    """Every recognition thread taken until the block ends: audio that arrives meanwhile waits."""
    release = threading.Event()
    voice.executor.submit(release.wait, 30)
    try:
        yield
    finally:
        release.set()


def open_call(inprocess, stack: contextlib.ExitStack) -> tuple[object, dict]:
    """A call opened with `start`: the connection and the first thing the worker said."""
    ws = stack.enter_context(inprocess.client.websocket_connect("/v1/ivr"))
    ws.send_json({"type": "start", "sample_rate": 8000})
    return ws, ws.receive_json()


def test_callers_who_hung_up_on_a_busy_worker_leave_their_places_to_the_next_callers(inprocess, phone_line):
    with contextlib.ExitStack() as stack:
        first = [open_call(inprocess, stack) for _ in range(PLACES)]
        assert [said["type"] for _, said in first] == ["started"] * PLACES
        for ws, _ in first:
            ws.receive_json()  # the greeting: the call is under way
        with busy(phone_line):
            for ws, _ in first:  # each caller's last audio is still waiting for recognition when they hang up
                for _ in range(25):
                    ws.send_bytes(FRAME)
                ws.close(1000)
            following = [said for _, said in (open_call(inprocess, stack) for _ in range(PLACES))]
        assert [said["type"] for said in following] == ["started"] * PLACES, following


class _Synthesiser:
    def synthesise(self, text: str, rate: int) -> bytes:
        return bytes(rate // 5 * 2)  # 200 ms of silence


def test_asterisk_callers_who_hung_up_on_a_busy_worker_leave_their_places_to_the_next_callers(phone_line):
    from api.voice.audiosocket import AudioSocketServer
    from audiosocket_client import AUDIO, AudioSocketCall

    async def scenario() -> list[bool]:
        server = AudioSocketServer(phone_line, _Synthesiser(), "127.0.0.1", 0)
        await server.start()
        port = server.addresses[0][1]
        try:
            first = [await AudioSocketCall.connect(port) for _ in range(PLACES)]
            for call in first:  # the greeting: the call is under way
                while not call.received.audio_bytes:
                    await asyncio.sleep(0.05)
            with busy(phone_line):
                for call in first:  # each caller's last audio is still waiting for recognition when they hang up
                    for _ in range(25):
                        await call.send(AUDIO, FRAME)
                    await call.hangup()
                following = [await AudioSocketCall.connect(port) for _ in range(PLACES)]
                turned_away = [await call.wait_closed(1.0) for call in following]  # a full worker hangs up at once
            for call in following:
                await call.close()
            return turned_away
        finally:
            await server.stop()

    assert asyncio.run(asyncio.wait_for(scenario(), 60)) == [False] * PLACES
