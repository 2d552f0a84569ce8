"""重复诉求: the same citizen with the same matter gets the ticket they already have, not another one."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from assistant.turn import Channel, Kind, Turn
from desk.repeats import Matter, RepeatRules, RepeatRulesError, alike
from desk.tickets import TicketDesk, TicketDraft

NANJING = "江苏省/南京市"
NOW = datetime(2026, 3, 9, 2, 0, tzinfo=timezone.utc)  # 10:00 in Beijing, a Monday
CALLER = "13812345678"


def draft(**overrides) -> TicketDraft:
    values = dict(channel="chat", summary="隔壁装修噪音太大，晚上十点还在施工", reason="intake", transcript=[{"text": "投诉"}],
                  request_type="投诉", urgency="一般", dispatch_hours=24, region=NANJING, caller=CALLER,
                  conversation_id=f"chat-{uuid.uuid4().hex}", details={"what": "隔壁装修噪音太大，晚上十点还在施工",
                                                                      "where": "鼓楼区中山路18号"})
    return TicketDraft(**{**values, **overrides})


def test_the_same_matter_told_in_other_words_is_alike():
    assert alike("隔壁装修噪音太大", "隔壁在装修，噪音很大") >= RepeatRules.load().alike


def test_two_matters_at_one_address_are_not_alike():
    rules = RepeatRules.load()
    assert not rules.same_matter(Matter("小区门口的路灯坏了", "鼓楼区中山路18号"), Matter("隔壁装修噪音太大", "鼓楼区中山路18号"))


def test_the_same_words_at_another_place_are_another_matter():
    rules = RepeatRules.load()
    assert not rules.same_matter(Matter("装修噪音太大", "玄武区钟灵街50号"), Matter("装修噪音太大", "鼓楼区中山路18号"))


def test_the_same_caller_with_the_same_matter_is_added_to_the_ticket_being_worked(db):
    desk = TicketDesk(db)
    first = desk.take(draft(), now=NOW).ticket
    again = desk.take(draft(summary="隔壁在装修，噪音很大，都快十一点了", details={"what": "隔壁在装修，噪音很大，都快十一点了",
                                                                      "where": "鼓楼区中山路18号"}),
                      now=NOW + timedelta(days=2))
    assert again.how == "repeat" and again.ticket.number == first.number
    assert len(desk.list(limit=50)) == 1


def test_the_repeat_is_on_the_tickets_timeline_with_what_was_said(db):
    desk = TicketDesk(db)
    first = desk.take(draft(), now=NOW).ticket
    desk.take(draft(summary="隔壁装修噪音太大，还在施工"), now=NOW + timedelta(hours=3))
    repeated = [e for e in desk.timeline(first.number) if e.kind == "repeated"]
    assert len(repeated) == 1 and repeated[0].detail["said"] == "隔壁装修噪音太大，还在施工"


def test_another_caller_with_the_same_matter_gets_a_ticket_of_their_own(db):
    desk = TicketDesk(db)
    first = desk.take(draft(), now=NOW).ticket
    other = desk.take(draft(caller="13900001111"), now=NOW + timedelta(hours=1))
    assert other.how == "opened" and other.ticket.number != first.number


def test_a_matter_older_than_the_window_opens_a_new_ticket(db):
    desk = TicketDesk(db)
    first = desk.take(draft(), now=NOW).ticket
    later = desk.take(draft(), now=NOW + desk.repeats.live + timedelta(days=1))
    assert later.how == "opened" and later.ticket.number != first.number


def test_a_matter_closed_lately_is_named_and_nothing_is_opened(db):
    desk = TicketDesk(db)
    first = desk.take(draft(), now=NOW).ticket
    desk.claim(first.number, "seat-1", now=NOW)
    desk.close(first.number, "seat-1", now=NOW + timedelta(hours=5))
    again = desk.take(draft(), now=NOW + timedelta(days=3))
    assert again.how == "closed_repeat" and again.ticket.number == first.number
    assert len(desk.list(limit=50)) == 1


def test_a_citizen_who_insists_after_being_told_gets_a_new_ticket(db):
    desk = TicketDesk(db)
    first = desk.take(draft(), now=NOW).ticket
    desk.claim(first.number, "seat-1", now=NOW)
    desk.close(first.number, "seat-1", now=NOW + timedelta(hours=5))
    insisted = desk.take(draft(), now=NOW + timedelta(days=3), repeats=False)
    assert insisted.how == "opened" and insisted.ticket.number != first.number


def test_unusable_repeat_rules_are_refused_at_start(tmp_path):
    rules = tmp_path / "repeats.yaml"
    rules.write_text("live_days: 30\nclosed_days: 30\nalike: 3\nsame_place: 0.5\n", encoding="utf-8")
    with pytest.raises(RepeatRulesError):
        RepeatRules.load(rules)


# ---- in the conversation ---------------------------------------------------------------------------
def complain(engine, caller: str = CALLER, channel: Channel = Channel.CHAT, at: datetime = NOW):
    """A noise complaint taken down and confirmed in a conversation of its own; the last decision."""
    session = f"{channel.value}-{uuid.uuid4().hex}"
    for text in ("我要投诉隔壁装修噪音", f"鼓楼区中山路18号，昨晚十点开始的，我电话{caller}", "对"):
        decision = engine.handle(Turn(session=session, channel=channel, text=text, region=NANJING, at=at))
    return decision, session


def test_a_citizen_who_complains_again_is_told_the_number_and_state_of_their_ticket(hashing_engine):
    first, _ = complain(hashing_engine)
    again, _ = complain(hashing_engine, at=NOW + timedelta(days=1))
    assert first.kind is Kind.HANDOFF and again.kind is Kind.HANDOFF
    assert again.ticket_number == first.ticket_number
    assert first.ticket_number in again.text and "正在等待工作人员处理" in again.text


def test_a_citizen_told_of_a_closed_ticket_who_asks_for_a_person_gets_a_new_ticket(hashing_engine):
    first, _ = complain(hashing_engine)
    desk = hashing_engine.desk
    desk.claim(first.ticket_number, "seat-1", now=NOW)
    desk.close(first.ticket_number, "seat-1", now=NOW + timedelta(hours=5))
    told, session = complain(hashing_engine, at=NOW + timedelta(days=2))
    assert told.kind is Kind.ANSWER and told.reason == "repeat_closed" and first.ticket_number in told.text
    insisted = hashing_engine.handle(Turn(session=session, channel=Channel.CHAT, text="人工", region=NANJING,
                                          at=NOW + timedelta(days=2)))
    assert insisted.kind is Kind.HANDOFF and insisted.ticket_number not in (None, first.ticket_number)
