"""Assignment: waiting tickets go to the online seats with room, most urgent first, each to the team member that has
waited longest since its last ticket (round-robin); never above capacity, never to a seat away, never one ticket to
two seats, a remote team only within its activation."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from accounts.passwords import Passwords
from accounts.store import AccountStore
from desk.assignment import Assigner
from desk.lifecycle import HELD
from desk.presence import Presence
from desk.support import SupportDesk
from desk.tickets import AtCapacity, QueueEmpty, TicketDesk, TicketDraft
from ground.clock import utcnow

YANGZHOU, SUZHOU = "江苏省/扬州市", "江苏省/苏州市"
QUICK = Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1))


def draft(**overrides) -> TicketDraft:
    values = dict(channel="chat", summary="路灯不亮", reason="low_confidence", transcript=[{"text": "路灯不亮"}],
                  request_type="求助", urgency="一般", dispatch_hours=24, region=YANGZHOU + "/邗江区")
    return TicketDraft(**{**values, **overrides})


@pytest.fixture
def support(db):
    return SupportDesk(db)


@pytest.fixture
def desk(db):
    return TicketDesk(db)


def team(db, support, name: str, city: str, *seats: str, capacity: int = 5, online: bool = True) -> int:
    """A team of `city` whose seats have their workbench open and are online."""
    accounts = AccountStore(db, passwords=QUICK)
    created = support.create_team(name, city, by="sup")
    for seat in seats:
        accounts.create(seat, "correct horse battery", "seat", region=city, by="test")
        accounts.resolve(accounts.open_session(seat, by="test")[0])
        support.set_member(created.id, seat, capacity, by="sup")
        if online:
            support.presence_board.set(seat, Presence.ONLINE)
    return created.id


def test_a_teams_seats_are_given_tickets_in_turn(db, support, desk):
    team(db, support, "扬州一组", YANGZHOU, "yz-a", "yz-b", "yz-c")
    assigner, now = Assigner(db, support), utcnow()
    for _ in range(3):
        desk.open(draft())
    assert [a.seat for a in assigner.run(now)] == ["yz-a", "yz-b", "yz-c"]
    given = []
    for second in range(1, 5):  # one ticket at a time: it goes on round the team, not back to the first seat
        desk.open(draft())
        given += [a.seat for a in assigner.run(now + timedelta(seconds=second))]
    assert given == ["yz-a", "yz-b", "yz-c", "yz-a"]


def test_a_seat_that_took_one_itself_waits_for_its_turn_again(db, support, desk):
    team(db, support, "扬州一组", YANGZHOU, "yz-a", "yz-b")
    desk.open(draft())
    desk.take_next("yz-a", support.scope_for("yz-a", YANGZHOU), 5)
    desk.open(draft())
    assert [a.seat for a in Assigner(db, support).run()] == ["yz-b"]


def test_the_most_urgent_ticket_goes_first(db, support, desk):
    team(db, support, "扬州一组", YANGZHOU, "yz-a", capacity=1)
    desk.open(draft(urgency="一般", dispatch_hours=24))
    urgent = desk.open(draft(urgency="紧急", dispatch_hours=1)).number
    assert [a.ticket_number for a in Assigner(db, support).run()] == [urgent]


def test_no_seat_is_given_more_than_its_capacity(db, support, desk):
    team(db, support, "扬州一组", YANGZHOU, "yz-a", capacity=2)
    for _ in range(5):
        desk.open(draft())
    assert len(Assigner(db, support).run()) == 2
    assert Assigner(db, support).run() == []
    assert len(desk.list(status=HELD, seat="yz-a")) == 2


def test_a_seat_away_is_given_nothing(db, support, desk):
    team(db, support, "扬州一组", YANGZHOU, "yz-a", "yz-b", online=False)
    support.presence_board.set("yz-b", Presence.BREAK)
    desk.open(draft())
    assert Assigner(db, support).run() == []


def test_a_remote_team_is_given_the_affected_citys_tickets_only_under_an_activation(db, support, desk):
    remote = team(db, support, "苏州支援组", SUZHOU, "sz-a")
    number = desk.open(draft()).number
    assert Assigner(db, support).run() == []
    now = utcnow()
    activation = support.open_activation(YANGZHOU, now - timedelta(hours=1), now + timedelta(days=1), by="sup")
    support.add_batch(activation.id, "第一批", [remote], by="sup")
    [given] = Assigner(db, support).run()
    assert (given.ticket_number, given.seat, given.seat_city) == (number, "sz-a", SUZHOU)


def test_an_assignment_is_on_the_tickets_timeline(db, support, desk):
    team(db, support, "扬州一组", YANGZHOU, "yz-a")
    number = desk.open(draft()).number
    Assigner(db, support).run()
    claimed = desk.timeline(number)[-1]
    assert (claimed.kind, claimed.actor, claimed.actor_city, claimed.detail) == ("claimed", "yz-a", YANGZHOU, {"how": "assigned"})
    assert desk.get(number).seat == "yz-a"


def test_runs_at_once_and_seats_taking_at_once_never_give_a_ticket_twice_or_overfill_a_seat(db, support, desk):
    seats = [f"yz-{i:02d}" for i in range(6)]
    team(db, support, "扬州一组", YANGZHOU, *seats, capacity=4)
    numbers = {desk.open(draft()).number for _ in range(40)}
    assigner, start, problems = Assigner(db, support), threading.Barrier(6), []

    def run() -> None:
        start.wait()
        for _ in range(5):
            assigner.run()

    def take(seat: str) -> None:
        start.wait()
        for _ in range(6):
            try:
                desk.take_next(seat, support.scope_for(seat, YANGZHOU), 4)
            except (AtCapacity, QueueEmpty):
                pass
            except Exception as error:  # noqa: BLE001 - any other failure fails the test
                problems.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)] + [threading.Thread(target=take, args=(s,)) for s in seats[:4]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []
    held = desk.list(status=HELD, limit=100)
    assert len(held) == 24 and {t.number for t in held} <= numbers  # 6 seats × 4, the rest wait
    assert max(Counter(t.seat for t in held).values()) == 4
    claims = [e for n in numbers for e in desk.timeline(n) if e.kind == "claimed"]
    assert len(claims) == len(held) == len({e.ticket_number for e in claims})
