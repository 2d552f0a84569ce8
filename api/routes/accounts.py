"""Signing in and out, one's own password, the administrators' account pages, and the code table.

A browser signs in at POST /v1/auth/login and gets an HttpOnly, SameSite=Strict session cookie; a machine
(the telephony switch, a script) gets an API token from an administrator and sends
`Authorization: Bearer <token>`. Either way only the token's SHA-256 is stored, and it expires.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from accounts.passwords import MAX_LENGTH, check_password
from accounts.roles import STAFF, Account, Role
from accounts.store import AccountInfo, AccountStore, LockedOut
from api.addresses import client_address
from api.auth import PUBLIC, SESSION_COOKIE, allow, presented_token
from api.errors import error_body
from api.services import get_services
from desk.categories import parse_code_table
from desk.classification import CodeTable
from ground.clock import utcnow
from ground.errors import DomainError, ErrorKind

router = APIRouter(tags=["accounts"])

USERNAME = Field(min_length=1, max_length=100, description="e.g. li.ming")
PASSWORD = Field(min_length=1, max_length=MAX_LENGTH)


class AccountOut(BaseModel):
    username: str
    display_name: str
    role: Role
    region: str = Field(description="'' for every region, else e.g. 江苏省/扬州市")
    may_edit_wider: bool

    @classmethod
    def of(cls, account: Account) -> "AccountOut":
        return cls(username=account.username, display_name=account.display_name, role=account.role,
                   region=account.region, may_edit_wider=account.may_edit_wider)


class AccountAdminOut(AccountOut):
    active: bool
    created_at: datetime
    created_by: str
    password_changed_at: datetime

    @classmethod
    def of_info(cls, info: AccountInfo) -> "AccountAdminOut":
        return cls(**AccountOut.of(info.account).model_dump(), active=info.account.active, created_at=info.created_at,
                   created_by=info.created_by, password_changed_at=info.password_changed_at)


class SignedIn(BaseModel):
    account: AccountOut
    expires_at: datetime | None


def _accounts(request: Request) -> AccountStore:
    return get_services(request).accounts


# ---- signing in ------------------------------------------------------------------------------------
class Login(BaseModel):
    username: str = USERNAME
    password: str = PASSWORD


@router.post("/v1/auth/login", response_model=SignedIn, dependencies=[Depends(PUBLIC)],
             summary="Sign in: sets the HttpOnly session cookie `frontdoor_session`",
             responses={401: {"description": "bad_credentials"}, 429: {"description": "locked_out"}})
def login(body: Login, request: Request, response: Response):
    accounts = _accounts(request)
    try:
        account = accounts.authenticate(body.username, body.password, client_address(request))
    except LockedOut as error:
        wait = max(1, int((error.retry_at - utcnow()).total_seconds()) + 1)
        return JSONResponse(error_body("locked_out", str(error)), status_code=429, headers={"Retry-After": str(wait)})
    if account is None:
        raise DomainError("The username or the password is wrong (or the account is deactivated); check both and try again.",
                          code="bad_credentials", kind=ErrorKind.UNAUTHORIZED)
    token, expires_at = accounts.open_session(account.username, "session")
    max_age = int((expires_at - utcnow()).total_seconds())
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=get_services(request).cookie_secure)
    return SignedIn(account=AccountOut.of(account), expires_at=expires_at)


@router.post("/v1/auth/logout", status_code=204, summary="Sign out: ends this session (or API token) and clears the cookie")
def logout(request: Request, account: Account = Depends(allow(*STAFF))) -> Response:
    token = presented_token(request)
    if token:
        _accounts(request).revoke(token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=get_services(request).cookie_secure)
    return response


@router.get("/v1/auth/me", response_model=SignedIn, summary="Who is signed in, and until when")
def me(request: Request, account: Account = Depends(allow(*STAFF))) -> SignedIn:
    token = presented_token(request)
    return SignedIn(account=AccountOut.of(account), expires_at=_accounts(request).expires_at(token) if token else None)


class PasswordChange(BaseModel):
    current: str = PASSWORD
    new: str = PASSWORD


@router.post("/v1/auth/password", status_code=204, summary="Change one's own password (ends one's other sessions)")
def change_password(body: PasswordChange, request: Request, account: Account = Depends(allow(*STAFF))):
    accounts = _accounts(request)
    checked = accounts.authenticate(account.username, body.current, client_address(request))  # LockedOut: 429 locked_out
    if checked is None:
        raise DomainError("The current password is wrong; nothing was changed.", code="wrong_password", kind=ErrorKind.INVALID)
    accounts.set_password(account.username, body.new, by=account.username, keep_token=presented_token(request))
    return Response(status_code=204)


# ---- administrators: accounts and API tokens -------------------------------------------------------
class NewAccount(BaseModel):
    username: str = USERNAME
    password: str = PASSWORD
    role: Role
    region: str = Field(default="", max_length=200, description="'' for every region, else e.g. 江苏省/扬州市")
    may_edit_wider: bool = False
    display_name: str | None = Field(default=None, max_length=200)


class AccountChange(BaseModel):
    role: Role | None = None
    region: str | None = Field(default=None, max_length=200)
    may_edit_wider: bool | None = None
    active: bool | None = None
    display_name: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=MAX_LENGTH, description="A new password (ends every session of the account).")


@router.get("/v1/accounts", response_model=list[AccountAdminOut], summary="Every account")
def list_accounts(request: Request, admin: Account = Depends(allow(Role.ADMIN))) -> list[AccountAdminOut]:
    return [AccountAdminOut.of_info(info) for info in _accounts(request).list()]


def _info(accounts: AccountStore, username: str) -> AccountAdminOut:
    return next(AccountAdminOut.of_info(i) for i in accounts.list() if i.account.username == username)


@router.post("/v1/accounts", response_model=AccountAdminOut, status_code=201, summary="Create an account")
def create_account(body: NewAccount, request: Request, admin: Account = Depends(allow(Role.ADMIN))) -> AccountAdminOut:
    accounts = _accounts(request)
    accounts.create(body.username, body.password, body.role, region=body.region, may_edit_wider=body.may_edit_wider,
                    display_name=body.display_name, by=admin.username)
    return _info(accounts, body.username)


@router.patch("/v1/accounts/{username}", response_model=AccountAdminOut,
              summary="Change an account's role, region, name or password, or (de)activate it")
def change_account(username: str, body: AccountChange, request: Request,
                   admin: Account = Depends(allow(Role.ADMIN))) -> AccountAdminOut:
    if username == admin.username and (body.active is False or body.role not in (None, Role.ADMIN)):
        raise DomainError("You may not deactivate your own account or take away its admin role; another administrator can.",
                          code="own_account", kind=ErrorKind.CONFLICT)
    accounts = _accounts(request)
    if body.password is not None:
        check_password(body.password)  # before anything changes: all or nothing
    accounts.update(username, by=admin.username, role=body.role, region=body.region, may_edit_wider=body.may_edit_wider,
                    active=body.active, display_name=body.display_name)
    if body.password is not None:
        accounts.set_password(username, body.password, by=admin.username)
    return _info(accounts, username)


class TokenRequest(BaseModel):
    days: float | None = Field(default=None, gt=0, le=3650, description="How long the token lasts; default FRONTDOOR_API_TOKEN_DAYS.")


class IssuedToken(BaseModel):
    token: str = Field(description="Shown once: send it as 'Authorization: Bearer <token>'.")
    expires_at: datetime


@router.post("/v1/accounts/{username}/tokens", response_model=IssuedToken, status_code=201,
             summary="A new API token for an account (a machine, e.g. the telephony switch)")
def issue_token(username: str, body: TokenRequest, request: Request, admin: Account = Depends(allow(Role.ADMIN))) -> IssuedToken:
    lifetime = timedelta(days=body.days) if body.days else None
    token, expires_at = _accounts(request).open_session(username, "token", lifetime, by=admin.username)
    return IssuedToken(token=token, expires_at=expires_at)


# ---- the request-category code table ---------------------------------------------------------------
class CategoryOut(BaseModel):
    code: str
    name: str
    parent: str | None
    path: list[str]


@router.get("/v1/codes", response_model=list[CategoryOut], summary="The request-category code table")
def list_codes(request: Request, account: Account = Depends(allow(*STAFF))) -> list[CategoryOut]:
    return [CategoryOut(code=c.code, name=c.name, parent=c.parent, path=list(c.path))
            for c in CodeTable(get_services(request).db).all()]


class CodesImported(BaseModel):
    categories: int
    note: str


@router.put("/v1/codes", response_model=CodesImported, summary="Replace the code table with an uploaded CSV",
            openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}})
async def import_codes(request: Request, admin: Account = Depends(allow(Role.ADMIN))) -> CodesImported:
    data = await request.body()
    name = request.headers.get("x-filename") or "the uploaded code table"
    categories = parse_code_table(data, name)
    count = await run_in_threadpool(CodeTable(get_services(request).db).replace, categories, by=admin.username, source=name)
    return CodesImported(categories=count, note="Tickets are filed under the new table by each worker from its next start.")
