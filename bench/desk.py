"""The seats' desk at scale, on PostgreSQL: the queue a seat reads and "take the next one" by many seats at once.

    .venv/bin/python bench/desk.py --url postgresql+psycopg://…/db [--tickets 100000] [--seats 50] [--takes 10]
                                   [--processes 8]

Into a fresh schema (dropped afterwards): `--tickets` open tickets over three cities (扬州 half of them), urgencies
mixed, deadlines spread over a day. Then (1) the queue of a Yangzhou seat, 100 tickets, as GET /v1/desk/queue reads it
(TicketDesk.list with the seat's scope), 300 times; (2) `--seats` threads, each a Suzhou seat under a 多援一
activation of Yangzhou, taking `--takes` tickets one after another, all starting together: every ticket given once,
and each take's time; with `--processes P` the seats are split over P processes (one interpreter each), to tell the
interpreter's share of the time from the database's locks. Measured on the desk's methods, in-process (no HTTP): the figures are the database's part.
Prints the figures and, last, one JSON line.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert  # noqa: E402

from desk.support import SupportDesk  # noqa: E402
from desk.tickets import URGENCY_ORDER, TicketDesk, TicketStatus  # noqa: E402
from ground.clock import BEIJING, utcnow  # noqa: E402
from storage.database import Database, normalise_url  # noqa: E402
from storage.tables import TicketRow  # noqa: E402

CITIES = ("江苏省/扬州市", "江苏省/南京市", "江苏省/苏州市")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else max(values)


def fill(db: Database, count: int) -> None:
    now, rng = utcnow(), random.Random(14)
    rows = []
    for i in range(1, count + 1):
        urgency = rng.choices(URGENCY_ORDER, weights=(1, 3, 16))[0]
        created = now - timedelta(minutes=rng.randrange(0, 24 * 60))
        city = CITIES[0] if rng.random() < 0.5 else rng.choice(CITIES[1:])
        rows.append(dict(id=i, number=f"{created.astimezone(BEIJING):%Y%m%d}{i:07d}", channel="voice",
                         region=f"{city}/某区", transcript=[{"text": "核酸检测点在哪"}], summary="核酸检测点在哪",
                         reason="low_confidence", request_type="咨询", urgency=urgency, urgency_rank=URGENCY_ORDER.index(urgency),
                         due_at=created + timedelta(hours=(1, 2, 24)[URGENCY_ORDER.index(urgency)]), candidates=[],
                         status=TicketStatus.OPEN.value, created_at=created, updated_at=created, escalation_level=0, urge_count=0))
        if len(rows) == 5000:
            with db.session(write=True) as s:
                s.execute(insert(TicketRow), rows)
            rows = []
    if rows:
        with db.session(write=True) as s:
            s.execute(insert(TicketRow), rows)
    with db.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE tickets")
        connection.exec_driver_sql("SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))")


def take_together(url, names: list[str], takes: int, start) -> tuple[list[float], list[str]]:
    """`names` (Suzhou seats under the activation), one thread each, each taking `takes` tickets one after another once
    every seat (of every process) is ready: (each take's milliseconds, the numbers given)."""
    db = Database(url)
    db.engine.pool._pool.maxsize = len(names) + 5  # one connection per seat (SQLAlchemy's default is 5 + 10)  # noqa: SLF001
    desk, support = TicketDesk(db), SupportDesk(db)
    scopes = {name: support.scope_for(name, CITIES[2]) for name in names}
    times, given, lock = [], [], threading.Lock()

    def seat(name: str) -> None:
        with db.engine.connect() as connection:  # each seat's connection opened before the clock starts
            connection.exec_driver_sql("SELECT 1")
        start.wait()
        for _ in range(takes):
            t0 = time.perf_counter()
            ticket = desk.take_next(name, scopes[name], takes, city=CITIES[2])
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                times.append(elapsed)
                given.append(ticket.number)

    threads = [threading.Thread(target=seat, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.dispose()
    return times, given


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="a PostgreSQL URL (a schema of its own is made and dropped)")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--seats", type=int, default=50)
    parser.add_argument("--takes", type=int, default=10)
    parser.add_argument("--queue-reads", type=int, default=300)
    parser.add_argument("--processes", type=int, default=1, help="the seats split over this many processes (threads in each)")
    args = parser.parse_args()

    admin = create_engine(normalise_url(args.url), isolation_level="AUTOCOMMIT")
    schema = f"bench_desk_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    db = Database(admin.url.update_query_dict({"options": f"-csearch_path={schema}"}))
    try:
        db.migrate()
        started = time.perf_counter()
        fill(db, args.tickets)
        print(f"{args.tickets} open tickets written in {time.perf_counter() - started:.1f} s")
        desk, support = TicketDesk(db), SupportDesk(db)
        db.engine.pool._pool.maxsize = args.seats + 5  # one connection per seat (SQLAlchemy's default is 5 + 10)  # noqa: SLF001

        local = support.scope_for("yz-01", CITIES[0])
        reads = []
        for _ in range(args.queue_reads):
            t0 = time.perf_counter()
            desk.list(status=TicketStatus.OPEN, scope=local, limit=100)
            reads.append((time.perf_counter() - t0) * 1000)
        print(f"queue (100 of a city's open tickets): p50 {statistics.median(reads):.1f} ms, p95 {p95(reads):.1f} ms")

        team = support.create_team("苏州支援组", CITIES[2], by="bench")
        for i in range(args.seats):
            support.set_member(team.id, f"sz-{i:02d}", args.takes, by="bench")
        now = utcnow()
        activation = support.open_activation(CITIES[0], now - timedelta(minutes=1), now + timedelta(hours=8), by="bench")
        support.add_batch(activation.id, "第一批", [team.id], by="bench")
        names = [f"sz-{i:02d}" for i in range(args.seats)]
        db.dispose()
        t0 = time.perf_counter()
        if args.processes <= 1:
            takes, given = take_together(db.url, names, args.takes, threading.Barrier(len(names)))
        else:
            context = multiprocessing.get_context("fork")
            start, results = context.Barrier(len(names)), context.Queue()
            processes = [context.Process(target=lambda part: results.put(take_together(db.url, part, args.takes, start)),
                                         args=(names[i::args.processes],)) for i in range(args.processes)]
            for process in processes:
                process.start()
            parts = [results.get() for _ in processes]
            for process in processes:
                process.join()
            takes, given = [t for part, _ in parts for t in part], [g for _, part in parts for g in part]
        wall = time.perf_counter() - t0
        twice = len(given) - len(set(given))
        print(f"take next: {args.seats} seats ({args.processes} processes) x {args.takes}: {len(given)} tickets in {wall:.2f} s, given twice: {twice}; "
              f"p50 {statistics.median(takes):.1f} ms, p95 {p95(takes):.1f} ms")
        print(json.dumps({"tickets": args.tickets, "queue_p50_ms": round(statistics.median(reads), 1),
                          "queue_p95_ms": round(p95(reads), 1), "seats": args.seats, "taken": len(given),
                          "given_twice": twice, "take_p50_ms": round(statistics.median(takes), 1),
                          "take_p95_ms": round(p95(takes), 1), "take_wall_s": round(wall, 2), "processes": args.processes,
                          "load_1_5_15": [round(x, 2) for x in os.getloadavg()]}))
        return 0 if twice == 0 and len(given) == args.seats * args.takes else 1
    finally:
        db.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
