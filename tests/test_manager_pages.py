"""The manager's pages in Debian's Chromium: the live wall (/wall) and the 数据日报's page, against a service of
their own (the in-process app with the small embedder, served on a loopback port) whose last minutes are seeded
here, so that every figure on them is known."""
from datetime import timedelta

import pytest

from conftest import TEST_PASSWORD, TIMEOUT_MS
from ground.clock import BEIJING, utcnow
from storage.tables import ConversationRow, SurgeAlertRow, TicketRow, TurnRow

ENTRY = "hc-code-colors"  # a seed entry the answered questions name
SUZHOU_SEAT = "sz-seat"    # a seat of Suzhou's support team, 在线 on its workbench


@pytest.fixture(scope="module")
def manager_service(tmp_path_factory):
    """A fresh service (its own database) with a manager account, served over HTTP."""
    from fastapi.testclient import TestClient

    from accounts.roles import Role
    from fakes import HashingEmbedder
    from frontdoor.components import account_store, open_database, web_app
    from frontdoor.settings import Settings
    from local_server import LocalServer

    data_dir = tmp_path_factory.mktemp("manager")
    settings = Settings(_env_file=None, data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'frontdoor.db'}",
                        model_dir=data_dir / "models", allow_download=False, voice=False, seed_on_start=True,
                        audiosocket_port=None, rules_dir=None, classifier_dir=None, report_tick_seconds=3600)
    db = open_database(settings)
    account_store(settings, db).create("boss", TEST_PASSWORD, Role.MANAGER.value, region="", display_name="主任", by="cli")
    account_store(settings, db).create(SUZHOU_SEAT, TEST_PASSWORD, Role.SEAT.value, region="江苏省/苏州市",
                                       display_name="苏州座席", by="cli")
    db.dispose()
    client = TestClient(web_app(settings, embedder=HashingEmbedder()))
    with client:
        server = LocalServer(client.app, "the manager's service")
        base = server.start()
        yield base, client.app.state.services
        server.stop()


def seed_last_minutes(services) -> dict:
    """Ten contacts in the last 15 minutes (six answered, four handed off in two cities), one surge alert."""
    now = utcnow()
    with services.db.session() as s:
        for i in range(10):
            at = now - timedelta(minutes=10, seconds=i)
            handed_off = i >= 6
            region = "江苏省/南京市" if i % 2 else "江苏省/扬州市"
            s.add(ConversationRow(id=f"w{i}", channel="chat", region=region, caller=None, state={}, turns=1,
                                  ticket_number=f"W{i}" if handed_off else None, created_at=at, updated_at=at))
            s.add(TurnRow(conversation_id=f"w{i}", seq=1, at=at, text="问", decision="handoff" if handed_off else "answer",
                          entry_id=None if handed_off else ENTRY, candidates=[], reason="confident"))
            if handed_off:
                s.add(TicketRow(number=f"W{i}", conversation_id=f"w{i}", channel="chat", region=region, caller=None,
                                transcript=[], summary="", reason="low_confidence", category_code="A1", category_name="分类",
                                request_type="投诉", urgency="一般", due_at=at + timedelta(hours=24), candidates=[],
                                status="open", created_at=at, updated_at=at))
        s.add(SurgeAlertRow(topic=f"entry:{ENTRY}", region="江苏省/南京市", window_start=now - timedelta(minutes=15),
                            window_end=now, count=42, expected=3.1, p_value=1e-9, label="新规定怎么执行",
                            link=f"/console#/entry/{ENTRY}", raised_at=now, webhook=None))
    return {"contacts": 10, "resolved": 6, "queue": {"江苏省/南京市": 2, "江苏省/扬州市": 2}}


def suzhou_seat_online(base: str, services) -> None:
    """Suzhou's support team has one seat, and it says 在线 on its workbench (through the API, as the page does)."""
    import httpx

    team = services.support.create_team("苏州支援组", "江苏省/苏州市", by="boss")
    services.support.set_member(team.id, SUZHOU_SEAT, 5, by="boss")
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.post("/v1/auth/login", json={"username": SUZHOU_SEAT, "password": TEST_PASSWORD}).status_code == 200
        assert client.put("/v1/desk/presence", json={"state": "online"}).status_code == 200


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, f"the page raised script errors: {errors}"


def test_the_wall_shows_the_last_minutes_and_the_report_its_day(chromium, manager_service, page):
    from playwright.sync_api import expect

    base, services = manager_service
    seeded = seed_last_minutes(services)
    suzhou_seat_online(base, services)
    page.goto(f"{base}/wall")
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    page.get_by_test_id("username").fill("boss")
    page.get_by_test_id("password").fill(TEST_PASSWORD)
    page.get_by_test_id("sign-in-button").click()
    expect(page.get_by_test_id("wall")).to_be_visible()
    expect(page.locator("h1")).to_have_text("12345 热线实时大屏")              # the words of wall/strings.js
    expect(page.get_by_test_id("queue").locator("th").nth(1)).to_have_text("待处理")
    expect(page.get_by_test_id("contacts")).to_have_text(str(seeded["contacts"]))
    expect(page.get_by_test_id("self-service")).to_have_text("60%")
    for city, count in seeded["queue"].items():
        expect(page.get_by_test_id("queue").locator("tr", has_text=city)).to_contain_text(str(count))
    expect(page.get_by_test_id("seats-online")).to_have_text("1")
    expect(page.get_by_test_id("queue").locator("tr", has_text="江苏省/苏州市")).to_contain_text("1")  # its seats online
    expect(page.get_by_test_id("alerts")).to_contain_text("新规定怎么执行")
    expect(page.get_by_test_id("hot").locator("li").first).to_contain_text("6")
    expect(page.locator("#c-without")).not_to_have_text("–")

    today = (utcnow() - timedelta(minutes=10)).astimezone(BEIJING).date()
    page.goto(f"{base}/v1/reports/daily?date={today}&format=html")   # the wall's sign-in cookie carries over
    expect(page.locator("h1")).to_contain_text("数据日报")
    expect(page.locator("figure.chart svg")).to_have_count(2)
    summary = page.locator("table.summary")
    expect(summary.locator("tr", has_text="来电来信总量")).to_contain_text(str(seeded["contacts"]))
    expect(summary.locator("tr", has_text="转人工工单")).to_contain_text("4")
