"""The shipped sample knowledge: enough of it, in callers' words, and consistent."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from knowledge_base.entry import RequestType
from desk.categories import read_code_table
from knowledge_base.io import read_entries
from knowledge_base.retrieval.index import RetrievalIndex
from knowledge_base.seed import category_table, seed_files

SURGE_CATEGORIES = ("GG0101", "GG0102", "GG0103", "GG0104", "GG0105", "GG0106", "GG0107", "GG0108", "LD0102")
EVERYDAY_PREFIXES = ("LD02", "ZF01", "SH01", "SH02", "GG04")


@pytest.fixture(scope="module")
def seed():
    return [entry for path in seed_files() for entry in read_entries(path)]


def test_at_least_150_entries_with_4_sample_questions_each(seed):
    assert len(seed) >= 150
    assert len({e.id for e in seed}) == len(seed)
    assert min(len(e.samples) for e in seed) >= 4


def test_every_entry_is_marked_as_a_sample_for_editors_to_replace(seed):
    assert all("样例" in e.source for e in seed)


def test_every_entry_has_a_chat_and_a_speakable_voice_answer(seed):
    for entry in seed:
        assert entry.chat_answer.strip() and entry.voice_answer.strip(), entry.id
        assert not re.search(r"[0-9]|https?:|www\.|[（(\[【]", entry.voice_answer), entry.id
        assert len(entry.voice_answer) <= 120, entry.id


def test_every_category_is_in_the_shipped_code_table(seed):
    codes = {c.code for c in read_code_table(category_table())}
    assert {e.category for e in seed} <= codes


def test_the_surge_topics_and_the_everyday_topics_are_covered(seed):
    categories = Counter(e.category for e in seed)
    for code in SURGE_CATEGORIES:
        assert categories[code] >= 2, code
    for prefix in EVERYDAY_PREFIXES:
        assert sum(n for c, n in categories.items() if c.startswith(prefix)) >= 3, prefix


def test_nanjing_and_yangzhou_have_their_own_variants(seed):
    regions = Counter(e.region for e in seed)
    assert regions["江苏省/南京市"] >= 3 and regions["江苏省/扬州市"] >= 3


def test_request_types_are_the_hotlines_five(seed):
    assert {e.request_type for e in seed} <= set(RequestType)


class KnownVectors:
    """The seed's phrasings' vectors as computed once per run (tests/conftest.py `seed_caches`), as a vector cache."""

    def __init__(self, caches) -> None:
        self.caches = caches

    def get_many(self, model_id, hashes):
        return {h: self.caches.vectors[h] for h in hashes if model_id == self.caches.model_id and h in self.caches.vectors}

    def put_many(self, model_id, vectors) -> None:
        pass


def test_a_held_out_sample_question_finds_its_own_entry(seed, embedder, seed_caches):
    """Content quality: sample questions must say their own entry, not a neighbour's."""
    province = [e for e in seed if e.region == "江苏省"]
    held_out = [e.samples[0] for e in province]
    trimmed = [e.with_changes(samples=e.samples[1:]) for e in province]
    index = RetrievalIndex.build(trimmed, embedder, cache=KnownVectors(seed_caches), calibrate=False)
    results = index.search_many(held_out, region="江苏省")
    hits = sum(r.top.entry.id == e.id for r, e in zip(results, province))
    assert hits / len(province) >= 0.85
