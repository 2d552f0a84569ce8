"""Accounts and their sessions, in the database.

A browser's sign-in and a machine's API token are both random tokens handed out once; the database keeps
only their SHA-256, with an expiry. Every write records an audit event in the same transaction. Failed
sign-ins are audit events too, and they are what the lockout counts (so every worker sees the same count).
"""
from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from accounts.passwords import Passwords
from accounts.roles import Account, Role
from ground.regions import REGION_SEPARATOR
from ground.clock import utcnow
from ground.errors import DomainError, ErrorKind
from storage.audit import record
from storage.database import Database
from storage.tables import AccountRow, AccountSessionRow, AuditEventRow

USERNAME_PATTERN = r"^[a-z0-9_.-]{2,50}$"
SESSION_KINDS = ("session", "token")
LAST_SEEN_EVERY = timedelta(minutes=1)
LOGIN_FAILED = "auth.login_failed"
# A successful sign-in or a new password starts the count of failures afresh.
_FAILURES_RESET_BY = ("auth.login", "account.password")
SPREAD_GUESSING = 10  # failures for one username from anywhere, in multiples of max_failed_logins, that lock it


def _actor(address: str | None) -> str:
    """The actor of a failed sign-in: whoever is at the address it came from (unknown: a command line)."""
    return f"address:{address}"[:100] if address else "address:unknown"


class AccountProblem(DomainError, ValueError):
    """A request about accounts that cannot be done as asked; `code` names the problem for the API."""

    code, kind = "invalid_account", ErrorKind.INVALID


class AccountExists(AccountProblem):
    code, kind = "account_exists", ErrorKind.CONFLICT


class AccountNotFound(AccountProblem):
    code, kind = "account_not_found", ErrorKind.NOT_FOUND


class LockedOut(DomainError):
    """Too many failed sign-ins for one username in a short time; try again at `retry_at`."""

    code, kind = "locked_out", ErrorKind.TOO_MANY

    def __init__(self, username: str, retry_at: datetime, *, address: str | None = None) -> None:
        whom = f"from {address}" if address else f"for {username!r}"
        super().__init__(f"Too many failed sign-ins {whom}; try again after {retry_at.isoformat(timespec='seconds')}, "
                         "or ask an administrator to set a new password.")
        self.username, self.retry_at, self.address = username, retry_at, address


@dataclass(frozen=True)
class AccountInfo:
    """An account as an administrator sees it."""

    account: Account
    created_at: datetime
    created_by: str
    password_changed_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_username(username: str) -> str:
    if not isinstance(username, str) or not re.fullmatch(USERNAME_PATTERN, username):
        raise AccountProblem(f"The username {username!r} is not allowed: use 2–50 lower-case letters, digits, '_', '.' or '-' "
                             "(e.g. li.ming or yz-editor-01).")
    return username


def parse_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountProblem(f"There is no role {role!r}: use one of {', '.join(r.value for r in Role)}.") from None


def normalise_region(region: str | None) -> str:
    region = (region or "").strip().strip(REGION_SEPARATOR)
    if len(region) > 200:
        raise AccountProblem("A region has at most 200 characters, e.g. 江苏省/扬州市.")
    if any(not part.strip() for part in region.split(REGION_SEPARATOR)) and region:
        raise AccountProblem(f"The region {region!r} has an empty part: write it from the province down, e.g. 江苏省/扬州市.")
    return region


def _display_name(name: str | None, username: str) -> str:
    name = (name or "").strip() or username
    if len(name) > 200:
        raise AccountProblem("A display name has at most 200 characters.")
    return name


def _account(row: AccountRow) -> Account:
    return Account(username=row.username, display_name=row.display_name, role=Role(row.role), region=row.region,
                   may_edit_wider=bool(row.may_edit_wider), active=bool(row.active))


class AccountStore:
    """Accounts, passwords, sessions and API tokens (see accounts/roles.py for what a role may do)."""

    def __init__(self, db: Database, *, session_hours: float = 12, token_days: float = 365, max_failed_logins: int = 5,
                 lockout_minutes: float = 15, max_failed_logins_per_address: int = 20, passwords: Passwords | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.session_lifetime = timedelta(hours=session_hours)
        self.token_lifetime = timedelta(days=token_days)
        self.max_failed_logins = max_failed_logins
        self.max_failed_logins_per_address = max_failed_logins_per_address
        self.lockout = timedelta(minutes=lockout_minutes)
        self.passwords = passwords or Passwords()
        self.clock = clock

    @cached_property
    def _dummy_hash(self) -> str:
        """Verified against for unknown usernames, so that they take as long as known ones."""
        return self.passwords.hash(secrets.token_urlsafe(16))

    # ---- accounts ------------------------------------------------------------------------------
    def create(self, username: str, password: str, role: Role | str, *, region: str | None = "", may_edit_wider: bool = False,
               display_name: str | None = None, by: str) -> Account:
        username, role, region = check_username(username), parse_role(role), normalise_region(region)
        name = _display_name(display_name, username)
        password_hash = self.passwords.hash(password)
        now = self.clock()
        with self.db.session(write=True) as session:
            if session.get(AccountRow, username) is not None:
                raise AccountExists(f"An account {username!r} exists already; change it instead (PATCH /v1/accounts/{username}).")
            session.add(AccountRow(username=username, display_name=name, password_hash=password_hash, role=role.value,
                                   region=region, may_edit_wider=may_edit_wider, active=True, created_at=now,
                                   created_by=by, password_changed_at=now))
            record(session, actor=by, action="account.create", target=f"account:{username}", at=now,
                   role=role.value, region=region, may_edit_wider=may_edit_wider, display_name=name)
        return Account(username, name, role, region, may_edit_wider, True)

    def get(self, username: str) -> Account | None:
        with self.db.session() as session:
            row = session.get(AccountRow, username)
            return _account(row) if row is not None else None

    def list(self) -> list[AccountInfo]:
        with self.db.session() as session:
            rows = session.scalars(select(AccountRow).order_by(AccountRow.username))
            return [AccountInfo(_account(r), r.created_at, r.created_by, r.password_changed_at) for r in rows]

    def update(self, username: str, *, by: str, role: Role | str | None = None, region: str | None = None,
               may_edit_wider: bool | None = None, active: bool | None = None, display_name: str | None = None) -> Account:
        """Changes what is given; deactivating an account also ends its sessions and tokens."""
        changes: dict = {}
        if role is not None:
            changes["role"] = parse_role(role).value
        if region is not None:
            changes["region"] = normalise_region(region)
        if may_edit_wider is not None:
            changes["may_edit_wider"] = bool(may_edit_wider)
        if active is not None:
            changes["active"] = bool(active)
        if display_name is not None:
            changes["display_name"] = _display_name(display_name, username)
        now = self.clock()
        with self.db.session(write=True) as session:
            row = self._row(session, username)
            changed = {name: value for name, value in changes.items() if getattr(row, name) != value}
            for name, value in changed.items():
                setattr(row, name, value)
            if changed:
                record(session, actor=by, action="account.update", target=f"account:{username}", at=now, **changed)
            if changed.get("active") is False:
                self._revoke_sessions(session, username, now)
            return _account(row)

    def set_password(self, username: str, password: str, *, by: str, keep_token: str | None = None) -> None:
        """A new password; every other session and token of the account ends (all but `keep_token`, the
        session of someone changing their own password)."""
        password_hash = self.passwords.hash(password)
        now = self.clock()
        with self.db.session(write=True) as session:
            row = self._row(session, username)
            row.password_hash, row.password_changed_at = password_hash, now
            self._revoke_sessions(session, username, now, keep=token_hash(keep_token) if keep_token else None)
            record(session, actor=by, action="account.password", target=f"account:{username}", at=now)

    @staticmethod
    def _row(session: Session, username: str) -> AccountRow:
        row = session.get(AccountRow, username)
        if row is None:
            raise AccountNotFound(f"There is no account {username!r}; GET /v1/accounts lists them.")
        return row

    # ---- signing in ----------------------------------------------------------------------------
    def authenticate(self, username: str, password: str, address: str | None = None) -> Account | None:
        """The account when the password is right and the account active, else None (recorded as a failure, with
        the `address` it came from as its actor).

        Raises LockedOut, within `lockout` of the failures: after `max_failed_logins` for this username from this
        address (so that a stranger cannot lock a colleague out with five requests); after
        `max_failed_logins_per_address` from this address, whatever the usernames; and after ten times
        `max_failed_logins` for this username from anywhere (guessing spread over many addresses)."""
        now = self.clock()
        if (retry_at := self.locked_until(username, now, address)) is not None:
            raise LockedOut(username, retry_at)
        if (retry_at := self.address_locked_until(address, now)) is not None:
            raise LockedOut(username, retry_at, address=address)
        with self.db.session() as session:
            row = session.get(AccountRow, username)
            stored = (row.password_hash, bool(row.active)) if row is not None else None
        if stored is None:
            self.passwords.verify(self._dummy_hash, password)  # as slow as a real check
            return self._failed(username, now, "unknown_account", address)
        password_hash, active = stored
        if not self.passwords.verify(password_hash, password):
            return self._failed(username, now, "wrong_password", address)
        if not active:
            return self._failed(username, now, "inactive", address)
        if self.passwords.needs_rehash(password_hash):
            with self.db.session(write=True) as session:
                row = session.get(AccountRow, username)
                if row is not None and row.password_hash == password_hash:
                    row.password_hash = self.passwords.hasher.hash(password)
                    record(session, actor=username, action="account.rehash", target=f"account:{username}", at=now)
        return self.get(username)

    def _failed(self, username: str, now: datetime, reason: str, address: str | None) -> None:
        with self.db.session(write=True) as session:
            record(session, actor=_actor(address), action=LOGIN_FAILED, target=f"account:{username}"[:300], at=now,
                   reason=reason)
        return None

    def locked_until(self, username: str, now: datetime | None = None, address: str | None = None) -> datetime | None:
        """When sign-in for `username` from `address` opens again, if it is locked now: by its failures from
        this address, or by ten times as many from anywhere."""
        now = now or self.clock()
        target = f"account:{username}"[:300]
        with self.db.session() as session:
            reset = session.scalar(select(func.max(AuditEventRow.id)).where(
                AuditEventRow.target == target, AuditEventRow.action.in_(_FAILURES_RESET_BY)))
            query = (select(AuditEventRow.at, AuditEventRow.actor)
                     .where(AuditEventRow.target == target, AuditEventRow.action == LOGIN_FAILED,
                            AuditEventRow.at > now - self.lockout)
                     .order_by(AuditEventRow.id.desc()).limit(self.max_failed_logins * SPREAD_GUESSING))
            if reset is not None:
                query = query.where(AuditEventRow.id > reset)
            failures = session.execute(query).all()
        here = [at for at, actor in failures if actor == _actor(address)][:self.max_failed_logins]
        if len(here) >= self.max_failed_logins:
            return min(here) + self.lockout
        if len(failures) >= self.max_failed_logins * SPREAD_GUESSING:
            return min(at for at, _ in failures) + self.lockout
        return None

    def address_locked_until(self, address: str | None, now: datetime | None = None) -> datetime | None:
        """When sign-in from `address` opens again, if it failed `max_failed_logins_per_address` times within
        `lockout`, whatever the usernames tried."""
        if not address:
            return None
        now = now or self.clock()
        with self.db.session() as session:
            failures = list(session.scalars(
                select(AuditEventRow.at).where(AuditEventRow.action == LOGIN_FAILED, AuditEventRow.actor == _actor(address),
                                               AuditEventRow.at > now - self.lockout)
                .order_by(AuditEventRow.id.desc()).limit(self.max_failed_logins_per_address)))
        if len(failures) < self.max_failed_logins_per_address:
            return None
        return min(failures) + self.lockout

    # ---- sessions and tokens -------------------------------------------------------------------
    def open_session(self, username: str, kind: str = "session", lifetime: timedelta | None = None, *,
                     by: str | None = None) -> tuple[str, datetime]:
        """A new token for the account: (the token, to hand out once; when it expires). `kind` is "session" (a
        browser's sign-in, `session_hours`) or "token" (a machine's API token, `token_days`)."""
        if kind not in SESSION_KINDS:
            raise AccountProblem(f"kind must be one of {', '.join(SESSION_KINDS)}, not {kind!r}")
        lifetime = lifetime or (self.session_lifetime if kind == "session" else self.token_lifetime)
        if lifetime <= timedelta(0):
            raise AccountProblem("A session or token must last longer than no time at all.")
        token = secrets.token_urlsafe(32)
        now = self.clock()
        expires_at = now + lifetime
        with self.db.session(write=True) as session:
            row = self._row(session, username)
            if not row.active:
                raise AccountProblem(f"The account {username!r} is deactivated; activate it first.")
            session.add(AccountSessionRow(token_hash=token_hash(token), username=username, kind=kind, created_at=now,
                                          expires_at=expires_at, last_seen_at=None, revoked_at=None))
            action = "auth.login" if kind == "session" else "account.token"
            record(session, actor=by or username, action=action, target=f"account:{username}", at=now,
                   kind=kind, expires_at=expires_at.isoformat())
        return token, expires_at

    def resolve(self, token: str) -> Account | None:
        """The account a token signs in, while the token is unexpired and unrevoked and the account active."""
        if not token or len(token) > 200:
            return None
        key, now = token_hash(token), self.clock()
        with self.db.session() as session:
            found = session.execute(select(AccountSessionRow, AccountRow).join(
                AccountRow, AccountRow.username == AccountSessionRow.username).where(AccountSessionRow.token_hash == key)).first()
            if found is None:
                return None
            row, account_row = found
            if row.revoked_at is not None or row.expires_at <= now or not account_row.active:
                return None
            account, last_seen = _account(account_row), row.last_seen_at
        if last_seen is None or now - last_seen >= LAST_SEEN_EVERY:
            with self.db.session(write=True) as session:
                session.execute(update(AccountSessionRow).where(AccountSessionRow.token_hash == key).values(last_seen_at=now))
        return account

    def expires_at(self, token: str) -> datetime | None:
        with self.db.session() as session:
            row = session.get(AccountSessionRow, token_hash(token))
            return row.expires_at if row is not None else None

    def revoke(self, token: str) -> bool:
        """Ends one session or token (a sign-out); False when there was none to end."""
        now = self.clock()
        with self.db.session(write=True) as session:
            row = session.get(AccountSessionRow, token_hash(token))
            if row is None or row.revoked_at is not None:
                return False
            row.revoked_at = now
            record(session, actor=row.username, action="auth.logout", target=f"account:{row.username}", at=now, kind=row.kind)
            return True

    def revoke_all(self, username: str, *, by: str) -> int:
        """Ends every session and token of the account; how many there were."""
        now = self.clock()
        with self.db.session(write=True) as session:
            self._row(session, username)
            count = self._revoke_sessions(session, username, now)
            record(session, actor=by, action="account.revoke", target=f"account:{username}", at=now, sessions=count)
            return count

    @staticmethod
    def _revoke_sessions(session: Session, username: str, now: datetime, keep: str | None = None) -> int:
        query = update(AccountSessionRow).where(AccountSessionRow.username == username,
                                                AccountSessionRow.revoked_at.is_(None)).values(revoked_at=now)
        if keep is not None:
            query = query.where(AccountSessionRow.token_hash != keep)
        return session.execute(query).rowcount or 0
