"""Deadlines: working days by the official calendar, and a handoff's deadline said the way people say it."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from assistant.deadlines import rounded_up, say_deadline
from assistant.rules import load_rules
from ground.clock import BEIJING
from ground.workdays import WorkingCalendar

WORDS = load_rules().replies["deadline"]


def beijing(*args) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


# ---- working days ----------------------------------------------------------------------------------------
def test_three_working_days_from_a_friday_end_on_wednesday():
    assert WorkingCalendar().add_working_days(date(2026, 3, 6), 3) == date(2026, 3, 11)


def test_the_national_day_holiday_is_not_a_working_day():
    assert not WorkingCalendar().is_working_day(date(2026, 10, 2))


def test_a_weekend_day_made_a_working_day_counts():
    calendar = WorkingCalendar()
    made_up = [d for d in (date(2026, 1, 1) + timedelta(days=i) for i in range(365))
               if d.weekday() >= 5 and calendar.is_working_day(d)]
    assert made_up, "2026's official calendar has weekend days worked in place of holidays (调休)"


def test_a_year_the_calendar_does_not_carry_falls_back_to_monday_to_friday():
    calendar = WorkingCalendar()
    far = date(2099, 6, 6)  # a Saturday
    assert not calendar.known(far)
    assert not calendar.is_working_day(far)
    assert calendar.is_working_day(far + timedelta(days=2))


def test_the_hotlines_own_list_decides_a_day():
    far_monday = date(2099, 6, 8)
    assert not WorkingCalendar(holidays=[far_monday]).is_working_day(far_monday)
    assert WorkingCalendar(holidays=[far_monday]).known(far_monday)


def test_the_day_after_closing_skips_the_weekend():
    assert WorkingCalendar().next_working_day(date(2026, 3, 6)) == date(2026, 3, 9)


# ---- the words ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("now", "due", "said"), [
    (beijing(2026, 3, 9, 9, 0), beijing(2026, 3, 9, 10, 0), "1小时内"),
    (beijing(2026, 3, 9, 9, 0), beijing(2026, 3, 9, 11, 0), "2小时内"),
    (beijing(2026, 3, 9, 9, 0), beijing(2026, 3, 9, 17, 19), "今天17点半前"),
    (beijing(2026, 3, 9, 9, 0), beijing(2026, 3, 9, 18, 0), "今天18点前"),
    (beijing(2026, 3, 9, 9, 0), beijing(2026, 3, 10, 9, 0), "明天9点前"),
    (beijing(2026, 3, 9, 9, 0), beijing(2026, 3, 11, 9, 40), "后天10点前"),
    (beijing(2026, 3, 9, 9, 0), beijing(2026, 3, 13, 9, 0), "3月13日9点前"),
    (beijing(2026, 3, 9, 9, 0), beijing(2026, 3, 9, 23, 50), "今天24点前"),
])
def test_a_deadline_is_said_in_plain_words(now, due, said):
    assert say_deadline(due, now, WORDS) == said


def test_a_deadline_is_rounded_up_never_down():
    start = beijing(2026, 3, 9, 9, 0)
    for minutes in range(0, 3000, 7):
        due = start + timedelta(minutes=minutes, seconds=13)
        assert due <= rounded_up(due) < due + timedelta(minutes=30)


def test_a_deadline_in_utc_is_said_in_beijing_time():
    now = datetime(2026, 3, 9, 1, 0, tzinfo=timezone.utc)  # 9:00 in Beijing
    assert say_deadline(datetime(2026, 3, 9, 10, 0, tzinfo=timezone.utc), now, WORDS) == "今天18点前"


# ---- in the handoff ------------------------------------------------------------------------------------------
@pytest.fixture
def engine(hashing_engine):
    return hashing_engine


def _hand_off(engine, channel, caller=None):
    from assistant.turn import Turn

    return engine.handle(Turn(session=f"s-{channel.value}", channel=channel, text="转人工", region="江苏省/南京市",
                              caller=caller, at=datetime(2026, 3, 9, 1, 0, tzinfo=timezone.utc)))


def test_a_chat_handoff_without_a_number_promises_no_call(engine):
    from assistant.turn import Channel, Kind

    decision = _hand_off(engine, Channel.CHAT)
    assert decision.kind is Kind.HANDOFF
    assert "电话畅通" not in decision.text and decision.ticket_number in decision.text
    assert "明天9点前" in decision.text  # a normal request: dispatched within 24 hours


def test_a_wechat_handoff_says_the_reply_comes_in_wechat(engine):
    from assistant.turn import Channel

    decision = _hand_off(engine, Channel.WECHAT, caller="openid-1")
    assert "微信" in decision.text and "电话畅通" not in decision.text
