"""The seats' desk over HTTP (in-process app): a remote seat's queue and "take the next one" under 多援一, a ticket
with its conversation, timeline and the affected city's suggested answers, and the whole lifecycle through the API
with a department account and a supervisor."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from conftest import SignedIn
from desk.tickets import TicketDraft
from ground.clock import utcnow

NANJING = "江苏省/南京市"  # the seed knowledge's city variants are Nanjing's


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:8]


def account(inprocess, role: str, region: str, tag: str, name: str):
    """A signed-in client for a new account of `role` limited to `region`."""
    username = f"{name}-{tag}"
    inprocess.services.accounts.create(username, inprocess.password, role, region=region, by="test")
    token, _ = inprocess.services.accounts.open_session(username, "token", by="test")
    return SignedIn(inprocess.client, {"authorization": f"Bearer {token}"}), username


def ticket(inprocess, region: str, **overrides) -> str:
    values = dict(channel="chat", summary="医保卡丢了怎么补办", reason="low_confidence",
                  transcript=[{"role": "citizen", "text": "医保卡丢了怎么补办"}], request_type="咨询", urgency="一般",
                  dispatch_hours=24, region=region, caller="13800000000")
    return inprocess.services.desk.open(TicketDraft(**{**values, **overrides})).number


def supported_city(inprocess, tag: str, city: str):
    """A supervisor, a Suzhou support team with one remote seat, and an activation of `city` with that team on."""
    supervisor, _ = account(inprocess, "supervisor", "江苏省", tag, "sup")
    remote, remote_name = account(inprocess, "seat", "江苏省/苏州市", tag, "suzhou")
    team = supervisor.post("/v1/desk/teams", json={"name": f"苏州支援组{tag}", "city": "江苏省/苏州市"}).json()
    supervisor.put(f"/v1/desk/teams/{team['id']}/members/{remote_name}", json={"capacity": 3}).raise_for_status()
    now = utcnow()
    activation = supervisor.post("/v1/desk/activations", json={
        "city": city, "starts_at": (now - timedelta(minutes=1)).isoformat(), "ends_at": (now + timedelta(days=1)).isoformat()})
    assert activation.status_code == 201, activation.text
    batch = supervisor.post(f"/v1/desk/activations/{activation.json()['id']}/batches", json={"label": "第一批", "teams": [team["id"]]})
    assert batch.status_code == 200, batch.text
    return supervisor, remote, remote_name


def test_a_remote_seat_under_an_activation_takes_the_affected_citys_ticket_and_sees_its_suggestions(inprocess, tag):
    city = f"江苏省/扬州{tag}市"
    number = ticket(inprocess, city + "/邗江区")
    _, remote, name = supported_city(inprocess, tag, city)
    assert [t["number"] for t in remote.get("/v1/desk/queue").json()] == [number]
    online = remote.put("/v1/desk/presence", json={"state": "online"})
    assert online.status_code == 200 and online.json()["held"] == 1  # going online, it is given the waiting ticket
    mine = remote.get("/v1/desk/queue", params={"view": "mine"}).json()
    assert [(t["number"], t["seat_city"]) for t in mine] == [(number, "江苏省/苏州市")]
    detail = remote.get(f"/v1/desk/tickets/{number}").json()
    assert detail["ticket"]["transcript"][0]["text"] == "医保卡丢了怎么补办"
    assert [(e["kind"], e["actor_city"]) for e in detail["timeline"]] == [("opened", None), ("claimed", "江苏省/苏州市")]
    assert detail["suggestions"] and detail["suggestions"][0]["answer"]


def test_suggestions_come_from_the_tickets_city(inprocess, tag):
    nanjing = ticket(inprocess, NANJING + "/鼓楼区", summary="苏康码黄码怎么转绿")
    elsewhere = ticket(inprocess, "江苏省/扬州市", summary="苏康码黄码怎么转绿")
    seat = inprocess.signed_in("seat")
    regions = {s["region"] for s in seat.get(f"/v1/tickets/{nanjing}/suggestions", params={"k": 10}).json()}
    assert NANJING in regions  # Nanjing's own versions are among them …
    assert NANJING not in {s["region"] for s in seat.get(f"/v1/tickets/{elsewhere}/suggestions", params={"k": 10}).json()}


def test_a_seat_with_nothing_to_take_gets_queue_empty(inprocess, tag):
    seat, _ = account(inprocess, "seat", f"江苏省/无锡{tag}市", tag, "wuxi")
    assert seat.put("/v1/desk/presence", json={"state": "online"}).status_code == 200
    answer = seat.post("/v1/desk/next")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "queue_empty"


def test_a_seat_that_is_not_online_may_not_take_the_next_one(inprocess, tag):
    ticket(inprocess, f"江苏省/无锡{tag}市")
    seat, _ = account(inprocess, "seat", f"江苏省/无锡{tag}市", tag, "wuxi")
    answer = seat.post("/v1/desk/next")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "not_online"
    assert "离线" in answer.json()["error"]["message"]


def test_a_seat_on_a_break_keeps_its_ticket_and_is_told_it_takes_no_new_one(inprocess, tag):
    city = f"江苏省/无锡{tag}市"
    held = ticket(inprocess, city)
    seat, _ = account(inprocess, "seat", city, tag, "wuxi")
    assert seat.put("/v1/desk/presence", json={"state": "online"}).json()["held"] == 1
    on_break = seat.put("/v1/desk/presence", json={"state": "break"}).json()
    assert (on_break["state"], on_break["held"]) == ("break", 1)
    ticket(inprocess, city)
    answer = seat.post("/v1/desk/next")
    assert answer.status_code == 409 and "小休" in answer.json()["error"]["message"]
    assert [t["number"] for t in seat.get("/v1/desk/queue", params={"view": "mine"}).json()] == [held]


def test_a_team_lead_sees_who_is_online_and_how_full_each_seat_is(inprocess, tag):
    city = f"江苏省/无锡{tag}市"
    supervisor, _ = account(inprocess, "supervisor", "江苏省", tag, "sup")
    lead, _ = account(inprocess, "team_lead", city, tag, "lead")
    seat, seat_name = account(inprocess, "seat", city, tag, "wuxi")
    team = supervisor.post("/v1/desk/teams", json={"name": f"无锡一组{tag}", "city": city}).json()
    supervisor.put(f"/v1/desk/teams/{team['id']}/members/{seat_name}", json={"capacity": 3}).raise_for_status()
    ticket(inprocess, city)
    seat.put("/v1/desk/presence", json={"state": "online"}).raise_for_status()
    [seen] = lead.get("/v1/desk/presence/teams").json()
    assert (seen["name"], seen["online"]) == (f"无锡一组{tag}", 1)
    assert [(s["username"], s["presence"], s["held"], s["capacity"]) for s in seen["seats"]] == [(seat_name, "online", 1, 3)]


def test_a_seat_cannot_claim_a_ticket_of_a_city_it_does_not_support(inprocess, tag):
    number = ticket(inprocess, f"江苏省/扬州{tag}市")
    seat, _ = account(inprocess, "seat", "江苏省/苏州市", tag, "suzhou")
    answer = seat.post(f"/v1/tickets/{number}/claim", json={})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "not_your_city"


def test_a_ticket_goes_through_dispatch_a_department_answer_close_call_back_and_archive(inprocess, tag):
    city = f"江苏省/扬州{tag}市"
    number = ticket(inprocess, city, summary="小区停水两天了", request_type="求助")
    supervisor, _ = account(inprocess, "supervisor", "江苏省", tag, "sup")
    department, department_name = account(inprocess, "department", city, tag, "water")
    seat, _ = account(inprocess, "seat", city, tag, "yz")
    csv = f"code,name,kind,region,account\nWATER-{tag},扬州水务集团,department,{city},{department_name}\n"
    assert supervisor.post("/v1/departments/import", content=csv.encode(), headers={"content-type": "text/csv"}).status_code == 200

    assert seat.post(f"/v1/tickets/{number}/claim", json={}).status_code == 200
    dispatched = seat.post(f"/v1/tickets/{number}/dispatch", json={"department": f"WATER-{tag}", "note": "请抢修"})
    assert dispatched.status_code == 200 and dispatched.json()["status"] == "dispatched"
    assert [t["number"] for t in department.get("/v1/department/tickets").json()] == [number]
    assert supervisor.post(f"/v1/tickets/{number}/urge", json={"note": "请今日答复"}).json()["urge_count"] == 1
    assert department.post(f"/v1/department/tickets/{number}/claim").json()["status"] == "handling"
    answered = department.post(f"/v1/department/tickets/{number}/answer", json={"text": "今晚8点前恢复供水"})
    assert answered.json()["status"] == "answered"
    assert seat.post(f"/v1/tickets/{number}/reply", json={"text": "水务集团答复：今晚8点前恢复供水"}).status_code == 200
    assert seat.post(f"/v1/tickets/{number}/close", json={}).json()["status"] == "closed"
    assert seat.post(f"/v1/tickets/{number}/callback", json={"result": "satisfied"}).json()["callback_result"] == "satisfied"
    assert seat.post(f"/v1/tickets/{number}/archive").json()["status"] == "archived"
    kinds = [e["kind"] for e in seat.get(f"/v1/tickets/{number}/timeline").json()]
    assert kinds == ["opened", "claimed", "dispatched", "urged", "department_claimed", "department_answered", "replied",
                     "closed", "called_back", "archived"]


def test_a_step_the_ticket_is_not_ready_for_is_a_conflict_in_the_house_shape(inprocess, tag):
    number = ticket(inprocess, f"江苏省/扬州{tag}市")
    seat, _ = account(inprocess, "seat", "", tag, "any")
    answer = seat.post(f"/v1/tickets/{number}/archive")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "ticket_conflict"


def test_a_department_directory_with_problems_is_refused_line_by_line(inprocess, tag):
    supervisor, _ = account(inprocess, "supervisor", "江苏省", tag, "sup")
    csv = "code,name,kind,region\nA,甲部门,department,江苏省/扬州市\nB,乙,村委会,江苏省/扬州市\n,丙,street,江苏省/扬州市\n"
    answer = supervisor.post("/v1/departments/import", content=csv.encode("gb18030"))
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "bad_department_directory"
    assert [d["line"] for d in answer.json()["error"]["details"]] == [3, 4]


def test_only_a_supervisor_opens_an_activation(inprocess, tag):
    now = utcnow()
    answer = inprocess.signed_in("seat").post("/v1/desk/activations", json={
        "city": "江苏省/扬州市", "starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()})
    assert answer.status_code == 403


def test_the_queue_shows_beijing_time_and_time_left_most_urgent_first(inprocess, tag):
    city = f"江苏省/扬州{tag}市"
    normal = ticket(inprocess, city)
    urgent = ticket(inprocess, city, urgency="紧急", dispatch_hours=1)
    seat, _ = account(inprocess, "seat", city, tag, "yz")
    queue = seat.get("/v1/desk/queue").json()
    assert [t["number"] for t in queue] == [urgent, normal]
    assert 3000 < queue[0]["seconds_left"] <= 3600 and len(queue[0]["deadline_beijing"]) == len("2026-07-25 14:30")


def test_the_workbench_page_is_served_with_a_strict_content_security_policy(inprocess):
    page = inprocess.client.get("/desk")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert 'src="/static/desk/main.js"' in page.text


def test_the_stream_tells_a_new_workbench_where_the_queue_stands_at_once(inprocess, tag):
    ticket(inprocess, f"江苏省/扬州{tag}市")
    answer = inprocess.signed_in("seat").get("/v1/desk/stream")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    fields = {name: value.strip() for name, _, value in (line.partition(":") for line in answer.text.strip().splitlines())}
    assert fields["event"] == "queue" and int(fields["id"]) > 0 and fields["retry"] == "500"


def test_a_seat_files_a_ticket_under_another_category_of_the_code_table(inprocess, tag):
    number = ticket(inprocess, f"江苏省/扬州{tag}市")
    seat = inprocess.signed_in("seat")
    category = seat.get("/v1/codes").json()[-1]
    refiled = seat.put(f"/v1/tickets/{number}/classification", json={"code": category["code"]})
    assert refiled.status_code == 200 and refiled.json()["category_code"] == category["code"]
    assert refiled.json()["category_source"] == "seat"
    assert seat.get(f"/v1/tickets/{number}/timeline").json()[-1]["kind"] == "reclassified"
    unknown = seat.put(f"/v1/tickets/{number}/classification", json={"code": "NO-SUCH-CODE"})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_category"


def test_a_duplicate_merged_under_its_parent_is_closed_with_it(inprocess, tag):
    city = f"江苏省/扬州{tag}市"
    parent, duplicate = ticket(inprocess, city), ticket(inprocess, city)
    seat, _ = account(inprocess, "seat", city, tag, "yz")
    assert seat.post(f"/v1/tickets/{duplicate}/link", json={"parent": parent}).json()["parent_number"] == parent
    seat.post(f"/v1/tickets/{parent}/claim", json={}).raise_for_status()
    seat.post(f"/v1/tickets/{parent}/reply", json={"text": "已补办"}).raise_for_status()
    seat.post(f"/v1/tickets/{parent}/close", json={}).raise_for_status()
    merged = seat.get(f"/v1/desk/tickets/{duplicate}").json()["ticket"]
    assert (merged["status"], merged["reply"]) == ("closed", "已补办")


def test_the_ticket_list_shows_closed_tickets_only_when_asked(inprocess, tag):
    seat = inprocess.signed_in("seat")
    number = ticket(inprocess, NANJING, summary=f"路灯不亮了{tag}")
    inprocess.services.desk.claim(number, "seat")
    inprocess.services.desk.close(number, "seat")
    listed = {t["number"] for t in seat.get("/v1/tickets", params={"limit": 500}).json()}
    closed = {t["number"] for t in seat.get("/v1/tickets", params={"limit": 500, "status": "closed"}).json()}
    assert number not in listed and number in closed
