"""The H5 chat page (/chat), driven in a real browser: Debian's Chromium under Playwright."""
from __future__ import annotations

import json

import httpx
import pytest

from conftest import TIMEOUT_MS

REGION = "江苏省/南京市"


@pytest.fixture
def page(chromium):
    """A fresh phone-sized tab (360 px wide) with its own sessionStorage; uncaught script errors fail the test."""
    context = chromium.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                                   has_touch=True, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, f"the page raised script errors: {errors}"


def bot_bubbles(page):
    return page.locator('[data-testid="message"][data-role="bot"]')


def ask(page, text: str):
    """Type and send; returns the bot's reply bubble (the first one after those already shown)."""
    before = bot_bubbles(page).count()
    page.get_by_test_id("input").fill(text)
    page.get_by_test_id("send").click()
    return wait_reply(page, before)


def wait_reply(page, before: int):
    from playwright.sync_api import expect

    expect(bot_bubbles(page)).to_have_count(before + 1)
    expect(page.get_by_test_id("typing")).to_have_count(0)
    expect(page.get_by_test_id("send")).to_be_enabled()
    return bot_bubbles(page).nth(before)


def open_chat(page, server):
    from playwright.sync_api import expect

    page.goto(f"{server}/")
    expect(page).to_have_url(f"{server}/chat")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("greeting")).to_contain_text("12345")
    return page


def test_a_citizen_asks_is_redirected_in_an_emergency_and_gets_a_ticket(chromium, server, page, tmp_path):
    from playwright.sync_api import expect

    open_chat(page, server)
    page.get_by_test_id("region").select_option(REGION)

    # A question: answered at once, or a choice of close entries first.
    reply = ask(page, "医保卡丢了怎么补办")
    decision = reply.get_attribute("data-decision")
    assert decision in ("answer", "clarify"), decision
    if decision == "clarify":
        choices = reply.get_by_test_id("choice")
        assert 2 <= choices.count() <= 3
        expect(reply.get_by_test_id("choice-none")).to_be_visible()
        expect(reply.get_by_test_id("choice-human")).to_be_visible()
        first = choices.first
        entry_id = first.get_attribute("data-entry-id")
        question = first.inner_text().split(". ", 1)[1]
        before = bot_bubbles(page).count()
        first.click()
        expect(page.get_by_test_id("user-message").last).to_have_text(question)
        reply = wait_reply(page, before)
        expect(reply).to_have_attribute("data-decision", "answer")
        expect(reply).to_have_attribute("data-entry-id", entry_id)
        expect(choices.first).to_be_disabled()  # offered buttons go stale once answered
    expect(reply.get_by_test_id("entry-question")).not_to_be_empty()
    assert len(reply.locator(".text").inner_text()) > 20
    session = page.evaluate("sessionStorage.getItem('frontdoor.chat.session')")
    assert session

    # An emergency: a red call-to-action that dials 119.
    reply = ask(page, "楼下着火了")
    expect(reply).to_have_attribute("data-decision", "redirect")
    call = reply.get_by_test_id("call-link")
    expect(call).to_be_visible()
    expect(call).to_have_attribute("href", "tel:119")
    expect(call).to_contain_text("119")

    # A person, please: a ticket that the seats' queue lists, with the whole conversation on it.
    reply = ask(page, "转人工")
    expect(reply).to_have_attribute("data-decision", "handoff")
    number = reply.get_by_test_id("ticket-number").inner_text().strip()
    assert number
    assert page.evaluate("sessionStorage.getItem('frontdoor.chat.session')") == session

    seat = {"authorization": f"Bearer {server.seat_token}"}
    queue = httpx.get(f"{server}/v1/tickets", params={"limit": 500}, headers=seat, timeout=30)
    assert queue.status_code == 200, queue.text
    ticket = next((t for t in queue.json() if t["number"] == number), None)
    assert ticket is not None, f"ticket {number} is not in the seats' queue"
    assert ticket["channel"] == "chat" and ticket["region"] == REGION
    said = [line["text"] for line in ticket["transcript"]]
    assert said[0] == "医保卡丢了怎么补办" and said[-1] == "转人工"

    # Fits a 360 px phone: nothing sticks out sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)


def test_a_complaint_is_taken_down_and_the_seats_reply_is_read_under_my_tickets(chromium, server, page, tmp_path):
    from playwright.sync_api import expect

    open_chat(page, server)
    page.get_by_test_id("region").select_option(REGION)
    assert ask(page, "我要投诉隔壁装修噪音").get_attribute("data-decision") == "intake"
    readback = ask(page, "鼓楼区中山路18号，昨晚十点开始的，我电话13812345678")
    expect(readback).to_contain_text("鼓楼区中山路18号")
    number = ask(page, "对").get_by_test_id("ticket-number").inner_text().strip()

    seat = {"authorization": f"Bearer {server.seat_token}"}
    answer = "您好，已联系鼓楼区城管中队，今晚上门核查装修施工时间。"
    httpx.post(f"{server}/v1/tickets/{number}/claim", json={}, headers=seat, timeout=30).raise_for_status()
    httpx.post(f"{server}/v1/tickets/{number}/reply", json={"text": answer}, headers=seat, timeout=30).raise_for_status()

    page.get_by_test_id("my-tickets").click()
    card = page.locator(f'[data-testid="ticket-card"][data-number="{number}"]')
    expect(card.get_by_test_id("ticket-state")).to_have_text("工作人员已答复")
    expect(card.get_by_test_id("ticket-reply")).to_contain_text(answer)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    # Another phone, or the same one after clearing its storage: the ticket number and the number left with it.
    page.evaluate("localStorage.clear()")
    page.get_by_test_id("my-tickets").click()
    panel = page.get_by_test_id("tickets-panel").last
    panel.get_by_test_id("lookup-number").fill(number)
    panel.get_by_test_id("lookup-phone").fill("13812345678")
    panel.get_by_role("button", name="查询").click()
    expect(panel.get_by_test_id("ticket-reply")).to_contain_text(answer)
    page.screenshot(path=str(tmp_path / "my-tickets.png"), full_page=True)


def test_api_errors_are_shown_and_the_message_can_be_sent_again(chromium, server, page, tmp_path):
    from playwright.sync_api import expect

    open_chat(page, server)
    too_long = "问" * 600
    page.get_by_test_id("input").fill(too_long)
    expect(page.get_by_test_id("counter")).to_contain_text("600 / 500")
    page.get_by_test_id("send").click()
    error = page.get_by_test_id("error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("500 字")           # what to do, in Chinese
    expect(error.get_by_test_id("error-message")).not_to_be_empty()  # and the API's own message
    expect(error).to_contain_text("HTTP 422")
    expect(page.get_by_test_id("input")).to_have_value(too_long)  # nothing typed is lost
    expect(page.get_by_test_id("send")).to_be_enabled()
    expect(page.get_by_test_id("typing")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "error.png"), full_page=True)


def test_while_waiting_the_page_shows_typing_and_cannot_send_twice(chromium, server, page):
    from playwright.sync_api import expect

    held = []
    page.route("**/v1/chat", lambda route: held.append(route))
    open_chat(page, server)
    page.get_by_test_id("input").fill("你好")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("typing")).to_be_visible()
    expect(page.get_by_test_id("send")).to_be_disabled()
    page.wait_for_function("() => true")  # let the route handler run
    assert len(held) == 1
    held[0].fulfill(status=422, content_type="application/json",
                    body=json.dumps({"error": {"code": "invalid_request", "message": "测试：这条消息无效"}}))
    expect(page.get_by_test_id("error-message")).to_have_text("测试：这条消息无效")
    expect(page.get_by_test_id("typing")).to_have_count(0)
    expect(page.get_by_test_id("send")).to_be_enabled()


def test_server_text_is_never_rendered_as_html(chromium, server, page):
    from playwright.sync_api import expect

    hostile = "第一行<img src=x onerror=\"document.body.dataset.owned='yes'\">\n详情见 https://example.gov.cn/a?b=1&c=2。"
    reply = {"session": "s-1", "decision": "answer", "text": hostile, "reason": "confident", "confidence": 0.9,
             "entry": {"id": "e-1", "question": "<b>问题</b>"}, "choices": [], "ticket": None, "redirect_to": None,
             "knowledge_revision": 1}
    page.route("**/v1/chat", lambda route: route.fulfill(status=200, content_type="application/json",
                                                         body=json.dumps(reply, ensure_ascii=False)))
    open_chat(page, server)
    bubble = ask(page, "你好")
    expect(bubble.get_by_test_id("entry-question")).to_have_text("<b>问题</b>")
    assert bubble.locator("img, b").count() == 0
    assert "<img" in bubble.locator(".text").inner_text()
    assert bubble.locator(".text").inner_text().count("\n") >= 1
    link = bubble.locator(".text a")
    expect(link).to_have_attribute("href", "https://example.gov.cn/a?b=1&c=2")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    assert page.evaluate("document.body.dataset.owned") is None


def test_the_page_is_served_with_its_files(server):
    home = httpx.get(f"{server}/", follow_redirects=False)
    assert home.status_code in (302, 307) and home.headers["location"] == "/chat"
    page = httpx.get(f"{server}/chat")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for name in ("chat.js", "chat.css"):
        assert httpx.get(f"{server}/static/{name}").status_code == 200
