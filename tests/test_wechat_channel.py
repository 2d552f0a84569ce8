"""The WeChat channel end to end: WeChat's push (plaintext and secure mode, XML and JSON) into the
service, and the reply out through a local server that speaks WeChat's send API.

The service is the app in this process (`inprocess`), except where the real process is the point: that WeChat's
push is answered before the reply is worked out (the in-process client waits for background work)."""
from __future__ import annotations

import time

import httpx
import pytest

from api.wechat import WeChatCrypto
from wechat_fake import event_message_xml, secure_envelope, signed_query, text_message_json, text_message_xml

_ids = iter(range(10_000_000, 99_999_999))


def push(inprocess, body: bytes, query: dict, content_type="text/xml", *, fake=None, openid=None):
    """What WeChat does when a citizen writes: it opens their reply window on its side, then pushes to us."""
    if fake is not None:
        fake.user_message(openid)
    return inprocess.client.post("/wechat/push", params=query, content=body, headers={"content-type": content_type})


def wait_for_replies(fake, openid, count, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = [text for who, text in fake.sent if who == openid]
        if len(replies) >= count:
            return replies
        time.sleep(0.2)
    pytest.fail(f"{count} replies to {openid} expected, got {[t for w, t in fake.sent if w == openid]}")


def test_the_url_check_echoes_only_when_signed_with_our_token(inprocess):
    good = inprocess.client.get("/wechat/push", params=signed_query(inprocess.wechat_token, echostr="echo-4242"))
    assert good.status_code == 200 and good.text == "echo-4242"
    forged = inprocess.client.get("/wechat/push", params=signed_query("not-our-token", echostr="echo-4242"))
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "forged_signature"


def test_a_plaintext_xml_message_is_acknowledged_and_answered_through_the_send_api(server, fake_wechat):
    # On the real server: in process, the test client returns only after the background reply, so the 5 s
    # below would time the reply too, not how soon WeChat hears "success".
    openid = "oWx-plain-xml-0001"
    fake_wechat.user_message(openid)
    started = time.monotonic()
    response = httpx.post(f"{server}/wechat/push", params=signed_query(server.wechat_token),
                          content=text_message_xml(openid, "楼下着火了", msg_id=next(_ids)),
                          headers={"content-type": "text/xml"}, timeout=10)
    assert response.status_code == 200 and response.text == "success"
    assert time.monotonic() - started < 5  # WeChat waits 5 s
    [reply] = wait_for_replies(fake_wechat, openid, 1)
    assert "119" in reply


def test_secure_mode_json_is_decrypted_and_answered(inprocess, fake_wechat):
    openid = "oWx-secure-json-0002"
    crypto = WeChatCrypto(inprocess.wechat_aes_key, fake_wechat.appid)
    query, body = secure_envelope(crypto, inprocess.wechat_token, text_message_json(openid, "转人工", msg_id=next(_ids)), "json")
    response = push(inprocess, body, query, content_type="application/json", fake=fake_wechat, openid=openid)
    assert response.status_code == 200 and response.text == "success"
    [reply] = wait_for_replies(fake_wechat, openid, 1)
    assert "工单号" in reply


def test_wechat_retries_of_one_message_are_answered_once(inprocess, fake_wechat):
    openid = "oWx-retry-0003"
    body = text_message_xml(openid, "转人工", msg_id=next(_ids))
    for _ in range(3):  # WeChat retries a push three times when it hears nothing in 5 s
        assert push(inprocess, body, signed_query(inprocess.wechat_token), fake=fake_wechat, openid=openid).text == "success"
    wait_for_replies(fake_wechat, openid, 1)
    time.sleep(1.0)
    assert len([1 for who, _ in fake_wechat.sent if who == openid]) == 1


def test_forged_pushes_get_403_and_touch_nothing(inprocess, fake_wechat):
    openid = "oWx-forged-0004"
    sent_before = len(fake_wechat.sent)
    plain = push(inprocess, text_message_xml(openid, "转人工", msg_id=next(_ids)), signed_query("forged-token"))
    assert plain.status_code == 403
    crypto = WeChatCrypto(inprocess.wechat_aes_key, fake_wechat.appid)
    query, body = secure_envelope(crypto, inprocess.wechat_token, text_message_xml(openid, "转人工", msg_id=next(_ids)), "xml")
    query["msg_signature"] = "0" * 40
    assert push(inprocess, body, query).status_code == 403
    time.sleep(1.0)
    assert len(fake_wechat.sent) == sent_before
    tickets = inprocess.client.get("/v1/tickets", headers={"authorization": f"Bearer {inprocess.seat_token}"}).json()
    assert not [t for t in tickets if t["caller"] == openid]


def test_a_malformed_push_is_a_clear_400(inprocess):
    bad = push(inprocess, b"<xml><ToUserName>x</ToUserName>", signed_query(inprocess.wechat_token))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "malformed_push"
    doctype = push(inprocess, b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Content>&a;</Content></xml>', signed_query(inprocess.wechat_token))
    assert doctype.status_code == 400


def test_entering_the_session_is_greeted(inprocess, fake_wechat):
    openid = "oWx-enter-0005"
    push(inprocess, event_message_xml(openid), signed_query(inprocess.wechat_token), fake=fake_wechat, openid=openid)
    [greeting] = wait_for_replies(fake_wechat, openid, 1)
    assert "人工" in greeting


def test_a_seats_reply_to_a_wechat_ticket_reaches_the_citizen_in_wechat(inprocess, fake_wechat):
    openid = "oWx-seat-reply-0006"
    push(inprocess, text_message_xml(openid, "转人工", msg_id=next(_ids)), signed_query(inprocess.wechat_token), fake=fake_wechat, openid=openid)
    [handoff] = wait_for_replies(fake_wechat, openid, 1)
    seat = {"authorization": f"Bearer {inprocess.seat_token}"}
    number = next(t["number"] for t in inprocess.client.get("/v1/tickets", headers=seat).json() if t["caller"] == openid)
    assert number in handoff
    inprocess.client.post(f"/v1/tickets/{number}/claim", json={}, headers=seat)
    replied = inprocess.client.post(f"/v1/tickets/{number}/reply", json={"text": "已为您登记，社区会上门处理。"},
                                    headers=seat).json()
    assert replied["status"] == "replied" and replied["delivered"] == "wechat"
    assert wait_for_replies(fake_wechat, openid, 2)[1].endswith("已为您登记，社区会上门处理。")


def test_a_wechat_citizens_complaint_is_taken_down_over_several_messages_into_one_ticket(inprocess, fake_wechat):
    openid = "oWx-complaint-0005"
    said = ["我要投诉隔壁装修噪音", "鼓楼区中山路18号，昨晚十点开始的", "13812345678", "对"]
    for n, text in enumerate(said, 1):
        body = text_message_xml(openid, text, msg_id=next(_ids))
        assert push(inprocess, body, signed_query(inprocess.wechat_token), fake=fake_wechat, openid=openid).text == "success"
        wait_for_replies(fake_wechat, openid, n)
    replies = [text for who, text in fake_wechat.sent if who == openid]
    assert "什么地方" in replies[0] and "核对" in replies[2] and "工单号" in replies[3]
    tickets = inprocess.client.get("/v1/tickets", params={"limit": 500}, headers=inprocess.headers("seat")).json()
    [ticket] = [t for t in tickets if t["caller"] == openid]
    assert ticket["request_type"] == "投诉" and ticket["details"]["contact"] == "13812345678"


def test_the_reply_window_allows_five_messages_within_48_hours(db):
    from datetime import timedelta

    from api.wechat.ledger import Delivery, WeChatLedger
    from ground.clock import utcnow

    ledger, now = WeChatLedger(db), utcnow()
    assert not ledger.take_reply("oNever", now)  # never wrote: nothing may be sent
    assert ledger.deliver("m1", "oA", "1:a", now) is Delivery.FIRST
    assert ledger.deliver("m1", "oA", "1:b", now) is Delivery.RETRY
    assert [ledger.take_reply("oA", now) for _ in range(6)] == [True] * 5 + [False]
    assert ledger.deliver("m2", "oA", "2:a", now + timedelta(hours=1)) is Delivery.FIRST  # a new message reopens it
    assert ledger.take_reply("oA", now + timedelta(hours=1))
    assert not ledger.take_reply("oA", now + timedelta(hours=49, minutes=1))


def test_a_signed_query_used_again_with_another_message_is_refused_as_a_replay(db):
    from api.wechat.ledger import Delivery, WeChatLedger
    from ground.clock import utcnow

    ledger, now = WeChatLedger(db), utcnow()
    assert ledger.deliver("m1", "oA", "1700000000:42", now) is Delivery.FIRST
    assert ledger.deliver("m1", "oA", "1700000000:42", now) is Delivery.RETRY   # the same push again
    assert ledger.deliver("m9", "oB", "1700000000:42", now) is Delivery.REPLAY  # the query, a made-up body


# ---- replays ------------------------------------------------------------------------------------------
def _tickets_of(inprocess, openid: str) -> int:
    from sqlalchemy import func, select

    from storage.tables import TicketRow

    with inprocess.services.db.session() as s:
        return s.execute(select(func.count()).select_from(TicketRow).where(TicketRow.caller == openid)).scalar_one()


def test_a_push_signed_long_ago_is_refused_and_opens_nothing(inprocess):
    openid = "oWx-stale-0001"
    month_ago = str(int(time.time()) - 30 * 86400)
    response = push(inprocess, text_message_xml(openid, "转人工", msg_id=next(_ids)),
                    signed_query(inprocess.wechat_token, timestamp=month_ago))
    assert response.status_code == 403 and response.json()["error"]["code"] == "stale_push"
    assert _tickets_of(inprocess, openid) == 0


def test_a_fresh_signed_query_replayed_with_a_made_up_body_is_refused(inprocess):
    openid = "oWx-replay-0001"
    query = signed_query(inprocess.wechat_token)
    first = push(inprocess, text_message_xml(openid, "你好", msg_id=next(_ids)), query)
    assert first.status_code == 200 and first.text == "success"
    forged = push(inprocess, text_message_xml("oWx-victim-0001", "转人工", msg_id=next(_ids)), query)
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "replayed_push"
    assert _tickets_of(inprocess, "oWx-victim-0001") == 0


# ---- a seat's reply, delivered in WeChat (api/wechat/delivery.py) ---------------------------------------
def test_a_seats_reply_is_sent_to_the_tickets_citizen_and_never_without_their_openid(db):
    import asyncio

    from api.wechat.delivery import WeChatReplyDelivery
    from desk.tickets import TicketDesk, TicketDraft

    class Sending:
        def __init__(self):
            self.sent = []

        async def send(self, openid, text):
            self.sent.append((openid, text))
            return True

    def ticket(caller):
        return TicketDesk(db).open(TicketDraft(channel="wechat", summary="转人工", reason="asked_for_human",
                                               transcript=[], request_type="咨询", urgency="一般", dispatch_hours=24,
                                               caller=caller))

    wechat = Sending()
    delivery = WeChatReplyDelivery(wechat)
    assert delivery.channel == "wechat"
    assert asyncio.run(delivery.deliver(ticket("oWx-citizen-0007"), "已处理")) is True
    assert asyncio.run(delivery.deliver(ticket(None), "已处理")) is False
    assert wechat.sent == [("oWx-citizen-0007", "已处理")]
