"""The phone line over WebSockets, against a real server: the IVR dialogue and vosk-server's protocol.

The recorded questions are real audio from ../shared/eval/spoken/covid-faq (a neural Mandarin voice at 8 kHz),
asked of a service whose knowledge base is that FAQ."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import httpx
import pytest
from websockets.sync.client import connect

from conftest import SPOKEN
from ivr_client import IvrCall, read_pcm

pytestmark = pytest.mark.models

WUHAN = SPOKEN / "wav8k" / "q000.wav"      # 我曾经去过武汉，回来要怎么做 (faq-29)
TREATMENT = SPOKEN / "wav8k" / "q001.wav"  # 新冠可以治疗吗？ (faq-13)


def ivr(server, **start) -> IvrCall:
    return IvrCall(f"{server.ws}/v1/ivr", start=start)


def seat(server) -> dict:
    return {"Authorization": f"Bearer {server.seat_token}"}


def test_a_spoken_question_is_heard_while_spoken_answered_and_the_call_ends_politely(voice_server):
    pcm, _ = read_pcm(WUHAN)
    with ivr(voice_server, caller="13800000000") as call:
        session = call.wait_for("started")["session"]
        greeting = call.wait_for("prompt", purpose="greeting")
        assert "按零" in greeting["text"] and ET.fromstring(greeting["ssml"]).tag == "speak"
        call.send_json({"type": "played"})
        call.silence(0.5)
        call.audio(pcm)
        call.silence(1.5)
        assert call.wait_for("partial")["text"]
        recognised = call.wait_for("recognised")
        assert "武汉" in recognised["text"] and 0 < recognised["confidence"] <= 1 and recognised["alternatives"]
        decision = call.wait_for("decision")
        if decision["kind"] == "clarify":  # the caller picks the right choice with a key
            number = next(c["number"] for c in decision["choices"] if c["entry_id"] == "faq-29")
            call.wait_for("prompt", purpose="clarify")
            call.key(str(number))
            decision = call.wait_for("decision")
        assert decision["kind"] == "answer" and decision["entry_id"] == "faq-29"
        answer = call.wait_for("prompt", purpose="answer")
        assert "转人工请按一" in answer["text"] and "http" not in answer["text"]
        call.send_json({"type": "played"})
        call.silence(2.5)  # no other question
        assert call.wait_for("prompt", purpose="goodbye")["barge_in"] is False
        assert call.wait_for("hangup")["reason"] == "caller_done"
        assert call.wait_closed() == 1000
    record = httpx.get(f"{voice_server.base}/v1/voice/calls/{session}", headers=seat(voice_server)).json()
    assert record["outcome"] == "hangup" and record["ended"] and record["audio_seconds"] > 4


def test_speaking_over_the_greeting_stops_it(voice_server):
    pcm, _ = read_pcm(TREATMENT)
    with ivr(voice_server) as call:
        call.wait_for("prompt", purpose="greeting")
        call.audio(pcm)
        call.silence(1.5)
        call.wait_for("recognised")
        types = call.types()
        assert types.index("stop_playback") < types.index("recognised")


def test_keys_reach_a_seat_whose_ticket_holds_the_spoken_question_and_its_confidence(voice_server):
    pcm, _ = read_pcm(TREATMENT)
    with ivr(voice_server, caller="13900000000", region="湖北省/武汉市") as call:
        call.wait_for("prompt", purpose="greeting")
        call.audio(pcm)
        call.silence(1.5)
        heard = call.wait_for("recognised")["text"]
        call.wait_for("decision")
        transfer = None
        for _ in range(4):  # after an answer 1 is a person; at a clarification 0 means "none of these"
            last = [m for m in call.drain(0.3) if m.get("type") == "decision"][-1]
            call.key("1" if last["kind"] == "answer" else "0")
            call.silence(0.3)
            messages = call.drain(1.0)
            transfer = next((m for m in messages if m.get("type") == "transfer"), None)
            if transfer:
                break
        assert transfer and transfer["to"] == "seat" and transfer["ticket"]
        handoff = [m for m in call.received if m.get("type") == "prompt" and m.get("purpose") == "handoff"]
        assert handoff and handoff[0]["barge_in"] is False
    ticket = httpx.get(f"{voice_server.base}/v1/tickets/{transfer['ticket']}", headers=seat(voice_server)).json()
    assert ticket["channel"] == "voice" and ticket["caller"] == "13900000000"
    assert any(t["text"] == heard for t in ticket["transcript"])
    assert ticket["asr_confidence"] is not None or any(t.get("asr_confidence") for t in ticket["transcript"])


def test_silence_is_reprompted_then_handed_to_a_seat(voice_server):
    with ivr(voice_server) as call:
        call.wait_for("prompt", purpose="greeting")
        for _ in range(2):
            call.send_json({"type": "played"})
            call.silence(2.5)
            assert "没有听到" in call.wait_for("prompt", purpose="reprompt")["text"]
        call.send_json({"type": "played"})
        call.silence(2.5)
        transfer = call.wait_for("transfer")
        assert transfer["reason"] == "no_input" and transfer["ticket"]


def test_a_key_at_the_greeting_reaches_a_person_at_once(voice_server):
    with ivr(voice_server) as call:
        call.wait_for("prompt", purpose="greeting")
        call.key("0")
        assert call.wait_for("transfer")["reason"] == "pressed_for_human"
        assert call.wait_closed() == 1000


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_g711_audio_is_recognised(voice_server, encoding):
    from voice.audio import encode_alaw, encode_mulaw

    pcm, _ = read_pcm(WUHAN)
    encoded = encode_mulaw(pcm) if encoding == "mulaw" else encode_alaw(pcm)
    with IvrCall(f"{voice_server.ws}/v1/ivr", encoding=encoding) as call:
        call.wait_for("prompt", purpose="greeting")
        silence = encode_mulaw(b"\0" * 32000) if encoding == "mulaw" else encode_alaw(b"\0" * 32000)
        for start in range(0, len(encoded), 160):  # 20 ms of G.711 is 160 bytes
            call.send_bytes(encoded[start:start + 160])
        call.send_bytes(silence)
        assert "武汉" in call.wait_for("recognised")["text"]


def test_a_16k_call_is_recognised(voice_server):
    pcm, rate = read_pcm(SPOKEN / "wav16k" / "q000.wav")
    assert rate == 16000
    with IvrCall(f"{voice_server.ws}/v1/ivr", rate=16000) as call:
        call.wait_for("prompt", purpose="greeting")
        call.audio(pcm)
        call.silence(1.5)
        assert "武汉" in call.wait_for("recognised")["text"]


# ---- bad input: a clear error, a clean close, and the next call still works ------------------------
def _refused(call: IvrCall) -> dict:
    call.drain(2)
    errors = [m for m in call.received if "error" in m]
    assert errors, call.received
    return errors[0]


@pytest.mark.parametrize("start, words", [
    ({"type": "start", "sample_rate": 44100}, "8000"),
    ({"type": "start", "sample_rate": 8000, "encoding": "mp3"}, "mulaw"),
    ({"type": "begin"}, '"type": "start"'),
    ({"type": "start", "session": "no spaces allowed"}, "session"),
    ({"type": "start", "session": "wx:oWx-someone-else"}, "session"),  # a WeChat citizen's conversation
])
def test_a_bad_start_is_refused_saying_what_to_send(voice_server, start, words):
    with IvrCall(f"{voice_server.ws}/v1/ivr", start=False) as call:
        call.send_json(start)
        error = _refused(call)
        assert error["error"] == "protocol" and words in error["message"]
        assert call.wait_closed() == 1008


def test_audio_before_the_start_and_bad_keys_are_refused(voice_server):
    with IvrCall(f"{voice_server.ws}/v1/ivr", start=False) as call:
        call.send_bytes(b"\0" * 320)
        assert "first message" in _refused(call)["message"]
    with ivr(voice_server) as call:
        call.wait_for("prompt", purpose="greeting")
        call.send_json({"type": "dtmf", "digit": "A"})
        assert "0-9" in _refused(call)["message"]


def test_an_oversized_message_and_a_silent_client_are_closed(voice_server):
    with ivr(voice_server) as call:
        call.wait_for("prompt", purpose="greeting")
        call.send_bytes(b"\0" * (300 * 1024))
        error = _refused(call)
        assert error["error"] == "too_large" and call.wait_closed() == 1009
    with ivr(voice_server) as call:  # FRONTDOOR_VOICE_IDLE_SECONDS=3 on this server
        call.wait_for("prompt", purpose="greeting")
        assert call.wait_for("error", timeout=20)["error"] == "timeout"


def test_a_caller_who_vanishes_mid_sentence_leaves_the_line_working(voice_server):
    pcm, _ = read_pcm(WUHAN)
    call = ivr(voice_server)
    call.wait_for("prompt", purpose="greeting")
    call.audio(pcm[: len(pcm) // 2])
    call.close()
    with ivr(voice_server) as call:
        call.wait_for("prompt", purpose="greeting")
        call.audio(pcm)
        call.silence(1.5)
        assert "武汉" in call.wait_for("recognised")["text"]


def test_a_worker_that_is_full_turns_a_call_away_and_takes_the_next_once_one_ends(voice_server):
    calls = [ivr(voice_server) for _ in range(5)]  # FRONTDOOR_VOICE_MAX_CALLS=3 on this server
    try:
        for call in calls:
            call.drain(0.3)
        taken = [c for c in calls if any(m.get("type") == "prompt" for m in c.drain(0.2))]
        refused = [m for c in calls for m in c.received if m.get("type") == "error"]
        assert 1 <= len(taken) <= 3 and refused
        assert all(m["error"] == "busy" and "seat" in m["message"] for m in refused)
    finally:
        for call in calls:
            call.close()
    for _ in range(20):  # the server notices the hang-ups within moments
        with ivr(voice_server) as call:
            if any(m.get("type") == "prompt" for m in call.drain(0.5)):
                return
    pytest.fail("no call was taken after the others hung up")


def test_a_call_cannot_take_over_another_channels_conversation(voice_server):
    import httpx

    chat = httpx.post(f"{voice_server.base}/v1/chat", json={"text": "核酸检测点在哪里"}, timeout=60).json()
    with IvrCall(f"{voice_server.ws}/v1/ivr", start={"session": chat["session"]}) as call:
        error = _refused(call)
        assert error["error"] == "protocol" and "exists already" in error["message"]


def test_connections_that_never_start_a_call_do_not_lock_callers_out(voice_server):
    silent = [IvrCall(f"{voice_server.ws}/v1/ivr", start=False) for _ in range(5)]  # more than MAX_CALLS=3
    try:
        with ivr(voice_server) as call:
            assert call.wait_for("prompt", purpose="greeting", timeout=20)
        for connection in silent:  # FRONTDOOR_VOICE_START_SECONDS=2 on this server
            assert connection.wait_for("error", timeout=20)["error"] == "timeout"
    finally:
        for connection in silent:
            connection.close()


# ---- vosk-server's protocol -----------------------------------------------------------------------
def _vosk(server, pcm: bytes, config: dict | None, chunk: int = 8000) -> list[dict]:
    replies = []
    with connect(f"{server.ws}/v1/asr", open_timeout=30) as ws:
        if config is not None:
            ws.send(json.dumps({"config": config}))
        for start in range(0, len(pcm), chunk):
            ws.send(pcm[start:start + chunk])
            replies.append(json.loads(ws.recv(timeout=30)))
        ws.send('{"eof" : 1}')
        replies.append(json.loads(ws.recv(timeout=30)))
    return replies


def test_a_vosk_client_gets_partials_and_a_final_result(voice_server):
    pcm, _ = read_pcm(WUHAN)
    replies = _vosk(voice_server, pcm + b"\0" * 16000, {"sample_rate": 8000})
    assert any(r.get("partial") for r in replies)
    texts = "".join(r.get("text", "") for r in replies).replace(" ", "")
    assert "武汉" in texts
    said = next(r for r in replies if r.get("text"))
    assert {"word", "start", "end", "conf"} <= set(said["result"][0])  # words on, as vosk-server's default
    assert "text" in replies[-1]


def test_a_vosk_client_without_config_and_with_alternatives(voice_server):
    pcm, _ = read_pcm(WUHAN)
    assert "武汉" in "".join(r.get("text", "") for r in _vosk(voice_server, pcm, None)).replace(" ", "")
    final = _vosk(voice_server, pcm, {"sample_rate": 8000, "max_alternatives": 3})[-1]
    assert 1 <= len(final["alternatives"]) <= 3


@pytest.mark.parametrize("message, words", [
    (json.dumps({"config": {"sample_rate": 11025}}), "8000"),
    ("hello", "JSON"),
    (json.dumps({"config": {"max_alternatives": "many"}}), "max_alternatives"),
])
def test_a_vosk_client_with_a_bad_message_is_told_what_is_wrong(voice_server, message, words):
    with connect(f"{voice_server.ws}/v1/asr", open_timeout=30) as ws:
        ws.send(message)
        reply = json.loads(ws.recv(timeout=30))
        assert reply["error"] == "protocol" and words in reply["message"]


# ---- a 诉求 taken down on the phone: the platform's own recognition as text, keys for the rest ------------------
def said(call: IvrCall, text: str) -> None:
    """The platform's own recogniser heard the caller say `text`."""
    call.send_json({"type": "text", "text": text, "confidence": 0.9})


def test_a_complaint_is_taken_down_on_the_phone_confirmed_with_one_and_handed_to_a_seat(voice_server):
    with ivr(voice_server, caller="13900002222", region="江苏省/南京市") as call:
        call.wait_for("prompt", purpose="greeting")
        said(call, "我要投诉隔壁装修噪音")
        assert call.wait_for("decision")["kind"] == "intake"
        said(call, "鼓楼区中山路十八号，昨天晚上开始的")
        readback = call.wait_for("prompt", purpose="intake")
        while "按一" not in readback["text"]:
            readback = call.wait_for("prompt", purpose="intake")
        assert "一三九零零零零二二二二" in readback["text"] and "中山路" in readback["text"]
        call.key("1")
        transfer = call.wait_for("transfer")
    assert transfer["to"] == "seat" and transfer["reason"] == "intake" and transfer["ticket"]
    ticket = httpx.get(f"{voice_server.base}/v1/tickets/{transfer['ticket']}", headers=seat(voice_server)).json()
    assert ticket["caller"] == "13900002222" and ticket["details"]["confirmed"] is True
    assert "中山路" in ticket["details"]["where"] and ticket["details"]["type"] == "投诉"


def test_a_caller_without_a_number_keys_one_and_hears_it_read_back(voice_server):
    with ivr(voice_server, region="江苏省/南京市") as call:
        call.wait_for("prompt", purpose="greeting")
        said(call, "我要投诉隔壁装修噪音")
        call.wait_for("decision")
        said(call, "鼓楼区中山路十八号，昨天晚上开始的")
        asked = call.wait_for("prompt", purpose="intake")
        while "井号" not in asked["text"]:
            asked = call.wait_for("prompt", purpose="intake")
        for digit in "02583211234#":
            call.key(digit)
        readback = call.wait_for("prompt", purpose="intake")
        while "按一" not in readback["text"]:
            readback = call.wait_for("prompt", purpose="intake")
        assert "零二五八三二一一二三四" in readback["text"]
        call.key("1")
        transfer = call.wait_for("transfer")
    ticket = httpx.get(f"{voice_server.base}/v1/tickets/{transfer['ticket']}", headers=seat(voice_server)).json()
    assert ticket["caller"] == "02583211234"


@pytest.mark.parametrize("message, words", [
    ({"type": "text"}, "text: what the caller said"),
    ({"type": "text", "text": "你好", "confidence": 2}, "confidence: a number from 0 to 1"),
    ({"type": "text", "text": "你好", "alternatives": [{"text": ""}]}, "alternatives[0].text"),
])
def test_platform_text_that_is_not_a_reading_is_refused_saying_what_to_send(voice_server, message, words):
    with ivr(voice_server) as call:
        call.wait_for("prompt", purpose="greeting")
        call.send_json(message)
        error = call.wait_for("error")
    assert error["error"] == "protocol" and words in error["message"]
