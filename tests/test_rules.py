"""The engine's content rules: emergencies, scope, follow-ups, urgency — and overriding them."""
from __future__ import annotations

import pytest

from assistant.rules import RulesError, load_rules


@pytest.fixture(scope="module")
def rules():
    return load_rules()


@pytest.mark.parametrize("text, number", [
    ("我家楼下着火了", "119"), ("厨房燃气泄漏了怎么办", "119"), ("我爸晕倒了", "120"), ("快叫救护车", "120"),
    ("有人持刀在街上", "110"), ("我要报警", "110"), ("路口出车祸了", "122"), ("孩子走丢了", "110"),
])
def test_emergencies_are_recognised(rules, text, number):
    assert rules.emergency(text).number == number


@pytest.mark.parametrize("text", ["火灾怎么预防", "救护车收费标准是多少", "交通事故责任认定书在哪里领", "核酸检测点在哪里",
                                  "中暑晕倒怎么急救"])
def test_questions_about_emergency_topics_are_not_emergencies(rules, text):
    assert rules.emergency(text) is None


def test_follow_up_intents_match_whole_messages_only(rules):
    assert rules.intent("转人工") == "human" and rules.intent("人工客服") == "human"
    assert rules.intent("不是这个。") == "reject" and rules.intent("还是不明白") == "confused"
    assert rules.intent("谢谢！") == "thanks"
    assert rules.intent("核酸不是这个价格吧") is None
    assert rules.choice("2") == 2 and rules.choice("第二个") == 2 and rules.choice("选1") == 1 and rules.choice("核酸") is None


def test_urgency_and_request_type(rules):
    assert rules.urgency_of("家里停电一天了").name == "次紧急"
    assert rules.urgency_of("隔离在家的老人断药了").name == "紧急"
    assert rules.urgency_of("想问公积金怎么提取").name == "一般"
    assert rules.request_type_of("我要投诉这家药店乱收费") == "投诉"
    assert rules.request_type_of("公积金怎么提取") == "咨询"


def test_a_hotline_can_replace_a_rules_file(tmp_path):
    (tmp_path / "emergency.yaml").write_text("services:\n  - number: '119'\n    name: 火警\n    patterns: ['冒烟']\n", encoding="utf-8")
    rules = load_rules(tmp_path)
    assert rules.emergency("楼道里冒烟") and rules.emergency("我爸晕倒了") is None
    assert rules.out_of_scope("法院已经判了")  # the other files are still the shipped ones


def test_a_bad_pattern_is_reported_with_its_file(tmp_path):
    (tmp_path / "scope.yaml").write_text("rules:\n  - reason: x\n    patterns: ['(unclosed']\n    chat: a\n    voice: b\n", encoding="utf-8")
    with pytest.raises(RulesError, match="scope.yaml.*unclosed"):
        load_rules(tmp_path)
