"""Faults the service survives: PostgreSQL restarting under a worker. While the database is down a request
fails at once with a 503 in the error shape (nothing half-written); when it is back the worker recovers by
itself and the conversation goes on where it was (issue: faults survived)."""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conftest import _free_port, _serve, _stop

ROOT = Path(__file__).resolve().parents[1]
START_POSTGRES = ROOT / ".ci" / "start-postgres"
NANJING = "江苏省/南京市"


@pytest.fixture(scope="module")
def own_postgres():
    """A PostgreSQL cluster of this module's own, to stop and start (the suite's shared one stays up)."""
    done = subprocess.run([str(START_POSTGRES)], capture_output=True, text=True)
    if done.returncode != 0:
        how = f"no PostgreSQL to start: {done.stderr[-500:]}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(how, pytrace=False)
        pytest.skip(how)
    exports = dict(re.findall(r"^export (\w+)=(.*)$", done.stdout, flags=re.M))
    cluster = exports["FRONTDOOR_TEST_POSTGRES_DIR"]
    yield exports["FRONTDOOR_TEST_POSTGRES_URL"], cluster
    subprocess.run([str(START_POSTGRES), "stop", cluster], capture_output=True)


@pytest.fixture(scope="module")
def worker(own_postgres, provisioned, seed_caches, tmp_path_factory):
    url, _ = own_postgres
    data_dir = tmp_path_factory.mktemp("faults")
    env = {**os.environ, "FRONTDOOR_MODEL_DIR": str(provisioned.model_dir), "FRONTDOOR_ALLOW_DOWNLOAD": "false",
           "FRONTDOOR_VOICE": "false", "FRONTDOOR_DATABASE_URL": url}
    port = _free_port()
    seed_caches.warm_url(url)  # the seed's vectors and calibration, as an earlier worker would have left them
    process, log = _serve(env, data_dir, port)
    yield f"http://127.0.0.1:{port}"
    _stop(process, log)


def test_a_restarting_database_is_a_clear_503_and_the_worker_recovers_by_itself(worker, own_postgres):
    _, cluster = own_postgres
    with httpx.Client(base_url=worker, timeout=30) as client:
        first = client.post("/v1/chat", json={"text": "医保卡丢了怎么补办", "region": NANJING})
        assert first.status_code == 200
        session = first.json()["session"]
        subprocess.run([str(START_POSTGRES), "pause", cluster], check=True, capture_output=True)
        try:
            down = client.post("/v1/chat", json={"text": "还有别的办法吗", "session": session})
            assert down.status_code == 503 and down.json()["error"]["code"] == "database_unavailable"
            assert down.headers["retry-after"]
        finally:
            subprocess.run([str(START_POSTGRES), "resume", cluster], check=True, capture_output=True)
        for _ in range(60):  # the pool's pre-ping replaces the dead connections
            back = client.post("/v1/chat", json={"text": "转人工", "session": session})
            if back.status_code == 200:
                break
            time.sleep(1)
        assert back.status_code == 200 and back.json()["session"] == session
        assert back.json()["decision"] == "handoff"
