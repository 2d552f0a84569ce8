"""Rate limits and caller blocks on the citizens' channels (api/ratelimit.py, desk/blocks.py): a flood is
refused with 429 and told in Chinese when to come back; one that keeps going is blocked for a while on every
worker; an administrator sees every block and lifts one (issue: abuse, per the hotline's rules)."""
from __future__ import annotations

import uuid

import pytest

from api.ratelimit import Guard, SlidingWindow
from desk.blocks import CallerBlocks

NANJING = "江苏省/南京市"


class Ticking:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def strict_guard(db, ticking=None, **limits) -> Guard:
    window = SlidingWindow(monotonic=ticking or Ticking())
    return Guard(CallerBlocks(db, refresh_seconds=0), window=window, **({"per_address": 100, "per_caller": 3} | limits))


def test_a_caller_past_the_limit_is_told_when_to_try_again(db):
    guard = strict_guard(db)
    assert [guard.check("caller:13800000001") for _ in range(3)] == [None] * 3
    refusal = guard.check("caller:13800000001")
    assert refusal.code == "rate_limited" and 1 <= refusal.retry_after <= 60 and "秒后再发送" in refusal.message


def test_the_limit_opens_again_once_the_minute_has_passed(db):
    ticking = Ticking()
    guard = strict_guard(db, ticking)
    for _ in range(4):
        guard.check("caller:13800000002")
    ticking.now += 61
    assert guard.check("caller:13800000002") is None


def test_one_callers_flood_does_not_limit_another(db):
    guard = strict_guard(db)
    for _ in range(5):
        guard.check("caller:13800000003")
    assert guard.check("caller:13800000004") is None


def test_a_caller_who_keeps_going_is_blocked_on_every_worker(db):
    guard, other_worker = strict_guard(db), strict_guard(db)
    refusals = [guard.check("wechat:oFlood") for _ in range(10)]  # past three times the limit of 3
    assert refusals[-1].code == "blocked" and "12345" in refusals[-1].message
    (block,) = [b for b in guard.blocks.active() if b.key == "wechat:oFlood"]
    assert block.by == "rate_limit"
    assert other_worker.check("wechat:oFlood").code == "blocked"


def test_a_lifted_block_lets_the_caller_in_again(db):
    guard = strict_guard(db)
    block = guard.blocks.block("caller:13800000005", 60, "harassing seats", by="admin")
    assert guard.check("caller:13800000005").code == "blocked"
    guard.blocks.lift(block.id, by="admin")
    assert guard.check("caller:13800000005") is None


def test_the_window_forgets_the_least_recent_keys_first():
    window = SlidingWindow(max_keys=2, monotonic=Ticking())
    window.hit("a", keep=10), window.hit("a", keep=10), window.hit("b", keep=10), window.hit("c", keep=10)
    assert window.hit("a", keep=10)[0] == 1  # forgotten: counted afresh


# ---- over HTTP, in process ---------------------------------------------------------------------------
@pytest.fixture
def strict(inprocess):
    services = inprocess.services
    saved = services.guard
    services.guard = strict_guard(services.db, per_caller=2)
    yield inprocess
    services.guard = saved


def test_a_chat_past_the_limit_gets_429_in_chinese_with_retry_after(strict):
    session = strict.client.post("/v1/chat", json={"text": "你好", "region": NANJING}).json()["session"]
    for _ in range(2):
        strict.client.post("/v1/chat", json={"text": "你好", "session": session})
    response = strict.client.post("/v1/chat", json={"text": "你好", "session": session})
    assert response.status_code == 429 and response.json()["error"]["code"] == "rate_limited"
    assert "请等待" in response.json()["error"]["message"] and int(response.headers["retry-after"]) >= 1


def test_an_admin_blocks_a_harassing_caller_sees_it_masked_and_lifts_it(inprocess):
    number = f"139{uuid.uuid4().int % 10**8:08d}"
    admin = inprocess.headers("admin")
    created = inprocess.client.post("/v1/blocks", json={"kind": "caller", "value": number, "minutes": 30,
                                                        "reason": "反复辱骂话务员"}, headers=admin)
    assert created.status_code == 201 and number not in created.text and created.json()["by"] == "admin"
    refused = inprocess.client.post("/v1/chat", json={"text": "你好", "region": NANJING, "caller": number})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "blocked"
    assert created.json()["id"] in [b["id"] for b in inprocess.client.get("/v1/blocks", headers=admin).json()]
    lifted = inprocess.client.post(f"/v1/blocks/{created.json()['id']}/lift", headers=admin)
    assert lifted.status_code == 200 and lifted.json()["lifted_by"] == "admin"
    assert inprocess.client.post("/v1/chat", json={"text": "你好", "region": NANJING, "caller": number}).status_code == 200
