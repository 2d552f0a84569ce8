"""Answer thresholds keep the promised precision on questions they were not read on (knowledge_base/retrieval/
confidence.py `threshold_for_precision`: fixed-sequence Clopper-Pearson tests, strictest first)."""
import numpy as np

from knowledge_base.retrieval.confidence import threshold_for_precision


def draw(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Confidences, and whether each answer is right: right with probability rising with the confidence."""
    confidence = rng.random(n)
    right = rng.random(n) < 0.55 + 0.45 * confidence ** 0.5
    return confidence, right


def precision_above(threshold: float, confidence: np.ndarray, right: np.ndarray) -> float:
    answered = confidence >= threshold
    return float(right[answered].mean()) if answered.any() else 1.0


def test_the_promised_precision_holds_on_fresh_questions_at_least_nineteen_times_in_twenty():
    rng = np.random.default_rng(7)
    fresh_confidence, fresh_right = draw(rng, 200_000)  # "the traffic": the true precision above any threshold
    kept = []
    for _ in range(200):
        confidence, right = draw(rng, 600)
        threshold = threshold_for_precision(confidence, right, 0.95)
        kept.append(precision_above(threshold, fresh_confidence, fresh_right) >= 0.95)
    assert np.mean(kept) >= 0.95


def test_a_confidence_that_ranks_well_answers_much_of_the_traffic():
    rng = np.random.default_rng(3)
    confidence = rng.random(2000)
    right = confidence > 0.3  # everything above 0.3 is right
    assert threshold_for_precision(confidence, right, 0.95) < 0.45


def test_too_few_examples_answer_nothing():
    assert threshold_for_precision(np.array([0.99, 0.98, 0.97]), np.array([True, True, True]), 0.95) == float("inf")


def test_a_mix_of_unanswerable_questions_makes_the_threshold_stricter():
    rng = np.random.default_rng(5)
    confidence = rng.random(3000)
    answerable = rng.random(3000) < 0.5
    right = answerable & (confidence > 0.2)
    mostly_answerable = threshold_for_precision(confidence, right, 0.95, answerable=answerable, answerable_share=0.9)
    mostly_not = threshold_for_precision(confidence, right, 0.95, answerable=answerable, answerable_share=0.3)
    assert mostly_answerable <= mostly_not
