"""How many seats an hour needs: Erlang C (callers wait as long as it takes) and Erlang A (callers give up).

Both are the M/M/N queue of queueing theory: calls arrive at random (Poisson) at `calls_per_hour`, a seat
handles one in `handling_seconds` on average (exponential), and the service level is the share of calls
answered within `answer_seconds` (e.g. 80 % within 15 s). Frontdoor's diversion is the share of contacts it
resolves without a seat: only the rest reach the seats, so the seats needed are shown side by side, with the
diversion and without it.

Numerically: at Nanjing's peak (120,000 calls an hour, 3 minutes each) the load is 6,000 Erlangs. The textbook
formula's A^N / N! overflows a float long before that, and summing it term by term takes minutes in exact
arithmetic. Here Erlang B comes from its recursion B(n) = A·B(n−1) / (n + A·B(n−1)), which only ever holds a
probability, and Erlang C from B: C = N·B / (N − A·(1 − B)). One pass from n = 1 upwards tries every N in turn,
so finding the least N that reaches the service level is O(N) float operations (milliseconds).

Erlang A (M/M/N+M, Palm's model with exponential patience of mean `patience_seconds`): the stationary
distribution of calls in the system is computed in log space (log-gamma for n ≤ N, the product of
λ / (Nμ + kθ) beyond), cut where the tail is below 1e-15. An arriving caller who finds k callers queued ahead
reaches a seat after each of those leaves (served or given up, rate Nμ + jθ with j ahead) and then a seat
frees (rate Nμ), unless they give up first (rate θ); "answered within t" (reaching a seat within t before
giving up) then has a closed form in the regularised incomplete beta function (`_answered_within`). Seats
needed: bisection between SL·A and the Erlang C answer (abandonment only lowers the load).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import betainc, gammaln, logsumexp

# The Erlang A tail is cut where the stationary probabilities fall below this, relative to state N.
_TAIL_CUT = math.log(1e-15)


@dataclass(frozen=True)
class Demand:
    """What an hour asks of the seats."""

    calls_per_hour: float
    handling_seconds: float = 180.0      # average handling time (talk + wrap-up)
    answer_seconds: float = 15.0         # the service level's threshold …
    service_level: float = 0.80          # … and the share of calls answered within it
    patience_seconds: float | None = None  # mean time a caller waits before hanging up (Erlang A); None: Erlang C only

    def diverted(self, share: float) -> "Demand":
        """The same hour with `share` of the contacts resolved by Frontdoor and never reaching a seat."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"a diverted share is between 0 and 1, not {share}")
        return Demand(self.calls_per_hour * (1.0 - share), self.handling_seconds, self.answer_seconds,
                      self.service_level, self.patience_seconds)

    @property
    def erlangs(self) -> float:
        """The offered load: calls per second × seconds per call."""
        return self.calls_per_hour / 3600.0 * self.handling_seconds


@dataclass(frozen=True)
class Staffing:
    """The least number of seats that reaches the service level, and what those seats give."""

    seats: int
    erlangs: float
    service_level: float      # the share answered within the threshold with `seats`
    wait_probability: float   # the share that waits at all
    average_wait_seconds: float  # over all answered callers (Erlang C); over all callers (Erlang A)
    abandoned: float = 0.0    # the share that hangs up before a seat answers (Erlang A)
    occupancy: float = 0.0    # the share of the seats' time spent on calls


@dataclass(frozen=True)
class SeatsSideBySide:
    """The seats an hour needs without Frontdoor and with its diversion (the share it resolves)."""

    diverted_share: float
    without: Staffing
    with_frontdoor: Staffing
    without_abandonment: Staffing | None = None   # Erlang A figures, when a patience is given
    with_frontdoor_abandonment: Staffing | None = None


# ---- Erlang C --------------------------------------------------------------------------------------------
def erlang_b(seats: int, erlangs: float) -> float:
    """The blocking probability of `seats` servers under `erlangs` of load (the stable recursion)."""
    blocking = 1.0
    for n in range(1, seats + 1):
        blocking = erlangs * blocking / (n + erlangs * blocking)
    return blocking


def _erlang_c_from_b(seats: int, erlangs: float, blocking: float) -> float:
    return seats * blocking / (seats - erlangs * (1.0 - blocking))


def erlang_c(seats: int, erlangs: float) -> float:
    """The probability that a caller waits (1 when the seats cannot keep up: N ≤ A)."""
    if seats <= erlangs:
        return 1.0
    return _erlang_c_from_b(seats, erlangs, erlang_b(seats, erlangs))


def _erlang_c_figures(seats: int, erlangs: float, blocking: float, demand: Demand) -> Staffing:
    if seats <= erlangs:
        return Staffing(seats, erlangs, 0.0, 1.0, math.inf, occupancy=1.0)
    waits = _erlang_c_from_b(seats, erlangs, blocking)
    spare = seats - erlangs
    level = 1.0 - waits * math.exp(-spare * demand.answer_seconds / demand.handling_seconds)
    return Staffing(seats, erlangs, level, waits, waits * demand.handling_seconds / spare, occupancy=erlangs / seats)


def erlang_c_service(seats: int, demand: Demand) -> Staffing:
    """What `seats` give under Erlang C."""
    return _erlang_c_figures(seats, demand.erlangs, erlang_b(seats, demand.erlangs), demand)


def seats_erlang_c(demand: Demand) -> Staffing:
    """The least number of seats whose Erlang C service level reaches the target."""
    erlangs = demand.erlangs
    if erlangs <= 0:
        return Staffing(0, 0.0, 1.0, 0.0, 0.0)
    blocking, n = 1.0, 0
    while True:
        n += 1
        blocking = erlangs * blocking / (n + erlangs * blocking)
        if n > erlangs:
            figures = _erlang_c_figures(n, erlangs, blocking, demand)
            if figures.service_level >= demand.service_level:
                return figures


# ---- Erlang A --------------------------------------------------------------------------------------------
def erlang_a_service(seats: int, demand: Demand) -> Staffing:
    """What `seats` give under Erlang A (callers hang up after an exponential patience of mean
    `demand.patience_seconds`): the share answered within the threshold counts every arriving caller."""
    if demand.patience_seconds is None or demand.patience_seconds <= 0:
        raise ValueError("Erlang A needs the callers' mean patience (patience_seconds > 0)")
    lam = demand.calls_per_hour / 3600.0
    mu = 1.0 / demand.handling_seconds
    theta = 1.0 / demand.patience_seconds
    if lam <= 0:
        return Staffing(seats, 0.0, 1.0, 0.0, 0.0)
    erlangs = lam / mu
    n = np.arange(seats + 1)
    log_below = n * math.log(erlangs) - gammaln(n + 1)            # states 0..N, unnormalised
    tail = _queue_tail(seats, lam, mu, theta)                     # states N+1.., relative to state N
    log_queue = log_below[-1] + tail
    log_total = logsumexp(np.concatenate([log_below, log_queue]))
    p_queue = np.exp(log_queue - log_total)                       # P(k = 1.. callers queued)
    p_full = math.exp(log_below[-1] - log_total)                  # P(all seats busy, nobody queued)
    # An arrival (PASTA) that finds j queued ahead: j = 0 with p_full, j = k with p_queue[k-1].
    ahead = np.concatenate([[p_full], p_queue])
    waits = float(ahead.sum())
    answered_late = _answered_within(ahead, seats * mu, theta, demand.answer_seconds)
    queued = float((np.arange(1, len(p_queue) + 1) * p_queue).sum())
    abandoned = theta * queued / lam
    busy = float((np.minimum(n, seats) * np.exp(log_below - log_total)).sum() + seats * p_queue.sum())
    return Staffing(seats, erlangs, (1.0 - waits) + answered_late, waits, queued / lam, abandoned, busy / seats)


def _queue_tail(seats: int, lam: float, mu: float, theta: float) -> np.ndarray:
    """log P(N + k) − log P(N) for k = 1.. until it is negligible."""
    out: list[np.ndarray] = []
    total, start, block = 0.0, 1, 256
    while True:
        k = np.arange(start, start + block)
        steps = np.cumsum(np.log(lam / (seats * mu + k * theta))) + total
        out.append(steps)
        total = float(steps[-1])
        if total < _TAIL_CUT and steps[-1] < steps[0]:
            break
        start += block
        block *= 2
    tail = np.concatenate(out)
    keep = np.nonzero(tail >= _TAIL_CUT)[0]
    return tail[: (keep[-1] + 1) if len(keep) else 1]


def _answered_within(ahead: np.ndarray, service_rate: float, theta: float, seconds: float) -> float:
    """P(a caller who had to wait reaches a seat within `seconds`), over the arrivals' distribution of how many
    are queued ahead (`ahead[j]`, unnormalised: already multiplied by P(arriving to find j ahead)).

    A caller with j ahead reaches a seat after j + 1 exponential phases: the one ahead leaves (served or given up)
    at a + iθ for i = j..1, then a seat frees at a = Nμ. Their sum T has the density
    Γ(b + j + 1) / (Γ(b) j!) · θ e^{−aT} (1 − e^{−θT})^j with b = a/θ (rates in arithmetic progression), and the caller
    is still there at T with probability e^{−θT}. So P(answered within t | j) = E[e^{−θT}; T ≤ t], which the
    substitution u = 1 − e^{−θs} turns into b / (b + j + 1) · I_U(j + 1, b + 1), the regularised incomplete beta
    function at U = 1 − e^{−θt}: one vectorised call for every j, exact, in microseconds."""
    if seconds <= 0:
        return 0.0
    j = np.arange(len(ahead), dtype=float)
    b = service_rate / theta
    reached = b / (b + j + 1.0) * betainc(j + 1.0, b + 1.0, -math.expm1(-theta * seconds))
    return float((ahead * reached).sum())


def seats_erlang_a(demand: Demand) -> Staffing:
    """The least number of seats whose Erlang A service level reaches the target (bisection; the level rises
    with every seat added)."""
    if demand.erlangs <= 0:
        return Staffing(0, 0.0, 1.0, 0.0, 0.0)
    high = seats_erlang_c(demand).seats
    # Fewer than SL·A seats cannot even serve SL of the calls (their capacity is below that share of the
    # load), let alone answer them in time: below that the level is sure to fall short.
    low = max(0, math.floor(demand.service_level * demand.erlangs) - 1)
    if low == 0 and erlang_a_service(1, demand).service_level >= demand.service_level:
        return erlang_a_service(1, demand)
    # Abandonment counts against the level as well as lightening the load: should Erlang C's seats still answer too
    # few within the threshold, more are looked for (the level rises to 1 as seats are added).
    while erlang_a_service(high, demand).service_level < demand.service_level:
        low, high = high, math.ceil(high * 1.25) + 1
    while high - low > 1:
        middle = (low + high) // 2
        if erlang_a_service(middle, demand).service_level >= demand.service_level:
            high = middle
        else:
            low = middle
    return erlang_a_service(high, demand)


# ---- both, side by side ------------------------------------------------------------------------------------
def seats_side_by_side(demand: Demand, diverted_share: float) -> SeatsSideBySide:
    """The seats the hour needs without Frontdoor (every contact reaches a seat) and with its diversion."""
    diverted = demand.diverted(diverted_share)
    with_a = demand.patience_seconds is not None
    return SeatsSideBySide(diverted_share, seats_erlang_c(demand), seats_erlang_c(diverted),
                           seats_erlang_a(demand) if with_a else None, seats_erlang_a(diverted) if with_a else None)
