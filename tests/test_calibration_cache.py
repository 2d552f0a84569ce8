"""A fitted calibration is shared through the database: a second worker (or a restarted one) over the same
phrasings loads it instead of fitting it again; anything else fits afresh."""
import threading

import numpy as np
import pytest

from fakes import HashingEmbedder
from knowledge_base.retrieval import calibration_cache, self_supervision
from knowledge_base.retrieval.confidence import Calibration, Calibrator
from knowledge_base.retrieval.index import RetrievalParams
from knowledge_base.seed import read_seed_entries
from knowledge_base.service import KnowledgeBase
from knowledge_base.store import CalibrationStore, EmbeddingCache, KnowledgeStore
from storage.tables import FittedCalibrationRow

SMALL = RetrievalParams(calibration_queries=400)  # enough self-made questions to fit a calibrator, quickly


@pytest.fixture
def fits(monkeypatch) -> list[int]:
    """Counts the calibrator fits this test makes (one entry per fit: the size of the index fitted on); a fit by
    another service's background rebuild in the same process is not this test's."""
    counted: list[int] = []
    fit = self_supervision.fit_calibrator
    test_thread = threading.get_ident()

    def counting(index, **kwargs):
        if threading.get_ident() == test_thread:
            counted.append(index.size)
        return fit(index, **kwargs)

    monkeypatch.setattr(self_supervision, "fit_calibrator", counting)
    return counted


@pytest.fixture
def entries():
    return [e for e in read_seed_entries() if "/" not in e.region][:40]


def worker(db) -> KnowledgeBase:
    """One worker's knowledge base on the shared database, as frontdoor/components.py builds it."""
    return KnowledgeBase(KnowledgeStore(db), HashingEmbedder(), EmbeddingCache(db), SMALL,
                         calibrations=CalibrationStore(db))


def published(db, entries) -> None:
    KnowledgeStore(db).import_entries(entries, by="test", source="test")


def same(a: Calibration, b: Calibration) -> bool:
    return (all(np.array_equal(getattr(a.calibrator, n), getattr(b.calibrator, n)) for n in ("mean", "scale", "coef"))
            and a.calibrator.intercept == b.calibrator.intercept and np.array_equal(a.confidence, b.confidence)
            and np.array_equal(a.correct, b.correct) and np.array_equal(a.answerable, b.answerable))


def test_a_second_worker_loads_the_calibration_the_first_fitted(db, entries, fits):
    published(db, entries)
    first, second = worker(db), worker(db)
    first.index.refresh(force=True)
    second.index.refresh(force=True)
    assert fits == [len(entries)]
    assert same(first.index.current.calibration, second.index.current.calibration)
    assert second.index.current.answer_threshold(0.9) == first.index.current.answer_threshold(0.9)


def test_a_changed_phrasing_is_fitted_afresh(db, entries, fits):
    published(db, entries)
    worker(db).index.refresh(force=True)
    changed = entries[0].with_changes(samples=(*entries[0].samples, "这个事情到底应该怎么去办理呢"))
    KnowledgeStore(db).import_entries([changed], by="test", source="test")
    worker(db).index.refresh(force=True)
    assert len(fits) == 2


def test_a_calibration_stored_by_another_version_of_the_method_is_not_used(db, entries, fits, monkeypatch):
    published(db, entries)
    worker(db).index.refresh(force=True)
    monkeypatch.setattr(calibration_cache, "CALIBRATION_VERSION", calibration_cache.CALIBRATION_VERSION + 1)
    worker(db).index.refresh(force=True)
    assert len(fits) == 2


def test_an_unreadable_stored_calibration_is_fitted_again_and_served(db, entries, fits):
    published(db, entries)
    worker(db).index.refresh(force=True)
    with db.session(write=True) as session:
        session.query(FittedCalibrationRow).update({FittedCalibrationRow.data: b"not an archive"})
    again = worker(db)
    again.index.refresh(force=True)
    assert len(fits) == 2
    assert again.index.current.calibrated and again.index.current.calibration.confidence.size > 0


def test_a_calibration_comes_back_from_its_bytes_as_it_was():
    calibration = Calibration(Calibrator(mean=np.array([0.5, 1.0], np.float32), scale=np.array([2.0, 1.0], np.float32),
                                         coef=np.array([3.0, -1.0], np.float32), intercept=-0.25),
                              np.array([0.9, 0.1], np.float32), np.array([True, False]), np.array([True, True]))
    again = Calibration.from_bytes(calibration.to_bytes())
    assert same(again, calibration) and isinstance(again.calibrator.intercept, float)
    assert again.confidence.dtype == np.float32 and again.correct.dtype == bool


def test_a_worker_started_after_a_publish_loads_what_a_serving_worker_fitted_for_it(db, entries, fits):
    published(db, entries)
    serving = worker(db)
    serving.index.refresh(force=True)
    serving.index.current.search(entries[1].question)  # a worker that has answered questions since it started
    changed = entries[0].with_changes(samples=(*entries[0].samples, "这个事情到底应该怎么去办理呢"))
    KnowledgeStore(db).import_entries([changed], by="test", source="test")
    serving.index.refresh()
    started = worker(db)
    started.index.refresh(force=True)
    assert len(fits) == 2
    assert same(started.index.current.calibration, serving.index.current.calibration)
