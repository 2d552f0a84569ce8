"""How long the 数据日报 takes for a busy day: a replayed day of `--contacts` contacts (50,000 by default) written
into a database of its own (a fresh schema on PostgreSQL, or a SQLite file), then the figures, the page, the PDF
and the workbook built and timed (target: the whole report in ≤ 30 s on 2 cores, on PostgreSQL), and the surge
alarm's check over the busiest 8 hours.

    .venv/bin/python -m bench.daily_report --database-url postgresql+psycopg://…   [--contacts 50000]

The day: contacts spread over the hours like a hotline's (quiet at night, peaks at 10:00 and 15:00), over three
channels and five cities; 60 % answered (a tenth of those callers come back within a day about the same entry),
10 % clarified then chosen, 25 % handed off to a ticket, 5 % leaving unanswered questions in 300 clusters.
"""
from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import create_engine, insert

from reports.alerts import SurgeAlarm
from reports.daily import DailyReport, day_bounds
from reports.fonts import cjk_font
from reports.render import html_page, pdf_document
from reports.workbook import ticket_workbook
from storage.database import Database, normalise_url
from storage.tables import ConversationRow, EntryRow, GapClusterRow, GapRow, TicketRow, TurnRow

DAY = date(2021, 7, 25)
PROFILE = [0.4, 0.3, 0.2, 0.2, 0.2, 0.3, 0.8, 2.0, 4.5, 6.5, 7.5, 7.0, 5.0, 5.0, 6.5, 7.0, 6.5, 5.5, 4.0, 3.5, 3.0,
           2.5, 1.5, 0.8]
CITIES = ["江苏省/南京市/鼓楼区", "江苏省/南京市/江宁区", "江苏省/苏州市", "江苏省/无锡市", "江苏省/扬州市"]


def seed(db: Database, contacts: int, rng: random.Random) -> None:
    start, _ = day_bounds(DAY)
    entries = [f"e{i}" for i in range(400)]
    conversations, turns, tickets, gaps = [], [], [], []
    with db.session() as s:
        now = datetime(2021, 7, 1, tzinfo=timezone.utc)
        s.execute(insert(EntryRow), [dict(id=e, question=f"问题{e}", samples=[], chat_answer="答", voice_answer="答",
                                         category=None, request_type="咨询", region="江苏省", variant_of=None,
                                         effective_from=None, expires_at=None, status="published", version=1,
                                         updated_by="seed", updated_at=now, source="") for e in entries])
        clusters = [GapClusterRow(label=f"未答问题{i}", status="open", size=0, first_at=start, last_at=start,
                                  centroid=b"\0" * 4, model_id="bench") for i in range(300)]
        s.add_all(clusters)
        s.flush()
        cluster_ids = [c.id for c in clusters]
    hours = rng.choices(range(24), PROFILE, k=contacts)
    for i, hour in enumerate(hours):
        at = start + timedelta(hours=hour, seconds=rng.uniform(0, 3600))
        cid, channel, region = f"b{i}", rng.choice(["voice", "chat", "wechat"]), rng.choice(CITIES)
        caller = f"139{rng.randrange(10**8):08d}"
        kind = rng.choices(["answer", "clarify", "handoff", "gap"], [60, 10, 25, 5])[0]
        entry = rng.choice(entries)
        ticket = f"B{i:08d}" if kind == "handoff" else None
        conversations.append(dict(id=cid, channel=channel, region=region, caller=caller, state={}, turns=1,
                                  ticket_number=ticket, created_at=at, updated_at=at))
        if kind == "answer":
            turns.append(dict(conversation_id=cid, seq=1, at=at, text="问", decision="answer", entry_id=entry,
                              candidates=[{"entry_id": entry, "score": 0.9}], reason="confident"))
            if rng.random() < 0.1:
                back, bid = at + timedelta(hours=rng.uniform(0.5, 20)), f"b{i}-back"
                conversations.append(dict(id=bid, channel="voice", region=region, caller=caller, state={}, turns=1,
                                          ticket_number=None, created_at=back, updated_at=back))
                turns.append(dict(conversation_id=bid, seq=1, at=back, text="又问", decision="answer", entry_id=entry,
                                  candidates=[], reason="confident"))
        elif kind == "clarify":
            turns.append(dict(conversation_id=cid, seq=1, at=at, text="问", decision="clarify", candidates=[],
                              reason="close_candidates"))
            turns.append(dict(conversation_id=cid, seq=2, at=at + timedelta(seconds=15), text="1", decision="answer",
                              entry_id=entry, candidates=[], reason="chosen"))
        elif kind == "handoff":
            turns.append(dict(conversation_id=cid, seq=1, at=at, text="投诉", decision="handoff", candidates=[],
                              reason="low_confidence"))
            tickets.append(dict(number=ticket, conversation_id=cid, channel=channel, region=region, caller=caller,
                                transcript=[], summary="", reason=rng.choice(["low_confidence", "intake", "asked_for_human"]),
                                category_code=f"C{rng.randrange(40)}", category_name="分类", category_score=None,
                                category_source=None, request_type=rng.choice(["投诉", "求助", "咨询"]),
                                urgency=rng.choice(["紧急", "次紧急", "一般"]), due_at=at + timedelta(hours=2),
                                candidates=[], asr_confidence=None, details=None, status="open", seat=None, reply=None,
                                created_at=at, updated_at=at, claimed_at=None, replied_at=None, closed_at=None))
        else:
            turns.append(dict(conversation_id=cid, seq=1, at=at, text="没答上", decision="answer", entry_id=entry,
                              candidates=[], reason="low_confidence"))
            gaps.append(dict(at=at, channel=channel, session=cid, region=region, text="这个怎么办，电话13812345678",
                             asr_confidence=None, reason="low_confidence", confidence=0.3, top_entry_id=entry,
                             cluster_id=rng.choice(cluster_ids)))
    with db.session() as s:
        for table, rows in ((ConversationRow, conversations), (TurnRow, turns), (TicketRow, tickets), (GapRow, gaps)):
            for k in range(0, len(rows), 5000):
                s.execute(insert(table), rows[k:k + 5000])


def timed(label: str, function):
    began = time.perf_counter()
    result = function()
    print(f"{label}: {time.perf_counter() - began:.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="PostgreSQL (a schema is made and dropped) or sqlite:///FILE")
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=25)
    args = parser.parse_args()
    url, schema, admin = args.database_url, None, None
    if url.startswith("postgresql"):
        admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
    db = Database(url)
    try:
        db.migrate()
        timed(f"seeding {args.contacts:,} contacts", lambda: seed(db, args.contacts, random.Random(args.seed)))
        font = cjk_font()
        began = time.perf_counter()
        figures = timed("figures", lambda: DailyReport(db).figures(DAY, now=day_bounds(DAY)[1] + timedelta(hours=2)))
        timed("html", lambda: html_page(figures, font))
        timed("pdf", lambda: pdf_document(figures, font))
        workbook = timed("xlsx", lambda: ticket_workbook(db, [DAY]))
        total = time.perf_counter() - began
        print(f"contacts {figures.contacts:,}, tickets {figures.tickets:,}, resolved {figures.resolved:,} "
              f"({figures.self_service_rate:.1%}), came back {figures.came_back:,}; xlsx {len(workbook) / 1e6:.1f} MB")
        print(f"the whole report (figures, page, PDF, workbook): {total:.1f} s on {db.dialect}")
        # the surge alarm's check at 16:00 Beijing reads the 8 hours before (counted by the database per bucket)
        alarm = SurgeAlarm(db)
        timed("the surge alarm's check over 8 hours of that day", lambda: alarm.check(day_bounds(DAY)[0] + timedelta(hours=16)))
    finally:
        db.dispose()
        if admin is not None:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()


if __name__ == "__main__":
    main()
