"""The deployment's topology, as processes: two `frontdoor serve` workers on one database (PostgreSQL when the
test server is up, as in CI), behind Debian's nginx running the shipped deploy/nginx.conf.template. Requests
reach both workers; a worker killed with SIGKILL is routed around, and the conversations it was holding go on
on the other worker with no request failed and no ticket lost; the phone line's WebSocket passes through.
Last, schemathesis fuzzes the whole OpenAPI through the balancer (its command line, bounded: a few examples per
operation, each role over the routes it works): no generated request gets a 5xx (issue: hostile input refused).
The 4xx error shape is asserted route by route elsewhere."""
from __future__ import annotations

import json
import os
import shutil
import signal
import string
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import POSTGRES_URL_VARIABLE, _create_accounts_in_process, _free_port, _serve, _stop
from frontdoor.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NANJING = "江苏省/南京市"


@dataclass
class Topology:
    base: str
    workers: dict[int, subprocess.Popen]  # port → process
    tokens: dict[str, str]                # role → an API token of the account named after it

    @property
    def seat_token(self) -> str:
        return self.tokens["seat"]


def _database_url(request, tmp_path: Path) -> str:
    if not os.environ.get(POSTGRES_URL_VARIABLE) and os.environ.get("CI", "").lower() != "true":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    admin = request.getfixturevalue("_postgres_admin")
    schema = f"deploy_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    return admin.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def render_nginx(run_dir: Path, listen: int, upstreams: list[int]) -> Path:
    """The shipped template, filled in as envsubst fills it in the nginx image."""
    text = string.Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
        FRONTDOOR_NGINX_RUN=str(run_dir), FRONTDOOR_LISTEN=f"127.0.0.1:{listen}",
        FRONTDOOR_UPSTREAMS=" ".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;" for p in upstreams))
    config = run_dir / "nginx.conf"
    config.write_text(text, encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def topology(request, provisioned, tmp_path_factory):
    if not Path(NGINX).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but nginx is not installed (apt-get install nginx)", pytrace=False)
        pytest.skip("nginx is not installed")
    tmp = tmp_path_factory.mktemp("deployment")
    url = _database_url(request, tmp)
    env = {**os.environ, "FRONTDOOR_MODEL_DIR": str(provisioned.model_dir), "FRONTDOOR_ALLOW_DOWNLOAD": "false",
           "FRONTDOOR_VOICE": "false", "FRONTDOOR_DATABASE_URL": url, "FRONTDOOR_MESSAGES_PER_CALLER_MINUTE": "100000"}
    env.pop("DATABASE_URL", None)
    tokens = _create_accounts_in_process(Settings(_env_file=None, data_dir=tmp / "cli", database_url=url))  # migrates
    workers, logs = {}, []
    for n in range(2):  # one after the other: the first seeds the knowledge base
        data_dir = tmp / f"worker-{n}"
        data_dir.mkdir()
        port = _free_port()
        process, log = _serve(env, data_dir, port)
        workers[port] = process
        logs.append((process, log))
    run_dir = tmp / "nginx"
    run_dir.mkdir()
    listen = _free_port()
    config = render_nginx(run_dir, listen, list(workers))
    checked = subprocess.run([NGINX, "-t", "-c", str(config), "-e", "stderr"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    nginx = subprocess.Popen([NGINX, "-c", str(config), "-e", "stderr", "-g", "daemon off;"], stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{listen}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            nginx.poll()
        yield Topology(base, workers, tokens)
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(timeout=30)
        for process, log in logs:
            if process.poll() is None:
                _stop(process, log)
            else:
                log.close()


def worker_of(response: httpx.Response) -> str:
    return response.headers["x-frontdoor-worker"]


def test_requests_through_the_balancer_reach_both_workers(topology):
    with httpx.Client(base_url=topology.base, timeout=30) as client:
        seen = {worker_of(client.get("/healthz")) for _ in range(20)}
    assert len(seen) == 2


def test_the_phone_lines_websocket_passes_through_the_balancer(topology):
    from websockets.sync.client import connect

    with connect(topology.base.replace("http://", "ws://") + "/v1/ivr", open_timeout=30) as ws:
        message = json.loads(ws.recv(timeout=30))  # these workers have no speech recogniser loaded
    assert message["type"] == "error" and message["error"] == "voice_unavailable"


def test_a_worker_killed_mid_conversation_loses_no_request_and_no_ticket(topology):
    with httpx.Client(base_url=topology.base, timeout=60) as client:
        sessions = []
        for n in range(6):
            reply = client.post("/v1/chat", json={"text": f"我家小区门口的路灯坏了{n + 2}天了", "region": NANJING})
            assert reply.status_code == 200, reply.text
            sessions.append(reply.json()["session"])
        victim_port = next(iter(topology.workers))
        victim = topology.workers[victim_port]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        tickets, failed = [], []
        for session in sessions:  # every conversation goes on, whichever worker began it
            reply = client.post("/v1/chat", json={"text": "转人工", "session": session})
            if reply.status_code != 200:
                failed.append(reply.status_code)
                continue
            assert reply.json()["session"] == session and reply.json()["decision"] == "handoff"
            tickets.append(reply.json()["ticket"]["number"])
        assert failed == [] and len(tickets) == len(sessions)
        seat = {"authorization": f"Bearer {topology.seat_token}"}
        for number in tickets:
            assert client.get(f"/v1/tickets/{number}", headers=seat).status_code == 200


# ---- fuzzing, last: it deactivates accounts, replaces the code table, blocks callers ---------------------
ST = Path(sys.executable).with_name("st")
EXAMPLES = "4"
FUZZED_ROUTES = {  # role → the routes it works, as a regular expression over the path
    "editor": r"^/(v1/(chat|search|entries|changes|imports|gaps|try|traffic|labels|confidence)|healthz)",
    "reviewer": r"^/v1/(changes|entries/.*/rollback|audit)",
    "seat": r"^/v1/(tickets|voice)",
    "admin": r"^/v1/(accounts|codes|blocks)",
}
# Sign-out and a password change would end the fuzzer's own sign-in; WeChat's push needs WeChat's signature
# (tests/test_wechat_*.py).
NOT_FUZZED = ("/v1/auth/logout", "/v1/auth/password", "/wechat/push")


@pytest.mark.parametrize("role", sorted(FUZZED_ROUTES))
def test_no_generated_request_gets_a_server_error(topology, role, tmp_path):
    if not ST.exists():
        pytest.fail(f"schemathesis is not installed in {ST.parent} (a test dependency: pip install -e '.[test]')")
    command = [str(ST), "run", f"{topology.base}/openapi.json", "--checks", "not_a_server_error",
               "--max-examples", EXAMPLES, "--seed", "12345", "--header", f"Authorization: Bearer {topology.tokens[role]}",
               "--include-path-regex", FUZZED_ROUTES[role], "--request-timeout", "60", "--no-color"]
    for path in NOT_FUZZED:
        command += ["--exclude-path", path]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
