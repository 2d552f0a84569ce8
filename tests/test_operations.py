"""What a hotline's operations see: readiness for the balancer, Prometheus figures, and log lines with request ids.

Run against the service's app in-process (tests/conftest.py `inprocess`): none of it depends on the real model."""
from __future__ import annotations

import io
import json
import logging
import re
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

MOBILE = "13912345678"


def scrape(inprocess, headers=None) -> str:
    response = inprocess.client.get("/metrics", headers=headers if headers is not None else inprocess.headers("admin"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the series `name` whose labels include `labels` (0 when there is none yet)."""
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def chat(inprocess, text: str, **extra):
    return inprocess.client.post("/v1/chat", json={"text": text, "region": "江苏省/南京市", **extra})


# ---- /readyz ----------------------------------------------------------------------------------------
def test_a_loaded_worker_with_its_database_is_ready(inprocess):
    response = inprocess.client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready" and body["checks"]["database"] == "ok" and body["checks"]["index"] == "ok"
    assert body["checks"]["recogniser"] == "off"  # this worker does not serve the phone line


def test_a_worker_whose_database_does_not_answer_is_not_ready(inprocess, tmp_path, monkeypatch):
    unreachable = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'x.db'}")
    monkeypatch.setattr(inprocess.services.db, "engine", unreachable)
    response = inprocess.client.get("/readyz")
    assert response.status_code == 503 and response.headers["retry-after"]
    error = response.json()["error"]
    assert error["code"] == "not_ready" and [d["check"] for d in error["details"]] == ["database"]


def test_a_worker_still_loading_its_models_is_not_ready():
    from frontdoor.components import web_app
    from frontdoor.settings import Settings

    client = TestClient(web_app(Settings(_env_file=None, voice=False)), raise_server_exceptions=False)  # never started
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["error"]["details"][0]["check"] == "startup"


# ---- /metrics ---------------------------------------------------------------------------------------
def test_metrics_need_an_admin_unless_made_public(inprocess):
    assert inprocess.client.get("/metrics").status_code == 401
    assert inprocess.client.get("/metrics", headers=inprocess.headers("seat")).status_code == 403
    inprocess.app.state.metrics_public = True
    try:
        assert inprocess.client.get("/metrics").status_code == 200
    finally:
        inprocess.app.state.metrics_public = False


def test_a_chat_turn_is_counted_by_channel_and_decision_and_timed(inprocess):
    before = scrape(inprocess)
    decision = chat(inprocess, "医保卡丢了怎么补办").json()["decision"]
    after = scrape(inprocess)
    labels = {"channel": "chat", "decision": decision}
    assert sample(after, "frontdoor_turns_total", **labels) == sample(before, "frontdoor_turns_total", **labels) + 1
    assert (sample(after, "frontdoor_turn_seconds_count", channel="chat")
            == sample(before, "frontdoor_turn_seconds_count", channel="chat") + 1)


def test_http_requests_are_counted_by_route_template_not_by_path(inprocess):
    inprocess.client.get("/v1/entries/no-such-entry", headers=inprocess.headers("editor"))
    text = scrape(inprocess)
    assert sample(text, "frontdoor_http_requests_total", route="/v1/entries/{entry_id}", status="404") >= 1
    assert "no-such-entry" not in text
    inprocess.client.get(f"/nowhere/{uuid.uuid4().hex}")
    assert sample(scrape(inprocess), "frontdoor_http_requests_total", route="unmatched", status="404") >= 1


def test_every_series_names_the_worker(inprocess):
    import os

    series = [line for line in scrape(inprocess).splitlines() if line.startswith("frontdoor_") and "{" in line]
    assert series and all(f'worker="{os.getpid()}"' in line for line in series)


def test_the_ticket_queue_is_counted_by_urgency_when_scraped(inprocess):
    before = sample(scrape(inprocess), "frontdoor_ticket_queue_depth", urgency="一般")
    assert chat(inprocess, "转人工").json()["decision"] == "handoff"
    assert sample(scrape(inprocess), "frontdoor_ticket_queue_depth", urgency="一般") == before + 1


def test_a_handoff_is_counted_by_its_reason(inprocess):
    before = sample(scrape(inprocess), "frontdoor_handoffs_total", channel="chat", reason="asked_for_human")
    assert chat(inprocess, "转人工").json()["decision"] == "handoff"
    assert sample(scrape(inprocess), "frontdoor_handoffs_total", channel="chat", reason="asked_for_human") == before + 1


def test_the_walls_queue_per_city_is_scraped_with_its_oldest_wait(inprocess):
    before = sample(scrape(inprocess), "frontdoor_ticket_queue_by_city", city="江苏省/南京市")
    assert chat(inprocess, "转人工").json()["decision"] == "handoff"
    text = scrape(inprocess)
    assert sample(text, "frontdoor_ticket_queue_by_city", city="江苏省/南京市") == before + 1
    assert any(line.startswith("frontdoor_ticket_oldest_wait_seconds{") and 'city="江苏省/南京市"' in line
               for line in text.splitlines())


def test_seats_online_and_the_days_alerts_are_scraped(inprocess):
    text = scrape(inprocess)
    assert "frontdoor_seats_online{" in text and "frontdoor_surge_alerts_24h{" in text


def test_the_knowledge_revision_of_the_worker_is_a_gauge(inprocess):
    revision = inprocess.client.get("/healthz").json()["knowledge_revision"]
    assert sample(scrape(inprocess), "frontdoor_knowledge_revision") == revision


def test_metrics_never_hold_what_a_citizen_said(inprocess):
    chat(inprocess, f"我家楼下的路灯坏了三天 电话{MOBILE}")
    # names and labels only: a measured value's digits (a latency, a wait) may hold any four digits
    series = "\n".join(line.rsplit(" ", 1)[0] for line in scrape(inprocess).splitlines())
    assert "路灯" not in series and MOBILE not in series and "5678" not in series


def test_each_app_counts_into_its_own_registry(inprocess):
    from frontdoor.components import web_app
    from frontdoor.settings import Settings

    other = web_app(Settings(_env_file=None, voice=False))
    assert other.state.metrics.registry is not inprocess.app.state.metrics.registry


def test_the_recogniser_reports_each_utterances_real_time_factor():
    from api.metrics import Metrics
    from models.asr import RecognitionStream

    class Pool:  # a recogniser that takes 0 s of audio time: only the hook is under test
        def take(self, rate):
            return FakeVosk()

        def give_back(self, rate, recogniser):
            pass

    class FakeVosk:
        def AcceptWaveform(self, pcm):
            return False

        def FinalResult(self):
            return json.dumps({"alternatives": [{"text": "核酸", "confidence": 1.0}]})

    metrics = Metrics()
    stream = RecognitionStream(Pool(), 8000, None, 0.0, 5, on_recognised=metrics.observe_recognition)
    stream.accept(b"\0\0" * 8000)  # one second of audio
    stream.finish()
    assert metrics.registry.get_sample_value("frontdoor_asr_real_time_factor_count", {"worker": metrics.worker}) == 1


# ---- request ids and JSON log lines -------------------------------------------------------------------
@pytest.fixture
def json_lines():
    """Every log line written while the test runs, as the service writes them (frontdoor/logs.py, JSON)."""
    from frontdoor.logs import Redact, RequestContext, json_formatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestContext())
    handler.addFilter(Redact())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_every_response_carries_a_request_id(inprocess):
    first, second = inprocess.client.get("/healthz"), inprocess.client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{12}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_the_balancers_request_id_is_kept_and_a_strange_one_replaced(inprocess):
    sane = "a3f9c2e1-77b0-4c1e-9d7e-0c5b8f1e2d3a"
    assert inprocess.client.get("/healthz", headers={"x-request-id": sane}).headers["x-request-id"] == sane
    strange = inprocess.client.get("/healthz", headers={"x-request-id": "<script>alert(1)</script>"})
    assert re.fullmatch(r"[0-9a-f]{12}", strange.headers["x-request-id"])


def test_an_access_line_is_one_json_object_without_the_query_string(inprocess, json_lines):
    response = inprocess.client.get("/healthz?signature=secret-signature&nonce=1")
    (line,) = [l for l in json_lines() if l["logger"] == "frontdoor.access"]
    assert {"time", "level", "logger", "message", "request_id", "worker"} <= set(line)
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200) and line["duration_ms"] >= 0
    assert line["request_id"] == response.headers["x-request-id"]
    assert "secret-signature" not in json.dumps(line)


def test_log_lines_made_while_handling_a_request_name_its_id_and_mask_numbers(inprocess, json_lines):
    response = inprocess.client.get("/nowhere", headers={"x-request-id": "req-0000000001"})
    logging.getLogger("frontdoor.test").info("outside any request, caller %s", MOBILE)
    lines = json_lines()
    assert any(l["request_id"] == "req-0000000001" for l in lines) and response.status_code == 404
    (outside,) = [l for l in lines if l["logger"] == "frontdoor.test"]
    assert outside["request_id"] == "-" and MOBILE not in outside["message"] and "139****5678" in outside["message"]


def test_a_logged_traceback_masks_citizens_numbers(inprocess, json_lines):
    try:
        raise ValueError(f"could not parse caller {MOBILE}")
    except ValueError:
        logging.getLogger("frontdoor.test").exception("a failure")
    (line,) = [l for l in json_lines() if l["logger"] == "frontdoor.test"]
    assert "ValueError" in line["exc_info"] and MOBILE not in line["exc_info"]


def test_the_log_format_setting_picks_json_or_text():
    from frontdoor.logs import logging_config
    from frontdoor.settings import Settings

    assert "()" in logging_config(Settings(_env_file=None, log_format="json"))["formatters"]["frontdoor"]
    assert "request_id" in logging_config(Settings(_env_file=None, log_format="text"))["formatters"]["frontdoor"]["format"]


def test_calls_in_progress_are_read_when_scraped():
    from api.metrics import Metrics

    metrics, calls = Metrics(), [3]
    metrics.watch(knowledge_revision=lambda: 7, queue_depth=lambda: {"紧急": 2}, voice_calls=lambda: calls[0])
    calls[0] = 5
    labels = {"worker": metrics.worker}
    assert metrics.registry.get_sample_value("frontdoor_voice_calls_in_progress", labels) == 5
    assert metrics.registry.get_sample_value("frontdoor_ticket_queue_depth", {**labels, "urgency": "紧急"}) == 2
