"""多援一: teams of a city take an affected city's tickets under a support activation, in batches; "take the next
one" never gives one ticket to two seats and respects each seat's capacity."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from desk.support import SupportDesk, SupportInvalid
from desk.tickets import AtCapacity, OutsideScope, QueueEmpty, TicketDesk, TicketDraft
from ground.clock import utcnow
from storage.audit import AuditLog

YANGZHOU, SUZHOU = "江苏省/扬州市", "江苏省/苏州市"


def draft(**overrides) -> TicketDraft:
    values = dict(channel="voice", summary="核酸检测点在哪", reason="low_confidence", transcript=[{"text": "核酸检测点在哪"}],
                  request_type="咨询", urgency="一般", dispatch_hours=24, region=YANGZHOU + "/邗江区",
                  category_code="D01")
    return TicketDraft(**{**values, **overrides})


@pytest.fixture
def support(db):
    return SupportDesk(db)


def suzhou_team(support, *seats: str, capacity: int = 5) -> int:
    team = support.create_team("苏州支援组", SUZHOU, by="督办-王")
    for seat in seats:
        support.set_member(team.id, seat, capacity, by="督办-王")
    return team.id


def activate(support, team_id: int, **options) -> int:
    now = utcnow()
    activation = support.open_activation(YANGZHOU, now - timedelta(hours=1), now + timedelta(days=3), by="督办-王", **options)
    support.add_batch(activation.id, "第一批", [team_id], by="督办-王")
    return activation.id


def test_a_remote_seat_takes_the_affected_citys_tickets_only_under_an_activation(db, support):
    desk = TicketDesk(db)
    number = desk.open(draft()).number
    team = suzhou_team(support, "苏州-07")
    with pytest.raises(QueueEmpty):
        desk.take_next("苏州-07", support.scope_for("苏州-07", SUZHOU), 5, city=SUZHOU)
    activate(support, team)
    taken = desk.take_next("苏州-07", support.scope_for("苏州-07", SUZHOU), 5, city=SUZHOU)
    assert taken.number == number and taken.seat == "苏州-07" and taken.seat_city == SUZHOU
    assert desk.timeline(number)[-1].actor_city == SUZHOU


def test_a_released_batch_or_a_closed_activation_takes_no_more(db, support):
    desk = TicketDesk(db)
    desk.open(draft())
    team = suzhou_team(support, "苏州-07")
    activation = activate(support, team)
    batch = support.activation(activation).batches[0].id
    support.release_batch(activation, batch, by="督办-王")
    with pytest.raises(QueueEmpty):
        desk.take_next("苏州-07", support.scope_for("苏州-07", SUZHOU), 5)
    support.add_batch(activation, "第二批", [team], by="督办-王")
    support.close_activation(activation, by="督办-王")
    with pytest.raises(QueueEmpty):
        desk.take_next("苏州-07", support.scope_for("苏州-07", SUZHOU), 5)


def test_opening_batches_and_closing_an_activation_are_audited(db, support):
    activation = activate(support, suzhou_team(support, "苏州-07"))
    support.close_activation(activation, by="督办-李")
    actions = [(e.actor, e.action) for e in AuditLog(db).list(target=f"support:{activation}")]
    assert actions == [("督办-李", "support.close"), ("督办-王", "support.batch_add"), ("督办-王", "support.open")]


def test_an_activation_for_some_categories_gives_only_those(db, support):
    desk = TicketDesk(db)
    desk.open(draft(category_code="A01"))
    wanted = desk.open(draft(category_code="D0102")).number
    activate(support, suzhou_team(support, "苏州-07"), categories=["D01"])
    scope = support.scope_for("苏州-07", SUZHOU)
    assert desk.take_next("苏州-07", scope, 5).number == wanted
    with pytest.raises(QueueEmpty):
        desk.take_next("苏州-07", scope, 5)


def test_an_activation_for_a_share_gives_about_that_share(db, support):
    desk = TicketDesk(db)
    for _ in range(40):
        desk.open(draft())
    activate(support, suzhou_team(support, "苏州-07", capacity=100), share=0.25)
    scope = support.scope_for("苏州-07", SUZHOU)
    assert 8 <= len(desk.list(scope=scope, limit=100)) <= 12  # of 40


def test_the_next_one_is_the_most_urgent_then_the_nearest_deadline(db, support):
    desk, now = TicketDesk(db), utcnow()
    later = desk.open(draft(urgency="次紧急", dispatch_hours=2), now=now).number
    normal = desk.open(draft(), now=now - timedelta(hours=10)).number
    sooner = desk.open(draft(urgency="次紧急", dispatch_hours=2), now=now - timedelta(minutes=30)).number
    urgent = desk.open(draft(urgency="紧急", dispatch_hours=1), now=now).number
    scope = support.scope_for("扬州-01", YANGZHOU)
    taken = [desk.take_next("扬州-01", scope, 10).number for _ in range(4)]
    assert taken == [urgent, sooner, later, normal]


def test_a_seat_at_its_capacity_takes_no_more(db, support):
    desk = TicketDesk(db)
    for _ in range(3):
        desk.open(draft())
    suzhou_team(support, "苏州-07", capacity=2)
    scope = support.scope_for("扬州-01", YANGZHOU)
    capacity = support.capacity_of("苏州-07")
    desk.take_next("苏州-07", scope, capacity)
    desk.take_next("苏州-07", scope, capacity)
    with pytest.raises(AtCapacity):
        desk.take_next("苏州-07", scope, capacity)


def test_a_seat_cannot_claim_a_ticket_of_a_city_it_does_not_support(db, support):
    desk = TicketDesk(db)
    number = desk.open(draft()).number
    with pytest.raises(OutsideScope):
        desk.claim(number, "苏州-07", scope=support.scope_for("苏州-07", SUZHOU))


def test_many_seats_taking_at_once_never_get_the_same_ticket(db, support):
    desk = TicketDesk(db)
    numbers = {desk.open(draft()).number for _ in range(30)}
    scope = support.scope_for("扬州-01", YANGZHOU)
    start, taken, lock = threading.Barrier(8), [], threading.Lock()

    def seat(name: str) -> None:
        start.wait()
        while True:
            try:
                ticket = desk.take_next(name, scope, 100)
            except QueueEmpty:
                return
            with lock:
                taken.append(ticket.number)

    seats = [threading.Thread(target=seat, args=(f"扬州-{i:02d}",)) for i in range(8)]
    for thread in seats:
        thread.start()
    for thread in seats:
        thread.join()
    assert sorted(taken) == sorted(numbers)


def test_a_team_belongs_to_a_city(support):
    with pytest.raises(SupportInvalid):
        support.create_team("江苏支援组", "江苏省", by="督办-王")


def test_a_ticket_merged_under_another_is_not_given_out(db, support):
    desk = TicketDesk(db)
    parent = desk.open(draft(urgency="一般")).number
    duplicate = desk.open(draft(urgency="紧急", dispatch_hours=1)).number
    desk.link(duplicate, parent, "扬州-01")
    scope = support.scope_for("扬州-01", YANGZHOU)
    assert desk.take_next("扬州-01", scope, 5).number == parent
    with pytest.raises(QueueEmpty):
        desk.take_next("扬州-01", scope, 5)
