"""The surge alarm: a topic rising in a region against its own recent baseline (发现热点，提前预警).

What is counted: every question and ticket, keyed by topic and region —
- a question the front door answered: its entry (`entry:<id>`, the matched entry is the cluster);
- a question nothing answered well (a handoff, a rejected answer, a low-confidence one): its unanswered-question
  cluster (`gap:<id>`, knowledge_base/gap_clusters.py, the same grouping the editors' queue uses);
- a ticket: its category (`category:<code>`);
each under its city (江苏省/南京市) and under "*" (everywhere).

The test, chosen over Kleinberg's burst automaton because it runs online, one small step per 5-minute bucket,
with one number to tune (the false-alarm rate) and an answer a manager can read ("42 in 15 minutes where 3.1 were
expected"): the count `x` of a key in each of the `windows` ending now (5 minutes to an hour: a sudden burst, or a
topic too small to show in minutes, rising steadily) against its expectation `m`, which is the key's share of its
region's traffic in an exponentially weighted baseline (half-life 1 h, of the buckets before the longest window and
the last 75 minutes: a surge that rises over an hour would otherwise lift its own baseline) times the region's
traffic in the window. Reading the *share* makes the morning rise and the night's quiet, which lift every topic
together, no alarm; only a topic outgrowing the others is. Given the key's counts in the window and in the
baseline, the window's part is binomial when the share did not change (the conditional test: it counts the
baseline's own uncertainty, where a Poisson test against the baseline's rate would take a topic seen twice
overnight as known rare; a z-score misleads at the small counts a new topic starts from); the test is against a
share grown by `tolerance` (1.25: drift through the day taken as no surge). An alert needs that tail below
`alpha` (split evenly over the windows), at least `min_count` questions and `min_ratio` × the expectation, two
hours of baseline first, and not the same key alerted within `cooldown`.

The false-alarm rate it aims at: none in a month of quiet days. Several thousand keys are tested every 5 minutes
(about 50,000 key-buckets a day at 30,000 contacts). Real shares drift and callers ask twice, so the counts are
over-dispersed and a nominal alpha is not the real rate: bench/surge_alarm.py measures both on replayed days with
drift and repeats (BENCHMARKS.md, "The surge alarm, sooner?"). There the rule shipped before (15 minutes and an
hour, alpha 2e-6, half-life 2 h, no tolerance) raised 2–6 false alarms per 5–10 quiet drifting days; this one
(seven windows, alpha 1e-5, tolerance 1.25, half-life 1 h) raised 0–1, at about the same minutes to the alert
(median 54 vs 52 at 30,000 contacts a day, 27 vs 27 at 100,000; worst cases up to 125 minutes on the easy replay).
The minutes are set mostly by how few questions a topic has before its surge (5–12 an hour): no setting tried was
both sooner and as quiet.

`SurgeDetector` is the pure streaming test (bench/surge_alarm.py replays a day through it); `SurgeAlarm` reads the
database's last hours into it, stores what fires (once across workers: the burst's unique row) and posts it to the
configured webhook.
"""
from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from scipy.special import betainc

logger = logging.getLogger(__name__)

EVERYWHERE = "*"

Key = tuple[str, str]  # (topic, region)


@dataclass(frozen=True)
class SurgeRule:
    bucket_minutes: int = 5
    windows: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12)  # the windows tested, in buckets (5 minutes to an hour), each
                                                   # ending with the bucket just completed
    window_buckets: int = 3            # a burst is still raised by a check this many buckets after its window ends
    baseline_lag_buckets: int = 15     # the last 75 minutes stay out of the baseline (a rise within them would hide itself)
    half_life_minutes: float = 60.0    # the baseline's memory (an hour: it follows the day's drift of shares)
    alpha: float = 1e-5                # the tail an alert needs, per key and bucket (split evenly over the windows)
    min_count: int = 8
    min_ratio: float = 3.0
    tolerance: float = 1.25            # the growth of a topic's share the test takes as no surge (drift through the day)
    prior: float = 0.5                 # events a bucket that any topic is assumed to have had (a new topic's share)
    warmup_minutes: float = 120.0
    cooldown_minutes: float = 60.0

    @property
    def bucket(self) -> timedelta:
        return timedelta(minutes=self.bucket_minutes)

    @property
    def decay(self) -> float:
        return 0.5 ** (self.bucket_minutes / self.half_life_minutes)

    @property
    def held_buckets(self) -> int:
        """Buckets kept apart from the baseline: the longest window, or the lag if longer."""
        return max(max(self.windows), self.baseline_lag_buckets)


@dataclass(frozen=True)
class Burst:
    topic: str
    region: str
    window_start: datetime
    window_end: datetime
    count: int
    expected: float
    p_value: float

    @property
    def ratio(self) -> float:
        return self.count / self.expected if self.expected > 0 else math.inf


@dataclass
class _Baseline:
    """An exponentially weighted count per bucket, decayed lazily to the bucket it is read at."""
    value: float = 0.0
    at: int = 0

    def read(self, bucket: int, decay: float) -> float:
        return self.value * decay ** (bucket - self.at)

    def add(self, bucket: int, count: float, decay: float) -> None:
        self.value = self.read(bucket, decay) + count
        self.at = bucket


@dataclass
class _Series:
    window: dict[int, int] = field(default_factory=dict)  # bucket → count, of the buckets not yet in the baseline
    baseline: _Baseline = field(default_factory=_Baseline)
    alerted_at: int | None = None

    def counts(self, bucket: int, widths: Iterable[int]) -> list[int]:
        """The counts of the windows of these widths ending with `bucket`."""
        return [sum(c for b, c in self.window.items() if b > bucket - width) for width in widths]


class SurgeDetector:
    """Feed it each bucket's counts in time order (`step`); it returns the bursts that bucket completes."""

    def __init__(self, rule: SurgeRule | None = None, origin: datetime | None = None) -> None:
        self.rule = rule or SurgeRule()
        self.origin = origin
        self._series: dict[Key, _Series] = {}
        self._regions: dict[str, _Series] = {}
        self._seen: dict[int, list[_Series]] = {}   # bucket → the series that counted something in it
        self._first: int | None = None

    def bucket_of(self, moment: datetime) -> int:
        if self.origin is None:
            self.origin = moment
        return math.floor((moment - self.origin) / self.rule.bucket)

    def step(self, bucket_start: datetime, counts: Mapping[Key, int]) -> list[Burst]:
        rule = self.rule
        bucket = self.bucket_of(bucket_start)
        if self._first is None:
            self._first = bucket
        region_counts: Counter[str] = Counter()
        seen = self._seen.setdefault(bucket, [])
        fresh = []
        for (topic, region), count in counts.items():
            if count:
                series = self._series.setdefault((topic, region), _Series())
                series.window[bucket] = series.window.get(bucket, 0) + count
                seen.append(series)
                fresh.append(((topic, region), series))
                region_counts[region] += count
        for region, count in region_counts.items():
            series = self._regions.setdefault(region, _Series())
            series.window[bucket] = series.window.get(bucket, 0) + count
            seen.append(series)
        self._fold(bucket - rule.held_buckets + 1)
        if (bucket - self._first + 1 - rule.held_buckets) * rule.bucket_minutes < rule.warmup_minutes:
            return []
        end = self.origin + rule.bucket * (bucket + 1)
        bursts = []
        for key, series in fresh:   # a key with nothing new cannot have just burst
            burst = self._test(key, series, bucket, end)
            if burst is not None:
                series.alerted_at = bucket
                bursts.append(burst)
        self._forget(bucket)
        return bursts

    def _fold(self, oldest: int) -> None:
        """Buckets that left the held windows join the baseline (of the series that counted something in them)."""
        for old in sorted(b for b in self._seen if b < oldest):
            for series in self._seen.pop(old):
                if old in series.window:
                    series.baseline.add(old, series.window.pop(old), self.rule.decay)

    def _test(self, key: Key, series: _Series, bucket: int, end: datetime) -> Burst | None:
        rule = self.rule
        if series.alerted_at is not None and (bucket - series.alerted_at) * rule.bucket_minutes < rule.cooldown_minutes:
            return None
        region = self._regions[key[1]]
        reference = bucket - rule.held_buckets
        mine = series.baseline.read(reference, rule.decay) + rule.prior
        theirs = region.baseline.read(reference, rule.decay) + rule.prior
        share = min(1.0, mine / theirs)
        alpha = rule.alpha / len(rule.windows)
        for width, count, window_total in zip(rule.windows, series.counts(bucket, rule.windows),
                                              region.counts(bucket, rule.windows)):
            if count < rule.min_count:
                continue
            expected = share * window_total
            if count < rule.min_ratio * expected:
                continue
            # Two Poisson counts of one topic, in the window and in the baseline, each against its region's volume:
            # given their sum, the window's share is binomial with p = W / (W + B) when the topic's share did not
            # change (the conditional test). Unlike a Poisson test against the baseline's rate it counts the
            # baseline's own uncertainty: a topic seen twice overnight is not taken to be known rare.
            grown = rule.tolerance * window_total
            p_value = float(betainc(count, mine + 1.0, grown / (grown + theirs)))
            if p_value < alpha:
                return Burst(key[0], key[1], end - rule.bucket * width, end, count, expected, p_value)
        return None

    def _forget(self, bucket: int) -> None:
        """Keys whose baseline has decayed to nothing and that have nothing held are dropped."""
        if bucket % 12:
            return
        stale = [key for key, s in self._series.items()
                 if not s.window and s.baseline.read(bucket, self.rule.decay) < 1e-3 and s.alerted_at is None]
        for key in stale:
            del self._series[key]


def counts_by_bucket(events: Iterable[tuple], origin: datetime, bucket: timedelta) -> dict[int, Counter[Key]]:
    """(at, topic, region[, count]) events → bucket index → counts per (topic, city) and per (topic, everywhere)."""
    out: dict[int, Counter[Key]] = defaultdict(Counter)
    for at, topic, region, *count in events:
        n = count[0] if count else 1
        index = math.floor((at - origin) / bucket)
        out[index][(topic, EVERYWHERE)] += n
        city = city_of(region)
        if city:
            out[index][(topic, city)] += n
    return out


def city_of(region: str | None) -> str | None:
    """江苏省/南京市/鼓楼区 → 江苏省/南京市 (a city is where a surge is handled); a province alone is no city."""
    if not region:
        return None
    parts = region.split("/")
    return "/".join(parts[:2]) if len(parts) >= 2 else None


def detect(events: Iterable[tuple], start: datetime, end: datetime, rule: SurgeRule | None = None) -> list[Burst]:
    """Every burst among the events between `start` and `end` (whole buckets from `start`), in time order. An event
    is (at, topic, region) or, already counted by bucket, (bucket start, topic, region, count)."""
    rule = rule or SurgeRule()
    detector = SurgeDetector(rule, origin=start)
    buckets = counts_by_bucket(events, start, rule.bucket)
    found = []
    last = math.floor((end - start) / rule.bucket)
    for index in range(last):
        found += detector.step(start + rule.bucket * index, buckets.get(index, {}))
    return found


def floor_to(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=timezone.utc)
    return epoch + step * math.floor((moment - epoch) / step)
