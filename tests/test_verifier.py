"""The learned pair verifier and the pairs it learns from, on made-up data (2 layers, a few steps)."""
from __future__ import annotations

import numpy as np
import pytest

from knowledge_base.entry import Entry, Status
from knowledge_base.retrieval.index import RetrievalIndex
from bench.verification import (
    Combiner, Ranked, candidate_text, pairs_from_knowledge, pairs_from_labels, split_logits)

PAIRS = [
    ("新冠疫苗打完能洗澡吗", "接种新冠疫苗后可以洗澡吗", 1),
    ("公积金租房怎么提取", "租房怎么提取住房公积金", 1),
    ("晚上工地太吵了去哪投诉", "夜间施工噪音扰民怎么投诉", 1),
    ("居家隔离要几天", "居家隔离要隔离多少天", 1),
    ("新冠疫苗和流感疫苗有什么区别", "接种新冠疫苗后可以洗澡吗", 0),
    ("公积金贷款利率是多少", "租房怎么提取住房公积金", 0),
    ("工地施工许可证怎么办理", "夜间施工噪音扰民怎么投诉", 0),
    ("居家隔离可以点外卖吗", "居家隔离要隔离多少天", 0),
]


@pytest.fixture(scope="module")
def fitted(provisioned):
    import torch

    from bench.pair_verifier import PairVerifier

    torch.set_num_threads(2)
    verifier = PairVerifier.from_encoder(provisioned.embedder_dir, layers=2, max_length=48, seed=0)
    pairs = [(q, c) for q, c, _ in PAIRS]
    labels = [y for _, _, y in PAIRS]
    stats = verifier.fit(pairs, labels, epochs=25, batch_size=8, lr=2e-4, head_lr=3e-3, warmup=0.05, seed=0)
    return verifier, pairs, np.array(labels), stats


def test_a_tiny_set_is_learned_by_heart(fitted):
    verifier, pairs, labels, stats = fitted
    p = verifier.score(pairs)
    assert p.dtype == np.float32 and p.shape == (len(pairs),)
    assert ((p >= 0) & (p <= 1)).all()
    assert p[labels == 1].min() > p[labels == 0].max(), p
    assert stats["pairs_seen"] == 25 * len(pairs)


def test_the_word_embeddings_stay_frozen(provisioned, fitted):
    from safetensors import safe_open

    verifier, *_ = fitted
    with safe_open(str(provisioned.embedder_dir / "model.safetensors"), "pt") as handle:
        key = next(k for k in handle.keys() if k.endswith("word_embeddings.weight"))
        original = handle.get_slice(key)[:1000].float()
    assert np.array_equal(verifier.encoder.get_input_embeddings().weight[:1000].detach().numpy(), original.numpy())


def test_save_and_load_give_the_same_scores_without_copying_the_vocabulary(fitted, tmp_path):
    from bench.pair_verifier import PairVerifier

    verifier, pairs, _, _ = fitted
    verifier.meta["thresholds"] = {"0.95": 0.8}
    folder = verifier.save(tmp_path / "verifier")
    assert not (folder / "word_embeddings.safetensors").exists()
    assert (folder / "verifier.safetensors").stat().st_size < 40_000_000  # 2 layers, no 250k-row matrix
    loaded = PairVerifier.load(folder)
    assert loaded.layers == 2 and loaded.max_length == 48 and loaded.meta["thresholds"] == {"0.95": 0.8}
    np.testing.assert_allclose(loaded.score(pairs), verifier.score(pairs), atol=1e-6)


def test_a_verifier_refuses_another_vocabulary(fitted, tmp_path):
    import json

    from bench.pair_verifier import PairVerifier

    verifier, *_ = fitted
    folder = verifier.save(tmp_path / "verifier")
    info = json.loads((folder / "verifier.json").read_text())
    info["word_embeddings_digest"] = "0" * 32
    (folder / "verifier.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="word embeddings"):
        PairVerifier.load(folder)


def published(id: str, question: str, *samples: str) -> Entry:
    return Entry(id=id, question=question, samples=samples, chat_answer="…", status=Status.PUBLISHED)


KB = [
    published("vaccine-bath", "接种新冠疫苗后可以洗澡吗", "打完疫苗能洗澡吗", "疫苗接种后多久能洗澡"),
    published("fund-rent", "租房怎么提取住房公积金", "公积金租房提取", "租房子能取公积金吗"),
    published("noise", "夜间施工噪音扰民怎么投诉", "半夜工地还在施工", "工地晚上太吵了"),
    published("quarantine-days", "居家隔离要隔离多少天", "居家隔离几天", "在家隔离要多久"),
    published("medicine", "封控期间怎么买药", "小区封了怎么配药", "封控区买药"),
]


@pytest.fixture(scope="module")
def index(embedder):
    return RetrievalIndex.build(KB, embedder)


def test_pairs_from_labels_marks_only_the_expected_entry(index):
    queries = [("疫苗打完可以洗澡不", "vaccine-bath"), ("租房能提公积金吗", "fund-rent"), ("公积金贷款利率多少", None)]
    pairs = pairs_from_labels(index, queries, k=3)
    assert [r.query for r in pairs.ranked] == [q for q, _ in queries]
    texts, labels = pairs.pairs()
    assert len(texts) == len(labels) == 9 + len(pairs.extra)
    for n, (ranked, (query, expected)) in enumerate(zip(pairs.ranked, queries)):
        assert len(ranked.ids) == 3
        assert ranked.labels().tolist() == [int(i == expected) for i in ranked.ids]
        assert labels[3 * n : 3 * n + 3].tolist() == ranked.labels().tolist()
        assert all(q == query for q, _ in texts[3 * n : 3 * n + 3])
    assert pairs.ranked[0].labels()[0] == 1 and pairs.ranked[1].labels()[0] == 1
    assert pairs.ranked[2].labels().sum() == 0
    titles = {e.id: e.question for e in KB}
    assert texts[0] == (queries[0][0], titles[pairs.ranked[0].ids[0]])


def test_an_expected_entry_the_search_missed_is_added_as_a_positive(index):
    pairs = pairs_from_labels(index, [("半夜工地吵得睡不着", "medicine")], k=1)
    if pairs.ranked[0].ids[0] == "medicine":
        pytest.skip("the search found it")
    assert pairs.extra == [("半夜工地吵得睡不着", "封控期间怎么买药")]
    _, labels = pairs.pairs()
    assert labels.tolist() == [0, 1]


def test_candidate_text_choices():
    assert candidate_text("标题", "标题", "both") == "标题"
    assert candidate_text("标题", "说法", "both") == "标题；说法"
    assert candidate_text("标题", "说法", "matched") == "说法"
    with pytest.raises(ValueError):
        candidate_text("标题", "说法", "answer")


def test_pairs_from_knowledge_make_paraphrases_and_near_misses(index):
    pairs = pairs_from_knowledge(index, k=3, samples_per_entry=2, seed=0)
    held_entry = [r for r in pairs.ranked if r.expected is None]
    held_sample = [r for r in pairs.ranked if r.expected is not None]
    assert len(held_entry) == len(KB) and len(held_sample) == 2 * len(KB)
    own = {e.id: set(e.phrasings()) for e in KB}
    for r in held_entry:  # the asking entry is out of the index: every candidate is another entry
        assert not any(r.query in own[i] for i in r.ids)
    for r in held_sample:  # the held-out sample is not a candidate's matched phrasing
        assert r.query in own[r.expected] and r.query not in r.matched
    _, labels = pairs.pairs()
    assert labels.sum() >= len(KB)  # most held-out samples still find their entry
    limited = pairs_from_knowledge(index, k=3, entry_ids={"noise"}, seed=0)
    assert {r.expected for r in limited.ranked} == {None, "noise"}


def test_the_combiner_reranks_by_the_verifier_and_reads_thresholds():
    rng = np.random.default_rng(0)
    ranked, logits = [], []
    for i in range(1000):  # enough examples for a 0.95 threshold to be bounded, not only estimated
        right = int(rng.integers(0, 3)) if i % 2 == 0 else None
        ids = ("a", "b", "c")
        ranked.append(Ranked(f"q{i}", None if right is None else ids[right], ids, ids, ids,
                             np.array([0.9, 0.88, 0.85], np.float32)))
        l = rng.normal(-3, 1, 3)
        if right is not None:
            l[right] = rng.normal(3, 1)
        logits.append(l.astype(np.float32))
    combiner = Combiner.fit(ranked, logits)
    order, confidence = combiner.decide(np.array([-4.0, 4.0, -4.0]), np.array([0.9, 0.88, 0.85]))
    assert order[0] == 1 and confidence > 0.9
    assert 0 < combiner.threshold(0.95) < 1
    again = Combiner.from_dict(combiner.to_dict())
    np.testing.assert_allclose(again.probabilities(logits[0], ranked[0].fused), combiner.probabilities(logits[0], ranked[0].fused))
    assert again.thresholds == combiner.thresholds
    assert [len(x) for x in split_logits(ranked[:2], np.arange(6, dtype=np.float32))] == [3, 3]
