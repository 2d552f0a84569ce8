"""The hotline's labels make the answer confidence better: a refit asked once is learned by every worker's next
index build, and with enough labelled questions the answer thresholds are read from them (the traffic the promise
is about) rather than from the questions the knowledge base makes of itself."""
from datetime import timedelta

import pytest

from desk.tickets import TicketDesk, TicketDraft
from fakes import HashingEmbedder
from ground.clock import utcnow
from knowledge_base.labels import LabelStore
from knowledge_base.retrieval.index import RetrievalIndex, RetrievalParams
from knowledge_base.retrieval.self_supervision import MIN_LABELLED, Labelled, fit_calibrator, labelled_examples
from knowledge_base.seed import read_seed_entries
from knowledge_base.service import KnowledgeBase
from knowledge_base.store import CalibrationStore, EmbeddingCache, KnowledgeStore

SMALL = RetrievalParams(calibration_queries=400)


@pytest.fixture(scope="module")
def entries():
    return [e for e in read_seed_entries() if "/" not in e.region][:40]


@pytest.fixture(scope="module")
def index(entries) -> RetrievalIndex:
    return RetrievalIndex.build(entries, HashingEmbedder(), params=SMALL, calibrate=False)


def traffic(entries, n: int) -> list[Labelled]:
    """`n` labelled questions: the entries' own sample questions (answered by their entry), and every fourth one
    a question no entry answers."""
    asked = [Labelled(sample, e.id, True) for e in entries for sample in e.samples]
    nothing = [Labelled(f"第{i}号问题：月亮上能办居住证吗", None, True) for i in range(n)]
    mixed = [item for pair in zip(asked, nothing[: len(asked)]) for item in (pair[0], pair[0], pair[0], pair[1])]
    return (mixed * (n // max(1, len(mixed)) + 1))[:n]


def test_enough_labelled_questions_set_the_answer_thresholds(index, entries):
    labelled = traffic(entries, MIN_LABELLED + 20)
    calibration = fit_calibrator(index, max_queries=400, labelled=labelled)
    assert calibration.confidence.size == len(labelled_examples(index, labelled).labels) >= MIN_LABELLED


def test_a_few_labels_leave_the_thresholds_to_the_self_made_questions(index, entries):
    few = traffic(entries, 10)
    calibration = fit_calibrator(index, max_queries=400, labelled=few)
    assert calibration.confidence.size > len(few)
    assert not calibration.answerable.all()  # the self-made ones include questions nothing answers


def test_a_rejection_of_an_entry_that_is_not_on_top_says_nothing_of_the_top_one(index, entries):
    question = entries[0].question
    top = index.search(question).candidates[0].entry.id
    other = next(e.id for e in entries if e.id != top)
    assert labelled_examples(index, [Labelled(question, other, False)]).texts == []
    assert labelled_examples(index, [Labelled(question, top, False)]).labels.tolist() == [0]


def test_a_question_labelled_as_answered_by_nothing_counts_against_answering_it(index):
    examples = labelled_examples(index, [Labelled("社保怎么查", None, True)])
    assert examples.labels.tolist() == [0]


def _labelled_ticket(db, summary: str, entry_id: str | None, now) -> None:
    ticket = TicketDesk(db).open(TicketDraft(channel="chat", summary=summary, reason="asked_for_human", transcript=[],
                                             request_type="咨询", urgency="一般", dispatch_hours=24), now=now)
    LabelStore(db).label_ticket(ticket.number, entry_id, by="seat", now=now)


def test_a_refit_is_learned_by_every_worker_at_its_next_build(db, entries):
    store = KnowledgeStore(db)
    store.import_entries(entries, by="test", source="test")
    labels = LabelStore(db)
    worker = KnowledgeBase(store, HashingEmbedder(), EmbeddingCache(db), SMALL, calibrations=CalibrationStore(db),
                           labelled=labels.labelled_for_calibration)
    worker.index.refresh(force=True)
    assert worker.index.current.labelled == ()
    now = utcnow()
    _labelled_ticket(db, "半夜工地施工太吵了", None, now - timedelta(minutes=5))
    refit = labels.refit(by="reviewer", now=now)
    assert refit.labels == 1 and refit.revision == store.revision()
    assert worker.index.refresh()  # the revision moved: the worker rebuilds
    assert [item.text for item in worker.index.current.labelled] == ["半夜工地施工太吵了"]


def test_labels_given_after_a_refit_wait_for_the_next_one(db, entries):
    store = KnowledgeStore(db)
    store.import_entries(entries, by="test", source="test")
    labels = LabelStore(db)
    now = utcnow()
    labels.refit(by="reviewer", now=now - timedelta(minutes=1))
    _labelled_ticket(db, "小区垃圾没人清运", None, now)
    assert labels.labelled_for_calibration() == []


def test_only_reviewers_and_administrators_may_ask_for_a_refit(inprocess):
    response = inprocess.signed_in("seat").post("/v1/confidence/refit", json={"days": 30})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_the_latest_refit_is_listed_with_who_asked_and_how_many_labels(inprocess):
    asked = inprocess.signed_in("reviewer").post("/v1/confidence/refit", json={"days": 30})
    assert asked.status_code == 200, asked.text
    listed = inprocess.signed_in("editor").get("/v1/confidence/refits", params={"limit": 1})
    assert listed.status_code == 200
    latest = listed.json()[0]
    assert latest["asked_by"] == "reviewer" and latest["labels"] == asked.json()["labels"]
    assert latest["labels_until"] == asked.json()["labels_until"]
