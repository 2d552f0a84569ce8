"""A WeChat citizen hears of their ticket after the 48-hour window: a subscription message (订阅消息) in place of the
customer-service message, through a local server that speaks WeChat's subscribeMessage.send (tests/wechat_fake.py)."""
import asyncio
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from api.wechat import CustomerServiceClient, NotSubscribed, SubscriptionWordingError, TicketSubscription
from api.wechat.channel import WeChatChannel
from api.wechat.delivery import WeChatReplyDelivery
from api.wechat.ledger import WeChatLedger
from conftest import SUBSCRIBE_TEMPLATE
from desk.tickets import Ticket, TicketStatus
from wechat_fake import FakeWeChat

NOW = datetime(2026, 7, 25, 8, 0, tzinfo=timezone.utc)
TEMPLATE = "tmpl-unit"
SHIPPED_KEYWORDS = list(TicketSubscription.load(TEMPLATE).data)


def a_ticket(openid: str, **overrides) -> Ticket:
    fields = dict(number="20260725000042", status=TicketStatus.REPLIED, channel="wechat", summary="噪音扰民", reason="asked_for_human",
                  transcript=[], request_type="投诉", urgency="一般", due_at=NOW, region="江苏省/南京市", caller=openid,
                  conversation_id=None, category_code=None, category_name=None, category_score=None, category_source=None,
                  candidates=[], asr_confidence=None, details=None, seat="seat", reply="已通知城管上门核查。",
                  created_at=NOW, updated_at=NOW, claimed_at=NOW, replied_at=NOW, closed_at=None)
    return Ticket(**(fields | overrides))


def wechat_over(fake: FakeWeChat, db) -> tuple[WeChatChannel, WeChatLedger]:
    """The WeChat channel sending to `fake` in process (its ASGI app: no socket), its ledger on `db`."""
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app))
    client = CustomerServiceClient("http://wechat.fake", fake.appid, fake.secret, http, backoff=0)
    ledger = WeChatLedger(db)
    return WeChatChannel("token", None, ledger, client), ledger


def deliver(wechat: WeChatChannel, ticket: Ticket) -> bool:
    delivery = WeChatReplyDelivery(wechat, TicketSubscription.load(TEMPLATE))
    return asyncio.run(delivery.deliver(ticket, f"【工单{ticket.number}回复】{ticket.reply}"))


def test_after_the_window_has_closed_the_citizen_gets_the_tickets_state_as_a_subscription_message(db):
    fake = FakeWeChat()
    fake.add_template(TEMPLATE, SHIPPED_KEYWORDS)
    fake.subscribe("oWx-sub-0001", TEMPLATE)
    wechat, ledger = wechat_over(fake, db)
    ledger.deliver("m1", "oWx-sub-0001", "1:a", datetime.now(timezone.utc) - timedelta(hours=49))  # wrote 49 h ago
    assert deliver(wechat, a_ticket("oWx-sub-0001")) is True
    assert fake.sent == []
    [(openid, template, page, data)] = fake.subscriptions_sent
    assert (openid, template) == ("oWx-sub-0001", TEMPLATE) and "20260725000042" in page
    assert set(data.values()) >= {"20260725000042", "已答复"}


def test_within_the_window_the_reply_itself_is_sent_and_no_subscription_is_spent(db):
    fake = FakeWeChat()
    fake.add_template(TEMPLATE, SHIPPED_KEYWORDS)
    fake.subscribe("oWx-sub-0002", TEMPLATE)
    fake.user_message("oWx-sub-0002")
    wechat, ledger = wechat_over(fake, db)
    ledger.deliver("m2", "oWx-sub-0002", "2:a", datetime.now(timezone.utc))
    assert deliver(wechat, a_ticket("oWx-sub-0002")) is True
    assert fake.sent == [("oWx-sub-0002", "【工单20260725000042回复】已通知城管上门核查。")] and fake.subscriptions_sent == []


def test_a_citizen_who_has_not_consented_to_the_template_cannot_be_reached_and_the_seat_calls_back(db):
    fake = FakeWeChat()
    fake.add_template(TEMPLATE, SHIPPED_KEYWORDS)
    wechat, _ = wechat_over(fake, db)
    assert deliver(wechat, a_ticket("oWx-sub-0003")) is False  # never wrote, never subscribed: 43101
    assert fake.subscriptions_sent == []


def test_a_failed_send_inside_the_window_is_not_turned_into_a_subscription_message(db):
    fake = FakeWeChat()
    fake.add_template(TEMPLATE, SHIPPED_KEYWORDS)
    fake.subscribe("oWx-sub-0004", TEMPLATE)
    fake.user_message("oWx-sub-0004")
    fake.fail_next(40003)  # WeChat refuses this send for another reason than the window
    wechat, ledger = wechat_over(fake, db)
    ledger.deliver("m4", "oWx-sub-0004", "4:a", datetime.now(timezone.utc))
    assert deliver(wechat, a_ticket("oWx-sub-0004")) is False
    assert fake.subscriptions_sent == []


def test_one_consent_carries_one_message_and_then_43101():
    fake = FakeWeChat()
    fake.add_template(TEMPLATE, ["character_string1", "phrase2"])
    fake.subscribe("oWx-sub-0005", TEMPLATE)
    client = CustomerServiceClient("http://wechat.fake", fake.appid, fake.secret,
                                   httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app)), backoff=0)

    async def twice():
        data = {"character_string1": "20260725000042", "phrase2": "已答复"}
        await client.send_subscription("oWx-sub-0005", TEMPLATE, "pages/tickets/index", data)
        with pytest.raises(NotSubscribed):
            await client.send_subscription("oWx-sub-0005", TEMPLATE, "pages/tickets/index", data)

    asyncio.run(twice())
    assert len(fake.subscriptions_sent) == 1


def test_wording_too_long_for_a_keyword_stops_loading_rather_than_failing_on_a_reply(tmp_path):
    path = tmp_path / "wechat_subscription.yaml"
    path.write_text('page: "pages/t?n={number}"\ndata: {character_string1: "{number}", phrase2: "{state}"}\n'
                    "states: {replied: 工作人员已经答复}\n", encoding="utf-8")  # phrase: at most 5 characters
    with pytest.raises(SubscriptionWordingError, match="phrase2"):
        TicketSubscription.load(TEMPLATE, path)


# ---- through the seats' API, in process --------------------------------------------------------------------
def claimed_wechat_ticket(inprocess, openid: str) -> str:
    from desk.tickets import TicketDraft

    number = inprocess.services.desk.open(TicketDraft(channel="wechat", summary="噪音扰民", reason="asked_for_human",
                                                      transcript=[], request_type="投诉", urgency="一般", dispatch_hours=24,
                                                      caller=openid)).number
    inprocess.client.post(f"/v1/tickets/{number}/claim", json={}, headers=inprocess.headers("seat")).raise_for_status()
    return number


def test_a_seats_reply_after_the_window_reaches_a_subscribed_wechat_citizen(inprocess, fake_wechat):
    openid = "oWx-sub-inprocess-0001"  # has not written for longer than the window: none of their messages is on record
    fake_wechat.add_template(SUBSCRIBE_TEMPLATE, SHIPPED_KEYWORDS)
    fake_wechat.subscribe(openid, SUBSCRIBE_TEMPLATE)
    number = claimed_wechat_ticket(inprocess, openid)
    replied = inprocess.client.post(f"/v1/tickets/{number}/reply", json={"text": "已通知城管上门核查。"},
                                    headers=inprocess.headers("seat")).json()
    assert replied["status"] == "replied" and replied["delivered"] == "wechat"
    [(_, _, page, data)] = [sent for sent in fake_wechat.subscriptions_sent if sent[0] == openid]
    assert number in page and number in data.values() and "已答复" in data.values()


def test_a_seats_reply_after_the_window_to_a_citizen_who_did_not_subscribe_is_left_for_a_call_back(inprocess, fake_wechat):
    fake_wechat.add_template(SUBSCRIBE_TEMPLATE, SHIPPED_KEYWORDS)
    number = claimed_wechat_ticket(inprocess, "oWx-sub-inprocess-0002")
    replied = inprocess.client.post(f"/v1/tickets/{number}/reply", json={"text": "已处理"}, headers=inprocess.headers("seat")).json()
    assert replied["status"] == "replied" and replied["delivered"] is None
