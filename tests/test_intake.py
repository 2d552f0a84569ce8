"""Taking down a 诉求: a complaint, report, help request or suggestion becomes one complete ticket, the missing
pieces asked one at a time, whatever order the citizen gives them in, read back before the ticket is opened."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from assistant.rules import load_rules
from assistant.slots import SlotWords, read
from assistant.turn import Channel, Kind, Turn

NANJING = "江苏省/南京市"
NOW = datetime(2026, 3, 9, 2, 0, tzinfo=timezone.utc)  # 10:00 in Beijing, a Monday


@pytest.fixture
def engine(hashing_engine):
    return hashing_engine


class Citizen:
    def __init__(self, engine, channel=Channel.CHAT, caller=None):
        self.engine, self.channel, self.caller = engine, channel, caller
        self.session = f"{channel.value}-{uuid.uuid4().hex}"

    def says(self, text: str):
        return self.engine.handle(Turn(session=self.session, channel=self.channel, text=text, region=NANJING,
                                       caller=self.caller, at=NOW))

    def tickets(self):
        return [t for t in self.engine.desk.list(limit=500) if t.conversation_id == self.session]


def read_back_a_noise_complaint(citizen):
    """A complaint with every piece given, up to its read-back."""
    citizen.says("我要投诉隔壁装修噪音")
    return citizen.says("鼓楼区中山路18号，昨晚十点开始的，我电话13812345678")


def test_a_complaint_is_taken_down_not_answered_from_the_knowledge_base(engine):
    decision = Citizen(engine).says("我要投诉隔壁装修噪音")
    assert decision.kind is Kind.INTAKE and decision.reason == "intake_ask_where"


def test_a_question_about_complaints_is_still_a_question(engine):
    assert Citizen(engine).says("投诉电话是多少").kind is not Kind.INTAKE


def test_a_problem_that_nothing_answers_is_taken_down_as_a_complaint(engine):
    decision = Citizen(engine).says("我们小区门口的路灯坏了一个月了，物业不作为，晚上特别黑")
    assert decision.kind is Kind.INTAKE and decision.reason == "intake_ask_where"


def test_the_missing_pieces_are_asked_one_at_a_time_and_read_back(engine):
    citizen = Citizen(engine)
    asked = [citizen.says(text).reason for text in ("我要投诉", "楼上天天半夜跺脚", "玄武区钟灵街50号", "13812345678")]
    assert asked == ["intake_ask_what", "intake_ask_where", "intake_ask_contact", "intake_readback"]


def test_pieces_given_all_at_once_and_out_of_order_go_straight_to_the_read_back(engine):
    citizen = Citizen(engine)
    citizen.says("我要投诉隔壁装修噪音")
    readback = citizen.says("鼓楼区中山路18号，昨晚十点开始的，我电话13812345678")
    assert readback.reason == "intake_readback"
    for piece in ("隔壁装修噪音", "鼓楼区中山路18号", "昨晚十点", "13812345678"):
        assert piece in readback.text


def test_a_confirmed_read_back_opens_one_complete_ticket(engine):
    citizen = Citizen(engine)
    read_back_a_noise_complaint(citizen)
    decision = citizen.says("对")
    assert decision.kind is Kind.HANDOFF and decision.reason == "intake"
    [ticket] = citizen.tickets()
    assert ticket.number == decision.ticket_number
    assert ticket.request_type == "投诉" and ticket.summary == "隔壁装修噪音" and ticket.caller == "13812345678"
    assert ticket.details["where"] == "鼓楼区中山路18号" and ticket.details["confirmed"] is True
    assert "请保持电话畅通" in decision.text


def test_the_place_is_resolved_to_the_district_of_the_citizens_city(engine):
    citizen = Citizen(engine)
    read_back_a_noise_complaint(citizen)
    citizen.says("对")
    assert citizen.tickets()[0].region == "江苏省/南京市/鼓楼区"  # 鼓楼区 of 南京, not of 徐州 or 福州


def test_a_correction_at_the_read_back_replaces_that_piece(engine):
    citizen = Citizen(engine)
    read_back_a_noise_complaint(citizen)
    corrected = citizen.says("电话不对，是13912345678")
    assert corrected.reason == "intake_readback" and "13912345678" in corrected.text


def test_a_bare_no_at_the_read_back_asks_what_to_change(engine):
    citizen = Citizen(engine)
    read_back_a_noise_complaint(citizen)
    assert citizen.says("不对").text == load_rules().intake.what_to_change


def test_a_citizen_who_leaves_no_number_is_promised_no_call(engine):
    citizen = Citizen(engine)
    for text in ("我要举报有人往河里偷排污水", "栖霞区燕子矶街道长江边", "这个月一直在排", "不留"):
        citizen.says(text)
    decision = citizen.says("对")
    assert decision.kind is Kind.HANDOFF and "电话畅通" not in decision.text
    assert citizen.tickets()[0].caller is None


def test_nothing_useful_twice_goes_to_a_seat_with_what_was_said(engine):
    citizen = Citizen(engine)
    citizen.says("我想反映一下我们小区停车的问题")
    citizen.says("asdf")
    decision = citizen.says("。。。")
    assert decision.kind is Kind.HANDOFF and decision.reason == "intake_stalled"
    assert citizen.tickets()[0].summary == "我们小区停车的问题"


def test_asking_for_a_person_midway_hands_off_with_what_was_taken_down(engine):
    citizen = Citizen(engine)
    citizen.says("我要投诉隔壁装修噪音")
    decision = citizen.says("转人工")
    assert decision.kind is Kind.HANDOFF
    assert citizen.tickets()[0].details["what"] == "隔壁装修噪音"


def test_a_conversation_ends_with_exactly_one_ticket(engine):
    citizen = Citizen(engine)
    for text in ("我要投诉隔壁装修噪音", "鼓楼区中山路18号，昨晚十点开始的，我电话13812345678", "对", "转人工"):
        citizen.says(text)
    assert len(citizen.tickets()) == 1


def test_on_the_phone_the_calling_number_is_read_back_in_words(engine):
    citizen = Citizen(engine, Channel.VOICE, caller="13900001111")
    citizen.says("我要投诉隔壁装修噪音")
    readback = citizen.says("鼓楼区中山路十八号，昨天晚上开始的")
    assert readback.reason == "intake_readback"
    assert "一三九零零零零一一一一" in readback.text and not any(ch.isdigit() for ch in readback.text)


# ---- reading a message ------------------------------------------------------------------------------
WORDS = SlotWords(tuple(load_rules().intake.words.place_words), tuple(load_rules().intake.words.place_lead_ins),
                  tuple(load_rules().intake.words.time_words))


def test_a_house_number_is_a_place_not_a_date():
    reading = read("鼓楼区中山路18号，昨晚十点开始的，我电话13812345678", NOW, WORDS)
    assert (reading.place, reading.since, reading.phone) == ("鼓楼区中山路18号", "昨晚十点开始的", "13812345678")


def test_a_matter_that_mentions_a_place_is_not_a_place():
    assert read("我们小区停车的问题", NOW, WORDS).place is None


def test_a_lead_in_before_a_place_is_dropped():
    assert read("我家住在仙林大学城文苑路9号", NOW, WORDS).place == "仙林大学城文苑路9号"


def test_a_landline_with_its_area_code_is_a_phone_number():
    assert read("电话 025-83211234", NOW, WORDS).phone == "02583211234"


# ---- by phone ------------------------------------------------------------------------------------------------
def _call(engine, caller="13900001111"):
    from voice.dialogue import IvrDialogue

    dialogue = IvrDialogue(engine, f"voice-{uuid.uuid4().hex}", caller=caller, region=NANJING)
    dialogue.start()
    return dialogue


def _heard(text: str):
    from models.asr import Reading, Recognition

    return Recognition((Reading(text, 0.9),), 2.0)


def _said(actions) -> list[str]:
    from voice.dialogue import Say

    return [a.text for a in actions if isinstance(a, Say)]


def _transfer(actions):
    from voice.dialogue import Transfer

    return next((a for a in actions if isinstance(a, Transfer)), None)


def test_a_caller_confirms_the_read_back_by_pressing_one(engine):
    call = _call(engine)
    call.heard(_heard("我要投诉隔壁装修噪音"))
    readback = call.heard(_heard("鼓楼区中山路十八号，昨天晚上开始的"))
    assert "按一" in _said(readback)[0]
    transfer = _transfer(call.key("1"))
    assert transfer is not None and transfer.to == "seat" and transfer.reason == "intake"
    assert engine.desk.get(transfer.ticket_number).details["confirmed"] is True


def test_a_caller_keys_another_number_ending_with_the_hash_key(engine):
    call = _call(engine, caller=None)
    call.heard(_heard("我要投诉隔壁装修噪音"))
    asked = call.heard(_heard("鼓楼区中山路十八号，昨天晚上开始的"))
    assert "按井号结束" in _said(asked)[0]
    for digit in "02583211234":
        assert call.key(digit) == []  # a landline's leading 0 is part of the number, not a transfer
    readback = call.key("#")
    assert "零二五八三二一一二三四" in _said(readback)[0]


def test_a_caller_who_stays_silent_hears_the_question_again(engine):
    call = _call(engine)
    asked = _said(call.heard(_heard("我要投诉隔壁装修噪音")))
    assert _said(call.silence()) == asked
