"""How bench/surge.py counts the requests around a fault (issue 16): by when each answer came, before, while
down and after; recovery timed from PostgreSQL being ready again. No server: the outcomes are made here."""
from __future__ import annotations

from bench.surge import KillWorker, Outcome, RestartDatabase, SurgeResult, fault_figures

MARKS = {"stopping": 30.0, "stopped": 30.5, "starting": 40.5, "started": 41.0}


def _restart(outcomes: list[Outcome]) -> dict:
    result = SurgeResult(5, 60, outcomes=outcomes, fault_marks=dict(MARKS))
    return fault_figures(result, RestartDatabase("/cluster", 30, 10))


def test_a_503_answered_while_the_database_was_down_counts_in_the_down_phase_by_its_code():
    figures = _restart([Outcome(1, 10, 10.1, 100, "200"), Outcome(1, 31, 31.1, 100, "503", "database_unavailable")])
    assert figures["phases"]["before"]["failed"] == 0
    assert figures["phases"]["down"]["failures"] == {"503 database_unavailable": 1}


def test_recovery_is_timed_from_the_database_being_ready_again():
    figures = _restart([Outcome(2, 40.9, 41.5, 600, "502", "-"), Outcome(3, 42, 43.0, 1000, "200")])
    assert figures["phases"]["after"]["failures"] == {"502 -": 1}
    assert figures["recovery"] == {"first_success_after_s": 2.0, "failures_after": 1, "failing_until_s": 0.5}


def test_a_session_answered_before_a_kill_and_answered_after_it_counts_as_continued():
    result = SurgeResult(5, 60, fault_marks={"killed": 20.0}, outcomes=[
        Outcome(1, 10, 10.2, 200, "200"), Outcome(1, 25, 25.2, 200, "200"),
        Outcome(2, 11, 11.2, 200, "200"), Outcome(2, 19.9, 20.1, 200, "502", "-")])
    figures = fault_figures(result, KillWorker(pid=0, at=20))
    assert figures["across"] == {"in_flight": 1, "in_flight_failed": 1, "sessions_spanning": 1, "sessions_continued": 1}
    assert figures["phases"]["after"]["requests"] == 2
