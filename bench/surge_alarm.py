"""The surge alarm (reports/surge_alarm.py) on replayed days: minutes from a surge's start to its alert, and false
alarms over quiet days.

A day of traffic is built for measurement only (never shipped). Its topics are the questions of the retrieval packs
in ../shared/eval/retrieval (each counted under the entry it expects, as an answered question is) and the citizens'
messages of ../shared/eval/traffic/gov-messages-with-replies.jsonl (as tickets, under a category read from a few
keywords of their subject), drawn at random
- with a daily profile (quiet at night, peaks at 10:00 and 15:00 Beijing, interpolated between hours),
- over five cities, whose shares of the traffic drift a little through the day,
- with topic shares that drift: each topic's weight (and, less, its weight in each city) follows a mean-reverting
  random walk in log (`--drift`, the spread of a topic's share about its usual one, 0.2 by default: a topic is
  usually within ±20% of its usual share, and now and then, over hours, half as much again or twice it — the news of
  the day; the city's own part of the drift is half as wide),
- with repeats: a caller who asks again, or rephrases, in the next minutes (`--repeats`, the chance of one more
  question on the same topic; a third with 30% of that) — the counts are over-dispersed, not Poisson.
The replayed day follows a warm-up day built the same way (the drift runs on through the night), so the baseline
has seen a night and a morning.

A surge: from a moment between 10:00 and 16:59 Beijing, one topic's rate in 南京 rises linearly to ten times its
usual rate (its share without the drift) within an hour and stays there (questions about a new rule, 23 July 2021 in Nanjing). Its start
is where the rise begins; the minutes to the alert are from there to the end of the 5-minute bucket whose test
raised it (the service checks every minute, so it raises it then). A hit is an alert on that topic in 南京 or
everywhere ("*") after the start; every other alert — any other topic or city, on surge days or quiet ones, or the
surging topic before its start — is a false alarm.

Each named rule (`--rules`, from RULES) is replayed over the same days, so their figures compare like with like.

    .venv/bin/python -m bench.surge_alarm [--days 10] [--contacts 30000] [--seed 2021] [--rules shipped,scan,t125-a1e-5-hl60]
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from reports.surge_alarm import EVERYWHERE, SurgeRule, detect

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
CITIES = {"江苏省/南京市": 0.4, "江苏省/苏州市": 0.2, "江苏省/无锡市": 0.15, "江苏省/扬州市": 0.15, "江苏省/徐州市": 0.1}
# The share of a day's contacts in each Beijing hour (0–23): night, the morning peak, lunch, the afternoon peak.
PROFILE = [0.4, 0.3, 0.2, 0.2, 0.2, 0.3, 0.8, 2.0, 4.5, 6.5, 7.5, 7.0, 5.0, 5.0, 6.5, 7.0, 6.5, 5.5, 4.0, 3.5, 3.0,
           2.5, 1.5, 0.8]
KEYWORDS = ["物业", "噪音", "拆迁", "学校", "教育", "交通", "公交", "医院", "医保", "社保", "工资", "房", "污染", "水",
            "电", "燃气", "停车", "城管", "补贴", "户口"]
SURGE_CITY = "江苏省/南京市"
BEIJING = timezone(timedelta(hours=8))
STEP = timedelta(minutes=5)
STEPS_A_DAY = 288
DRIFT_HOURS = 6.0          # the drift's memory (mean reversion time)
CITY_DRIFT = 0.5           # a topic's own drift in one city, as a share of its drift everywhere
CITY_SHARE_DRIFT = 0.1     # the cities' shares of the traffic
SECOND_REPEAT = 0.3

SCAN = (1, 2, 3, 4, 6, 8, 12)  # 5 minutes to an hour
# The rules compared: reports/surge_alarm.py's SurgeRule as shipped, and the alternatives measured against it
# (BENCHMARKS.md, "surge alarm"): more windows, a laxer alpha, a tolerance for drift, a shorter memory or lag.
RULES = {
    "shipped": SurgeRule(),
    "before": SurgeRule(windows=(3, 12), alpha=2e-6, tolerance=1.0, half_life_minutes=120.0),  # shipped until 2026-12-08
    "scan": SurgeRule(windows=SCAN),
    "scan-a1e-5": SurgeRule(windows=SCAN, alpha=1e-5),
    "t125-a1e-5": SurgeRule(windows=SCAN, alpha=1e-5, tolerance=1.25),
    "t125-a1e-5-hl60": SurgeRule(windows=SCAN, alpha=1e-5, tolerance=1.25, half_life_minutes=60.0),
    "t15-a1e-4-mc6": SurgeRule(windows=SCAN, alpha=1e-4, tolerance=1.5, min_count=6),
    "t15-a1e-5-hl60": SurgeRule(windows=SCAN, alpha=1e-5, tolerance=1.5, half_life_minutes=60.0),
    "t15-a1e-5-lag9": SurgeRule(windows=(1, 2, 3, 4, 6, 9), alpha=1e-5, tolerance=1.5, baseline_lag_buckets=9),
}


@dataclass
class Topics:
    names: list[str]
    weights: np.ndarray          # the usual share of each topic
    surgeable: list[int]         # the FAQ and policy entries asked at least twice in their pack (2–8 an hour in 南京)


def topics() -> Topics:
    """The background's topics: the FAQ and policy questions' entries (40%), the medical questions' entries (40%),
    ticket categories (20%), each weighted by how often its pack holds it."""
    def expected(pack: str) -> list[str]:
        path = SHARED / "retrieval" / f"{pack}.queries.jsonl"
        return [f"entry:{pack}:{json.loads(line)['expected']}" for line in path.open(encoding="utf-8") if line.strip()]

    categories = []
    for line in (SHARED / "traffic" / "gov-messages-with-replies.jsonl").open(encoding="utf-8"):
        subject = json.loads(line).get("subject", "")
        categories.append("category:" + next((k for k in KEYWORDS if k in subject), "其他"))
    common = expected("covid-faq") + expected("gov-policy")
    weight: Counter[str] = Counter()
    for pool, share in ((common, 0.4), (expected("covid-medical"), 0.4), (categories, 0.2)):
        for name in pool:
            weight[name] += share / len(pool)
    names = sorted(weight)
    asked = Counter(common)
    return Topics(names, np.array([weight[n] for n in names]), [i for i, n in enumerate(names) if asked[n] >= 2])


def _ou(rng: np.random.Generator, steps: int, shape: tuple[int, ...], spread: float) -> np.ndarray:
    """A mean-reverting random walk (Ornstein–Uhlenbeck) per element, `steps` long, stationary sd `spread`."""
    phi = math.exp(-STEP / timedelta(hours=DRIFT_HOURS))
    out = np.empty((steps, *shape))
    out[0] = rng.normal(0.0, spread, shape)
    noise = rng.normal(0.0, spread * math.sqrt(1 - phi * phi), (steps, *shape))
    for s in range(1, steps):
        out[s] = phi * out[s - 1] + noise[s]
    return out


def _profile() -> np.ndarray:
    """Contacts per 5-minute step of a day, as shares, the hourly profile interpolated through each hour's middle."""
    hours = (np.arange(STEPS_A_DAY) + 0.5) / 12 - 0.5
    per_hour = np.interp(hours, np.arange(-1, 25), [PROFILE[-1], *PROFILE, PROFILE[0]])
    return per_hour / per_hour.sum()


@dataclass
class Replay:
    events: list[tuple]
    surge: tuple[str, datetime] | None = None
    usual_an_hour: float = 0.0   # the surging topic's questions in 南京 in the hour before its start
    extra: list[int] = field(default_factory=list)


def two_days(rng: np.random.Generator, day: datetime, contacts: int, pool: Topics, *, drift: float, repeats: float,
             surge_at: datetime | None) -> Replay:
    """(at, topic, region) events of the warm-up day before `day` and of `day`; with `surge_at`, a surge from then."""
    steps, cities = 2 * STEPS_A_DAY, list(CITIES)
    origin = day - timedelta(days=1)
    volume = np.tile(_profile(), 2) * contacts
    city_share = np.array(list(CITIES.values())) * np.exp(_ou(rng, steps, (len(cities),), CITY_SHARE_DRIFT))
    city_share /= city_share.sum(axis=1, keepdims=True)
    log_weight = np.log(pool.weights) + _ou(rng, steps, (len(pool.names),), drift)
    city_drift = _ou(rng, steps, (len(cities), len(pool.names)), drift * CITY_DRIFT) if drift else None
    surge_topic = surge_index = None
    if surge_at is not None:
        surge_index = pool.surgeable[int(rng.integers(len(pool.surgeable)))]
        surge_topic = pool.names[surge_index]
    nanjing = cities.index(SURGE_CITY)
    usual = pool.weights[surge_index] / pool.weights.sum() if surge_index is not None else 0.0
    out = Replay([])
    for s in range(steps):
        begin = origin + STEP * s
        for c, city in enumerate(cities):
            logs = log_weight[s] + (city_drift[s, c] if city_drift is not None else 0.0)
            p = np.exp(logs - logs.max())
            p /= p.sum()
            counts = rng.multinomial(rng.poisson(volume[s] * city_share[s, c]), p)
            if surge_at is not None and c == nanjing:
                # the extra questions above the usual, minute by minute: (factor − 1) × the topic's usual rate at
                # this hour (its share without the drift, which may have it above or below that at the moment)
                rate = volume[s] * city_share[s, c] * usual / 5
                for minute in range(5):
                    at = begin + timedelta(minutes=minute)
                    if at >= surge_at:
                        factor = 1 + 9 * min(1.0, (at - surge_at) / timedelta(hours=1))
                        counts[surge_index] += rng.poisson(rate * (factor - 1))
            asked = np.repeat(np.arange(len(p)), counts)
            if not len(asked):
                continue
            at = rng.uniform(0, STEP.total_seconds(), len(asked)) + STEP.total_seconds() * s
            again = rng.random(len(asked)) < repeats
            third = again & (rng.random(len(asked)) < SECOND_REPEAT)
            asked = np.concatenate([asked, asked[again], asked[third]])
            at = np.concatenate([at, at[again] + rng.uniform(60, 600, again.sum()),
                                 at[third] + rng.uniform(120, 900, third.sum())])
            out.events.extend(zip(at.tolist(), (pool.names[i] for i in asked), [city] * len(asked)))
    horizon = (timedelta(days=2)).total_seconds()
    out.events = sorted((origin + timedelta(seconds=a), t, r) for a, t, r in out.events if a < horizon)
    if surge_at is not None:
        out.surge = (surge_topic, surge_at)
        out.usual_an_hour = sum(1 for at, t, r in out.events
                                if t == surge_topic and r == SURGE_CITY and surge_at - timedelta(hours=1) <= at < surge_at)
    return out


@dataclass
class Tally:
    delays: list[float] = field(default_factory=list)
    missed: int = 0
    false_quiet: int = 0
    false_surge: int = 0
    seconds: list[float] = field(default_factory=list)
    usual: list[float] = field(default_factory=list)

    def line(self, name: str, days: int) -> str:
        median = f"{statistics.median(self.delays):.0f}" if self.delays else "-"
        worst = f"{max(self.delays):.0f}" if self.delays else "-"
        return (f"{name:>14}: alerted {days - self.missed}/{days}, minutes to alert median {median}, max {worst}; "
                f"false alarms: quiet days {self.false_quiet}, surge days {self.false_surge}; "
                f"detector {statistics.median(self.seconds):.2f} s per 2 days")


def _clock(moment: datetime) -> str:
    return f"{moment.astimezone(BEIJING):%H:%M}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=5, help="quiet days and surge days replayed (each)")
    parser.add_argument("--contacts", type=int, default=30_000, help="contacts a day")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--rules", default="shipped,before", help=f"rules compared, of: {', '.join(RULES)}")
    parser.add_argument("--drift", type=float, default=0.2, help="spread of a topic's share about its usual (log sd)")
    parser.add_argument("--repeats", type=float, default=0.15, help="chance a question is asked again soon after")
    parser.add_argument("--quiet", action="store_true", help="the summary only, not each day")
    args = parser.parse_args()
    names = args.rules.split(",")
    rules = {name: RULES[name] for name in names}
    pool = topics()
    rng = np.random.default_rng(args.seed)
    tallies = {name: Tally() for name in rules}
    day = datetime(2021, 7, 22, 16, 0, tzinfo=timezone.utc)  # 00:00 Beijing, 23 July 2021
    for n in range(args.days):
        quiet = two_days(rng, day, args.contacts, pool, drift=args.drift, repeats=args.repeats, surge_at=None)
        start = day + timedelta(hours=int(rng.choice([10, 11, 14, 15])), minutes=int(rng.integers(60)),
                                seconds=int(rng.integers(60)))  # 10:00–16:59 Beijing
        surged = two_days(rng, day, args.contacts, pool, drift=args.drift, repeats=args.repeats, surge_at=start)
        topic = surged.surge[0]
        for name, rule in rules.items():
            tally = tallies[name]
            began = time.perf_counter()
            bursts = [b for b in detect(quiet.events, day - timedelta(days=1), day + timedelta(days=1), rule)
                      if b.window_end > day]
            tally.seconds.append(time.perf_counter() - began)
            tally.false_quiet += len(bursts)
            for b in bursts if not args.quiet else ():
                print(f"  [{name}] quiet day {n + 1}: false alarm {b.topic} {b.region} at {_clock(b.window_end)}: "
                      f"{b.count} where {b.expected:.1f} expected")
            bursts = [b for b in detect(surged.events, day - timedelta(days=1), day + timedelta(days=1), rule)
                      if b.window_end > day]
            hits = [b for b in bursts if b.topic == topic and b.region in (SURGE_CITY, EVERYWHERE) and b.window_end > start]
            wrong = [b for b in bursts if b not in hits]
            tally.false_surge += len(wrong)
            tally.usual.append(surged.usual_an_hour)
            for b in wrong if not args.quiet else ():
                print(f"  [{name}] surge day {n + 1}: false alarm {b.topic} {b.region} at {_clock(b.window_end)}: "
                      f"{b.count} where {b.expected:.1f} expected")
            if hits:
                first = hits[0]
                tally.delays.append((first.window_end - start) / timedelta(minutes=1))
                said = (f"alert after {tally.delays[-1]:.0f} min ({first.count} in {(first.window_end - first.window_start) / timedelta(minutes=1):.0f} min, "
                        f"{first.expected:.1f} expected, region {first.region})")
            else:
                tally.missed += 1
                said = "no alert"
            if not args.quiet:
                print(f"[{name}] day {n + 1}: surge of {topic} in {SURGE_CITY} from {_clock(start)} Beijing, "
                      f"{surged.usual_an_hour} in the hour before: {said}")
        day += timedelta(days=2)
    print(f"{args.days} surge days and {args.days} quiet days, {args.contacts:,} contacts a day, seed {args.seed}, "
          f"drift {args.drift}, repeats {args.repeats}; the surging topics were asked "
          f"{statistics.median(next(iter(tallies.values())).usual):.0f} times (median) in 南京 in the hour before")
    for name, tally in tallies.items():
        print(tally.line(name, args.days))


if __name__ == "__main__":
    main()
