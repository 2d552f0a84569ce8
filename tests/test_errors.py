"""One error mapping for the whole app (api/errors.py), and docs served without a CDN (api/docs.py): on tiny apps."""
from __future__ import annotations

import logging
import re

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError, ProgrammingError

from accounts.passwords import PasswordRejected
from accounts.roles import Role
from accounts.store import AccountExists, AccountNotFound, AccountProblem, LockedOut
from api.auth import PUBLIC, allow
from api.docs import install_docs
from api.errors import KIND_STATUS, REQUEST_ID_HEADER, ApiError, install_error_handlers
from desk.categories import CodeTableError
from desk.tickets import TicketConflict, TicketNotFound
from ground.errors import DomainError, ErrorKind
from knowledge_base.changes import ChangeError, ChangeNotFound, EntryMissing, ImportRefused
from knowledge_base.store import EntryNotFound, VersionNotFound

EXPECTED = {"not_found": 404, "conflict": 409, "forbidden": 403, "invalid": 422, "unauthorized": 401,
            "too_many": 429, "unavailable": 503}


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/kind/{kind}")
    def fail_as(kind: ErrorKind):
        raise DomainError(f"a {kind.value} failure", code=f"some_{kind.value}", kind=kind,
                          details=[{"where": "here"}] if kind is ErrorKind.INVALID else None)

    @app.get("/http")
    def http_only():
        raise ApiError(400, "filename_missing", "No file name.")

    @app.get("/domain/{name}")
    def domain(name: str):
        raise {"entry": EntryMissing("e1"), "stored": EntryNotFound("e1"), "change": ChangeNotFound(7),
               "version": VersionNotFound("e1", 3), "ticket": TicketNotFound("no ticket numbered 1"),
               "claimed": TicketConflict("ticket 1 is claimed"), "account": AccountNotFound("no account x"),
               "exists": AccountExists("x exists"), "weak": PasswordRejected("too short"),
               "import": ImportRefused([{"entry_id": "a", "message": "bad"}])}[name]

    @app.get("/database-down")
    def database_down():
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    @app.get("/database-bug")
    def database_bug():
        raise ProgrammingError("SELEC 1", {}, Exception("syntax error"))

    @app.get("/boom")
    def boom():
        raise RuntimeError("the database went away")

    @app.get("/protected", dependencies=[Depends(allow(Role.EDITOR))])
    def protected():
        return {}

    @app.get("/public", dependencies=[Depends(PUBLIC)])
    def public():
        return {}

    return app


@pytest.fixture(scope="module")
def client() -> TestClient:
    # ServerErrorMiddleware answers with our handler and then re-raises (for the server's log): don't re-raise here.
    return TestClient(_app(), raise_server_exceptions=False)


def test_the_kinds_map_to_their_statuses():
    assert {kind.value: status for kind, status in KIND_STATUS.items()} == EXPECTED
    assert set(KIND_STATUS) == set(ErrorKind)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_a_domain_error_of_each_kind_gives_its_status_and_the_shape(client, kind):
    response = client.get(f"/kind/{kind}")
    assert response.status_code == EXPECTED[kind]
    error = response.json()["error"]
    assert error["code"] == f"some_{kind}" and error["message"] == f"a {kind} failure"
    assert set(response.json()) == {"error"}
    assert ("details" in error) == (kind == "invalid")


@pytest.mark.parametrize("name, status, code", [
    ("entry", 404, "entry_not_found"), ("stored", 404, "entry_not_found"), ("change", 404, "change_not_found"),
    ("version", 404, "version_not_found"), ("ticket", 404, "ticket_not_found"), ("claimed", 409, "ticket_conflict"),
    ("account", 404, "account_not_found"), ("exists", 409, "account_exists"), ("weak", 422, "weak_password"),
    ("import", 422, "invalid_import"),
])
def test_the_domains_errors_carry_one_code_each(client, name, status, code):
    response = client.get(f"/domain/{name}")
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_the_domains_error_classes_are_domain_errors_and_keep_their_old_bases():
    for cls in (ChangeError, AccountProblem, LockedOut, PasswordRejected, CodeTableError, TicketNotFound, TicketConflict,
                EntryNotFound, VersionNotFound):
        assert issubclass(cls, DomainError), cls
    assert issubclass(AccountProblem, ValueError) and issubclass(ChangeNotFound, LookupError)
    assert issubclass(TicketNotFound, LookupError) and issubclass(TicketConflict, RuntimeError)
    problem = AccountProblem("The username 'X' is not allowed.")
    assert problem.code == "invalid_account" and problem.kind is ErrorKind.INVALID and not hasattr(problem, "status")
    assert str(problem) == problem.message == "The username 'X' is not allowed."


def test_an_http_only_error_keeps_its_status(client):
    response = client.get("/http")
    assert response.status_code == 400 and response.json() == {"error": {"code": "filename_missing", "message": "No file name."}}


def test_an_unexpected_exception_is_a_500_in_the_error_shape_with_a_logged_request_id(client, caplog):
    with caplog.at_level(logging.ERROR, logger="frontdoor.api"):
        response = client.get("/boom")
    assert response.status_code == 500 and response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "internal" and error["message"] and "database" not in error["message"]
    assert re.fullmatch(r"[0-9a-f]{12}", error["request_id"])
    assert response.headers[REQUEST_ID_HEADER] == error["request_id"]
    logged = [r for r in caplog.records if error["request_id"] in r.getMessage()]
    assert logged and logged[0].exc_info and "the database went away" in str(logged[0].exc_info[1])
    assert client.get("/boom").json()["error"]["request_id"] != error["request_id"]


def test_an_unreachable_database_is_a_503_saying_to_try_again(client):
    response = client.get("/database-down")
    assert response.status_code == 503 and response.json()["error"]["code"] == "database_unavailable"
    assert response.headers["retry-after"] == "5"


def test_a_database_error_of_the_apps_own_is_a_500_with_a_request_id(client):
    response = client.get("/database-bug")
    assert response.status_code == 500 and response.json()["error"]["request_id"]


def test_a_route_that_does_not_exist_keeps_the_shape(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def _docs_app() -> FastAPI:
    app = FastAPI(title="tiny")
    install_error_handlers(app)
    install_docs(app)

    @app.get("/things/{thing_id}", dependencies=[Depends(allow(Role.EDITOR))])
    def thing(thing_id: int):
        return {}

    @app.get("/open", dependencies=[Depends(PUBLIC)])
    def open_():
        return {}

    return app


def test_the_docs_pages_are_served_from_the_apps_own_files():
    client = TestClient(_docs_app())
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200 and "text/html" in response.headers["content-type"]
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", response.text), f"{page} refers to another host"
        assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
        assert assets and all(url.startswith("/docs-assets/") for url in assets), assets
        for url in assets:
            assert client.get(url).status_code == 200, url


def test_the_schema_documents_the_error_shape_the_common_errors_and_sign_in():
    schema = TestClient(_docs_app()).get("/openapi.json").json()
    assert {"ErrorBody", "ErrorInfo"} <= set(schema["components"]["schemas"])
    assert schema["components"]["securitySchemes"]["bearerToken"] == {
        "type": "http", "scheme": "bearer", "description": schema["components"]["securitySchemes"]["bearerToken"]["description"]}
    assert schema["components"]["securitySchemes"]["sessionCookie"]["in"] == "cookie"
    thing = schema["paths"]["/things/{thing_id}"]["get"]
    assert {"401", "403", "404", "422"} <= set(thing["responses"])
    for status in ("401", "403", "404", "422"):
        assert thing["responses"][status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert thing["security"] == [{"bearerToken": []}, {"sessionCookie": []}]
    public = schema["paths"]["/open"]["get"]
    assert "security" not in public and "401" not in public["responses"]
