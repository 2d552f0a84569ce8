"""The live queue across workers: how long until a new ticket shows on every connected workbench.

    source /tmp/pg.env
    .venv/bin/python bench/desk_live.py --url $FRONTDOOR_TEST_POSTGRES_URL [--workers 4] [--seats 40] [--tickets 20]
                                        [--modes notify poll]

On PostgreSQL, in a schema of its own (dropped at the end): `--seats` seat accounts of 扬州 with API tokens. For each
mode, `frontdoor serve --workers W` (voice off, no seed knowledge; `notify`: FRONTDOOR_DESK_WATCH_LISTEN=true, each
worker's queue watch woken by LISTEN/NOTIFY; `poll`: false, each worker reads the newest ticket event every
FRONTDOOR_DESK_WATCH_SECONDS=1). Every seat opens the workbench's stream (GET /v1/desk/stream, server-sent events, as
the page's EventSource does: a first request for the current id, then one held open with Last-Event-ID); the
connections spread over the workers as the kernel hands them out (X-Frontdoor-Worker says which). Then `--tickets`
times, `--gap` seconds apart: a citizen asks in the chat (POST /v1/chat; with no knowledge to answer from, a 投诉 is
handed off at once, else the citizen asks for a person, 转人工), which opens a ticket. The delay of one ticket on one
workbench is from the moment the request that opened it was sent to the first `queue`
event that stream receives after it; a ticket not seen within the gap counts as missed. Prints p50/p95/max per mode
over every (ticket, workbench), the streams per worker, the load average, and last one JSON line.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from accounts.passwords import Passwords  # noqa: E402
from accounts.store import AccountStore  # noqa: E402
from bench.chat import start_service  # noqa: E402
from storage.database import Database, normalise_url  # noqa: E402

CITY = "江苏省/扬州市"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def seat_tokens(url: str, seats: int) -> list[str]:
    db = Database(url)
    try:
        db.migrate()
        accounts = AccountStore(db, passwords=Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)))
        tokens = []
        for i in range(seats):
            accounts.create(f"yz-live-{i:02d}", "bench-password-2026", "seat", region=CITY, by="bench")
            tokens.append(accounts.open_session(f"yz-live-{i:02d}", "token", by="bench")[0])
        return tokens
    finally:
        db.dispose()


async def follow(client: httpx.AsyncClient, token: str, arrivals: list[float], workers: list[str],
                 ready: asyncio.Event) -> None:
    """One workbench's stream, as the page's EventSource follows it: the time of each `queue` event after the first."""
    last = None
    while True:
        headers = {"authorization": f"Bearer {token}"} | ({"last-event-id": last} if last else {})
        try:
            async with client.stream("GET", "/v1/desk/stream", headers=headers) as response:
                held = last is not None
                if held:
                    workers.append(response.headers.get("x-frontdoor-worker", "?"))
                    ready.set()
                async for line in response.aiter_lines():
                    if line.startswith("id: "):
                        last = line[4:]
                    elif line == "event: queue" and held:
                        arrivals.append(time.monotonic())
        except httpx.HTTPError:
            await asyncio.sleep(0.5)


async def measure(base: str, tokens: list[str], tickets: int, gap: float) -> dict:
    limits = httpx.Limits(max_connections=len(tokens) + 10, max_keepalive_connections=0)
    timeout = httpx.Timeout(30, read=90)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as streams, \
            httpx.AsyncClient(base_url=base, timeout=60) as citizen:
        arrivals = [[] for _ in tokens]
        workers: list[str] = []
        readies = [asyncio.Event() for _ in tokens]
        tasks = [asyncio.create_task(follow(streams, t, arrivals[i], workers, readies[i])) for i, t in enumerate(tokens)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
        await asyncio.sleep(2)
        opened: list[float] = []
        for k in range(tickets):
            sent = time.monotonic()
            reply = (await citizen.post("/v1/chat", json={"text": f"小区夜间施工噪音扰民{k}", "region": CITY})).json()
            if reply.get("decision") != "handoff":  # the engine asked back: ask for a person
                sent = time.monotonic()
                reply = (await citizen.post("/v1/chat", json={"text": "转人工", "region": CITY,
                                                              "session": reply["session"]})).json()
            if reply.get("decision") != "handoff" or not reply.get("ticket"):
                raise SystemExit(f"no ticket opened: {json.dumps(reply, ensure_ascii=False)[:300]}")
            opened.append(sent)
            await asyncio.sleep(gap)
        await asyncio.sleep(1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    delays, missed = [], 0
    for k, at in enumerate(opened):
        until = opened[k + 1] if k + 1 < len(opened) else at + gap
        for seen in arrivals:
            after = [t for t in seen if at <= t < until]
            if after:
                delays.append(after[0] - at)
            else:
                missed += 1
    return {"delays": delays, "missed": missed, "streams_per_worker": dict(sorted(Counter(workers).items()))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("FRONTDOOR_TEST_POSTGRES_URL"), help="a PostgreSQL URL")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seats", type=int, default=40)
    parser.add_argument("--tickets", type=int, default=20)
    parser.add_argument("--gap", type=float, default=3.0, help="seconds between two tickets")
    parser.add_argument("--modes", nargs="+", default=["notify", "poll"], choices=["notify", "poll"])
    args = parser.parse_args()
    if not args.url:
        raise SystemExit("give --url (a PostgreSQL URL) or set FRONTDOOR_TEST_POSTGRES_URL")

    admin = create_engine(normalise_url(args.url), isolation_level="AUTOCOMMIT")
    schema = f"bench_desk_live_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(normalise_url(args.url)).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)
    results = {}
    try:
        tokens = seat_tokens(url, args.seats)
        for mode in args.modes:
            with tempfile.TemporaryDirectory(prefix="desk-live-") as scratch:
                process, base = start_service(Path(scratch), args.workers, {
                    "FRONTDOOR_DATABASE_URL": url, "FRONTDOOR_VOICE": "false", "FRONTDOOR_SEED_ON_START": "false",
                    "FRONTDOOR_DESK_WATCH_LISTEN": "true" if mode == "notify" else "false",
                    "FRONTDOOR_DESK_WATCH_SECONDS": "1"})
                try:
                    time.sleep(3)  # every worker past its start-up
                    load_before = os.getloadavg()[0]
                    found = asyncio.run(measure(base, tokens, args.tickets, args.gap))
                    load_after = os.getloadavg()
                finally:
                    process.terminate()
                    process.wait(timeout=60)
            delays = found["delays"]
            figures = {"p50_s": round(statistics.median(delays), 3) if delays else None,
                       "p95_s": round(percentile(delays, 95), 3) if delays else None,
                       "max_s": round(max(delays), 3) if delays else None, "seen": len(delays), "missed": found["missed"],
                       "streams_per_worker": found["streams_per_worker"], "load_before": round(load_before, 2),
                       "load_1_5_15": [round(x, 2) for x in load_after]}
            results[mode] = figures
            print(f"{mode}: {args.tickets} tickets x {args.seats} workbenches on {args.workers} workers: "
                  f"p50 {figures['p50_s']} s, p95 {figures['p95_s']} s, max {figures['max_s']} s, "
                  f"missed {figures['missed']}; streams per worker {figures['streams_per_worker']}; "
                  f"load average {figures['load_1_5_15']} (before: {figures['load_before']})", flush=True)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
    print(json.dumps({"workers": args.workers, "seats": args.seats, "tickets": args.tickets, **results}))
    return 0 if all(r["missed"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
