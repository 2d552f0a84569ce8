"""Schemathesis over the whole OpenAPI, against the real service (its command line, bounded: a few examples
per operation, each role over the routes it may call): no input, whether the schema allows it or not, gets a
5xx (issue: hostile input refused). The error shape of the 4xx is asserted route by route elsewhere."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Server, _create_accounts, _free_port, _serve, _stop

ST = Path(sys.executable).with_name("st")
EXAMPLES = "5"
# The routes each role works, as regular expressions over the path; sign-out and a password change would end
# the fuzzer's own sign-in, and WeChat's push needs WeChat's signature (tests/test_wechat_*.py).
ROUTES = {
    "editor": r"^/(v1/(chat|search|entries|changes|imports|gaps|try|traffic|labels|confidence)|healthz)",
    "reviewer": r"^/v1/(changes|entries/.*/rollback|audit)",
    "seat": r"^/v1/(tickets|voice)",
    "admin": r"^/v1/(accounts|codes|blocks)",
}
EXCLUDED = ("/v1/auth/logout", "/v1/auth/password", "/wechat/push")


@pytest.fixture(scope="module")
def fuzzed(provisioned, tmp_path_factory):
    """A service of its own: the fuzzer deactivates accounts, replaces the code table, blocks callers."""
    import os

    data_dir = tmp_path_factory.mktemp("fuzzed-service")
    env = {**os.environ, "FRONTDOOR_MODEL_DIR": str(provisioned.model_dir), "FRONTDOOR_ALLOW_DOWNLOAD": "false",
           "FRONTDOOR_VOICE": "false", "FRONTDOOR_MESSAGES_PER_CALLER_MINUTE": "100000"}
    tokens = _create_accounts(env, data_dir)
    port = _free_port()
    process, log = _serve(env, data_dir, port)
    yield Server(f"http://127.0.0.1:{port}", data_dir, tokens)
    _stop(process, log)


@pytest.mark.parametrize("role", sorted(ROUTES))
def test_no_generated_request_gets_a_server_error(fuzzed, role, tmp_path):
    server = fuzzed
    if not ST.exists():
        pytest.fail(f"schemathesis is not installed in {ST.parent} (it is a test dependency: pip install -e '.[test]')")
    command = [str(ST), "run", f"{server.base}/openapi.json", "--checks", "not_a_server_error", "--max-examples", EXAMPLES,
               "--seed", "12345", "--header", f"Authorization: Bearer {server.tokens[role]}",
               "--include-path-regex", ROUTES[role], "--request-timeout", "60", "--no-color"]
    for path in EXCLUDED:
        command += ["--exclude-path", path]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
