"""The web service on an empty data folder: the app in this process, and started for real (uvicorn in its own
process) where the real process is the point."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx

REGION = "江苏省/南京市"


def test_a_fresh_service_serves_the_seed_knowledge(inprocess):
    health = inprocess.client.get("/healthz").json()
    assert health["status"] == "ok" and health["entries_served"] >= 150


def test_a_question_is_answered_from_the_seed_knowledge(inprocess):
    response = inprocess.client.post("/v1/search", json={"text": "苏康码黄了怎么转绿", "region": REGION}, headers=inprocess.headers("editor"))
    assert response.status_code == 200
    body = response.json()
    assert body["candidates"][0]["category"] == "GG0101"
    assert 0 <= body["confidence"] <= 1


def test_the_openapi_page_is_served(inprocess):
    assert inprocess.client.get("/docs").status_code == 200
    assert "/v1/search" in inprocess.client.get("/openapi.json").json()["paths"]


def test_an_entry_can_be_read_and_an_unknown_one_is_a_clear_404(inprocess):
    seat = inprocess.headers("seat")  # seats read the answer script too
    listed = inprocess.client.get("/v1/entries", params={"limit": 2}, headers=seat).json()
    assert len(listed) == 2
    one = inprocess.client.get(f"/v1/entries/{listed[0]['id']}", headers=seat).json()
    assert one["id"] == listed[0]["id"] and one["status"] == "published"
    missing = inprocess.client.get("/v1/entries/no-such-entry", headers=seat)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "entry_not_found"


def test_an_oversized_body_is_refused_with_the_error_shape(inprocess):
    response = inprocess.client.post("/v1/search", content=b'{"text": "' + b"a" * 30000 + b'"}',
                                     headers={"content-type": "application/json", **inprocess.headers("editor")})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_invalid_input_says_what_to_change(inprocess):
    editor = inprocess.headers("editor")
    empty = inprocess.client.post("/v1/search", json={"text": ""}, headers=editor)
    assert empty.status_code == 422 and empty.json()["error"]["details"][0]["where"].endswith("text")
    broken = inprocess.client.post("/v1/search", content=b'{"text": "\xff\xfe"}', headers={"content-type": "application/json", **editor})
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "malformed_body"
    assert "UTF-8" in broken.json()["error"]["message"]


def test_a_publish_reaches_the_running_service_without_a_restart(server, provisioned, tmp_path):
    before = httpx.get(f"{server}/healthz").json()["knowledge_revision"]
    new_entry = {"id": "test-new-bus-line", "question": "夜班公交九九路什么时候开通", "answer": "九九路夜班公交下月一日开通。",
                 "samples": ["九九路夜班车哪天开", "夜班公交九九路开了吗"], "category": "GG0404", "region": "江苏省"}
    source = tmp_path / "new.jsonl"
    source.write_text(json.dumps(new_entry, ensure_ascii=False) + "\n", encoding="utf-8")
    env = {**os.environ, "FRONTDOOR_DATA_DIR": str(server.data_dir), "FRONTDOOR_MODEL_DIR": str(provisioned.model_dir)}
    env.pop("DATABASE_URL", None)
    imported = subprocess.run([sys.executable, "-m", "frontdoor", "kb", "import", str(source)], env=env,
                              capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    deadline = time.monotonic() + 240  # a new phrasing refits the confidence: minutes on a busy 2-core machine
    while httpx.get(f"{server}/healthz").json()["knowledge_revision"] == before and time.monotonic() < deadline:
        time.sleep(0.5)
    top = httpx.post(f"{server}/v1/search", json={"text": "九九路夜班车哪天开通", "region": REGION},
                     headers=server.headers("editor")).json()["candidates"][0]
    assert top["entry_id"] == "test-new-bus-line"
