"""「我的工单」: a citizen follows their own ticket from the chat page, and nobody else's."""
from __future__ import annotations

import uuid

NANJING = "江苏省/南京市"


def hand_off(inprocess, **body) -> tuple[str, str]:
    """A chat conversation handed to a seat: (its session, its ticket number)."""
    reply = inprocess.client.post("/v1/chat", json={"region": NANJING, "text": "转人工"} | body).json()
    assert reply["decision"] == "handoff"
    return reply["session"], reply["ticket"]["number"]


def look_up(inprocess, number, **query):
    return inprocess.client.get(f"/v1/chat/tickets/{number}", params=query)


def test_a_citizen_sees_their_ticket_accepted_in_plain_words(inprocess):
    session, number = hand_off(inprocess)
    ticket = look_up(inprocess, number, session=session).json()
    assert ticket["number"] == number and ticket["status"] == "open"
    assert ticket["state"] == "已受理，正在等待工作人员处理"
    assert ticket["reply"] is None


def test_a_citizen_sees_the_seats_reply(inprocess):
    session, number = hand_off(inprocess)
    seat = inprocess.headers("seat")
    inprocess.client.post(f"/v1/tickets/{number}/claim", json={}, headers=seat).raise_for_status()
    inprocess.client.post(f"/v1/tickets/{number}/reply", json={"text": "您好，补办请带身份证到社保中心。"},
                          headers=seat).raise_for_status()
    ticket = look_up(inprocess, number, session=session).json()
    assert ticket["state"] == "工作人员已答复" and ticket["reply"] == "您好，补办请带身份证到社保中心。"


def test_another_conversation_cannot_see_the_ticket(inprocess):
    _, number = hand_off(inprocess)
    response = look_up(inprocess, number, session=f"chat-{uuid.uuid4().hex}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ticket_not_found"
    assert "没有找到这个工单" in response.json()["error"]["message"]


def test_a_ticket_that_does_not_exist_reads_the_same_as_one_that_is_not_yours(inprocess):
    session, number = hand_off(inprocess)
    theirs = look_up(inprocess, number, session=f"chat-{uuid.uuid4().hex}").json()
    missing = look_up(inprocess, "99999999999999", session=session).json()
    assert theirs == missing


def test_the_phone_number_left_with_the_ticket_finds_it_however_it_is_written(inprocess):
    _, number = hand_off(inprocess, caller="13812345678")
    assert look_up(inprocess, number, phone="138-1234-5678").status_code == 200


def test_another_phone_number_does_not_find_it(inprocess):
    _, number = hand_off(inprocess, caller="13812345678")
    assert look_up(inprocess, number, phone="13912345678").status_code == 404


def test_a_lookup_with_neither_session_nor_phone_finds_nothing(inprocess):
    _, number = hand_off(inprocess)
    assert look_up(inprocess, number).status_code == 404
