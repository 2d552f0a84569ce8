"""Hints for editors: what a caller on the phone cannot hear well in an answer."""
from __future__ import annotations

from knowledge_base.entry import Entry
from knowledge_base.hints import entry_hints


def hints(**fields):
    return entry_hints(Entry(id="e", question="问题", **({"chat_answer": "请做核酸。"} | fields)))


def only(found, field=None, level=None):
    return [h for h in found if (field is None or h.field == field) and (level is None or h.level == level)]


def test_a_well_written_voice_answer_has_no_hints():
    assert hints(voice_answer="请在二十四小时内到就近核酸点做一次核酸，再拨打一二三四五查询结果。") == []


def test_a_long_voice_answer_says_how_many_seconds_it_takes():
    (hint,) = hints(voice_answer="请" * 120)  # 120 characters ≈ 40 s
    assert hint.field == "voice_answer" and hint.level == "warning"
    assert "40 秒" in hint.message and "30 秒" in hint.message


def test_a_voice_answer_just_under_thirty_seconds_is_fine():
    assert hints(voice_answer="请" * 90) == []


def test_arabic_digits_should_be_written_as_they_are_read():
    (hint,) = hints(voice_answer="请拨打12345，24小时有人接听。")
    assert "12345" in hint.message and "24" in hint.message
    assert "一二三四五" in hint.message and "二十四小时" in hint.message


def test_urls_emails_and_english_letters_cannot_be_heard():
    found = hints(voice_answer="请登录 https://example.gov.cn/apply 或发邮件到 help@example.cn，也可以用APP办理。")
    messages = " ".join(h.message for h in found)
    assert len(found) == 3
    assert "https://example.gov.cn/apply" in messages and "help@example.cn" in messages and "APP" in messages


def test_symbols_and_list_markers_are_read_badly():
    found = hints(voice_answer="办理步骤：\n1. 登记→审核\n2. 领取①号窗口（周末除外）")
    messages = " ".join(h.message for h in found)
    assert "1." in messages and "→" in messages and "①" in messages and "（" in messages
    assert all(h.level == "warning" and h.field == "voice_answer" for h in found)


def test_no_voice_answer_means_the_chat_answer_is_read_cut_down():
    found = hints(voice_answer="", chat_answer="详见 https://example.gov.cn ，咨询电话12345。")
    assert [(h.field, h.level) for h in found] == [("voice_answer", "info"), ("chat_answer", "info")]
    assert "文字答复" in found[0].message and "12345" in found[1].message


def test_an_empty_chat_answer_is_a_warning():
    found = hints(chat_answer="  。", voice_answer="请做核酸。")
    assert [(h.field, h.level) for h in found] == [("chat_answer", "warning")]
    both_empty = hints(chat_answer="", voice_answer="")
    assert [(h.field, h.level) for h in both_empty] == [("chat_answer", "warning"), ("voice_answer", "warning")]
