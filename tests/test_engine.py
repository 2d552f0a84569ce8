"""The conversation engine over the seed knowledge: decisions, sessions, tickets."""
from __future__ import annotations

from datetime import timedelta

import pytest

from assistant.conversations import ConversationStore
from assistant.engine import Engine
from assistant.policy import Policy
from assistant.rules import load_rules
from assistant.turn import Channel, Hypothesis, Kind, Turn
from desk.tickets import TicketDesk

NANJING = "江苏省/南京市"
# Flows are tested with a lenient chat policy so that a plain question is answered; the thresholds
# themselves are measured by `frontdoor eval retrieval`, not asserted here.
LENIENT = Policy(precision={Channel.CHAT: 0.6, Channel.WECHAT: 0.6, Channel.VOICE: 0.6})


@pytest.fixture(scope="module")
def seed_knowledge(embedder, seed_caches, tmp_path_factory):
    from knowledge_base.service import KnowledgeBase
    from knowledge_base.store import CalibrationStore, EmbeddingCache, KnowledgeStore
    from storage import Database

    db = Database(f"sqlite:///{tmp_path_factory.mktemp('kb') / 'kb.db'}")
    db.migrate()
    seed_caches.warm(db)  # the seed's vectors and calibration, computed once per run (conftest.seed_caches)
    knowledge = KnowledgeBase(KnowledgeStore(db), embedder, EmbeddingCache(db), calibrations=CalibrationStore(db))
    knowledge.load_seed_if_empty()
    knowledge.index.refresh(force=True)
    yield knowledge
    db.dispose()


def make_engine(knowledge, db, policy=LENIENT) -> Engine:
    return Engine(knowledge, ConversationStore(db), TicketDesk(db), load_rules(), policy)


def say(engine, session, text, channel=Channel.CHAT, **extra):
    return engine.handle(Turn(session=session, channel=channel, text=text, region=NANJING, **extra))


def test_a_plain_question_is_answered_with_the_chat_variant(seed_knowledge, db):
    decision = say(make_engine(seed_knowledge, db), "s1", "我想补办一下医保卡，卡丢了")
    if decision.kind is Kind.CLARIFY:  # close entries are offered: the right one among them
        assert any("医保卡" in c.question for c in decision.choices)
    else:
        assert decision.kind is Kind.ANSWER and "医保" in decision.entry_question
        assert decision.text == seed_knowledge.index.current.entries_by_id[decision.entry_id].chat_answer
        assert 0 < decision.confidence <= 1


def test_voice_gets_the_speakable_variant(seed_knowledge, db):
    decision = say(make_engine(seed_knowledge, db), "call-1", "医保卡丢了怎么补办", Channel.VOICE)
    entry_text = decision.text
    if decision.kind is Kind.ANSWER:
        assert entry_text == seed_knowledge.index.current.entries_by_id[decision.entry_id].voice_answer
    assert not any(ch.isdigit() for ch in entry_text)


def test_a_choice_after_a_clarification_answers_and_works_from_another_worker(seed_knowledge, db):
    first_worker, second_worker = make_engine(seed_knowledge, db, Policy()), make_engine(seed_knowledge, db, Policy())
    offered = say(first_worker, "s2", "黄码")
    if offered.kind is not Kind.CLARIFY:
        pytest.skip("the engine answered outright; nothing to choose")
    picked = say(second_worker, "s2", "2")
    assert picked.kind is Kind.ANSWER and picked.reason == "chosen"
    assert picked.entry_id == offered.choices[1].entry_id
    by_button = say(first_worker, "s2b", "黄码")
    chosen = say(second_worker, "s2b", "", choice=by_button.choices[0].entry_id)
    assert chosen.kind is Kind.ANSWER and chosen.entry_id == by_button.choices[0].entry_id


def test_an_emergency_is_redirected_at_once_without_a_ticket(seed_knowledge, db):
    engine = make_engine(seed_knowledge, db)
    fire = say(engine, "s3", "我家楼下着火了，好大的烟")
    assert fire.kind is Kind.REDIRECT and fire.redirect_to == "119" and "119" in fire.text
    spoken = say(engine, "s3v", "有人晕倒了快叫救护车", Channel.VOICE)
    assert spoken.kind is Kind.REDIRECT and spoken.redirect_to == "120" and "一二零" in spoken.text
    assert TicketDesk(db).list() == []


def test_asking_for_a_human_hands_off_a_classified_ticket_with_every_turn(seed_knowledge, db):
    engine = make_engine(seed_knowledge, db)
    say(engine, "s4", "小区停水两天了，一直没人来修")
    decision = say(engine, "s4", "转人工", caller="13800001111")
    assert decision.kind is Kind.HANDOFF and decision.reason == "asked_for_human" and decision.ticket_number
    ticket = TicketDesk(db).get(decision.ticket_number)
    assert [t["text"] for t in ticket.transcript] == ["小区停水两天了，一直没人来修", "转人工"]
    assert ticket.urgency == "次紧急" and ticket.due_at - ticket.created_at == timedelta(hours=2)
    assert ticket.caller == "13800001111" and ticket.region == NANJING and ticket.channel == "chat"
    assert ticket.summary == "小区停水两天了，一直没人来修"
    assert decision.ticket_number in decision.text


def test_two_unsatisfied_turns_hand_off(seed_knowledge, db):
    engine = make_engine(seed_knowledge, db)
    first = say(engine, "s5", "核酸检测多少钱")
    assert first.kind in (Kind.ANSWER, Kind.CLARIFY)
    second = say(engine, "s5", "不是这个")
    assert second.kind in (Kind.CLARIFY, Kind.ANSWER, Kind.HANDOFF)
    if second.kind is not Kind.HANDOFF:
        before = {c.entry_id for c in first.choices} | {first.entry_id}
        assert not before & ({c.entry_id for c in second.choices} | {second.entry_id} - {None})
        third = say(engine, "s5", "还是不明白")
        assert third.kind is Kind.HANDOFF and third.reason == "unsatisfied"


def test_out_of_scope_is_refused_politely_with_the_reason(seed_knowledge, db):
    decision = say(make_engine(seed_knowledge, db), "s6", "这个案子法院已经判了，对方一直不执行")
    assert decision.kind is Kind.REFUSE and decision.reason == "in_court" and "法院" in decision.text


def test_a_question_nothing_answers_is_handed_off(seed_knowledge, db):
    decision = say(make_engine(seed_knowledge, db, Policy()), "s7", "我家隔壁装修的电钻声每天晚上十一点还在响，物业不管")
    assert decision.kind in (Kind.HANDOFF, Kind.CLARIFY)
    if decision.kind is Kind.HANDOFF:
        ticket = TicketDesk(db).get(decision.ticket_number)
        assert ticket.reason == "low_confidence" and ticket.candidates  # suggested answers for the seat


def test_of_several_recogniser_readings_the_answerable_one_is_used(seed_knowledge, db):
    engine = make_engine(seed_knowledge, db)
    turn = Turn(session="call-2", channel=Channel.VOICE, text="一宝卡丢了怎么不办", region=NANJING,
                hypotheses=(Hypothesis("一宝卡丢了怎么不办", 0.5), Hypothesis("医保卡丢了怎么补办", 0.4)), asr_confidence=0.5)
    decision = engine.handle(turn)
    assert decision.kind in (Kind.ANSWER, Kind.CLARIFY)
    named = [decision.entry_question or ""] + [c.question for c in decision.choices]
    assert any("医保卡" in q for q in named)


def test_a_session_starts_afresh_after_long_silence(seed_knowledge, db):
    engine = make_engine(seed_knowledge, db, Policy())
    if say(engine, "s8", "黄码").kind is not Kind.CLARIFY:
        pytest.skip("the engine answered outright; nothing to choose")
    from ground.clock import utcnow

    later = engine.handle(Turn(session="s8", channel=Channel.CHAT, text="1", region=NANJING, at=utcnow() + timedelta(hours=2)))
    assert later.reason != "chosen"


@pytest.mark.parametrize("text", ["你好", "您好！", "在吗", "请问在吗", "客服在吗", "。。。", "asdfghjkl", "嗯嗯", "???", "啊啊啊"])
def test_a_greeting_or_gibberish_gets_a_prompt_and_never_a_ticket(seed_knowledge, db, text):
    decision = say(make_engine(seed_knowledge, db, Policy()), f"prompt-{text}", text)
    assert (decision.kind, decision.reason, decision.ticket_number) == (Kind.ANSWER, "prompt", None)
    assert "一句" in decision.text


def test_a_message_too_short_to_take_down_never_becomes_a_ticket(seed_knowledge, db):
    decision = say(make_engine(seed_knowledge, db, Policy()), "short", "测试")
    assert decision.kind is not Kind.HANDOFF and decision.ticket_number is None


@pytest.mark.parametrize("text", ["收到", "辛苦了", "好的好的", "谢谢"])
def test_thanks_get_a_courtesy_and_never_a_ticket(seed_knowledge, db, text):
    decision = say(make_engine(seed_knowledge, db, Policy()), f"thanks-{text}", text)
    assert (decision.kind, decision.reason, decision.ticket_number) == (Kind.ANSWER, "courtesy", None)


def test_a_conversation_that_stays_unintelligible_goes_to_a_seat_once(seed_knowledge, db):
    engine = make_engine(seed_knowledge, db, Policy())
    kinds = [say(engine, "garbled", text).kind for text in ("asdf", "。。", "qwer", "zzz")]
    assert kinds == [Kind.ANSWER, Kind.ANSWER, Kind.HANDOFF, Kind.ANSWER]


def test_a_question_written_for_an_entry_is_answered_whatever_the_threshold(seed_knowledge, db):
    index = seed_knowledge.index.current
    entry = next(e for e in index.entries if e.samples and NANJING.startswith(e.region or ""))
    decision = say(make_engine(seed_knowledge, db, Policy()), "plain", entry.samples[0] + "？")
    assert decision.kind is Kind.ANSWER and decision.entry_id == entry.id
