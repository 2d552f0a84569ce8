"""A ticket carried 受理 → 转办 → department reply → 办结 → 回访 → 归档 on its deadlines, every step on its timeline, and
督办: the supervision job that escalates what is due, once, however many runners."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from desk.lifecycle import CallbackResult, TicketStatus
from desk.supervision import Supervision
from desk.tickets import TicketConflict, TicketDesk, TicketDraft
from ground.clock import BEIJING
from storage.audit import AuditLog

# Tuesday 30 September 2025, 10:00 in Beijing: the National Day holidays (1–8 October) come next; Saturday 11 October
# is a working day in their place.
BEFORE_NATIONAL_DAY = datetime(2025, 9, 30, 10, 0, tzinfo=BEIJING).astimezone(timezone.utc)


def draft(**overrides) -> TicketDraft:
    values = dict(channel="chat", summary="小区停水了", reason="asked_for_human", transcript=[{"text": "小区停水了"}],
                  request_type="求助", urgency="次紧急", dispatch_hours=2, region="江苏省/扬州市/邗江区", caller="13800000000")
    return TicketDraft(**{**values, **overrides})


def test_a_ticket_goes_from_acceptance_to_the_archive_with_every_step_on_its_timeline(db):
    desk, at = TicketDesk(db), BEFORE_NATIONAL_DAY
    number = desk.open(draft(), now=at).number
    desk.claim(number, "苏州-07", at + timedelta(minutes=5), city="江苏省/苏州市")
    desk.dispatch(number, "苏州-07", "YZ-WATER", at + timedelta(minutes=9), city="江苏省/苏州市", note="请尽快恢复供水")
    desk.department_claim(number, "YZ-WATER", "yz-water", at + timedelta(hours=1))
    assert desk.department_answer(number, "YZ-WATER", "yz-water", "管道已抢修，今晚8点前恢复", at + timedelta(hours=3)).status \
        is TicketStatus.ANSWERED
    desk.reply(number, "苏州-07", "水务集团答复：今晚8点前恢复供水", at + timedelta(hours=3, minutes=5), city="江苏省/苏州市")
    closed = desk.close(number, "苏州-07", at + timedelta(hours=4), city="江苏省/苏州市")
    assert closed.status is TicketStatus.CLOSED and closed.department_reply == "管道已抢修，今晚8点前恢复"
    desk.call_back(number, "苏州-07", CallbackResult.SATISFIED, at + timedelta(days=1), city="江苏省/苏州市")
    assert desk.archive(number, "苏州-07", at + timedelta(days=1, minutes=1), city="江苏省/苏州市").status is TicketStatus.ARCHIVED

    timeline = desk.timeline(number)
    assert [e.kind for e in timeline] == ["opened", "claimed", "dispatched", "department_claimed", "department_answered",
                                          "replied", "closed", "called_back", "archived"]
    assert timeline[2].actor == "苏州-07" and timeline[2].actor_city == "江苏省/苏州市"
    assert timeline[2].detail["department"] == "YZ-WATER" and timeline[2].at == at + timedelta(minutes=9)
    assert timeline[7].detail["result"] == "satisfied"


def test_every_step_is_audited(db):
    desk = TicketDesk(db)
    number = desk.open(draft()).number
    desk.claim(number, "扬州-01", city="江苏省/扬州市")
    actions = [e.action for e in AuditLog(db).list(target=f"ticket:{number}")]
    assert actions == ["ticket.claimed", "ticket.opened"]


@pytest.mark.parametrize("step", ["dispatch", "close", "archive", "department_answer"])
def test_a_step_from_a_state_that_does_not_allow_it_is_a_conflict(db, step):
    desk = TicketDesk(db)
    number = desk.open(draft()).number  # open: nobody has it yet
    calls = {"dispatch": lambda: desk.dispatch(number, "扬州-01", "YZ-WATER"),
             "close": lambda: desk.close(number, "扬州-01"),
             "archive": lambda: desk.archive(number, "扬州-01"),
             "department_answer": lambda: desk.department_answer(number, "YZ-WATER", "yz-water", "已处理")}
    with pytest.raises(TicketConflict):
        calls[step]()
    assert desk.get(number).status is TicketStatus.OPEN and [e.kind for e in desk.timeline(number)] == ["opened"]


def test_a_department_answers_only_its_own_tickets(db):
    desk = TicketDesk(db)
    number = desk.open(draft()).number
    desk.claim(number, "扬州-01")
    desk.dispatch(number, "扬州-01", "YZ-WATER")
    with pytest.raises(TicketConflict, match="not dispatched to YZ-POWER"):
        desk.department_answer(number, "YZ-POWER", "yz-power", "不归我们管")


def test_an_unsatisfied_call_back_reopens_the_ticket_in_the_queue(db):
    desk, at = TicketDesk(db), BEFORE_NATIONAL_DAY
    number = desk.open(draft(), now=at).number
    desk.claim(number, "扬州-01", at)
    desk.close(number, "扬州-01", at + timedelta(hours=1))
    reopened = desk.call_back(number, "扬州-02", CallbackResult.UNSATISFIED, at + timedelta(days=11), note="还是没水")
    assert reopened.status is TicketStatus.OPEN and reopened.seat is None
    assert reopened.due_at == at + timedelta(days=11, hours=2)  # 次紧急: dispatched again within 2 hours
    assert desk.timeline(number)[-1].kind == "reopened"


def test_a_ticket_is_archived_only_after_its_call_back(db):
    desk = TicketDesk(db)
    number = desk.open(draft()).number
    desk.claim(number, "扬州-01")
    desk.close(number, "扬州-01")
    with pytest.raises(TicketConflict, match="回访"):
        desk.archive(number, "扬州-01")


def test_deadlines_count_working_days_by_the_official_calendar(db):
    desk, at = TicketDesk(db), BEFORE_NATIONAL_DAY
    enquiry = desk.open(draft(request_type="咨询"), now=at)
    complaint = desk.open(draft(request_type="投诉"), now=at)
    # 3 working days after 30 September: 9, 10 and (the make-up working day) Saturday 11 October, to its end.
    assert enquiry.close_due_at == datetime(2025, 10, 12, tzinfo=BEIJING)
    assert complaint.close_due_at.astimezone(BEIJING).date() > enquiry.close_due_at.astimezone(BEIJING).date()
    desk.claim(enquiry.number, "扬州-01", at)
    closed = desk.close(enquiry.number, "扬州-01", datetime(2025, 10, 10, 15, tzinfo=BEIJING))
    assert closed.callback_due_at == datetime(2025, 10, 12, tzinfo=BEIJING)  # the next working day is Saturday the 11th


# ---- 督办 -----------------------------------------------------------------------------------------

def test_a_ticket_not_dispatched_in_time_is_escalated_once(db):
    desk, supervision, at = TicketDesk(db), Supervision(db), BEFORE_NATIONAL_DAY
    late = desk.open(draft(urgency="紧急", dispatch_hours=1), now=at).number
    in_time = desk.open(draft(urgency="一般", dispatch_hours=24), now=at).number
    escalated = supervision.run(at + timedelta(hours=1, minutes=1))
    assert [(e.ticket_number, e.kind) for e in escalated] == [(late, "dispatch_overdue")]
    assert supervision.run(at + timedelta(hours=1, minutes=2)) == []  # running again changes nothing
    assert desk.get(late).escalation == "dispatch_overdue" and desk.get(in_time).escalation is None
    assert [e.kind for e in desk.timeline(late)] == ["opened", "escalated"]


def test_a_ticket_near_and_then_past_its_closing_deadline_is_escalated_each_time(db):
    desk, supervision, at = TicketDesk(db), Supervision(db), BEFORE_NATIONAL_DAY
    number = desk.open(draft(request_type="咨询"), now=at).number
    desk.claim(number, "扬州-01", at)
    desk.reply(number, "扬州-01", "已转告", at + timedelta(minutes=30))
    assert supervision.run(datetime(2025, 10, 11, 9, tzinfo=BEIJING))[0].kind == "close_near"
    assert supervision.run(datetime(2025, 10, 12, 9, tzinfo=BEIJING))[0].kind == "close_overdue"
    assert desk.list(escalated=True)[0].number == number


def test_a_call_back_falls_due_the_working_day_after_closing(db):
    desk, supervision, at = TicketDesk(db), Supervision(db), BEFORE_NATIONAL_DAY
    number = desk.open(draft(), now=at).number
    desk.claim(number, "扬州-01", at)
    desk.close(number, "扬州-01", datetime(2025, 10, 10, 15, tzinfo=BEIJING))
    assert supervision.run(datetime(2025, 10, 10, 20, tzinfo=BEIJING)) == []
    assert [e.kind for e in supervision.run(datetime(2025, 10, 11, 9, tzinfo=BEIJING))] == ["callback_due"]
    assert [e.kind for e in supervision.run(datetime(2025, 10, 12, 9, tzinfo=BEIJING))] == ["callback_overdue"]


def test_two_supervision_runs_at_once_escalate_each_ticket_once(db):
    desk, at = TicketDesk(db), BEFORE_NATIONAL_DAY
    numbers = {desk.open(draft(urgency="紧急", dispatch_hours=1), now=at).number for _ in range(20)}
    start, results = threading.Barrier(2), []

    def run() -> None:
        start.wait()
        results.append(Supervision(db).run(at + timedelta(hours=2)))

    runners = [threading.Thread(target=run) for _ in range(2)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    escalated = [e.ticket_number for result in results for e in result]
    assert sorted(escalated) == sorted(numbers)  # every one, none twice
    assert all([e.kind for e in desk.timeline(n)].count("escalated") == 1 for n in numbers)


def test_a_supervisor_urges_the_department_and_the_urge_is_recorded(db):
    desk = TicketDesk(db)
    number = desk.open(draft()).number
    desk.claim(number, "扬州-01")
    desk.dispatch(number, "扬州-01", "YZ-WATER")
    urged = desk.urge(number, "督办-王", "已超时，请今日答复", city="江苏省/扬州市")
    assert urged.urge_count == 1 and urged.status is TicketStatus.DISPATCHED
    event = desk.timeline(number)[-1]
    assert (event.kind, event.actor, event.detail["note"]) == ("urged", "督办-王", "已超时，请今日答复")


def test_the_supervise_command_escalates_what_is_due_once(tmp_path):
    import os
    import subprocess
    import sys

    from frontdoor.components import open_database
    from frontdoor.settings import Settings

    db = open_database(Settings(_env_file=None, data_dir=tmp_path))
    try:
        late = TicketDesk(db).open(draft(urgency="紧急", dispatch_hours=1), now=BEFORE_NATIONAL_DAY).number
    finally:
        db.dispose()
    env = {**os.environ, "FRONTDOOR_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    run = [sys.executable, "-m", "frontdoor", "desk", "supervise"]
    first = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert f"{late}\tclose_overdue" in first.stdout  # run today, long after 2025: past its closing deadline too
    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert again.stdout.strip().endswith("0 tickets escalated")


def test_closing_a_ticket_closes_the_tickets_merged_under_it_with_its_reply(db):
    desk = TicketDesk(db)
    parent = desk.open(draft(summary="中山路水管爆了")).number
    others = [desk.open(draft(summary="中山路停水", caller=f"1390000000{i}")).number for i in range(2)]
    for number in others:
        desk.link(number, parent, "扬州-01", city="江苏省/扬州市")
    desk.claim(parent, "扬州-01")
    desk.reply(parent, "扬州-01", "水管已抢修，今晚恢复供水")
    desk.close(parent, "扬州-01")
    for number in others:
        merged = desk.get(number)
        assert (merged.status, merged.reply, merged.parent_number) == (TicketStatus.CLOSED, "水管已抢修，今晚恢复供水", parent)
        # answered with the parent's reply, then closed with it
        assert [e.kind for e in desk.timeline(number)] == ["opened", "linked", "replied", "closed"]


def test_a_ticket_is_merged_one_level_deep_only(db):
    desk = TicketDesk(db)
    parent, child, other = (desk.open(draft()).number for _ in range(3))
    desk.link(child, parent, "扬州-01")
    with pytest.raises(TicketConflict):
        desk.link(other, child, "扬州-01")  # under a ticket that is itself merged
    with pytest.raises(TicketConflict):
        desk.link(parent, other, "扬州-01")  # a parent under another
