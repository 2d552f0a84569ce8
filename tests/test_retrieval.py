"""Hybrid retrieval over published entries, with the real multilingual-e5-small."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from knowledge_base.entry import Entry, Status
from knowledge_base.retrieval.holder import IndexHolder
from knowledge_base.retrieval.index import RetrievalIndex
from knowledge_base.retrieval.lexical import LexicalIndex
from knowledge_base.store import EmbeddingCache

NOW = datetime(2021, 7, 28, 9, 0, tzinfo=timezone.utc)


def published(id: str, question: str, *samples: str, region: str = "江苏省", **fields) -> Entry:
    return Entry(id=id, question=question, samples=samples, chat_answer=f"{question}的答复", region=region,
                 status=Status.PUBLISHED, **fields)


KB = [
    published("yellow-code", "苏康码变黄码了怎么转绿码", "我码咋黄了", "黄码怎么变回绿码", "健康码黄了要做几次核酸"),
    published("test-result", "核酸检测结果在哪里查", "核酸报告去哪看", "做完核酸怎么查结果", "阿是在苏康码里看核酸结果"),
    published("home-quarantine", "居家隔离要隔离多少天", "居家隔离几天", "在家隔离要多久才能出门", "居家隔离的天数"),
    published("medicine", "封控期间怎么买药", "封控了高血压的药吃完了咋办", "小区封了怎么配药", "封控区买药"),
    published("housing-fund-rent", "租房怎么提取住房公积金", "公积金租房提取", "租房子能取公积金吗", "公积金 租房 提"),
    published("noise", "晚上工地施工噪音扰民怎么投诉", "半夜工地还在施工", "工地晚上太吵了", "夜间施工噪声投诉"),
    published("leave-city", "疫情期间离开所在城市需要什么条件", "现在出城要什么证明", "能不能出市", "离开本市要核酸吗"),
    published("leave-city-nanjing", "南京疫情期间离开南京需要什么条件", "出南京要什么证明", "离开南京要核酸吗", "南京能出去吗",
              region="江苏省/南京市", variant_of="leave-city"),
    published("leave-city-yangzhou", "扬州疫情期间离开扬州需要什么条件", "出扬州要什么证明", "离开扬州要核酸吗", "扬州能出去吗",
              region="江苏省/扬州市", variant_of="leave-city"),
]


class CountingEmbedder:
    """The real embedder, counting how many texts it is asked to embed."""

    def __init__(self, embedder):
        self._embedder = embedder
        self.model_id, self.dim, self.embedded = embedder.model_id, embedder.dim, 0

    def embed_queries(self, texts):
        self.embedded += len(texts)
        return self._embedder.embed_queries(texts)


@pytest.fixture(scope="module")
def index(embedder) -> RetrievalIndex:
    return RetrievalIndex.build(KB, embedder)


@pytest.mark.parametrize("question, expected", [
    ("我的健康码变黄了咋办", "yellow-code"),
    ("核酸做了去哪查结果啊", "test-result"),
    ("小区封控了降压药没了怎么办", "medicine"),
    ("租房子的公积金怎么取", "housing-fund-rent"),
    ("隔壁工地半夜还在施工吵死了", "noise"),
])
def test_a_paraphrase_finds_its_entry_first(index, question, expected):
    assert index.search(question, region="江苏省/苏州市", now=NOW).top.entry.id == expected


def test_candidates_carry_scores_best_first(index):
    result = index.search("健康码黄了", now=NOW, k=3)
    scores = [c.score for c in result.candidates]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    assert 0.0 <= result.confidence <= 1.0


def test_a_city_caller_gets_the_city_rule_first(index):
    nanjing = index.search("我要离开南京需要什么", region="江苏省/南京市", now=NOW)
    assert nanjing.top.entry.id == "leave-city-nanjing"


def test_a_city_caller_who_does_not_name_the_city_still_gets_the_city_rule(index):
    yangzhou = index.search("我想出城需要什么证明", region="江苏省/扬州市", now=NOW, k=9)
    assert yangzhou.top.entry.id == "leave-city-yangzhou"
    assert "leave-city" not in [c.entry.id for c in yangzhou.candidates]


def test_a_caller_elsewhere_gets_the_province_rule_a_city_replaced_for_its_own_callers(index):
    suzhou = index.search("我想出城需要什么证明", region="江苏省/苏州市", now=NOW)
    assert suzhou.top.entry.id == "leave-city"


def test_another_citys_rule_is_never_told(index):
    result = index.search("离开南京需要什么条件", region="江苏省/扬州市", now=NOW, k=9)
    assert "leave-city-nanjing" not in [c.entry.id for c in result.candidates]


def test_a_caller_of_unknown_region_hears_only_province_wide_rules(index):
    result = index.search("出城要什么证明", region=None, now=NOW, k=9)
    assert {c.entry.region for c in result.candidates} == {"江苏省"}


def test_an_expired_entry_is_never_given(embedder):
    expired = published("yellow-code", "苏康码变黄码了怎么转绿码", "我码咋黄了", expires_at=NOW - timedelta(hours=1))
    index = RetrievalIndex.build([expired, *KB[1:]], embedder, calibrate=False)
    result = index.search("我码咋黄了", now=NOW, k=9)
    assert "yellow-code" not in [c.entry.id for c in result.candidates]


def test_an_entry_not_yet_in_force_is_given_only_from_its_time(embedder):
    later = published("yellow-code", "苏康码变黄码了怎么转绿码", "我码咋黄了", effective_from=NOW + timedelta(hours=2))
    index = RetrievalIndex.build([later, *KB[1:]], embedder, calibrate=False)
    assert "yellow-code" not in [c.entry.id for c in index.search("我码咋黄了", now=NOW, k=9).candidates]
    assert index.search("我码咋黄了", now=NOW + timedelta(hours=3)).top.entry.id == "yellow-code"


def test_exact_words_win_a_near_tie(index):
    lexical = LexicalIndex([e.question for e in KB])
    scores = lexical.scores(["公积金"]).toarray()[0]
    assert int(np.argmax(scores)) == [e.id for e in KB].index("housing-fund-rent")


def test_unchanged_text_is_not_embedded_again(embedder, db):
    cache = EmbeddingCache(db)
    counting = CountingEmbedder(embedder)
    RetrievalIndex.build(KB, counting, cache=cache, calibrate=False)
    first = counting.embedded
    changed = KB[0].with_changes(samples=(*KB[0].samples, "黄码 转绿"))
    RetrievalIndex.build([changed, *KB[1:]], counting, cache=cache, calibrate=False)
    assert first == len({text for e in KB for text in e.phrasings()})
    assert counting.embedded - first == 1


def test_the_calibrated_confidence_is_higher_for_a_paraphrase_than_for_an_unrelated_question(index):
    answerable = index.search("居家隔离要几天", now=NOW).confidence
    unrelated = index.search("我家狗走丢了怎么登报", now=NOW).confidence
    assert answerable > unrelated


def test_a_request_keeps_the_index_it_started_with_while_a_new_one_is_swapped_in(embedder):
    revision = {"value": 1}
    entries = {"value": KB}
    holder = IndexHolder(lambda: RetrievalIndex.build(entries["value"], embedder, revision=revision["value"], calibrate=False),
                         revision=lambda: revision["value"], next_change_at=lambda now: None)
    holder.refresh()
    in_flight = holder.current
    revision["value"], entries["value"] = 2, KB[:3]
    assert holder.is_stale()
    assert holder.refresh()
    assert in_flight.size == len(KB) and in_flight.revision == 1
    assert holder.current.size == 3 and holder.current.revision == 2
    assert not holder.refresh()


def test_the_index_is_rebuilt_when_an_entry_comes_into_force(embedder):
    holder = IndexHolder(lambda: RetrievalIndex.build(KB, embedder, calibrate=False), revision=lambda: 0,
                         next_change_at=lambda now: NOW + timedelta(hours=1))
    holder.refresh()
    assert not holder.is_stale(NOW + timedelta(minutes=30))
    assert holder.is_stale(NOW + timedelta(hours=1))
