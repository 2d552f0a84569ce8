"""Who is calling, and may they: every route declares its access once, with `allow(...)` or `PUBLIC`.

A browser signs in at POST /v1/auth/login and carries an HttpOnly session cookie; a program (a telephony
switch, a script) sends `Authorization: Bearer <token>`. Both are tokens whose SHA-256 the database keeps
(accounts/store.py); both expire.

    @router.post("/v1/changes")
    def create(body: …, account: Account = Depends(allow(Role.EDITOR))): …

    router = APIRouter(…, dependencies=[Depends(PUBLIC)])   # a citizen's channel: no account

tests/test_access.py walks every route of the app, finds its `Access`, and calls it as each role.
"""
from __future__ import annotations

from fastapi.requests import HTTPConnection
from starlette.concurrency import run_in_threadpool

from accounts.roles import Account, Role
from ground.errors import DomainError, ErrorKind

SESSION_COOKIE = "frontdoor_session"


def presented_token(connection: HTTPConnection) -> str | None:
    """The bearer token, or else the session cookie, if the caller sent one."""
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return connection.cookies.get(SESSION_COOKIE) or None


class Access:
    """A route's access rule: the roles allowed, or None for a public route (a citizen's channel)."""

    def __init__(self, roles: tuple[Role, ...] | None) -> None:
        self.roles = roles

    def __repr__(self) -> str:
        return "PUBLIC" if self.roles is None else f"allow({', '.join(r.value for r in self.roles)})"

    async def __call__(self, connection: HTTPConnection) -> Account | None:
        if self.roles is None:
            return None
        token = presented_token(connection)
        account = None
        if token:
            account = await run_in_threadpool(connection.app.state.services.accounts.resolve, token)
        if account is None:
            raise DomainError("Sign in first (POST /v1/auth/login), or send 'Authorization: Bearer <token>'; "
                              "a session that has expired needs a new sign-in.", code="unauthorized", kind=ErrorKind.UNAUTHORIZED)
        if account.role not in self.roles:
            allowed = ", ".join(role.value for role in self.roles)
            raise DomainError(f"This needs the role {allowed}; your account {account.username!r} is {account.role.value}.",
                              code="forbidden", kind=ErrorKind.FORBIDDEN)
        connection.state.account = account
        return account


class OpenedBySetting(Access):
    """`allow(roles)`, unless the app was built with the flag `app.state.<flag>` set: then anyone may call.

    For /metrics: Prometheus scrapes with an admin account's API token, or, on a private network where the
    workers' ports are reachable only by the scraper, without one (FRONTDOOR_METRICS_PUBLIC=true)."""

    def __init__(self, roles: tuple[Role, ...], flag: str) -> None:
        super().__init__(roles)
        self.flag = flag

    def __repr__(self) -> str:
        return f"{super().__repr__()} (PUBLIC when {self.flag})"

    async def __call__(self, connection: HTTPConnection) -> Account | None:
        if getattr(connection.app.state, self.flag, False):
            return None
        return await super().__call__(connection)


PUBLIC = Access(None)
# Who may read /metrics: an admin (its API token), or anyone when FRONTDOOR_METRICS_PUBLIC is set.
METRICS_READERS = OpenedBySetting((Role.ADMIN,), flag="metrics_public")


def allow(*roles: Role) -> Access:
    if not roles:
        raise ValueError("allow() needs at least one role; use PUBLIC for a route anyone may call")
    return Access(tuple(roles))


def route_contexts(app) -> list:
    """Every route of the app with its full path and effective dependencies, however FastAPI nests included routers."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before included routers were kept as groups: app.routes is flat
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def route_accesses(dependant) -> list[Access]:
    """The access rules a route declares, found among its dependencies at any depth."""
    found = []
    for sub in dependant.dependencies:
        if isinstance(sub.call, Access):
            found.append(sub.call)
        found.extend(route_accesses(sub))
    return found
