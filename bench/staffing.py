"""How long the seats-needed figures take at Nanjing's peak (reports/staffing.py): Erlang C and Erlang A for
120,000 calls an hour, 3-minute handling, 80 % answered within 15 s (Erlang A: callers' mean patience 2 minutes),
without Frontdoor and with it resolving 90 % and 98 %. Prints one line per case and the median of `--repeat` runs.

    .venv/bin/python -m bench.staffing [--calls 120000] [--repeat 20]
"""
from __future__ import annotations

import argparse
import statistics
import time

from reports.staffing import Demand, seats_erlang_a, seats_erlang_c


def timed(function, demand: Demand, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(demand)
        times.append(time.perf_counter() - start)
    return result, statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=float, default=120_000)
    parser.add_argument("--handling", type=float, default=180)
    parser.add_argument("--answer", type=float, default=15)
    parser.add_argument("--level", type=float, default=0.8)
    parser.add_argument("--patience", type=float, default=120)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    base = Demand(args.calls, args.handling, args.answer, args.level, patience_seconds=args.patience)
    for share in (0.0, 0.9, 0.98):
        demand = base.diverted(share)
        for name, function in (("erlang_c", seats_erlang_c), ("erlang_a", seats_erlang_a)):
            result, median, worst = timed(function, demand, args.repeat)
            print(f"{name} diverted={share:.0%} calls/h={demand.calls_per_hour:,.0f} erlangs={result.erlangs:,.0f} "
                  f"seats={result.seats:,} level={result.service_level:.3f} abandoned={result.abandoned:.3f} "
                  f"median={median * 1000:.1f} ms max={worst * 1000:.1f} ms")


if __name__ == "__main__":
    main()
