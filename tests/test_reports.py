"""The manager's view (reports/): the 数据日报's figures against counts made here from a seeded day, its page, PDF
and workbook, the nightly run made once, and the surge alarm raising an alert and posting it to a webhook."""
import io
import math
import random
import shutil
import subprocess
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import select

from ground.clock import BEIJING
from reports.alerts import SurgeAlarm
from reports.daily import DailyReport, day_bounds
from reports.service import Reports
from reports.surge_alarm import SurgeRule, detect
from storage.tables import (ConversationRow, EntryRow, GapClusterRow, GapRow, SeatTeamMemberRow, SeatTeamRow, TicketRow,
                            TurnRow)

DAY = date(2026, 11, 20)
CITIES = ("江苏省/南京市/鼓楼区", "江苏省/苏州市", "江苏省/扬州市")


def _entry(s, entry_id: str, question: str) -> None:
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    s.add(EntryRow(id=entry_id, question=question, samples=[], chat_answer="答", voice_answer="答", category=None,
                   request_type="咨询", region="江苏省", variant_of=None, effective_from=None, expires_at=None,
                   status="published", version=1, updated_by="seed", updated_at=now, source=""))


def _ticket(s, number: str, conversation: str, at: datetime, channel: str, region: str, category: str, urgency: str,
            reason: str = "low_confidence", claimed: datetime | None = None) -> None:
    s.add(TicketRow(number=number, conversation_id=conversation, channel=channel, region=region, caller=None,
                    transcript=[], summary="我的电话13812345678", reason=reason, category_code=category,
                    category_name=f"分类{category}", category_score=None, category_source=None, request_type="投诉",
                    urgency=urgency, due_at=at + timedelta(hours=2), candidates=[], asr_confidence=None, details=None,
                    status="claimed" if claimed else "open", seat=None, reply=None, created_at=at, updated_at=at,
                    claimed_at=claimed,
                    replied_at=None, closed_at=None))


def seed_day(db, seed: int = 7) -> dict:
    """A day of conversations: answered (some coming back about the same thing), clarified, handed off; the
    expected figures counted here, the plain way."""
    rng = random.Random(seed)
    start, _ = day_bounds(DAY)
    expected = Counter()
    hours, channels, cities = Counter(), Counter(), Counter()
    with db.session() as s:
        _entry(s, "e-code", "苏康码黄码怎么转绿")
        _entry(s, "e-test", "核酸检测在哪里做")
        for i in range(60):
            at = start + timedelta(minutes=rng.randrange(24 * 60))
            channel = rng.choice(["voice", "chat", "wechat"])
            region = rng.choice(CITIES)
            kind = rng.choice(["answer", "answer", "handoff", "clarify_chosen", "answer_then_back"])
            caller = f"1390000{i:04d}"
            cid = f"c-{i}"
            s.add(ConversationRow(id=cid, channel=channel, region=region, caller=caller, state={}, turns=1,
                                  ticket_number=f"T{i}" if kind == "handoff" else None, created_at=at, updated_at=at))
            hours[at.astimezone(BEIJING).hour] += 1
            channels[channel] += 1
            cities["/".join(region.split("/")[:2])] += 1
            entry = rng.choice(["e-code", "e-test"])
            if kind == "handoff":
                s.add(TurnRow(conversation_id=cid, seq=1, at=at, text="我要投诉", decision="handoff", candidates=[],
                              reason="low_confidence"))
                claimed = at + timedelta(minutes=rng.choice([30, 150])) if i % 2 else None   # due in 2 h
                _ticket(s, f"T{i}", cid, at, channel, region, rng.choice(["A1", "B2"]), rng.choice(["紧急", "一般"]),
                        claimed=claimed)
                expected["tickets"] += 1
                if at + timedelta(hours=2) < start + timedelta(days=1):
                    expected["due"] += 1
                    expected["met"] += claimed is not None and claimed <= at + timedelta(hours=2)
            elif kind == "clarify_chosen":
                s.add(TurnRow(conversation_id=cid, seq=1, at=at, text="核酸", decision="clarify", candidates=[],
                              reason="close_candidates"))
                s.add(TurnRow(conversation_id=cid, seq=2, at=at + timedelta(seconds=20), text="1", decision="answer",
                              entry_id=entry, candidates=[], reason="chosen"))
                expected["clarifications"] += 1
                expected["resolved"] += 1
            else:
                s.add(TurnRow(conversation_id=cid, seq=1, at=at, text="黄码怎么办", decision="answer", entry_id=entry,
                              candidates=[], reason="confident"))
                if kind == "answer_then_back":  # the same caller asks about the same entry again within 24 h
                    back = at + timedelta(hours=3)
                    s.add(ConversationRow(id=f"{cid}-back", channel="voice", region=region, caller=caller, state={},
                                          turns=1, ticket_number=None, created_at=back, updated_at=back))
                    s.add(TurnRow(conversation_id=f"{cid}-back", seq=1, at=back, text="还是黄码", decision="handoff",
                                  candidates=[{"entry_id": entry, "score": 0.7}], reason="low_confidence"))
                    if back < start + timedelta(days=1):
                        hours[back.astimezone(BEIJING).hour] += 1
                        channels["voice"] += 1
                        cities["/".join(region.split("/")[:2])] += 1
                        expected["contacts_back"] += 1
                    expected["came_back"] += 1
                else:
                    expected["resolved"] += 1
        # 多援一: two Nanjing tickets held by a Suzhou seat, one by a Nanjing seat; call-backs recorded that day
        # (the first seat in Suzhou's support team, the second in no team)
        team = SeatTeamRow(name="苏州支援一组", city="江苏省/苏州市", created_at=start)
        s.add(team)
        s.flush()
        s.add(SeatTeamMemberRow(team_id=team.id, username="sz-a", capacity=5))
        for k, (seat, seat_city, result) in enumerate([("sz-a", "江苏省/苏州市", "satisfied"),
                                                        ("sz-b", "江苏省/苏州市", "unsatisfied"),
                                                        ("nj-a", "江苏省/南京市", None)]):
            at = start + timedelta(hours=8, minutes=k)
            _ticket(s, f"S{k}", f"support-{k}", at, "voice", "江苏省/南京市/鼓楼区", "A1", "一般")
            s.flush()
            row = s.execute(select(TicketRow).where(TicketRow.number == f"S{k}")).scalar_one()
            row.seat, row.seat_city, row.callback_result = seat, seat_city, result
            row.callback_at = at + timedelta(hours=6) if result else None
            expected["tickets"] += 1
            expected["due"] += 1
        cluster = GapClusterRow(label="新规定的补贴怎么领", status="open", size=5, first_at=start, last_at=start,
                                centroid=b"\0" * 4, model_id="m")
        s.add(cluster)
        s.flush()
        for k in range(5):
            s.add(GapRow(at=start + timedelta(hours=9, minutes=k), channel="chat", session=f"g{k}", region=CITIES[0],
                         text=f"补贴怎么领，我电话1381234567{k}", reason="low_confidence", cluster_id=cluster.id))
    expected["contacts"] = 60 + expected["contacts_back"]
    return {"counts": expected, "hours": hours, "channels": channels, "cities": cities}


def test_the_days_figures_match_what_was_seeded(db):
    seeded = seed_day(db)
    figures = DailyReport(db).figures(DAY, now=datetime(2026, 11, 22, tzinfo=timezone.utc))
    counts = seeded["counts"]
    assert figures.contacts == counts["contacts"]
    assert figures.contacts_by_hour == [seeded["hours"][h] for h in range(24)]
    assert figures.contacts_by_channel == dict(seeded["channels"])
    assert figures.contacts_by_city == dict(seeded["cities"])
    assert figures.tickets == counts["tickets"]
    assert (figures.deadlines_due, figures.deadlines_met) == (counts["due"], counts["met"])
    assert figures.clarifications == counts["clarifications"]
    assert figures.clarification_outcomes == {"chosen": counts["clarifications"]}
    assert sum(c["chosen"] for c in figures.clarification_choices) == counts["clarifications"]
    assert figures.came_back == counts["came_back"]
    assert figures.support_by_city == {"江苏省/苏州市": 2}
    assert figures.support_by_team == {"苏州支援一组": 1, "江苏省/苏州市（未编组）": 1}
    assert figures.callbacks == {"satisfied": 1, "unsatisfied": 1}
    assert figures.resolved == counts["resolved"]
    assert figures.self_service_rate == pytest.approx(counts["resolved"] / counts["contacts"])


def test_the_hot_topics_and_gaps_mask_citizens_numbers(db):
    seed_day(db)
    figures = DailyReport(db).figures(DAY, now=datetime(2026, 11, 22, tzinfo=timezone.utc))
    gap = next(t for t in figures.hot_topics if t["topic"].startswith("gap:"))
    assert gap["today"] == 5 and gap["yesterday"] == 0
    assert all("138****" in e and "13812345" not in e for e in gap["examples"])
    category = next(t for t in figures.hot_topics if t["topic"] == "category:A1")
    assert category["examples"] == ["我的电话138****5678"] and category["label"] == "分类A1"
    assert figures.gaps[0]["questions"] == 5 and figures.gaps[0]["label"] == "新规定的补贴怎么领"


def test_the_nightly_report_is_built_once_after_its_time(db):
    reports = Reports(db, DailyReport(db), SurgeAlarm(db), report_time=time(22, 0))
    before = datetime.combine(DAY, time(21, 59), tzinfo=BEIJING)
    after = datetime.combine(DAY, time(22, 1), tzinfo=BEIJING)
    assert reports.run_due(before) is None
    run = reports.run_due(after)
    assert run is not None and run.day == DAY and run.finished_at is not None
    assert reports.run_due(after + timedelta(minutes=1)) is None   # another worker, or the next tick: not again
    assert [r.day for r in reports.runs()] == [DAY]


# ---- the surge alarm -------------------------------------------------------------------------------------
def seed_surge(db, topic_entry: str, start: datetime, *, surge_from: datetime | None) -> None:
    """Steady background traffic (20 entries, ~2 a minute) and, from `surge_from`, one entry asked 3 times a minute."""
    rng = random.Random(3)
    with db.session() as s:
        for e in range(20):
            _entry(s, f"bg-{e}", f"背景问题{e}")
        _entry(s, topic_entry, "新规定怎么执行")
        minute, n = start, 0
        while minute < start + timedelta(hours=6):
            picks = [f"bg-{rng.randrange(20)}" for _ in range(2)]
            if rng.random() < 0.05:
                picks.append(topic_entry)
            if surge_from is not None and minute >= surge_from:
                picks += [topic_entry] * 3
            for entry in picks:
                n += 1
                s.add(ConversationRow(id=f"s{n}", channel="chat", region="江苏省/南京市", caller=None, state={}, turns=1,
                                      ticket_number=None, created_at=minute, updated_at=minute))
                s.add(TurnRow(conversation_id=f"s{n}", seq=1, at=minute + timedelta(seconds=rng.randrange(60)), text="问",
                              decision="answer", entry_id=entry, candidates=[], reason="confident"))
            minute += timedelta(minutes=1)


class Webhook:
    """A local HTTP server that keeps what is POSTed to it."""

    def __init__(self):
        from local_server import LocalServer

        self.received = []
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request):
            self.received.append(await request.json())
            return {"ok": True}

        self.server = LocalServer(app, "webhook")

    def __enter__(self):
        self.url = self.server.start() + "/hook"
        return self

    def __exit__(self, *exc):
        self.server.stop()


def test_a_surge_raises_one_alert_and_posts_it_to_the_webhook(db):
    start = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)
    surge = start + timedelta(hours=4)
    seed_surge(db, "e-new-rule", start, surge_from=surge)
    with Webhook() as hook:
        alarm = SurgeAlarm(db, SurgeRule(), webhook_url=hook.url)
        raised = []
        now = surge
        while now <= surge + timedelta(minutes=40):
            raised += alarm.check(now)
            now += timedelta(minutes=5)
        assert raised, "the surge raised no alert"
        first = raised[0]
        assert first.topic == "entry:e-new-rule" and first.label == "新规定怎么执行"
        assert first.link == "/console#/entry/e-new-rule"
        assert first.window_end - surge <= timedelta(minutes=20)
        assert {a.topic for a in raised} == {"entry:e-new-rule"}
        assert [m["alert"]["id"] for m in hook.received] == [a.id for a in raised]
        assert alarm.check(now - timedelta(minutes=5)) == []   # checked again (another worker): not raised twice
        assert [a.webhook for a in alarm.recent()] == ["sent"] * len(raised)


def test_steady_traffic_raises_no_alert(db):
    start = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)
    seed_surge(db, "e-new-rule", start, surge_from=None)
    alarm = SurgeAlarm(db, SurgeRule())
    assert [a for h in range(3, 7) for a in alarm.check(start + timedelta(hours=h))] == []


def surge_stream(rate, hours: int, seed: int) -> list[tuple]:
    """(bucket start, topic, region, count) of 20 topics in one city: `rate(minute, topic)` questions a bucket each."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)
    return [(start + timedelta(minutes=m), f"entry:t{t}", "江苏省/南京市", int(n))
            for m in range(0, hours * 60, 5) for t in range(20) for n in [rng.poisson(rate(m, t))] if n]


def test_a_topic_rising_to_five_times_its_share_in_half_an_hour_alerts_within_forty_minutes():
    start = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)
    rise = 5 * 60  # from 05:00, topic 0 rises linearly to five times its share over 30 minutes, and stays there

    def rate(minute, topic):
        factor = 1 + 4 * min(1.0, max(0.0, minute - rise) / 30) if topic == 0 else 1
        return 3.0 * factor

    for seed in range(5):
        bursts = detect(surge_stream(rate, 7, seed), start, start + timedelta(hours=7))
        assert bursts, f"seed {seed}: no alert"
        assert {b.topic for b in bursts} == {"entry:t0"}
        assert bursts[0].window_end - start <= timedelta(minutes=rise + 40)


def test_steady_traffic_with_drifting_shares_and_a_morning_rise_raises_nothing():
    """Each topic's share drifts ±35% over six hours (its own phase), and the volume rises fivefold from the night."""
    start = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)

    def rate(minute, topic):
        volume = 1 + 4 * min(1.0, minute / 360)
        return 1.5 * volume * math.exp(0.3 * math.sin(2 * math.pi * (minute / 360 + topic / 20)))

    for seed in range(5):
        assert detect(surge_stream(rate, 10, seed), start, start + timedelta(hours=10)) == []


# ---- the API ---------------------------------------------------------------------------------------------
OLD_DAY = date(2020, 3, 3)


@pytest.fixture(scope="module")
def old_day_tickets(inprocess):
    start, _ = day_bounds(OLD_DAY)
    with inprocess.services.db.session() as s:
        for i in range(7):
            _ticket(s, f"2020030300{i:04d}", f"old-{i}", start + timedelta(hours=i + 8), "chat", "江苏省/南京市",
                    "A1", "一般")
    return 7


def test_the_report_is_for_managers_not_seats(inprocess, old_day_tickets):
    assert inprocess.signed_in("seat").get(f"/v1/reports/daily?date={OLD_DAY}").status_code == 403
    figures = inprocess.signed_in("admin").get(f"/v1/reports/daily?date={OLD_DAY}").json()
    assert figures["tickets"] == old_day_tickets and figures["tickets_by_urgency"] == {"一般": old_day_tickets}


def test_the_report_page_has_its_charts_and_figures(inprocess, old_day_tickets):
    response = inprocess.signed_in("admin").get(f"/v1/reports/daily?date={OLD_DAY}&format=html")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert page.count("<svg") == 2 and "12345热线数据日报" in page
    assert "13812345678" not in page


def test_the_workbook_has_one_row_per_ticket(inprocess, old_day_tickets):
    from openpyxl import load_workbook

    response = inprocess.signed_in("admin").get(f"/v1/reports/daily?date={OLD_DAY}&format=xlsx")
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [OLD_DAY.isoformat()]
    rows = list(book[OLD_DAY.isoformat()].iter_rows(values_only=True))
    assert len(rows) - 1 == old_day_tickets
    assert sorted(r[0] for r in rows[1:]) == [f"2020030300{i:04d}" for i in range(7)]


def test_a_range_of_days_is_one_sheet_per_day(inprocess, old_day_tickets):
    from openpyxl import load_workbook

    until = OLD_DAY + timedelta(days=2)
    response = inprocess.signed_in("admin").get(f"/v1/reports/daily?date={OLD_DAY}&until={until}&format=xlsx")
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [(OLD_DAY + timedelta(days=n)).isoformat() for n in range(3)]
    assert [book[name].max_row - 1 for name in book.sheetnames] == [old_day_tickets, 0, 0]
    assert inprocess.signed_in("admin").get(f"/v1/reports/daily?date={until}&until={OLD_DAY}&format=xlsx").status_code == 422


def test_the_pdf_renders(inprocess, old_day_tickets, tmp_path):
    response = inprocess.signed_in("admin").get(f"/v1/reports/daily?date={OLD_DAY}&format=pdf")
    assert response.content.startswith(b"%PDF")
    (tmp_path / "daily.pdf").write_bytes(response.content)
    if shutil.which("pdftoppm") is None:
        assert response.content.count(b"/Type /Page\n") + response.content.count(b"/Type /Page ") >= 1
        return
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(tmp_path / "daily.pdf"), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 4 and all(p.stat().st_size > 1000 for p in pages)


def test_the_seats_needed_side_by_side(inprocess):
    seats = inprocess.signed_in("admin").get("/v1/staffing?calls_per_hour=120000&diverted_share=0.9&answer_seconds=20").json()
    assert seats["without"]["seats"] == 6013 and seats["with_frontdoor"]["seats"] == 610


def test_alerts_are_listed_for_editors_and_managers(inprocess):
    assert inprocess.signed_in("editor").get("/v1/alerts").status_code == 200
    assert inprocess.signed_in("seat").get("/v1/alerts").status_code == 403


def test_a_worker_builds_the_days_report_by_itself_once_its_time_has_passed(tmp_path):
    """The schedule as a worker runs it: report time 00:00 (always passed), a tick every 0.2 s."""
    import time as clock

    from fastapi.testclient import TestClient

    from fakes import HashingEmbedder
    from frontdoor.components import web_app
    from frontdoor.settings import Settings

    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'frontdoor.db'}",
                        model_dir=tmp_path / "models", allow_download=False, voice=False, seed_on_start=True,
                        audiosocket_port=None, rules_dir=None, classifier_dir=None, report_time="00:00",
                        report_tick_seconds=0.2)
    with TestClient(web_app(settings, embedder=HashingEmbedder())) as client:
        reports = client.app.state.services.reports
        deadline = clock.monotonic() + 30
        while not (reports.runs() and reports.runs()[0].finished_at) and clock.monotonic() < deadline:
            clock.sleep(0.2)
        runs = reports.runs()
    assert [r.day for r in runs] == [datetime.now(BEIJING).date()]
    assert runs[0].finished_at is not None


class CountingAlarm(SurgeAlarm):
    def __init__(self, db):
        super().__init__(db, SurgeRule())
        self.checks = 0

    def check(self, now=None):
        self.checks += 1
        return []


def test_the_surge_check_runs_once_per_bucket_across_workers(db):
    first, second = CountingAlarm(db), CountingAlarm(db)
    workers = [Reports(db, DailyReport(db), alarm) for alarm in (first, second)]
    start = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
    for minute in range(10):                      # both workers tick every minute for two 5-minute buckets
        for worker in workers:
            worker.tick(start + timedelta(minutes=minute, seconds=7))
    assert first.checks + second.checks == 2
