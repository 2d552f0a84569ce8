"""Who may call what: every route declares its access once (api/auth.py), and the running service enforces it.

The first test walks the app's routes, so a route added later without `allow(...)` or `PUBLIC` fails here; the
second calls every HTTP route as nobody and as each role against the service's app, run in-process with a small
embedder (tests/conftest.py `inprocess`): access control does not depend on the model or on uvicorn."""
from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute

from accounts.roles import STAFF, Role
from api.auth import PUBLIC, SESSION_COOKIE, Access, route_accesses, route_contexts

E, R, S, A = Role.EDITOR, Role.REVIEWER, Role.SEAT, Role.ADMIN
ANONYMOUS = "anonymous"
WEBSOCKET = "WS"

# The access matrix of issue 5 (path parameters written {}); a route listed here must have exactly these roles.
# Routes not listed still need an Access of their own; listed routes that are not built yet are not checked.
MATRIX: dict[tuple[str, str], tuple[Role, ...] | None] = {
    **{key: None for key in [("GET", "/healthz"), ("GET", "/"), ("GET", "/chat"), ("GET", "/console"), ("GET", "/console/{}"),
                             ("POST", "/v1/chat"), ("GET", "/wechat/push"), ("POST", "/wechat/push"), (WEBSOCKET, "/v1/ivr"),
                             (WEBSOCKET, "/v1/asr"), ("POST", "/v1/auth/login")]},
    ("POST", "/v1/auth/logout"): STAFF, ("GET", "/v1/auth/me"): STAFF, ("POST", "/v1/auth/password"): STAFF,
    ("POST", "/v1/search"): STAFF, ("GET", "/v1/entries"): STAFF, ("GET", "/v1/entries/{}"): STAFF,
    ("GET", "/v1/entries/{}/history"): (E, R, A), ("GET", "/v1/entries/{}/traffic"): (E, R, A),
    ("POST", "/v1/entries/{}/rollback"): (R,),
    ("GET", "/v1/changes"): (E, R), ("GET", "/v1/changes/{}"): (E, R),
    ("POST", "/v1/changes"): (E,), ("PUT", "/v1/changes/{}"): (E,), ("POST", "/v1/changes/{}/submit"): (E,),
    ("POST", "/v1/changes/{}/withdraw"): (E,),
    ("POST", "/v1/changes/{}/return"): (R,), ("POST", "/v1/changes/{}/publish"): (R,), ("POST", "/v1/changes/publish"): (R,),
    ("POST", "/v1/try"): (E, R),
    ("POST", "/v1/imports/preview"): (E,), ("POST", "/v1/imports"): (E,),
    ("GET", "/v1/gaps"): (E, R), ("GET", "/v1/gaps/{}"): (E, R),
    ("POST", "/v1/gaps/{}/new-entry"): (E,), ("POST", "/v1/gaps/{}/add-samples"): (E,), ("POST", "/v1/gaps/{}/dismiss"): (E,),
    ("GET", "/v1/audit"): (R, A),
    ("GET", "/v1/accounts"): (A,), ("POST", "/v1/accounts"): (A,), ("PATCH", "/v1/accounts/{}"): (A,),
    ("POST", "/v1/accounts/{}/tokens"): (A,),
    ("GET", "/v1/codes"): STAFF, ("PUT", "/v1/codes"): (A,),
    ("GET", "/v1/tickets"): (S,), ("GET", "/v1/tickets/{}"): (S,), ("POST", "/v1/tickets/{}/claim"): (S,),
    ("POST", "/v1/tickets/{}/reply"): (S,), ("POST", "/v1/tickets/{}/close"): (S,),
    ("PUT", "/v1/tickets/{}/label"): (S,),
    ("GET", "/v1/labels"): (E, R, A), ("GET", "/v1/confidence/precision"): (E, R, A),
    ("GET", "/v1/voice/calls/{}"): (S,),
    ("GET", "/v1/blocks"): (A,), ("POST", "/v1/blocks"): (A,), ("POST", "/v1/blocks/{}/lift"): (A,),
}
# Not called over HTTP: WeChat's pushes need its signature (a forged one is 403 by design).
NOT_CALLED = {("GET", "/wechat/push"), ("POST", "/wechat/push")}
# Ends the caller's session: called last, with sessions of its own.
SIGNS_OUT = ("POST", "/v1/auth/logout")


def shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)




@pytest.fixture(scope="module")
def routes() -> list[tuple[str, str, list[Access]]]:
    """(method or WS, path, the Access rules found) for every API route of an app built but not started."""
    from frontdoor.components import web_app
    from frontdoor.settings import Settings

    found = []
    for context in route_contexts(web_app(Settings())):
        original = getattr(context, "original_route", context)
        if isinstance(original, APIWebSocketRoute):
            found.append((WEBSOCKET, context.path, route_accesses(context.dependant)))
        elif isinstance(original, APIRoute):
            for method in sorted(context.methods):
                found.append((method, context.path, route_accesses(context.dependant)))
    return found


def test_every_route_declares_exactly_one_access_rule(routes):
    assert len(routes) >= 20, routes
    undeclared = [f"{method} {path}: {'no Access' if not found else f'{len(found)} Access rules {found}'}"
                  for method, path, found in routes if len(found) != 1]
    assert not undeclared, ("every route needs exactly one Depends(allow(...)) or Depends(PUBLIC) (api/auth.py):\n  "
                            + "\n  ".join(undeclared))


def test_routes_follow_the_access_matrix(routes):
    wrong = []
    for method, path, found in routes:
        key = (method, shape(path))
        if key in MATRIX and len(found) == 1 and found[0].roles != MATRIX[key]:
            expected = "PUBLIC" if MATRIX[key] is None else f"allow({', '.join(r.value for r in MATRIX[key])})"
            wrong.append(f"{method} {path}: {found[0]!r}, the matrix says {expected}")
    assert not wrong, "\n".join(wrong)
    websockets = [(path, found) for method, path, found in routes if method == WEBSOCKET]
    assert websockets and all(found == [PUBLIC] for _, found in websockets), websockets


def sign_in(server, username: str, password: str | None = None) -> httpx.Response:
    return server.client.post("/v1/auth/login", json={"username": username, "password": password or server.password})


def session_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.cookies[SESSION_COOKIE]


def call(server, method: str, path: str, session: str | None) -> httpx.Response:
    url = re.sub(r'{[^}]*}', '0', path)  # 0: no change, ticket, entry or account has that id
    headers = {"cookie": f"{SESSION_COOKIE}={session}"} if session else {}
    body = {} if method in ("POST", "PUT", "PATCH", "DELETE") else None
    return server.client.request(method, url, json=body, headers=headers, follow_redirects=False)


def test_every_route_refuses_strangers_and_the_wrong_roles_and_serves_the_right_ones(inprocess, routes):
    server = inprocess
    sessions = {role: session_of(sign_in(server, role.value)) for role in Role}
    problems = []
    http_routes = [r for r in routes if r[0] != WEBSOCKET and (r[0], r[1]) not in NOT_CALLED and len(r[2]) == 1]
    http_routes.sort(key=lambda r: (r[0], shape(r[1])) == SIGNS_OUT)
    for method, path, [access] in http_routes:
        for who in (ANONYMOUS, *Role):
            response = call(server, method, path, None if who == ANONYMOUS else sessions[who])
            status = response.status_code
            if access.roles is None:
                expected_ok = True
            elif who == ANONYMOUS:
                expected_ok = False
                if status != 401:
                    problems.append(f"{method} {path} without signing in: {status}, not 401")
                continue
            else:
                expected_ok = who in access.roles
            if expected_ok and status in (401, 403):
                problems.append(f"{method} {path} as {getattr(who, 'value', who)}: {status} {response.text[:200]}")
            if not expected_ok and status != 403:
                problems.append(f"{method} {path} as {who.value}: {status}, not 403")
            if not expected_ok and status == 403:
                assert response.json()["error"]["code"] == "forbidden"
    assert not problems, "\n".join(problems)


# ---- signing in over HTTP ----------------------------------------------------------------------------
def new_account(server, role: str = "editor", **extra) -> str:
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    created = server.client.post("/v1/accounts", json={"username": username, "password": server.password, "role": role, **extra},
                         headers=server.headers("admin"))
    assert created.status_code == 201, created.text
    return username


def me(server, session: str) -> httpx.Response:
    return server.client.get("/v1/auth/me", headers={"cookie": f"{SESSION_COOKIE}={session}"})


def test_signing_in_sets_an_http_only_cookie_that_signing_out_ends(inprocess):
    server = inprocess
    response = sign_in(server, "editor")
    assert response.status_code == 200
    assert response.json()["account"] == {"username": "editor", "display_name": "测试editor", "role": "editor", "region": "",
                                          "may_edit_wider": False}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Path=/" in cookie and "Max-Age=43" in cookie  # 12 hours
    session = session_of(response)
    mine = me(server, session)
    assert mine.status_code == 200 and mine.json()["account"]["role"] == "editor" and mine.json()["expires_at"]
    out = server.client.post("/v1/auth/logout", headers={"cookie": f"{SESSION_COOKIE}={session}"})
    assert out.status_code == 204
    cleared = out.headers["set-cookie"]
    assert cleared.startswith(f"{SESSION_COOKIE}=") and "Max-Age=0" in cleared
    gone = me(server, session)
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "unauthorized"


def test_a_wrong_password_or_unknown_user_is_401(inprocess):
    server = inprocess
    wrong = sign_in(server, "editor", "not-the-password")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "bad_credentials"
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    assert sign_in(server, "nobody-here").status_code == 401


def test_an_expired_session_is_401(inprocess):
    server = inprocess
    from datetime import timedelta

    from accounts.store import AccountStore
    from ground.clock import utcnow
    from storage.database import Database

    db = Database(server.settings.resolved_database_url)
    try:  # a session opened 13 hours ago, as the running service's database keeps it
        past = AccountStore(db, session_hours=12, clock=lambda: utcnow() - timedelta(hours=13))
        token, expires_at = past.open_session("reviewer")
    finally:
        db.dispose()
    assert expires_at < utcnow()
    expired = me(server, token)
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]


def test_repeated_wrong_passwords_lock_the_username(inprocess):
    server = inprocess
    username = new_account(server)
    for _ in range(5):
        assert sign_in(server, username, "wrong-wrong-wrong").status_code == 401
    locked = sign_in(server, username)  # even the right password
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "locked_out"
    assert "try again after" in locked.json()["error"]["message"] and int(locked.headers["retry-after"]) > 800
    assert sign_in(server, "editor").status_code == 200  # other accounts are not affected


def test_changing_ones_password_ends_the_other_sessions(inprocess):
    server = inprocess
    username = new_account(server, "seat")
    mine, other = session_of(sign_in(server, username)), session_of(sign_in(server, username))
    cookie = {"cookie": f"{SESSION_COOKIE}={mine}"}
    wrong = server.client.post("/v1/auth/password", json={"current": "not it at all", "new": "a brand new passphrase"}, headers=cookie)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "wrong_password"
    weak = server.client.post("/v1/auth/password", json={"current": server.password, "new": "short"}, headers=cookie)
    assert weak.status_code == 422 and weak.json()["error"]["code"] == "weak_password"
    assert "10" in weak.json()["error"]["message"]
    changed = server.client.post("/v1/auth/password", json={"current": server.password, "new": "a brand new passphrase"},
                         headers=cookie)
    assert changed.status_code == 204
    assert me(server, mine).status_code == 200 and me(server, other).status_code == 401
    assert sign_in(server, username).status_code == 401 and sign_in(server, username, "a brand new passphrase").status_code == 200


def test_an_admin_manages_accounts_and_machine_tokens(inprocess):
    server = inprocess
    admin = server.headers("admin")
    username = new_account(server, "editor", region="江苏省/扬州市", display_name="扬州编辑")
    listed = {a["username"]: a for a in server.client.get("/v1/accounts", headers=admin).json()}
    assert listed[username]["region"] == "江苏省/扬州市" and listed[username]["active"] and listed[username]["created_by"] == "admin"
    assert "password_hash" not in listed[username]
    again = server.client.post("/v1/accounts", json={"username": username, "password": server.password, "role": "editor"}, headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "account_exists"
    bad = server.client.post("/v1/accounts", json={"username": "短", "password": "short", "role": "editor"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["error"]["code"] in ("invalid_account", "weak_password")

    issued = server.client.post(f"/v1/accounts/{username}/tokens", json={"days": 30}, headers=admin)
    assert issued.status_code == 201
    bearer = {"authorization": f"Bearer {issued.json()['token']}"}
    assert server.client.get("/v1/auth/me", headers=bearer).json()["account"]["username"] == username

    widened = server.client.patch(f"/v1/accounts/{username}", json={"may_edit_wider": True, "role": "reviewer"}, headers=admin)
    assert widened.status_code == 200 and widened.json()["may_edit_wider"] and widened.json()["role"] == "reviewer"
    assert server.client.get("/v1/auth/me", headers=bearer).json()["account"]["role"] == "reviewer"
    off = server.client.patch(f"/v1/accounts/{username}", json={"active": False}, headers=admin)
    assert off.status_code == 200 and off.json()["active"] is False
    assert server.client.get("/v1/auth/me", headers=bearer).status_code == 401
    assert sign_in(server, username).status_code == 401

    own = server.client.patch("/v1/accounts/admin", json={"active": False}, headers=admin)
    assert own.status_code == 409 and own.json()["error"]["code"] == "own_account"
    assert server.client.patch("/v1/accounts/no-such-one", json={"active": False}, headers=admin).status_code == 404

    events = server.client.get("/v1/audit", params={"target": f"account:{username}"}, headers=admin)
    if events.status_code == 200:  # the audit route (another part of issue 5) lists the account's history
        assert {"account.create", "account.token", "account.update"} <= {e["action"] for e in events.json()}


def test_staff_read_the_code_table_and_an_admin_replaces_it(inprocess):
    server = inprocess
    from knowledge_base.seed import category_table

    codes = server.client.get("/v1/codes", headers=server.headers("seat"))
    assert codes.status_code == 200 and codes.json() and {"code", "name", "parent", "path"} <= set(codes.json()[0])
    broken = server.client.put("/v1/codes", content="code,name,parent\nA1,供水,NOPE\n".encode(),
                       headers={"content-type": "text/csv", "x-filename": "codes.csv", **server.headers("admin")})
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "bad_code_table"
    assert "line 2" in broken.json()["error"]["message"] and "codes.csv" in broken.json()["error"]["message"]
    assert server.client.get("/v1/codes", headers=server.headers("editor")).json() == codes.json()  # unchanged
    # The same table again (other tests share this service): replaced whole, and audited.
    replaced = server.client.put("/v1/codes", content=category_table().read_bytes(),
                         headers={"content-type": "text/csv", **server.headers("admin")})
    assert replaced.status_code == 200 and replaced.json()["categories"] == len(codes.json())
    assert "next start" in replaced.json()["note"]
    assert server.client.put("/v1/codes", content=b"code,name\n", headers=server.headers("editor")).status_code == 403
