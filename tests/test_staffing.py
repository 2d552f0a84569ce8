"""How many seats an hour needs (reports/staffing.py): Erlang C against the textbook's worked example and the
design's figures, Erlang A against Erlang C and its own balance, and the diversion side by side."""
from fractions import Fraction
from math import exp, factorial

import pytest

from reports.staffing import (Demand, erlang_a_service, erlang_c_service, seats_erlang_a, seats_erlang_c,
                              seats_side_by_side)

# The classic worked example of the Erlang C formula: 360 calls in half an hour, 4-minute calls, 55 agents,
# the service level's threshold 15 seconds (48 Erlangs).
TEXTBOOK = Demand(calls_per_hour=720, handling_seconds=240, answer_seconds=15, service_level=0.80)


def exact_wait_probability(seats: int, erlangs: int) -> float:
    """Erlang C straight from its textbook formula, in exact rational arithmetic (feasible for small loads only)."""
    a = Fraction(erlangs)
    queued = a ** seats / factorial(seats) * Fraction(seats, seats - erlangs)
    return float(queued / (sum(a ** k / factorial(k) for k in range(seats)) + queued))


def exact_service_level(seats: int) -> float:
    return 1 - exact_wait_probability(seats, 48) * exp(-(seats - 48) * 15 / 240)


def test_the_textbook_example_gives_the_textbook_figures():
    figures = erlang_c_service(55, TEXTBOOK)
    assert figures.erlangs == pytest.approx(48)
    assert figures.wait_probability == pytest.approx(exact_wait_probability(55, 48), abs=1e-12)
    assert figures.wait_probability == pytest.approx(0.2387, abs=1e-4)     # 24 % of callers wait
    assert figures.average_wait_seconds == pytest.approx(8.18, abs=0.01)   # ASA 8.2 s
    assert figures.service_level == pytest.approx(0.8459, abs=1e-4)        # 84.6 % answered within 15 s


def test_the_seats_needed_are_the_fewest_that_reach_the_service_level():
    needed = seats_erlang_c(TEXTBOOK).seats
    assert exact_service_level(needed) >= 0.80 > exact_service_level(needed - 1)
    assert needed == 55


def test_nanjings_peak_needs_the_seats_the_design_states():
    """DESIGN.md: 3-minute calls, 80 % in 20 s: 6,013 seats for 120,000 calls an hour, 610 at 90 % resolved by
    Frontdoor, 127 at 98 %."""
    peak = Demand(calls_per_hour=120_000, handling_seconds=180, answer_seconds=20, service_level=0.80)
    assert seats_erlang_c(peak).seats == 6013
    assert seats_erlang_c(peak.diverted(0.90)).seats == 610
    assert seats_erlang_c(peak.diverted(0.98)).seats == 127


def test_more_calls_never_need_fewer_seats():
    needed = [seats_erlang_c(Demand(calls, 180)).seats for calls in range(0, 20_001, 1000)]
    assert needed == sorted(needed)
    patient = [seats_erlang_a(Demand(calls, 180, patience_seconds=90)).seats for calls in range(1000, 20_001, 1000)]
    assert patient == sorted(patient)


def test_more_seats_never_answer_fewer_calls():
    demand = Demand(6000, 180, patience_seconds=120)
    c_levels = [erlang_c_service(n, demand).service_level for n in range(301, 340)]
    a_levels = [erlang_a_service(n, demand).service_level for n in range(250, 340, 5)]
    assert c_levels == sorted(c_levels) and a_levels == sorted(a_levels)


def test_callers_who_never_give_up_make_erlang_a_erlang_c():
    patient = Demand(720, 240, 15, 0.80, patience_seconds=1e9)
    a, c = erlang_a_service(55, patient), erlang_c_service(55, patient)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
    assert a.wait_probability == pytest.approx(c.wait_probability, abs=1e-6)
    assert seats_erlang_a(patient).seats == seats_erlang_c(patient).seats


def test_callers_who_hang_up_need_fewer_seats_and_the_calls_balance():
    demand = Demand(120_000, 180, 15, 0.80, patience_seconds=120)
    a = seats_erlang_a(demand)
    assert a.seats < seats_erlang_c(demand).seats
    assert a.service_level >= 0.80 > erlang_a_service(a.seats - 1, demand).service_level
    # what the seats serve (busy seats / handling time) is what arrives less what hangs up
    served = a.occupancy * a.seats / demand.handling_seconds
    assert served == pytest.approx(demand.calls_per_hour / 3600 * (1 - a.abandoned), rel=1e-6)


def test_the_diversion_is_shown_side_by_side():
    both = seats_side_by_side(Demand(120_000, 180, 20, 0.80, patience_seconds=120), 0.90)
    assert both.without.seats == 6013 and both.with_frontdoor.seats == 610
    assert both.with_frontdoor_abandonment.seats < both.with_frontdoor.seats
    assert both.without_abandonment.seats < both.without.seats


def test_impatient_callers_get_the_fewest_seats_that_answer_enough_of_them():
    """Callers who hang up after 5 s on average: a fifth of them give up, which counts against the level and
    lightens the load; the seats found are still the fewest that answer 80 % within 15 s."""
    impatient = Demand(720, 240, 15, 0.80, patience_seconds=5)
    a = seats_erlang_a(impatient)
    assert a.service_level >= 0.80 > erlang_a_service(a.seats - 1, impatient).service_level
    assert a.abandoned == pytest.approx(0.18, abs=0.01)


def test_erlang_a_answers_within_the_threshold_as_the_waiting_chain_says():
    """The share answered within 15 s, from its closed form, against the waiting caller's own Markov chain solved
    by a matrix exponential: states "j queued ahead" (j = 0..K), answered, gone; the one ahead leaves at Nμ + jθ,
    a seat frees at Nμ for the caller with nobody ahead, the caller's patience runs out at θ."""
    from scipy.linalg import expm

    seats, demand = 12, Demand(calls_per_hour=200, handling_seconds=240, answer_seconds=15, patience_seconds=60)
    a = erlang_a_service(seats, demand)
    mu, theta, lam = 1 / 240, 1 / 60, 200 / 3600
    # the arrivals' view of the queue (PASTA), from the birth-death chain's balance, exactly as the model defines it
    K = 60
    p = [1.0]
    for n in range(1, seats + K + 1):
        p.append(p[-1] * lam / (min(n, seats) * mu + max(0, n - seats) * theta))
    total = sum(p)
    ahead = [p[seats + j] / total for j in range(K + 1)]            # all seats busy and j queued ahead
    generator = [[0.0] * (K + 3) for _ in range(K + 3)]             # K+1: answered, K+2: gone
    for j in range(K + 1):
        leave = seats * mu + j * theta
        generator[j][j] = -(leave + theta)
        generator[j][j - 1 if j else K + 1] = leave
        generator[j][K + 2] = theta
    reach = expm([[x * 15 for x in row] for row in generator])
    answered_late = sum(ahead[j] * reach[j][K + 1] for j in range(K + 1))
    assert a.wait_probability == pytest.approx(sum(ahead), rel=1e-9)
    assert a.service_level == pytest.approx(1 - sum(ahead) + answered_late, abs=1e-9)
