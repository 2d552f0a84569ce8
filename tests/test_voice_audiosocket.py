"""Asterisk's AudioSocket, against a real server process: tests/audiosocket_client.py plays Asterisk's side.

The service's knowledge base is a slice of a public COVID FAQ that the recorded questions in
../shared/eval/spoken/covid-faq ask about (q000: faq-29, q001: faq-13); voice timeouts are short so that the
tests of silence are quick."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import SPOKEN, _free_port
from audiosocket_client import AUDIO, DTMF, FRAME_BYTES, UUID, AudioSocketCall, message, read_pcm

pytestmark = pytest.mark.models

WUHAN = SPOKEN / "wav8k" / "q000.wav"      # 我曾经去过武汉，回来要怎么做 (faq-29)
TREATMENT = SPOKEN / "wav8k" / "q001.wav"  # 新冠可以治疗吗？ (faq-13)
IDLE_SECONDS = 3  # conftest.voice_server's FRONTDOOR_VOICE_IDLE_SECONDS


@dataclass(frozen=True)
class Line:
    base: str
    port: int          # AudioSocket
    data_dir: Path
    seat: dict         # the dialplan's (a seat account's) Authorization header

    def record(self, session: str, timeout: float = 15) -> dict:
        """GET /v1/voice/calls/{session} once the call has ended."""
        deadline = time.monotonic() + timeout
        while True:
            response = httpx.get(f"{self.base}/v1/voice/calls/{session}", headers=self.seat, timeout=10)
            if response.status_code == 200 and response.json()["ended"] or time.monotonic() > deadline:
                assert response.status_code == 200, response.text
                return response.json()
            time.sleep(0.2)


@pytest.fixture(scope="module")
def line(voice_server):
    """The voice service (conftest.voice_server: the COVID FAQ, AudioSocket on, short voice timeouts)."""
    return Line(voice_server.base, voice_server.audiosocket_port, voice_server.data_dir, voice_server.headers("seat"))


def run(scenario):
    return asyncio.run(asyncio.wait_for(scenario, timeout=240))


def greeting_bytes() -> int:
    """How long the whole greeting is, as the server synthesises it (the same text, the same synthesiser)."""
    from voice.synthesis import EspeakSynthesiser
    from assistant.rules import load_rules

    return len(EspeakSynthesiser().synthesise(load_rules().reply("ivr", "greeting"), 8000))


# ---- without a server ------------------------------------------------------------------------------
def test_audiosocket_needs_a_synthesiser():
    from api.voice.audiosocket import AudioSocketServer
    from voice.synthesis import SynthesisError

    with pytest.raises(SynthesisError, match="FRONTDOOR_SYNTHESISER"):
        AudioSocketServer(object(), None, "127.0.0.1", 0)


def test_several_workers_can_listen_on_one_port():
    from api.voice.audiosocket import AudioSocketServer

    async def scenario():
        port = _free_port()
        servers = [AudioSocketServer(object(), object(), "127.0.0.1", port) for _ in range(2)]
        for server in servers:
            await server.start()
        try:
            assert [s.addresses for s in servers] == [[("127.0.0.1", port)]] * 2
        finally:
            for server in servers:
                await server.stop()

    run(scenario())


# ---- calls -----------------------------------------------------------------------------------------
def test_a_call_hears_the_greeting(line):
    async def scenario():
        async with await AudioSocketCall.connect(line.port) as call:
            started = time.monotonic()
            assert await call.wait_for_audio(timeout=20), "no greeting within 20 s"
            waited = time.monotonic() - started
            await call.hangup()
            return call, waited

    call, waited = run(scenario())
    assert call.received.audio_bytes >= FRAME_BYTES and call.received.audio_peak >= 1000 and waited < 20
    record = line.record(call.session)
    assert record["protocol"] == "audiosocket" and record["outcome"] == "caller_hung_up"


def test_a_spoken_question_then_zero_reaches_a_seat_and_the_dialplan_learns_where(line):
    async def scenario():
        async with await AudioSocketCall.connect(line.port) as call:
            assert await call.wait_for_audio(timeout=20)  # the greeting is playing: the question barges in
            await call.audio(read_pcm(WUHAN))
            await call.silence(1.5)
            asked = time.monotonic()
            # the answer (or a clarification) begins after the greeting stopped; a handoff ends the call at once
            assert await call.wait_for_new_prompt(asked, timeout=60), "nothing came back after the question"
            for _ in range(4):  # 0 at an answer is a person; at a clarification "none of these"
                if call.received.terminated_at is not None or call.closed.is_set():
                    break
                await call.dtmf("0")
                await call.keep_line_open(lambda: call.received.terminated_at is not None, timeout=8)
            await call.keep_line_open(lambda: call.received.terminated_at is not None, timeout=60)
            assert await call.wait_closed(10), "the server did not close after terminating"
            return call

    call = run(scenario())
    assert call.received.terminated_at is not None, "no terminate message"
    assert call.received.audio_peak >= 1000 and not call.received.errors
    record = line.record(call.session)
    assert record["ended"] and record["outcome"] == "transfer" and record["transfer_to"] == "seat", record
    assert record["ticket"] and record["audio_seconds"] > 3
    ticket = httpx.get(f"{line.base}/v1/tickets/{record['ticket']}", headers=line.seat,
                       timeout=10).json()
    assert ticket["channel"] == "voice", ticket
    spoken = [t for t in ticket["transcript"] if "武汉" in (t.get("text") or "")]
    assert spoken, ticket["transcript"]
    assert spoken[0]["asr_confidence"] is not None
    assert ticket["asr_confidence"] is not None or any(t.get("asr_confidence") is not None for t in ticket["transcript"])


def test_speaking_over_the_greeting_stops_it(line):
    full = greeting_bytes()
    full_seconds = full / 16000

    async def scenario():
        async with await AudioSocketCall.connect(line.port) as call:
            await call.audio(read_pcm(TREATMENT))  # at once, over the greeting (q001 is speech to its last frame)
            # keep the line open for longer than the whole greeting, without ending the utterance: one 20 ms
            # frame a second stays far below the 700 ms of silence that would end it (and bring an answer)
            until = time.monotonic() + full_seconds + 5
            while time.monotonic() < until and not call.closed.is_set():
                await call.silence(0.02)
                await asyncio.sleep(1.0)
            still_open = not call.closed.is_set()
            received = call.received.audio_bytes
            await call.hangup()
            return received, still_open

    received, still_open = run(scenario())
    assert still_open, "the server closed the call"
    assert full > 16000 * 5  # the greeting is long: many seconds
    assert received < full * 0.5, f"{received} of {full} greeting bytes came back after the caller spoke over it"


# ---- bad input: an error or a clean close, and the next call still works ----------------------------------
def test_audio_before_the_uuid_is_an_error(line):
    async def scenario():
        async with await AudioSocketCall.connect(line.port, send_uuid=False) as call:
            await call.send(AUDIO, b"\0" * FRAME_BYTES)
            assert await call.wait_closed(10)
            return call

    call = run(scenario())
    assert len(call.received.errors) == 1 and len(call.received.errors[0]) == 1
    assert call.received.audio_bytes == 0 and call.received.terminated_at is None


def test_a_message_cut_short_leaves_the_server_working(line):
    async def scenario():
        async with await AudioSocketCall.connect(line.port) as cut:
            await cut.silence(0.2)
            await cut.send_raw(bytes([AUDIO, 0x01]))  # two bytes of a three-byte header, then gone
        async with await AudioSocketCall.connect(line.port) as call:
            assert await call.wait_for_audio(timeout=20)
            await call.dtmf("0")
            await call.keep_line_open(lambda: call.received.terminated_at is not None, timeout=60)
            assert await call.wait_closed(10)
            return cut, call

    cut, call = run(scenario())
    assert line.record(cut.session)["outcome"] == "caller_hung_up"
    assert call.received.terminated_at is not None
    record = line.record(call.session)
    assert record["outcome"] == "transfer" and record["reason"] == "pressed_for_human" and record["ticket"]
    assert httpx.get(f"{line.base}/healthz", timeout=10).status_code == 200


def test_a_silent_connection_is_closed_after_the_idle_time(line):
    async def scenario():
        async with await AudioSocketCall.connect(line.port) as call:
            await call.silence(0.1)
            quiet_since = time.monotonic()
            closed = await call.wait_closed(IDLE_SECONDS + 15)
            return call, closed, time.monotonic() - quiet_since

    call, closed, after = run(scenario())
    assert closed and after < IDLE_SECONDS + 15, after
    assert after >= IDLE_SECONDS - 0.5, after
    assert line.record(call.session)["outcome"] == "caller_hung_up"


def test_unknown_messages_are_ignored_and_the_call_goes_on(line):
    async def scenario():
        async with await AudioSocketCall.connect(line.port) as call:
            await call.send_raw(message(0x42, b"xyz") + message(0x02, b"\x01\x35\0\0\0\0") + message(0x7F))
            await call.send(DTMF, b"A")       # not a telephone key
            await call.send(DTMF, b"12")      # not one key
            await call.send(UUID, call.call_id.bytes)  # a second UUID
            assert await call.wait_for_audio(timeout=20)
            await call.dtmf("0")
            await call.keep_line_open(lambda: call.received.terminated_at is not None, timeout=60)
            assert await call.wait_closed(10)
            return call

    call = run(scenario())
    assert call.received.terminated_at is not None and not call.received.errors
    record = line.record(call.session)
    assert record["outcome"] == "transfer" and record["reason"] == "pressed_for_human"


def test_a_full_worker_hands_the_call_straight_back_to_the_dialplan(line, voice_server):
    from ivr_client import IvrCall

    busy = [IvrCall(f"{voice_server.ws}/v1/ivr") for _ in range(3)]  # FRONTDOOR_VOICE_MAX_CALLS=3
    try:
        for other in busy:
            other.drain(0.3)

        async def scenario():
            async with await AudioSocketCall.connect(line.port) as call:
                assert await call.wait_closed(10)
                return call

        call = run(scenario())
        assert call.received.terminated_at is not None and call.received.audio_bytes == 0
    finally:
        for other in busy:
            other.close()
    assert httpx.get(f"{line.base}/v1/voice/calls/{call.session}", headers=line.seat).status_code == 404  # the dialplan queues it
