"""The surge alarm (reports/surge_alarm.py) on replayed days: minutes from a surge's start to its alert, and false
alarms over quiet days.

A day of traffic is built for measurement only (never shipped): the questions of the retrieval packs in
../shared/eval/retrieval (each counted under the entry it expects, as an answered question is) and the
citizens' messages of ../shared/eval/traffic/gov-messages-with-replies.jsonl (as tickets, under a category read
from a few keywords of their subject), drawn at random with a daily profile (quiet at night, peaks at 10:00 and
15:00 Beijing), spread over five cities. A surge: one topic's rate in one city rises tenfold within an hour
(linearly from its start), as questions about a new rule did on 23 July 2021 in Nanjing.

    .venv/bin/python -m bench.surge_alarm [--days 5] [--contacts 30000]
"""
from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from reports.surge_alarm import SurgeRule, detect

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
CITIES = {"江苏省/南京市": 0.4, "江苏省/苏州市": 0.2, "江苏省/无锡市": 0.15, "江苏省/扬州市": 0.15, "江苏省/徐州市": 0.1}
# The share of a day's contacts in each Beijing hour (0–23): night, the morning peak, lunch, the afternoon peak.
PROFILE = [0.4, 0.3, 0.2, 0.2, 0.2, 0.3, 0.8, 2.0, 4.5, 6.5, 7.5, 7.0, 5.0, 5.0, 6.5, 7.0, 6.5, 5.5, 4.0, 3.5, 3.0,
           2.5, 1.5, 0.8]
KEYWORDS = ["物业", "噪音", "拆迁", "学校", "教育", "交通", "公交", "医院", "医保", "社保", "工资", "房", "污染", "水",
            "电", "燃气", "停车", "城管", "补贴", "户口"]
SURGE_CITY = "江苏省/南京市"


def topics() -> tuple[list[str], list[str], list[str]]:
    """The background's topics: the FAQ and policy questions' entries, the medical questions' entries, ticket categories."""
    def expected(pack: str) -> list[str]:
        path = SHARED / "retrieval" / f"{pack}.queries.jsonl"
        return [f"entry:{pack}:{json.loads(line)['expected']}" for line in path.open(encoding="utf-8") if line.strip()]

    categories = []
    for line in (SHARED / "traffic" / "gov-messages-with-replies.jsonl").open(encoding="utf-8"):
        subject = json.loads(line).get("subject", "")
        categories.append("category:" + next((k for k in KEYWORDS if k in subject), "其他"))
    return expected("covid-faq") + expected("gov-policy"), expected("covid-medical"), categories


def day_of_traffic(rng: random.Random, day: datetime, contacts: int, pools, surge: tuple[str, datetime] | None):
    """(at, topic, region) events of one day; with `surge`, its topic's rate in SURGE_CITY rises tenfold in an hour."""
    common, medical, categories = pools
    weights = [p / sum(PROFILE) for p in PROFILE]
    events = []
    for hour, share in enumerate(weights):
        for _ in range(_poisson(rng, contacts * share)):
            at = day + timedelta(hours=hour, seconds=rng.uniform(0, 3600))
            pool = rng.choices((common, medical, categories), (0.4, 0.4, 0.2))[0]
            region = rng.choices(list(CITIES), list(CITIES.values()))[0]
            events.append((at, rng.choice(pool), region))
    if surge is not None:
        topic, start = surge
        base = sum(1 for at, t, r in events if t == topic and r == SURGE_CITY) / contacts  # its share in the city
        minute = start
        while minute < day + timedelta(days=1):
            hour = (minute - day).seconds // 3600
            rate = contacts * weights[hour] / 60 * max(base, 0.5 / contacts)  # its usual rate a minute there
            factor = 1 + 9 * min(1.0, (minute - start) / timedelta(hours=1))
            for _ in range(_poisson(rng, rate * (factor - 1))):  # the extra questions above the usual
                events.append((minute + timedelta(seconds=rng.uniform(0, 60)), topic, SURGE_CITY))
            minute += timedelta(minutes=1)
    events.sort()
    return events


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=5, help="quiet days and surge days replayed (each)")
    parser.add_argument("--contacts", type=int, default=30_000, help="contacts a day")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--alpha", type=float, default=SurgeRule.alpha)
    parser.add_argument("--min-count", type=int, default=SurgeRule.min_count)
    parser.add_argument("--half-life", type=float, default=SurgeRule.half_life_minutes, help="the baseline's, in minutes")
    args = parser.parse_args()
    rule = SurgeRule(alpha=args.alpha, min_count=args.min_count, half_life_minutes=args.half_life)
    pools = topics()
    rng = random.Random(args.seed)
    # one day of warm-up before each replayed day, so the baseline has seen a night and a morning
    day = datetime(2021, 7, 22, 16, 0, tzinfo=timezone.utc)  # 00:00 Beijing, 23 July 2021
    false_quiet, delays, missed, false_surge, seconds = 0, [], 0, 0, []
    common_counts = Counter(pools[0])
    for n in range(args.days):
        events = day_of_traffic(rng, day - timedelta(days=1), args.contacts, pools, None)
        events += day_of_traffic(rng, day, args.contacts, pools, None)
        began = time.perf_counter()
        bursts = detect(events, day - timedelta(days=1), day + timedelta(days=1), rule)
        seconds.append(time.perf_counter() - began)
        for b in bursts:
            if b.window_end > day:
                false_quiet += 1
                print(f"  quiet day {n + 1}: false alarm {b.topic} {b.region} at "
                      f"{b.window_end.astimezone(timezone(timedelta(hours=8))):%H:%M}: {b.count} where {b.expected:.1f} expected")

        topic = rng.choice([t for t, c in common_counts.items() if c >= 2])
        start = day + timedelta(hours=rng.choice([10, 11, 14, 15]), minutes=rng.randrange(60))  # 10:00–16:59 Beijing
        events = day_of_traffic(rng, day - timedelta(days=1), args.contacts, pools, None)
        events += day_of_traffic(rng, day, args.contacts, pools, (topic, start))
        bursts = [b for b in detect(events, day - timedelta(days=1), day + timedelta(days=1), rule) if b.window_end > day]
        hits = [b for b in bursts if b.topic == topic and b.window_end > start]
        for b in bursts:
            if b.topic != topic:
                false_surge += 1
                print(f"  surge day {n + 1}: false alarm {b.topic} {b.region} at "
                      f"{b.window_end.astimezone(timezone(timedelta(hours=8))):%H:%M}: {b.count} where {b.expected:.1f} expected")
        if hits:
            delays.append((hits[0].window_end - start) / timedelta(minutes=1))
            usual = sum(1 for at, t, r in events if t == topic and r == SURGE_CITY and at < start and at > day)
            print(f"day {n + 1}: {usual} before the surge; surge of {topic} in {SURGE_CITY} from {start.astimezone(timezone(timedelta(hours=8))):%H:%M} "
                  f"Beijing: alert after {delays[-1]:.0f} min ({hits[0].count} in 15 min, {hits[0].expected:.1f} expected, "
                  f"region {hits[0].region})")
        else:
            missed += 1
            usual = sum(1 for at, t, r in events if t == topic and r == SURGE_CITY and at < start and at > day)
            print(f"day {n + 1}: {usual} before the surge; surge of {topic} from {start.astimezone(timezone(timedelta(hours=8))):%H:%M} Beijing: no alert")
        day += timedelta(days=2)
    print(f"surge days: {args.days}, alerted {args.days - missed}, minutes to alert: median "
          f"{statistics.median(delays) if delays else float('nan'):.0f}, max {max(delays) if delays else float('nan'):.0f}; "
          f"other alerts on surge days: {false_surge}")
    print(f"quiet days: {args.days} ({args.contacts:,} contacts each), false alarms: {false_quiet}; "
          f"detector time per replayed 2 days: median {statistics.median(seconds):.2f} s")


if __name__ == "__main__":
    main()
