"""The editors' console (/console), driven in a real browser: Debian's Chromium under Playwright.

One service of its own with two workers (`frontdoor serve --workers 2`), so that a publish is seen to reach
every worker: edit → try → submit → review → publish → the chat answer changes on both → rollback."""
from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from knowledge_base.labels import AUTOMATIC
from conftest import TIMEOUT_MS, _free_port, _frontdoor, _serve, _stop

PASSWORD = "console-test-password"
WORKERS = 2

# The accounts the installer's command line makes before the service starts: name → (role, region, may edit wider)
ACCOUNTS = {
    "editor": ("editor", "", False),
    "reviewer": ("reviewer", "", False),
    "seat": ("seat", "", False),
    "admin": ("admin", "", False),
    "yangzhou": ("editor", "江苏省/扬州市", False),
}

# The entry the whole loop changes, and a citizen's question it answers.
LOOP_ENTRY = "ev-street-light"
LOOP_QUESTION = "路灯不亮、路灯损坏怎么报修？"
CHAT_REGION = "江苏省/南京市"
NEW_ANSWER = "【夜间更新】路灯不亮请直接拨打12345热线报修，说明路名和附近门牌号，维修人员一般24小时内到场。"


# ---- the service: two workers, accounts made on the command line --------------------------------------
class Console:
    def __init__(self, base: str, data_dir: Path) -> None:
        self.base, self.data_dir = base, data_dir

    def __str__(self) -> str:
        return self.base

    @contextlib.contextmanager
    def client(self, username: str) -> Iterator[httpx.Client]:
        """An HTTP client signed in as `username` (its session cookie)."""
        with httpx.Client(base_url=self.base, timeout=60) as client:
            signed = client.post("/v1/auth/login", json={"username": username, "password": PASSWORD})
            assert signed.status_code == 200, signed.text
            yield client


def _workers_seen(base: str, seconds: float) -> set[str]:
    """The worker pids that answered /healthz within `seconds` (a new connection each time)."""
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(seen) < WORKERS:
        try:
            response = httpx.get(f"{base}/healthz", timeout=5)
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        if response.status_code == 200 and response.headers.get("x-frontdoor-worker"):
            seen.add(response.headers["x-frontdoor-worker"])
        time.sleep(0.1)
    return seen


@pytest.fixture(scope="module")
def console(provisioned, seed_caches, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("console-service")
    port = _free_port()
    env = {**os.environ, "FRONTDOOR_MODEL_DIR": str(provisioned.model_dir), "FRONTDOOR_ALLOW_DOWNLOAD": "false",
           "FRONTDOOR_VOICE": "false", "FRONTDOOR_KB_POLL_SECONDS": "0.5", "FRONTDOOR_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    for name, (role, region, wider) in ACCOUNTS.items():
        args = ["accounts", "create", name, "--role", role, "--display-name", f"测试{name}"]
        if region:
            args += ["--region", region]
        if wider:
            args.append("--may-edit-wider")
        _frontdoor(env, *args, stdin=f"{PASSWORD}\n")
    seed_caches.warm_url(f"sqlite:///{data_dir / 'frontdoor.db'}")  # both workers find the seed's vectors and calibration
    process, log = _serve(env, data_dir, port, ("--workers", str(WORKERS)))
    base = f"http://127.0.0.1:{port}"
    try:
        # /healthz answers once one worker is up; the tests need both.
        workers = _workers_seen(base, 300)
        assert len(workers) == WORKERS, f"only workers {workers} answered; see {data_dir / 'server.log'}"
        yield Console(base, data_dir)
    finally:
        _stop(process, log)


# ---- the browser -------------------------------------------------------------------------------------------
@pytest.fixture
def tabs(chromium):
    """Opens desktop-sized tabs, each in its own browser context (its own cookies); uncaught script errors fail the test."""
    contexts, errors = [], []

    def open_tab():
        context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")
        contexts.append(context)
        tab = context.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        tab.on("pageerror", lambda error: errors.append(str(error)))
        return tab

    yield open_tab
    for context in contexts:
        context.close()
    assert not errors, f"the console raised script errors: {errors}"


@pytest.fixture
def page(tabs):
    return tabs()


def sign_in(page, console, username: str, password: str = PASSWORD):
    from playwright.sync_api import expect

    page.goto(f"{console}/console")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("sign-in")).to_be_hidden()
    expect(page.get_by_test_id("account-name")).to_contain_text(username)
    return page


def settled(page, route: str | None = None):
    """The console shows `route` (else whatever it shows) and has finished loading it."""
    from playwright.sync_api import expect

    shown = page.locator("#view > .page" + (f'[data-hash="#/{route}"]' if route else ""))
    expect(shown).to_have_count(1)
    expect(page.locator("#view > .page[data-loading]")).to_have_count(0)


def open_route(page, console, route: str):
    """Opens a console route afresh (a reload when it is the one already open)."""
    url = f"{console}/console#/{route}"
    if page.url == url:
        page.reload()
    else:
        page.goto(url)
    settled(page, route)


def every_control_has_a_testid(page) -> None:
    """Every link, button and field the console shows can be found by its data-testid."""
    unmarked = page.locator(":is(#top, #view, #sign-in) :is(a, button, input, select, textarea):not([data-testid])")
    shown = [unmarked.nth(i).evaluate("node => node.outerHTML.slice(0, 160)") for i in range(min(unmarked.count(), 5))]
    assert not shown, f"controls without a data-testid: {shown}"


def chat(console, text: str, session: str | None = None) -> httpx.Response:
    body = {"text": text, "region": CHAT_REGION}
    if session:
        body["session"] = session
    response = httpx.post(f"{console}/v1/chat", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response


def every_worker_answers(console, says, what: str, seconds: float = 60) -> set[str]:
    """Asks the loop question on fresh connections until WORKERS distinct workers (X-Frontdoor-Worker) last
    answered with a text for which `says(text)` holds; returns their pids."""
    latest: dict[str, str] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = chat(console, LOOP_QUESTION)
        worker = response.headers.get("x-frontdoor-worker")
        assert worker, "every response names its worker in X-Frontdoor-Worker"
        latest[worker] = response.json()["text"]
        agreeing = {pid for pid, text in latest.items() if says(text)}
        if len(agreeing) >= WORKERS:
            return agreeing
        time.sleep(0.1)
    pytest.fail(f"not every worker answered with {what} within {seconds} s: {json.dumps(latest, ensure_ascii=False)[:1500]}")


# ---- tests ---------------------------------------------------------------------------------------------------
def test_the_console_is_served_with_its_files_and_its_data_needs_a_sign_in(console):
    for path in ("/console", "/console/", "/console/anything"):
        page = httpx.get(f"{console}{path}")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert '<script type="module" src="/static/console/main.js">' in page.text
    # The script is native ES modules under /static/console/ (pages in a folder below): each is served as JavaScript,
    # which a browser insists on for a module.
    static = Path(__file__).resolve().parent.parent / "api" / "static"
    modules = sorted(path.relative_to(static).as_posix() for path in (static / "console").rglob("*.js"))
    assert "console/main.js" in modules and any(name.startswith("console/pages/") for name in modules)
    for name in modules:
        served = httpx.get(f"{console}/static/{name}")
        assert served.status_code == 200 and served.headers["content-type"].startswith("text/javascript"), name
    assert httpx.get(f"{console}/static/console.css").status_code == 200
    stranger = httpx.get(f"{console}/v1/entries")
    assert stranger.status_code == 401 and stranger.json()["error"]["code"] == "unauthorized"


def test_sign_in_shows_the_account_and_an_expired_session_asks_again_keeping_the_page(console, page):
    from playwright.sync_api import expect

    page.goto(f"{console}/console")
    page.get_by_test_id("username").fill("editor")
    page.get_by_test_id("password").fill("not-the-password")
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("sign-in-error")).to_contain_text("用户名或密码不正确")
    expect(page.get_by_test_id("sign-in-error").get_by_test_id("error-message")).not_to_be_empty()

    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("sign-in")).to_be_hidden()
    expect(page.get_by_test_id("account-name")).to_contain_text("editor")
    expect(page.get_by_test_id("account-role")).to_have_text("编辑")
    expect(page.get_by_test_id("account-region")).to_have_text("全部地区")
    expect(page.get_by_test_id("nav-entries")).to_be_visible()
    expect(page.get_by_test_id("nav-review")).to_have_count(0)   # publishing is not an editor's
    expect(page.get_by_test_id("nav-accounts")).to_have_count(0)

    # What is typed survives the session running out under it.
    open_route(page, console, "new")
    page.get_by_test_id("field-question").fill("会话过期时正在写的问题")
    page.context.clear_cookies()
    page.get_by_test_id("save-draft").click()
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    expect(page.get_by_test_id("sign-in-message")).to_have_text("登录已过期，请重新登录")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("sign-in")).to_be_hidden()
    expect(page.get_by_test_id("field-question")).to_have_value("会话过期时正在写的问题")

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    expect(page.get_by_test_id("sign-in-message")).to_contain_text("已退出")
    assert page.request.get(f"{console}/v1/auth/me").status == 401


def test_edit_try_submit_review_publish_reaches_every_worker_then_rollback(console, tabs, tmp_path):
    from playwright.sync_api import expect

    with console.client("editor") as api:
        before = api.get(f"/v1/entries/{LOOP_ENTRY}").json()
    old_answer = before["chat_answer"]
    old_start = old_answer[:24]
    assert NEW_ANSWER not in old_answer
    every_worker_answers(console, lambda text: old_start in text, "the old answer")

    # The editor finds the entry, edits its chat answer, and tries a question with the draft.
    editor = sign_in(tabs(), console, "editor")
    settled(editor)
    editor.get_by_test_id("filter-text").fill("路灯")
    editor.get_by_test_id("search").click()
    row = editor.locator(f'[data-testid="entry-row"][data-entry-id="{LOOP_ENTRY}"]')
    expect(row.get_by_test_id("status-badge")).to_have_attribute("data-status", "published")
    row.get_by_test_id("entry-link").click()
    expect(editor.get_by_test_id("entry-question")).to_have_text(LOOP_QUESTION)
    expect(editor.get_by_test_id("entry-chat-answer")).to_contain_text(old_start)
    editor.get_by_test_id("edit-entry").click()
    expect(editor.get_by_test_id("change-page")).to_have_attribute("data-status", "draft")
    expect(editor.get_by_test_id("field-chat-answer")).to_have_value(old_answer)
    editor.get_by_test_id("field-chat-answer").fill(NEW_ANSWER)
    expect(editor.get_by_test_id("voice-count")).to_contain_text("秒")

    editor.get_by_test_id("try-text").fill(LOOP_QUESTION)
    editor.get_by_test_id("try-region").fill(CHAT_REGION)
    editor.get_by_test_id("try-run").click()
    now, draft = editor.get_by_test_id("try-now"), editor.get_by_test_id("try-draft")
    expect(draft.get_by_test_id("outcome-decision")).to_have_attribute("data-decision", "answer")
    expect(draft.get_by_test_id("outcome-text")).to_contain_text(NEW_ANSWER)
    expect(now.get_by_test_id("outcome-text")).to_contain_text(old_start)
    expect(now.get_by_test_id("outcome-text")).not_to_contain_text(NEW_ANSWER)
    expect(now.get_by_test_id("outcome-confidence")).to_contain_text("%")
    expect(draft.get_by_test_id("outcome-candidate").first).to_be_visible()
    every_control_has_a_testid(editor)

    editor.get_by_test_id("submit-review").click()
    expect(editor.get_by_test_id("change-page")).to_have_attribute("data-status", "in_review")
    expect(editor.get_by_test_id("flash")).to_contain_text("已提交审核")
    expect(editor.get_by_test_id("save-draft")).to_have_count(0)
    editor.screenshot(path=str(tmp_path / "change.png"), full_page=True)
    assert NEW_ANSWER not in chat(console, LOOP_QUESTION).json()["text"]  # nothing reaches citizens before review

    # The reviewer reads the diff and publishes.
    reviewer = sign_in(tabs(), console, "reviewer")
    expect(reviewer).to_have_url(f"{console}/console#/review")
    card = reviewer.locator(f'[data-testid="review-card"][data-entry-id="{LOOP_ENTRY}"]')
    answer_diff = card.locator('[data-testid="diff-field"][data-field="chat_answer"]')
    expect(answer_diff.get_by_test_id("diff-insert").first).to_be_visible()
    expect(answer_diff.get_by_test_id("diff-delete").first).to_be_visible()
    expect(answer_diff).to_contain_text("夜间更新")
    reviewer.screenshot(path=str(tmp_path / "review.png"), full_page=True)
    every_control_has_a_testid(reviewer)
    card.get_by_test_id("publish-now").click()
    expect(card.get_by_test_id("review-result")).to_contain_text("已发布")

    # Every worker answers with the new text within seconds.
    started = time.monotonic()
    every_worker_answers(console, lambda text: NEW_ANSWER in text, "the published answer")
    assert time.monotonic() - started < 30

    # The reviewer rolls back to the version before, with a confirmation; every worker answers as before.
    with console.client("reviewer") as api:
        history = api.get(f"/v1/entries/{LOOP_ENTRY}/history").json()
    previous = max(v["version"] for v in history if v["entry"]["chat_answer"] == old_answer)
    open_route(reviewer, console, f"entry/{LOOP_ENTRY}")
    expect(reviewer.get_by_test_id("entry-chat-answer")).to_have_text(NEW_ANSWER)
    versions = reviewer.get_by_test_id("history-row")
    expect(versions.first).to_be_visible()
    assert versions.count() == len(history)
    row = reviewer.locator(f'[data-testid="history-row"][data-version="{previous}"]')
    row.get_by_test_id("rollback").click()
    expect(row.get_by_test_id("rollback-confirm-box")).to_be_visible()
    every_control_has_a_testid(reviewer)
    row.get_by_test_id("rollback-note").fill("测试：回滚夜间更新")
    row.get_by_test_id("rollback-confirm").click()
    expect(reviewer.get_by_test_id("flash")).to_contain_text("已回滚")
    expect(reviewer.get_by_test_id("entry-chat-answer")).to_have_text(old_answer)
    every_worker_answers(console, lambda text: old_start in text and NEW_ANSWER not in text, "the rolled-back answer")

    # The audit trail says who did each step.
    open_route(reviewer, console, f"audit?target=entry:{LOOP_ENTRY}")
    expect(reviewer.locator('[data-testid="audit-row"][data-action="entry.rollback"]').first).to_contain_text("reviewer")


def test_a_seat_reads_the_answer_script_but_cannot_edit(console, page):
    from playwright.sync_api import expect

    sign_in(page, console, "seat")
    expect(page.get_by_test_id("account-role")).to_have_text("坐席")
    for route in ("review", "import", "accounts", "audit", "gaps"):
        expect(page.get_by_test_id(f"nav-{route}")).to_have_count(0)
    open_route(page, console, f"entry/{LOOP_ENTRY}")
    expect(page.get_by_test_id("entry-chat-answer")).not_to_be_empty()
    expect(page.get_by_test_id("edit-entry")).to_have_count(0)
    expect(page.get_by_test_id("try-panel")).to_have_count(0)
    # The server is the authority, whatever the page offers.
    direct = page.request.post(f"{console}/v1/changes", data={"kind": "edit", "entry_id": LOOP_ENTRY})
    assert direct.status == 403 and direct.json()["error"]["code"] == "forbidden"
    open_route(page, console, "review")
    expect(page.get_by_test_id("not-allowed")).to_be_visible()


def test_the_admin_creates_an_account_that_can_sign_in(console, page):
    from playwright.sync_api import expect

    sign_in(page, console, "admin")
    expect(page).to_have_url(f"{console}/console#/accounts")
    settled(page)
    expect(page.locator('[data-testid="account-row"][data-username="yangzhou"]')).to_contain_text("江苏省/扬州市")
    form = page.get_by_test_id("account-form")
    form.get_by_test_id("new-username").fill("zhang.wei")
    form.get_by_test_id("new-display-name").fill("张伟（扬州审核）")
    form.get_by_test_id("new-role").select_option("reviewer")
    form.get_by_test_id("new-region").fill("江苏省/扬州市")
    form.get_by_test_id("new-password").fill("short")
    form.get_by_test_id("create-account").click()
    expect(form.get_by_test_id("error")).to_be_visible()           # a weak password, said next to the form
    expect(form.get_by_test_id("new-username")).to_have_value("zhang.wei")  # and nothing typed is lost
    form.get_by_test_id("new-password").fill("a-long-enough-password")
    form.get_by_test_id("create-account").click()
    row = page.locator('[data-testid="account-row"][data-username="zhang.wei"]')
    expect(row).to_have_attribute("data-role", "reviewer")
    expect(row).to_contain_text("江苏省/扬州市")
    signed = httpx.post(f"{console}/v1/auth/login", json={"username": "zhang.wei", "password": "a-long-enough-password"})
    assert signed.status_code == 200 and signed.json()["account"]["role"] == "reviewer"

    row.get_by_test_id("account-token").click()
    token = page.get_by_test_id("token-value").input_value()
    assert token
    me = httpx.get(f"{console}/v1/auth/me", headers={"authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["account"]["username"] == "zhang.wei"
    every_control_has_a_testid(page)


def test_a_yangzhou_editor_cannot_edit_a_nanjing_entry(console, page):
    from playwright.sync_api import expect

    sign_in(page, console, "yangzhou")
    expect(page.get_by_test_id("account-region")).to_contain_text("江苏省/扬州市")
    open_route(page, console, "entry/ev-hf-rent-withdraw-nanjing")
    expect(page.get_by_test_id("outside-region")).to_contain_text("江苏省/南京市")
    expect(page.get_by_test_id("edit-entry")).to_have_count(0)
    direct = page.request.post(f"{console}/v1/changes", data={"kind": "edit", "entry_id": "ev-hf-rent-withdraw-nanjing"})
    assert direct.status == 403 and direct.json()["error"]["code"] == "outside_region"
    open_route(page, console, "entry/ev-hf-rent-withdraw-yangzhou")  # their own city's: offered
    expect(page.get_by_test_id("edit-entry")).to_be_visible()


def test_a_sample_that_belongs_to_another_entry_is_a_conflict_and_a_failed_save_keeps_the_form(console, page):
    from playwright.sync_api import expect

    sign_in(page, console, "editor")
    open_route(page, console, "entry/ev-water-outage")
    page.get_by_test_id("edit-entry").click()
    expect(page.get_by_test_id("change-page")).to_have_attribute("data-status", "draft")
    samples = page.get_by_test_id("field-samples")
    samples.fill(samples.input_value() + "\n医保卡丢了怎么挂失补办")
    page.get_by_test_id("try-text").fill("停水了")
    page.get_by_test_id("try-run").click()
    warning = page.get_by_test_id("conflict-warning")
    expect(warning).to_be_visible()
    conflict = warning.locator('[data-testid="conflict"][data-sample="医保卡丢了怎么挂失补办"]')
    expect(conflict).to_have_attribute("data-other-entry", "ev-medins-card-lost")

    # An expiry before the start is refused next to the form, and what was typed stays.
    page.get_by_test_id("field-effective-from").fill("2030-01-02T08:00")
    page.get_by_test_id("field-expires-at").fill("2030-01-01T08:00")
    page.get_by_test_id("save-draft").click()
    expect(page.get_by_test_id("change-error").get_by_test_id("error")).to_be_visible()
    assert "医保卡丢了怎么挂失补办" in samples.input_value()
    expect(page.get_by_test_id("field-expires-at")).to_have_value("2030-01-01T08:00")

    # Put right and saved: the time goes out as Beijing time.
    page.get_by_test_id("field-expires-at").fill("2030-01-03T08:00")
    page.get_by_test_id("save-draft").click()
    expect(page.get_by_test_id("save-status")).to_contain_text("已保存")
    change_id = page.get_by_test_id("change-page").get_attribute("data-change-id")
    with console.client("editor") as api:
        saved = api.get(f"/v1/changes/{change_id}").json()
    assert saved["entry"]["expires_at"].startswith("2030-01-03T00:00")  # 08:00 in Beijing
    page.get_by_test_id("withdraw").click()
    expect(page.get_by_test_id("change-page")).to_have_attribute("data-status", "withdrawn")


def test_an_import_preview_shows_what_is_created_and_what_is_updated(console, page, tmp_path):
    from playwright.sync_api import expect

    with console.client("editor") as api:
        current = api.get("/v1/entries/ev-dog-walking").json()
    updated = {key: current[key] for key in ("id", "question", "samples", "voice_answer", "category", "request_type", "region")}
    updated["answer"] = current["chat_answer"] + "\n4. 测试导入：新增的一条说明。"
    created = {"id": "test-import-park-lights", "question": "公园里的路灯晚上几点亮？", "answer": "公园路灯一般在日落后开启，具体以公园公告为准。",
               "samples": ["公园路灯几点亮"], "region": "江苏省", "category": "SH0203"}
    upload = tmp_path / "夜间更新.jsonl"
    upload.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in (created, updated)) + "\n", encoding="utf-8")

    sign_in(page, console, "editor")
    page.get_by_test_id("nav-import").click()
    page.get_by_test_id("import-file").set_input_files(str(upload))
    preview = page.get_by_test_id("import-preview")
    expect(preview.get_by_test_id("import-created-count")).to_have_text("新建 1")
    expect(preview.get_by_test_id("import-updated-count")).to_have_text("修改 1")
    expect(preview.get_by_test_id("import-problems-count")).to_have_text("问题 0")
    expect(preview.locator('[data-testid="import-created-row"][data-entry-id="test-import-park-lights"]')).to_be_visible()
    row = preview.locator('[data-testid="import-updated-row"][data-entry-id="ev-dog-walking"]')
    expect(row.get_by_test_id("diff-insert").first).to_contain_text("测试导入")
    every_control_has_a_testid(page)
    page.get_by_test_id("import-confirm").click()
    result = page.get_by_test_id("import-result")
    expect(result).to_contain_text("2 份修改")
    expect(result.get_by_test_id("import-change-link")).to_have_count(2)


def unanswered(console, question: str) -> None:
    """Asks the chat something nothing answers and asks for a person; waits until the question is in the queue."""
    first = chat(console, question).json()
    if first["decision"] != "handoff":
        chat(console, "转人工", session=first["session"])
    with console.client("editor") as api:
        deadline = time.monotonic() + 60
        while not any(question in q["text"] for g in api.get("/v1/gaps", params={"status": "open"}).json() for q in g["questions"]):
            assert time.monotonic() < deadline, f"{question!r} never reached the unanswered queue"
            time.sleep(1)


def test_a_gap_becomes_a_new_draft_or_new_samples_in_two_clicks(console, page):
    from playwright.sync_api import expect

    question = "我家的猫爬到邻居家屋顶上下不来了怎么办"
    unanswered(console, question)
    sign_in(page, console, "editor")
    page.get_by_test_id("nav-gaps").click()                                   # one
    cluster = page.get_by_test_id("gap-cluster").filter(has_text=question)
    expect(cluster.get_by_test_id("gap-question").first).to_be_visible()
    cluster.get_by_test_id("gap-new-entry").click()                          # two
    expect(page.get_by_test_id("change-page")).to_have_attribute("data-status", "draft")
    expect(page.get_by_test_id("change-title")).to_contain_text("新建")
    text = page.get_by_test_id("field-question").input_value() + page.get_by_test_id("field-samples").input_value()
    assert "猫" in text
    open_route(page, console, "gaps")
    expect(page.get_by_test_id("gap-cluster").filter(has_text=question)).to_have_count(0)  # the cluster closed

    # Or its questions become samples of an entry the queue suggests: pick one, add.
    question = "共享单车横七竖八停在小区门口人行道上堵路没人管"
    unanswered(console, question)
    open_route(page, console, "gaps")
    cluster = page.get_by_test_id("gap-cluster").filter(has_text=question)
    suggestion = cluster.get_by_test_id("gap-suggestion").first
    entry_id = suggestion.get_attribute("data-entry-id")
    expect(cluster.get_by_test_id("gap-add-samples")).to_be_disabled()
    every_control_has_a_testid(page)
    suggestion.click()                                                       # one
    cluster.get_by_test_id("gap-add-samples").click()                        # two
    expect(page.get_by_test_id("change-page")).to_have_attribute("data-status", "draft")
    expect(page.get_by_test_id("field-id")).to_have_value(entry_id)
    expect(page.get_by_test_id("field-samples")).to_have_value(re.compile(re.escape(question)))


def test_the_gaps_page_shows_how_often_the_automatic_answers_were_right(console, page):
    from playwright.sync_api import expect

    reply = chat(console, LOOP_QUESTION).json()
    assert reply["decision"] == "answer" and reply["reason"] in AUTOMATIC, reply
    sign_in(page, console, "editor")
    open_route(page, console, "gaps")
    panel = page.get_by_test_id("answer-precision")
    expect(panel).to_contain_text("自动回答准确率（近7天）")
    row = panel.locator('[data-testid="precision-row"][data-channel="chat"]')
    expect(row.get_by_test_id("precision-value")).to_have_text(re.compile(r"^\d{1,3}\.\d%$"))
    expect(row.get_by_test_id("precision-interval")).to_have_text(re.compile(r"^\d{1,3}\.\d% – \d{1,3}\.\d%$"))
    expect(row.get_by_test_id("precision-answers")).not_to_have_text("0")


def test_server_text_is_never_rendered_as_html(console, page):
    from playwright.sync_api import expect

    hostile = "<img src=x onerror=\"document.body.dataset.owned='yes'\"><b>粗体</b>"
    entry = {"id": "e-1", "question": hostile, "samples": [hostile], "chat_answer": hostile, "voice_answer": "", "category": None,
             "request_type": "咨询", "region": "江苏省", "variant_of": None, "effective_from": None, "expires_at": None,
             "status": "published", "version": 1, "updated_by": hostile, "updated_at": None, "source": ""}
    page.route(re.compile(r"/v1/entries\?"), lambda route: route.fulfill(status=200, content_type="application/json",
                                                                       body=json.dumps([entry], ensure_ascii=False)))
    sign_in(page, console, "seat")
    open_route(page, console, "entries")
    expect(page.get_by_test_id("entry-link")).to_have_text(hostile)
    assert page.locator("#view img, #view b").count() == 0
    assert page.evaluate("document.body.dataset.owned") is None


def raise_alert(console, topic: str, label: str, link: str, count: int = 42, expected: float = 3.1) -> None:
    """A surge alert as the alarm stores it (reports/alerts.py), in the service's own database."""
    from datetime import timedelta

    from ground.clock import utcnow
    from storage.database import Database
    from storage.tables import SurgeAlertRow

    db = Database(f"sqlite:///{console.data_dir / 'frontdoor.db'}")
    now = utcnow()
    try:
        with db.session(write=True) as s:
            s.add(SurgeAlertRow(topic=topic, region="江苏省/南京市", window_start=now - timedelta(minutes=15),
                                window_end=now, count=count, expected=expected, p_value=1e-9, label=label,
                                link=link, raised_at=now, webhook=None))
    finally:
        db.dispose()


def test_an_editor_sees_a_surge_alert_and_goes_from_it_to_the_entry_to_update(console, page):
    from playwright.sync_api import expect

    raise_alert(console, f"entry:{LOOP_ENTRY}", LOOP_QUESTION, f"/console#/entry/{LOOP_ENTRY}")
    sign_in(page, console, "editor")
    expect(page.get_by_test_id("nav-alerts")).to_have_text(re.compile(r"^热点预警（[1-9]\d*）$"))
    page.get_by_test_id("nav-alerts").click()
    alert = page.get_by_test_id("alert").filter(has_text=LOOP_QUESTION).first
    expect(alert.get_by_test_id("alert-region")).to_have_text("江苏省/南京市")
    expect(alert.get_by_test_id("alert-count")).to_have_text("15分钟内 42 次，平时约 3.1 次")
    alert.get_by_test_id("alert-open").click()
    expect(page).to_have_url(re.compile(re.escape(f"#/entry/{LOOP_ENTRY}") + "$"))


def test_a_reviewer_has_the_confidence_learn_again_from_the_labels(console, page):
    from playwright.sync_api import expect

    sign_in(page, console, "reviewer")
    open_route(page, console, "gaps")
    panel = page.get_by_test_id("confidence-refit")
    expect(panel.get_by_test_id("refit-latest")).to_be_visible()
    panel.get_by_test_id("refit-now").click()
    expect(page.get_by_test_id("flash")).to_contain_text("已开始重新学习")
    expect(panel.get_by_test_id("refit-latest")).to_contain_text("由 reviewer 发起")
