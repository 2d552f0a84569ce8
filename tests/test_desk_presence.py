"""A seat's presence on the workbench: 在线 takes tickets, 小休 keeps its tickets and takes no new, 离线; presence lapses
when the workbench is not seen; team leads read who is on the desk and how full each seat is."""
from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from accounts.passwords import Passwords
from accounts.store import AccountStore
from desk.assignment import Assigner
from desk.presence import NotOnline, Presence
from desk.support import SupportDesk
from desk.tickets import TicketDesk, TicketDraft
from ground.clock import utcnow
from storage.audit import AuditLog

YANGZHOU = "江苏省/扬州市"
QUICK = Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1))


def draft(**overrides) -> TicketDraft:
    values = dict(channel="chat", summary="路灯不亮", reason="low_confidence", transcript=[{"text": "路灯不亮"}],
                  request_type="求助", urgency="一般", dispatch_hours=24, region=YANGZHOU + "/邗江区")
    return TicketDraft(**{**values, **overrides})


@pytest.fixture
def accounts(db):
    return AccountStore(db, passwords=QUICK)


@pytest.fixture
def support(db):
    return SupportDesk(db, presence_lapse=timedelta(minutes=3))


def signed_in(accounts, username: str, region: str = YANGZHOU) -> str:
    """A seat account with a workbench open (a session it has just used)."""
    accounts.create(username, "correct horse battery", "seat", region=region, by="test")
    token, _ = accounts.open_session(username, by="test")
    accounts.resolve(token)  # the workbench's first request: the session is seen
    return token


def test_a_seat_that_never_said_is_offline_and_may_not_take_the_next_one(db, accounts, support):
    signed_in(accounts, "yz-01")
    assert support.presence_board.of("yz-01").state is Presence.OFFLINE
    with pytest.raises(NotOnline, match="离线"):
        support.presence_board.require_online("yz-01")


def test_a_seat_on_a_break_keeps_its_tickets_and_is_given_no_new_one(db, accounts, support):
    desk = TicketDesk(db)
    signed_in(accounts, "yz-01")
    support.presence_board.set("yz-01", Presence.ONLINE)
    first = desk.open(draft()).number
    assert [a.ticket_number for a in Assigner(db, support).run()] == [first]
    support.presence_board.set("yz-01", Presence.BREAK)
    desk.open(draft())
    assert Assigner(db, support).run() == []
    assert [t.number for t in desk.list(seat="yz-01")] == [first]
    with pytest.raises(NotOnline, match="小休"):
        support.presence_board.require_online("yz-01")


def test_presence_lapses_when_the_workbench_is_not_seen(db, accounts, support):
    signed_in(accounts, "yz-01")
    support.presence_board.set("yz-01", Presence.ONLINE)
    later = utcnow() + timedelta(minutes=4)
    presence = support.presence_board.of("yz-01", later)
    assert presence.state is Presence.OFFLINE and presence.said is Presence.ONLINE and presence.lapsed
    desk = TicketDesk(db)
    desk.open(draft(), now=later)
    assert Assigner(db, support).run(later) == []


def test_a_seat_that_signed_out_is_offline(db, accounts, support):
    token = signed_in(accounts, "yz-01")
    support.presence_board.set("yz-01", Presence.ONLINE)
    accounts.revoke(token)
    assert support.presence_board.of("yz-01").state is Presence.OFFLINE


def test_saying_where_a_seat_is_is_audited(db, accounts, support):
    signed_in(accounts, "yz-01")
    support.presence_board.set("yz-01", Presence.ONLINE, city=YANGZHOU)
    support.presence_board.set("yz-01", Presence.ONLINE, city=YANGZHOU)  # the same again: nothing new to audit
    support.presence_board.set("yz-01", Presence.BREAK, city=YANGZHOU)
    events = AuditLog(db).list(action="desk.presence")
    assert [(e.detail["before"], e.detail["after"]) for e in reversed(events)] == [("offline", "online"), ("online", "break")]


def test_a_team_lead_reads_who_is_online_and_how_many_tickets_each_holds(db, accounts, support):
    desk = TicketDesk(db)
    team = support.create_team("扬州一组", YANGZHOU, by="sup")
    for name in ("yz-01", "yz-02", "yz-03"):
        signed_in(accounts, name)
        support.set_member(team.id, name, 2, by="sup")
    support.presence_board.set("yz-01", Presence.ONLINE)
    support.presence_board.set("yz-02", Presence.BREAK)
    desk.open(draft())
    Assigner(db, support).run()
    [seen] = support.presence(city=YANGZHOU)
    assert seen.online == 1
    assert [(s.username, s.presence, s.held, s.capacity) for s in seen.seats] == [
        ("yz-01", Presence.ONLINE, 1, 2), ("yz-02", Presence.BREAK, 0, 2), ("yz-03", Presence.OFFLINE, 0, 2)]
    assert support.online_by_city() == {YANGZHOU: 1}
