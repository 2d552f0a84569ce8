"""The chat channel and the seats' API, on the app in this process."""
from __future__ import annotations

import uuid

import pytest

REGION = "江苏省/南京市"


@pytest.fixture
def seat(inprocess):
    return {"authorization": f"Bearer {inprocess.seat_token}"}


def chat(inprocess, **body):
    response = inprocess.client.post("/v1/chat", json={"region": REGION, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_chat_starts_a_session_and_answers_or_offers_choices(inprocess):
    reply = chat(inprocess, text="医保卡丢了怎么补办")
    assert reply["session"] and reply["decision"] in ("answer", "clarify")
    if reply["decision"] == "answer":
        assert reply["entry"]["question"] and reply["text"]
    else:
        assert 2 <= len(reply["choices"]) <= 3
        picked = chat(inprocess, session=reply["session"], text="1")
        assert picked["decision"] == "answer" and picked["entry"]["id"] == reply["choices"][0]["entry_id"]


def test_an_emergency_is_redirected(inprocess):
    reply = chat(inprocess, text="楼下着火了")
    assert reply["decision"] == "redirect" and reply["redirect_to"] == "119"


def test_a_handoff_becomes_a_ticket_that_a_seat_claims_replies_to_and_closes(inprocess, seat):
    first = chat(inprocess, text="我们小区停电一整天了，物业也联系不上")
    handoff = chat(inprocess, session=first["session"], text="转人工", caller="13900002222")
    assert handoff["decision"] == "handoff"
    number = handoff["ticket"]["number"]
    assert number in handoff["text"]

    queue = inprocess.client.get("/v1/tickets", params={"region": "江苏省", "status": "open"}, headers=seat).json()
    ticket = next(t for t in queue if t["number"] == number)
    assert ticket["urgency"] == "次紧急" and ticket["caller"] == "13900002222"
    assert [t["text"] for t in ticket["transcript"]] == ["我们小区停电一整天了，物业也联系不上", "转人工"]
    assert ticket["category_code"] or ticket["category_source"] == "none"

    # The acting seat is the signed-in seat account.
    claimed = inprocess.client.post(f"/v1/tickets/{number}/claim", json={}, headers=seat).json()
    assert claimed["status"] == "claimed" and claimed["seat"] == "seat"
    other = inprocess.client.post(f"/v1/tickets/{number}/claim", json={}, headers=other_seat(inprocess))
    assert other.status_code == 409 and "by seat" in other.json()["error"]["message"]
    replied = inprocess.client.post(f"/v1/tickets/{number}/reply", json={"text": "已联系供电公司抢修。"}, headers=seat)
    assert replied.json()["status"] == "replied"
    closed = inprocess.client.post(f"/v1/tickets/{number}/close", json={"seat": "seat"}, headers=seat).json()
    assert closed["status"] == "closed" and closed["closed_at"]


def other_seat(inprocess) -> dict:
    """A second seat account, made by the admin over the API, and its API token."""
    username = f"seat-{uuid.uuid4().hex[:8]}"
    admin = inprocess.headers("admin")
    created = inprocess.client.post("/v1/accounts", json={"username": username, "password": inprocess.password,
                                                          "role": "seat"}, headers=admin)
    assert created.status_code == 201, created.text
    token = inprocess.client.post(f"/v1/accounts/{username}/tokens", json={"days": 1}, headers=admin).json()["token"]
    return {"authorization": f"Bearer {token}"}


def test_a_seat_acts_only_as_itself(inprocess, seat):
    first = chat(inprocess, text="我家门口的路灯坏了好几天了")
    number = chat(inprocess, session=first["session"], text="转人工")["ticket"]["number"]
    posing = inprocess.client.post(f"/v1/tickets/{number}/claim", json={"seat": "somebody-else"}, headers=seat)
    assert posing.status_code == 403 and posing.json()["error"]["code"] == "not_your_seat"
    assert inprocess.client.get(f"/v1/tickets/{number}", headers=seat).json()["status"] == "open"


def test_the_seat_api_needs_a_seat_account(inprocess, seat):
    assert inprocess.client.get("/v1/tickets").status_code == 401
    assert inprocess.client.get("/v1/tickets", headers={"authorization": "Bearer wrong"}).json()["error"]["code"] == "unauthorized"
    editor = inprocess.client.get("/v1/tickets", headers=inprocess.headers("editor"))
    assert editor.status_code == 403 and editor.json()["error"]["code"] == "forbidden"
    missing = inprocess.client.get("/v1/tickets/19990101000000", headers=seat)
    assert missing.status_code == 404


def test_bad_chat_requests_say_what_to_change(inprocess):
    nothing = inprocess.client.post("/v1/chat", json={"text": "   "})
    assert nothing.status_code == 422 and "text" in nothing.json()["error"]["details"][0]["problem"]
    bad_session = inprocess.client.post("/v1/chat", json={"text": "你好", "session": "含有 空格"})
    assert bad_session.status_code == 422 and bad_session.json()["error"]["details"][0]["where"].endswith("session")
    too_long = inprocess.client.post("/v1/chat", json={"text": "问" * 600})
    assert too_long.status_code == 422


def test_a_citizen_is_told_in_chinese_what_was_wrong(inprocess):
    response = inprocess.client.post("/v1/chat", json={"region": REGION, "text": "问" * 600})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"
    assert "最多500字" in response.json()["error"]["message"]


def test_staff_are_told_in_the_apis_own_words(inprocess):
    response = inprocess.client.get("/v1/tickets/19990101000001", headers=inprocess.headers("seat"))
    assert response.status_code == 404 and "没有" not in response.json()["error"]["message"]
