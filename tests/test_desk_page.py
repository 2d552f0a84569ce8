"""The seats' workbench (/desk), driven in a real browser: Debian's Chromium under Playwright, against the app served
on a loopback port by this process (tests/local_server.py) (the small embedder of tests/fakes.py). A citizen's handoff in Nanjing appears on a Suzhou
seat's workbench under a 多援一 activation; the seat goes online (在线) and the desk gives it the ticket; it inserts a suggested answer from Nanjing's entries and
replies, and the citizen reads the reply under 「我的工单」; a ticket dispatched to a department comes back answered
and is closed, called back and archived; an overdue ticket shows 督办 after the supervision job runs on a fake clock."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from conftest import TIMEOUT_MS
from ground.clock import utcnow

PASSWORD = "desk-page-password"
NANJING, SUZHOU = "江苏省/南京市", "江苏省/苏州市"


@dataclass(frozen=True)
class Bench:
    base: str
    services: object  # api.services.Services of the served app


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """A fresh service (its own database) with a remote Suzhou seat, a supervisor and a department account, served over
    HTTP; Nanjing under a 多援一 activation with the Suzhou team on."""
    from fastapi.testclient import TestClient

    from fakes import HashingEmbedder
    from frontdoor.components import account_store, open_database, web_app
    from frontdoor.settings import Settings
    from local_server import LocalServer

    data_dir = tmp_path_factory.mktemp("desk-page")
    settings = Settings(_env_file=None, data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'frontdoor.db'}",
                        model_dir=data_dir / "models", allow_download=False, voice=False, seed_on_start=True,
                        audiosocket_port=None, rules_dir=None, classifier_dir=None, desk_supervise_seconds=0)
    db = open_database(settings)
    accounts = account_store(settings, db)
    accounts.create("suzhou-07", PASSWORD, "seat", region=SUZHOU, display_name="苏州07号", by="test")
    accounts.create("supervisor", PASSWORD, "supervisor", region="江苏省", by="test")
    accounts.create("nj-water", PASSWORD, "department", region=NANJING, by="test")
    db.dispose()
    with TestClient(web_app(settings, embedder=HashingEmbedder())) as client:
        server = LocalServer(client.app, "the workbench's service")
        base = server.start()
        supervisor_activates_nanjing(base)
        yield Bench(base, client.app.state.services)
        server.stop()


def supervisor_activates_nanjing(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        client.post("/v1/auth/login", json={"username": "supervisor", "password": PASSWORD}).raise_for_status()
        team = client.post("/v1/desk/teams", json={"name": "苏州支援组", "city": SUZHOU}).json()
        client.put(f"/v1/desk/teams/{team['id']}/members/suzhou-07", json={"capacity": 3}).raise_for_status()
        now = utcnow()
        activation = client.post("/v1/desk/activations", json={"city": NANJING, "starts_at": (now - timedelta(minutes=1)).isoformat(),
                                                                "ends_at": (now + timedelta(hours=8)).isoformat()}).json()
        client.post(f"/v1/desk/activations/{activation['id']}/batches", json={"label": "第一批", "teams": [team["id"]]}).raise_for_status()


@contextlib.contextmanager
def workbench(chromium, bench: Bench, username: str):
    """The workbench in a fresh browser context, signed in as `username`; uncaught script errors fail the test."""
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(f"{bench.base}/desk")
    tab.get_by_test_id("username").fill(username)
    tab.get_by_test_id("password").fill(PASSWORD)
    tab.get_by_test_id("sign-in-submit").click()
    tab.get_by_test_id("queue").wait_for()
    yield tab
    context.close()
    assert not errors, f"the page raised script errors: {errors}"


@pytest.fixture
def page(chromium, bench):
    """The Suzhou seat's workbench."""
    with workbench(chromium, bench, "suzhou-07") as tab:
        yield tab


def handoff_in_nanjing(base: str, text: str = "医保卡丢了怎么补办") -> tuple[str, str]:
    """A citizen in Nanjing asks, then asks for a person: (the ticket's number, the chat session)."""
    first = httpx.post(f"{base}/v1/chat", json={"text": text, "region": NANJING}, timeout=60).json()
    handoff = httpx.post(f"{base}/v1/chat", json={"text": "转人工", "region": NANJING, "session": first["session"]},
                         timeout=60).json()
    assert handoff["decision"] == "handoff"
    return handoff["ticket"]["number"], first["session"]


def test_a_remote_seat_takes_a_handed_off_ticket_and_replies_with_a_suggested_answer(page, bench):
    from playwright.sync_api import expect

    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    # A citizen in Nanjing asks for a person; the ticket appears on the Suzhou seat's queue without a reload, within
    # seconds (the stream wakes the page; its safety-net poll is every 15 s).
    number, session = handoff_in_nanjing(bench.base)
    expect(page.locator(f'[data-testid="queue-item"][data-number="{number}"]')).to_be_visible(timeout=8000)

    # Offline, the seat takes nothing; online (在线), the desk gives it the waiting ticket at once and opens it.
    page.get_by_test_id("take-next").click()
    expect(page.get_by_test_id("flash")).to_contain_text("离线")
    page.get_by_test_id("presence").select_option("online")
    expect(page.get_by_test_id("ticket-number")).to_contain_text(number)
    expect(page.get_by_test_id("ticket-seat")).to_contain_text(SUZHOU)
    expect(page.get_by_test_id("load")).to_contain_text("1/3")
    suggestion = page.get_by_test_id("suggestion").first
    answer = suggestion.locator(".answer").inner_text()
    suggestion.get_by_test_id("insert-suggestion").click()
    expect(page.get_by_test_id("reply-text")).to_have_value(answer)
    page.get_by_test_id("send-reply").click()
    expect(page.get_by_test_id("ticket-status")).to_have_text("已答复")

    mine = httpx.get(f"{bench.base}/v1/chat/tickets/{number}", params={"session": session}, timeout=30).json()
    assert mine["reply"] == answer.strip()
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator('[data-kind="replied"]')).to_contain_text("苏州市")
    page.get_by_test_id("presence").select_option("offline")  # the tests after this one take their tickets by hand
    expect(page.get_by_test_id("presence")).to_have_attribute("data-state", "offline")


def test_a_dispatched_ticket_comes_back_answered_and_is_closed_called_back_and_archived(page, bench):
    from playwright.sync_api import expect

    with httpx.Client(base_url=bench.base, timeout=30) as supervisor:
        supervisor.post("/v1/auth/login", json={"username": "supervisor", "password": PASSWORD}).raise_for_status()
        csv = "code,name,kind,region,account\nNJ-WATER,南京水务集团,department,江苏省/南京市,nj-water\n"
        supervisor.post("/v1/departments/import", content=csv.encode()).raise_for_status()
        code = supervisor.get("/v1/codes").json()[-1]["code"]
    number, _ = handoff_in_nanjing(bench.base, "公积金怎么提取")
    page.reload()  # the directory is read when the workbench opens
    page.locator(f'[data-testid="queue-item"][data-number="{number}"]').click()
    page.get_by_test_id("claim").click()
    expect(page.get_by_test_id("ticket-status")).to_have_text("已签收")
    page.get_by_test_id("category-input").fill(code)  # filed anew from the code table's picker
    page.get_by_test_id("reclassify").click()
    expect(page.get_by_test_id("ticket-category")).to_contain_text(code)
    page.get_by_test_id("department").select_option("NJ-WATER")
    page.get_by_test_id("dispatch").click()
    expect(page.get_by_test_id("ticket-status")).to_have_text("已转办")

    with httpx.Client(base_url=bench.base, timeout=30) as department:
        department.post("/v1/auth/login", json={"username": "nj-water", "password": PASSWORD}).raise_for_status()
        department.post(f"/v1/department/tickets/{number}/answer", json={"text": "请携带身份证到公积金中心办理"}).raise_for_status()

    page.get_by_test_id("tab-mine").click()
    page.locator(f'[data-testid="queue-item"][data-number="{number}"]').click()
    expect(page.get_by_test_id("department-reply")).to_have_text("请携带身份证到公积金中心办理")
    page.get_by_test_id("close").click()
    expect(page.get_by_test_id("ticket-status")).to_have_text("办结")
    page.get_by_test_id("callback-result").select_option("satisfied")
    page.get_by_test_id("callback").click()
    page.get_by_test_id("archive").click()
    expect(page.get_by_test_id("ticket-status")).to_have_text("归档")
    kinds = page.get_by_test_id("timeline").locator("li").evaluate_all("items => items.map(i => i.dataset.kind)")
    assert kinds == ["opened", "claimed", "reclassified", "dispatched", "department_answered", "closed", "called_back",
                     "archived"]


def test_a_department_answers_on_its_workbench_and_a_supervisor_urges_on_theirs(chromium, bench):
    from playwright.sync_api import expect

    number, _ = handoff_in_nanjing(bench.base, "小区门口的下水道堵了")
    desk = bench.services.desk
    desk.claim(number, "suzhou-07", city=SUZHOU)
    desk.dispatch(number, "suzhou-07", "NJ-WATER", city=SUZHOU)  # the directory of the test before
    with workbench(chromium, bench, "supervisor") as supervisor:
        bench.services.supervision.run(utcnow() + timedelta(days=20))  # a fake clock: past its closing deadline
        supervisor.reload()
        supervisor.locator(f'[data-testid="queue-item"][data-number="{number}"]').click()
        supervisor.get_by_test_id("urge-note").fill("已超时，请今日办结")
        supervisor.get_by_test_id("urge").click()
        expect(supervisor.get_by_test_id("timeline").locator('[data-kind="urged"]')).to_contain_text("已超时，请今日办结")
    with workbench(chromium, bench, "nj-water") as department:
        department.locator(f'[data-testid="queue-item"][data-number="{number}"]').click()
        department.get_by_test_id("department-claim").click()
        expect(department.get_by_test_id("ticket-status")).to_have_text("承办中")
        department.get_by_test_id("department-answer-text").fill("已疏通")
        department.get_by_test_id("department-answer").click()
        expect(department.get_by_test_id("ticket-status")).to_have_text("部门已答复")
    assert desk.get(number).department_reply == "已疏通"


def test_an_overdue_ticket_shows_as_escalated_on_the_queue(page, bench):
    from playwright.sync_api import expect

    number, _ = handoff_in_nanjing(bench.base, "核酸检测结果在哪里查")
    bench.services.supervision.run(utcnow() + timedelta(days=2))  # a fake clock: two days on, past its dispatch deadline
    item = page.locator(f'[data-testid="queue-item"][data-number="{number}"]')
    expect(item).to_contain_text("督办")
