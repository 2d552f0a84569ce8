"""The human desk: tickets through their life, the code table, how tickets are filed, and a seat's reply sent on
to the citizen."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from desk.categories import Category
from desk.classification import CodeTable, TicketClassifier
from desk.flows import Deliveries, WordingError, reply_to_citizen
from desk.tickets import TicketConflict, TicketDesk, TicketDraft, TicketNotFound, TicketStatus
from ground.clock import utcnow


def draft(**overrides) -> TicketDraft:
    values = dict(channel="chat", summary="小区停水了", reason="asked_for_human", transcript=[{"text": "小区停水了"}],
                  request_type="求助", urgency="次紧急", dispatch_hours=2, region="江苏省/南京市", caller="13800000000")
    return TicketDraft(**{**values, **overrides})


def test_a_ticket_is_numbered_by_beijing_date_and_carries_its_deadline(db):
    desk = TicketDesk(db)
    at = utcnow().replace(hour=17, minute=0)  # 01:00 the next day in Beijing
    ticket = desk.open(draft(), now=at)
    assert ticket.number.startswith(f"{(at + timedelta(hours=8)):%Y%m%d}")
    assert ticket.due_at == at + timedelta(hours=2) and ticket.status is TicketStatus.OPEN


def test_a_second_handoff_in_one_conversation_adds_to_its_ticket(db):
    desk = TicketDesk(db)
    first = desk.take(draft(conversation_id="chat-1", caller=None)).ticket
    again = desk.take(draft(conversation_id="chat-1", transcript=[{"text": "小区停水了"}, {"text": "转人工"}])).ticket
    assert again.number == first.number and [t["text"] for t in again.transcript] == ["小区停水了", "转人工"]
    assert again.caller == "13800000000"  # given the second time


def test_a_handoff_after_the_conversations_ticket_is_closed_opens_a_new_one(db):
    desk = TicketDesk(db)
    first = desk.take(draft(conversation_id="chat-2")).ticket
    desk.claim(first.number, "seat-1")
    desk.close(first.number, "seat-1")
    later = desk.take(draft(conversation_id="chat-2", summary="门口的路灯坏了一个星期"))
    assert later.how == "opened" and later.ticket.number != first.number


def test_the_queue_is_most_urgent_first_and_filters_by_region(db):
    desk = TicketDesk(db)
    normal = desk.open(draft(urgency="一般", dispatch_hours=24))
    urgent = desk.open(draft(urgency="紧急", dispatch_hours=1, region="江苏省/扬州市"))
    semi = desk.open(draft())
    assert [t.number for t in desk.list()] == [urgent.number, semi.number, normal.number]
    assert [t.number for t in desk.list(region="江苏省/扬州市")] == [urgent.number]
    assert {t.number for t in desk.list(region="江苏省")} == {urgent.number, semi.number, normal.number}
    assert [t.number for t in desk.list(urgency="一般")] == [normal.number]


def test_one_seat_at_a_time_and_only_the_holder_replies_and_closes(db):
    desk = TicketDesk(db)
    number = desk.open(draft()).number
    with pytest.raises(TicketConflict, match="claim it"):
        desk.reply(number, "南京-01", "已处理")
    desk.claim(number, "南京-01")
    with pytest.raises(TicketConflict, match="南京-01"):
        desk.claim(number, "扬州-02")
    with pytest.raises(TicketConflict):
        desk.close(number, "扬州-02")
    assert desk.reply(number, "南京-01", "已联系水务集团").status is TicketStatus.REPLIED
    closed = desk.close(number, "南京-01")
    assert closed.status is TicketStatus.CLOSED and closed.reply == "已联系水务集团"
    with pytest.raises(TicketNotFound):
        desk.get("19700101000000")


def test_the_code_table_is_replaced_whole(db):
    table = CodeTable(db)
    table.replace([Category("A", "城乡建设", None, ("城乡建设",)), Category("A1", "供水", "A", ("城乡建设", "供水"))])
    table.replace([Category("B", "交通运输", None, ("交通运输",))])
    assert [c.code for c in table.all()] == ["B"]


def test_without_a_trained_classifier_tickets_are_filed_by_the_code_table(embedder):
    categories = [
        Category("A", "城乡建设", None, ("城乡建设",)),
        Category("A1", "供水供电", "A", ("城乡建设", "供水供电")),
        Category("B", "教育", None, ("教育",)),
        Category("B1", "中小学入学", "B", ("教育", "中小学入学")),
    ]
    classify = TicketClassifier(categories, embedder)
    filed = classify("我们小区已经停水两天了，自来水公司一直不来修", [])
    assert filed.code == "A1" and filed.source == "code_table" and filed.name == "城乡建设 / 供水供电"
    assert classify("孩子明年上小学，施教区怎么划分", []).code == "B1"


# ---- a seat's reply, sent on to the citizen (desk/flows.py) ---------------------------------------------
class RecordingDelivery:
    """A channel that carries replies: records what it was asked to send, and says whether it could."""

    def __init__(self, channel: str, *, reachable: bool = True) -> None:
        self.channel, self.reachable, self.sent = channel, reachable, []

    async def deliver(self, ticket, text: str) -> bool:
        self.sent.append((ticket.number, text))
        return self.reachable


def claimed(desk: TicketDesk, seat: str = "南京-01", **overrides) -> str:
    number = desk.open(draft(**overrides)).number
    desk.claim(number, seat)
    return number


def test_a_seats_reply_to_a_wechat_ticket_reaches_the_citizen_in_the_shipped_wording(db):
    desk, wechat = TicketDesk(db), RecordingDelivery("wechat")
    number = claimed(desk, channel="wechat", caller="oWx-citizen")
    replied = asyncio.run(reply_to_citizen(desk, Deliveries.load(wechat), number, "南京-01", "已联系水务集团"))
    assert replied.delivered == "wechat" and replied.ticket.status is TicketStatus.REPLIED
    assert wechat.sent == [(number, f"【工单{number}回复】已联系水务集团")]
    assert desk.get(number).reply == "已联系水务集团"  # the ticket keeps the seat's words, without the wording


def test_a_reply_to_a_ticket_reaches_the_citizens_of_the_tickets_merged_under_it(db):
    desk, wechat = TicketDesk(db), RecordingDelivery("wechat")
    number = claimed(desk, channel="wechat", caller="oWx-first")
    other = desk.open(draft(channel="wechat", caller="oWx-second")).number
    desk.link(other, number, "南京-01")
    replied = asyncio.run(reply_to_citizen(desk, Deliveries.load(wechat), number, "南京-01", "水管已修复"))
    assert replied.merged == {other: "wechat"}
    assert (other, f"【工单{other}回复】水管已修复") in wechat.sent and desk.get(other).reply == "水管已修复"


def test_a_reply_on_a_channel_nothing_delivers_on_is_recorded_for_a_call_back(db):
    desk, wechat = TicketDesk(db), RecordingDelivery("wechat")
    number = claimed(desk, channel="voice")
    replied = asyncio.run(reply_to_citizen(desk, Deliveries.load(wechat), number, "南京-01", "已处理"))
    assert replied.delivered is None and replied.ticket.status is TicketStatus.REPLIED and wechat.sent == []


def test_a_reply_the_channel_cannot_deliver_now_is_still_recorded(db):
    desk, closed_window = TicketDesk(db), RecordingDelivery("wechat", reachable=False)
    number = claimed(desk, channel="wechat", caller="oWx-gone")
    replied = asyncio.run(reply_to_citizen(desk, Deliveries.load(closed_window), number, "南京-01", "已处理"))
    assert replied.delivered is None and desk.get(number).status is TicketStatus.REPLIED


def test_only_the_seat_holding_the_ticket_replies_and_nothing_is_sent_otherwise(db):
    desk, wechat = TicketDesk(db), RecordingDelivery("wechat")
    number = claimed(desk, channel="wechat", caller="oWx-citizen")
    with pytest.raises(TicketConflict):
        asyncio.run(reply_to_citizen(desk, Deliveries.load(wechat), number, "扬州-02", "已处理"))
    assert wechat.sent == [] and desk.get(number).status is TicketStatus.CLAIMED


def test_the_reply_wording_is_content_a_hotline_replaces(db, tmp_path):
    ours = tmp_path / "replies.yaml"
    ours.write_text("seat_reply: \"您的工单{number}：{text}\"\n", encoding="utf-8")
    desk, wechat = TicketDesk(db), RecordingDelivery("wechat")
    number = claimed(desk, channel="wechat", caller="oWx-citizen")
    asyncio.run(reply_to_citizen(desk, Deliveries.load(wechat, wording=ours), number, "南京-01", "已处理"))
    assert wechat.sent == [(number, f"您的工单{number}：已处理")]


@pytest.mark.parametrize("content", ["seat_reply: \"{工单号}：{text}\"\n", "other: x\n", "- a list\n"])
def test_a_wording_file_that_cannot_be_used_stops_loading_with_the_file_named(tmp_path, content):
    bad = tmp_path / "replies.yaml"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(WordingError, match="replies.yaml"):
        Deliveries.load(wording=bad)
