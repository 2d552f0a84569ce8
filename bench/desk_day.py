"""A scripted 多援一 day under a fake clock: Yangzhou's own seats and three batches of remote teams (苏州 08:00,
南京 10:00, 无锡 12:00; 苏州 released at 20:00) work the day's handed-off tickets through the desk's real methods.

    .venv/bin/python bench/desk_day.py [--tickets 5000] [--url DATABASE_URL]   # default: a fresh SQLite file

Tickets arrive 06:00–22:00 Beijing time (more at the morning and afternoon peaks), urgency mixed. Every simulated
minute: tickets arrive; a free seat takes the next one ("take the next one", its scope); a seat works a ticket for 3–9
minutes, then replies and closes it (most enquiries) or dispatches it to a department, which answers 1–20 hours later
and the seat closes it; call-backs are made the next morning; the supervision job runs every 10 minutes. Then the
checks: no ticket lost (every one closed, and archived after its call-back unless the run ended first), none taken by two seats, every one closed in time or escalated by its
deadline (within the job's period), and the figures per city of the seats, read from the timeline (ticket_events).
Prints the figures and, last, one JSON line.
"""
from __future__ import annotations

import argparse
import collections
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from desk.lifecycle import CallbackResult  # noqa: E402
from desk.supervision import Supervision  # noqa: E402
from desk.support import SupportDesk  # noqa: E402
from desk.tickets import AtCapacity, QueueEmpty, TicketDesk, TicketDraft  # noqa: E402
from ground.clock import BEIJING  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.tables import TicketEventRow, TicketRow  # noqa: E402

YANGZHOU, SUZHOU, NANJING, WUXI = "江苏省/扬州市", "江苏省/苏州市", "江苏省/南京市", "江苏省/无锡市"
DAY = datetime(2026, 7, 28, tzinfo=BEIJING)  # a Tuesday
SUPERVISE_EVERY = 10  # minutes


def arrivals(count: int, rng: random.Random) -> list[datetime]:
    """`count` moments between 06:00 and 22:00, denser at 09:00–11:00 and 14:00–16:00."""
    minutes = list(range(6 * 60, 22 * 60))
    weights = [3 if 9 * 60 <= m < 11 * 60 or 14 * 60 <= m < 16 * 60 else 1 for m in minutes]
    return sorted(DAY + timedelta(minutes=m, seconds=rng.randrange(60)) for m in rng.choices(minutes, weights, k=count))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--seats-per-team", type=int, default=12)
    parser.add_argument("--url", help="a database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    rng = random.Random(14)
    db = Database(args.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'day.db'}")
    db.migrate()
    desk, support, supervision = TicketDesk(db), SupportDesk(db), Supervision(db)

    cities = {"yz": YANGZHOU, "sz": SUZHOU, "nj": NANJING, "wx": WUXI}
    seats = {f"{prefix}-{i:02d}": city for prefix, city in cities.items() for i in range(args.seats_per_team)}
    teams = {}
    for prefix, city in cities.items():
        team = support.create_team(f"{city.split('/')[1]}组", city, by="bench", now=DAY)
        for seat in [s for s in seats if s.startswith(prefix)]:
            support.set_member(team.id, seat, 1, by="bench", now=DAY)
        teams[prefix] = team.id
    activation = support.open_activation(YANGZHOU, DAY + timedelta(hours=8), DAY + timedelta(days=6), by="bench", now=DAY)
    schedule = {DAY + timedelta(hours=8): ("add", "第一批", "sz"), DAY + timedelta(hours=10): ("add", "第二批", "nj"),
                DAY + timedelta(hours=12): ("add", "第三批", "wx"), DAY + timedelta(hours=20): ("release", "第一批", "sz")}
    batches: dict[str, int] = {}

    due = arrivals(args.tickets, rng)
    working: dict[str, tuple[str, datetime]] = {}    # seat → (ticket, done at)
    answers: list[tuple[datetime, str, str]] = []    # (when the department answers, ticket, department)
    back: dict[str, list[str]] = {}                  # seat → its tickets a department has answered
    closed_by_seat: dict[str, str] = {}
    started, now, opened, waiting = time.perf_counter(), DAY + timedelta(hours=6), 0, 0
    end = DAY + timedelta(days=6)
    scopes: dict[str, object] = {}
    while now < end:
        if now in schedule:
            action, label, prefix = schedule[now]
            if action == "add":
                batches[label] = support.add_batch(activation.id, label, [teams[prefix]], by="bench", now=now).batches[-1].id
            else:
                support.release_batch(activation.id, batches[label], by="bench", now=now)
            scopes.clear()
        while opened < len(due) and due[opened] <= now:
            urgency = rng.choices(("紧急", "次紧急", "一般"), (1, 3, 16))[0]
            desk.open(TicketDraft(channel="voice", summary="核酸检测点在哪", reason="low_confidence", transcript=[],
                                  request_type=rng.choices(("咨询", "求助", "投诉"), (6, 3, 1))[0], urgency=urgency,
                                  dispatch_hours={"紧急": 1, "次紧急": 2, "一般": 24}[urgency], region=YANGZHOU + "/邗江区"),
                      now=due[opened])
            opened, waiting = opened + 1, waiting + 1
        for seat, city in seats.items():
            if seat in working:
                number, done_at = working[seat]
                if done_at > now:
                    continue
                del working[seat]
                if rng.random() < 0.25:
                    department = rng.choice(("YZ-WATER", "YZ-HEALTH", "HJ-STREET"))
                    desk.dispatch(number, seat, department, now, city=city)
                    answers.append((now + timedelta(hours=rng.uniform(1, 20)), number, department))
                else:
                    desk.reply(number, seat, "已答复", now, city=city)
                    desk.close(number, seat, now, city=city)
                    closed_by_seat[number] = seat
            if back.get(seat):  # a department's answer came back: closing it comes first
                number = back[seat].pop(0)
                desk.close(number, seat, now, city=city)
                closed_by_seat[number] = seat
                continue
            if seat not in working and waiting:
                scope = scopes.get(seat) or scopes.setdefault(seat, support.scope_for(seat, city, now))
                try:
                    ticket = desk.take_next(seat, scope, 3, now, city=city)
                except (QueueEmpty, AtCapacity):
                    continue
                waiting -= 1
                working[seat] = (ticket.number, now + timedelta(minutes=rng.uniform(3, 9)))
        for item in [a for a in answers if a[0] <= now]:
            answers.remove(item)
            answered = desk.department_answer(item[1], item[2], item[2].lower(), "已处理", now)
            back.setdefault(answered.seat, []).append(item[1])
        if now.astimezone(BEIJING).hour == 9 and now.minute == 0:  # the call-backs, each morning
            for number in list(closed_by_seat):
                ticket = desk.get(number)
                if ticket.callback_due_at and ticket.closed_at < now - timedelta(hours=6):
                    desk.call_back(number, "回访员", CallbackResult.SATISFIED, now, city=YANGZHOU)
                    desk.archive(number, "回访员", now, city=YANGZHOU)
                    del closed_by_seat[number]
        if now.minute % SUPERVISE_EVERY == 0:
            supervision.run(now)
        if opened == len(due) and not working and not answers and not any(back.values()) and not closed_by_seat and not waiting:
            break
        now += timedelta(minutes=1)
    elapsed = time.perf_counter() - started

    with db.session() as s:
        tickets = s.execute(select(TicketRow)).scalars().all()
        events = s.execute(select(TicketEventRow)).scalars().all()
        claims = collections.Counter(e.ticket_number for e in events if e.kind == "claimed")
        by_city = collections.Counter(e.actor_city for e in events if e.kind == "claimed")
        closed_by_city = collections.Counter(e.actor_city for e in events if e.kind == "closed")
        escalations = collections.Counter(e.detail.get("escalation") for e in events if e.kind == "escalated")
        statuses = collections.Counter(t.status for t in tickets)
        count = s.execute(select(func.count()).select_from(TicketRow)).scalar_one()
    period = timedelta(minutes=SUPERVISE_EVERY)
    by_ticket = collections.defaultdict(list)
    for e in events:
        by_ticket[e.ticket_number].append(e)

    def escalated_by(number: str, kinds: tuple[str, ...], deadline: datetime) -> bool:
        return any(e.kind == "escalated" and e.detail["escalation"] in kinds and e.at <= deadline + period
                   for e in by_ticket[number])

    not_on_time = 0
    for t in tickets:
        # dispatch (派单): answered or dispatched by its deadline, else escalated within the job's period of it
        first = min(e.at for e in by_ticket[t.number] if e.kind in ("replied", "dispatched"))
        # (one handled within the job's period after its deadline may be handled before the job sees it)
        if first > t.due_at + period and not escalated_by(t.number, ("dispatch_overdue", "close_near", "close_overdue"), t.due_at):
            not_on_time += 1
        # 办结 by its deadline, else escalated (near or past it) by then
        if t.closed_at > t.close_due_at + period and not escalated_by(t.number, ("close_near", "close_overdue"), t.close_due_at):
            not_on_time += 1
    twice = sum(1 for n in claims.values() if n > 1)
    lost = count - statuses.get("archived", 0) - statuses.get("closed", 0)
    print(f"{count} tickets over the day, simulated in {elapsed:.0f} s; by state: {dict(statuses)}")
    print(f"lost (neither closed nor archived): {lost}; taken by two seats: {twice}; neither in time nor escalated by its deadline: {not_on_time}")
    print(f"escalated: {dict(escalations)}")
    print("per city of the seats: claimed " + ", ".join(f"{c.split('/')[1]} {n}" for c, n in by_city.most_common())
          + "; closed " + ", ".join(f"{c.split('/')[1]} {n}" for c, n in closed_by_city.most_common()))
    print(json.dumps({"tickets": count, "lost": lost, "taken_twice": twice, "late_unescalated": not_on_time,
                      "escalated": dict(escalations), "claimed_by_city": dict(by_city), "closed_by_city": dict(closed_by_city),
                      "seconds": round(elapsed)}, ensure_ascii=False))
    db.dispose()
    return 0 if lost == 0 and twice == 0 and not_on_time == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
