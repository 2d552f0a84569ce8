"""Accounts, passwords, sessions and the sign-in lockout (accounts/store.py), on SQLite and PostgreSQL."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from accounts.passwords import PasswordRejected, Passwords
from accounts.roles import Account, Role
from accounts.store import AccountExists, AccountNotFound, AccountProblem, AccountStore, LockedOut
from storage.audit import AuditLog
from storage.tables import AccountRow, AccountSessionRow

PASSWORD = "correct horse battery"
# Cheap argon2id parameters keep the tests quick; one test checks the real defaults.
QUICK = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db, clock) -> AccountStore:
    return AccountStore(db, session_hours=12, token_days=365, max_failed_logins=5, lockout_minutes=15,
                        passwords=Passwords(QUICK), clock=clock)


def stored_hash(db, username: str) -> str:
    with db.session() as session:
        return session.get(AccountRow, username).password_hash


def actions(db, username: str) -> list[str]:
    return [event.action for event in reversed(AuditLog(db).list(target=f"account:{username}"))]


def test_a_password_is_kept_as_an_argon2id_hash_and_checked(db):
    store = AccountStore(db)  # the real parameters
    store.create("li.ming", PASSWORD, Role.EDITOR, by="admin")
    kept = stored_hash(db, "li.ming")
    assert kept.startswith("$argon2id$") and PASSWORD not in kept and "m=65536,t=3" in kept
    assert store.authenticate("li.ming", PASSWORD) == Account("li.ming", "li.ming", Role.EDITOR)
    assert store.authenticate("li.ming", PASSWORD + "!") is None
    assert store.authenticate("nobody", PASSWORD) is None


def test_bad_accounts_are_refused_with_what_to_do(store):
    with pytest.raises(PasswordRejected, match="at least 10 characters"):
        store.create("li.ming", "short", Role.EDITOR, by="admin")
    with pytest.raises(AccountProblem, match="lower-case letters"):
        store.create("Li Ming", PASSWORD, Role.EDITOR, by="admin")
    with pytest.raises(AccountProblem, match="editor, reviewer, seat, admin"):
        store.create("li.ming", PASSWORD, "boss", by="admin")
    store.create("li.ming", PASSWORD, "editor", by="admin")
    with pytest.raises(AccountExists):
        store.create("li.ming", PASSWORD, Role.SEAT, by="admin")
    with pytest.raises(AccountNotFound):
        store.update("nobody", role=Role.ADMIN, by="admin")
    assert [info.account.username for info in store.list()] == ["li.ming"]


def test_a_session_token_signs_in_until_it_expires_and_only_its_hash_is_kept(db, store, clock):
    store.create("wang", PASSWORD, Role.REVIEWER, by="admin")
    token, expires_at = store.open_session("wang")
    assert len(token) >= 40 and expires_at == clock.now + timedelta(hours=12)
    with db.session() as session:
        [row] = session.scalars(select(AccountSessionRow))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
    assert store.resolve(token).username == "wang"
    assert store.resolve(token + "x") is None and store.resolve("") is None
    clock.advance(hours=11, minutes=59)
    assert store.resolve(token) is not None
    clock.advance(minutes=1)
    assert store.resolve(token) is None


def test_an_api_token_lasts_its_own_lifetime(store, clock):
    store.create("switch", PASSWORD, Role.SEAT, by="admin")
    token, expires_at = store.open_session("switch", "token", by="admin")
    assert expires_at == clock.now + timedelta(days=365)
    short, short_expiry = store.open_session("switch", "token", timedelta(days=2), by="admin")
    clock.advance(days=3)
    assert store.resolve(short) is None and store.resolve(token).role is Role.SEAT
    with pytest.raises(AccountProblem):
        store.open_session("switch", "cookie")


def test_last_seen_is_written_at_most_once_a_minute(db, store, clock):
    store.create("wang", PASSWORD, Role.REVIEWER, by="admin")
    token, _ = store.open_session("wang")

    def last_seen():
        with db.session() as session:
            return session.scalar(select(AccountSessionRow.last_seen_at))

    store.resolve(token)
    first = last_seen()
    assert first == clock.now
    clock.advance(seconds=30)
    store.resolve(token)
    assert last_seen() == first
    clock.advance(seconds=31)
    store.resolve(token)
    assert last_seen() == clock.now


def test_signing_out_revokes_one_session_and_revoke_all_ends_every_one(store):
    store.create("wang", PASSWORD, Role.REVIEWER, by="admin")
    one, _ = store.open_session("wang")
    two, _ = store.open_session("wang")
    api, _ = store.open_session("wang", "token", by="admin")
    assert store.revoke(one) is True and store.revoke(one) is False
    assert store.resolve(one) is None and store.resolve(two) is not None
    assert store.revoke_all("wang", by="admin") == 2
    assert store.resolve(two) is None and store.resolve(api) is None


def test_a_deactivated_account_cannot_sign_in_and_its_sessions_end(store):
    store.create("zhao", PASSWORD, Role.EDITOR, by="admin")
    token, _ = store.open_session("zhao")
    changed = store.update("zhao", active=False, by="admin")
    assert changed.active is False
    assert store.resolve(token) is None
    assert store.authenticate("zhao", PASSWORD) is None
    with pytest.raises(AccountProblem, match="deactivated"):
        store.open_session("zhao")
    store.update("zhao", active=True, by="admin")
    assert store.authenticate("zhao", PASSWORD) is not None
    assert store.resolve(token) is None  # reactivating does not bring old sessions back


def test_a_role_change_applies_to_open_sessions_at_once(store):
    store.create("zhao", PASSWORD, Role.EDITOR, by="admin")
    token, _ = store.open_session("zhao")
    store.update("zhao", role=Role.REVIEWER, display_name="赵审核", by="admin")
    assert store.resolve(token) == Account("zhao", "赵审核", Role.REVIEWER)


def test_a_new_password_ends_the_other_sessions(store):
    store.create("qian", PASSWORD, Role.SEAT, by="admin")
    mine, _ = store.open_session("qian")
    other, _ = store.open_session("qian")
    with pytest.raises(PasswordRejected):
        store.set_password("qian", "123", by="qian", keep_token=mine)
    store.set_password("qian", "a much better passphrase", by="qian", keep_token=mine)
    assert store.resolve(mine) is not None and store.resolve(other) is None
    assert store.authenticate("qian", PASSWORD) is None
    assert store.authenticate("qian", "a much better passphrase") is not None


def test_too_many_failures_lock_the_username_for_a_while(db, store, clock):
    store.create("sun", PASSWORD, Role.EDITOR, by="admin")
    for _ in range(4):
        assert store.authenticate("sun", "wrong password") is None
        clock.advance(minutes=1)
    assert store.authenticate("sun", PASSWORD) is not None  # a success starts the count afresh
    store.open_session("sun")
    first_failure = clock.now
    for _ in range(5):
        assert store.authenticate("sun", "wrong password") is None
        clock.advance(minutes=1)
    # Another worker (another store on the same database) sees the same lock, even for the right password.
    other_worker = AccountStore(db, passwords=Passwords(QUICK), clock=clock)
    with pytest.raises(LockedOut) as locked:
        other_worker.authenticate("sun", PASSWORD)
    assert locked.value.retry_at == first_failure + timedelta(minutes=15)
    assert "try again after" in str(locked.value)
    clock.now = locked.value.retry_at + timedelta(seconds=1)
    assert store.authenticate("sun", PASSWORD) is not None
    # Unknown usernames count too (and cost as much as known ones), without touching anyone else.
    for _ in range(5):
        store.authenticate("ghost", "guess-guess")
    with pytest.raises(LockedOut):
        store.authenticate("ghost", "guess-guess")
    assert store.authenticate("sun", PASSWORD) is not None


def test_a_hash_made_with_older_parameters_is_remade_at_sign_in(db, clock):
    weak = AccountStore(db, passwords=Passwords(QUICK), clock=clock)
    weak.create("zhou", PASSWORD, Role.ADMIN, by="cli")
    before = stored_hash(db, "zhou")
    stronger = AccountStore(db, passwords=Passwords(PasswordHasher(time_cost=2, memory_cost=16 * 1024, parallelism=1)), clock=clock)
    assert stronger.passwords.needs_rehash(before)
    assert stronger.authenticate("zhou", PASSWORD) is not None
    after = stored_hash(db, "zhou")
    assert after != before and "m=16384,t=2" in after and not stronger.passwords.needs_rehash(after)
    assert stronger.authenticate("zhou", PASSWORD) is not None
    assert "account.rehash" in actions(db, "zhou")


def test_every_write_is_in_the_audit_trail(db, store):
    store.create("wu", PASSWORD, Role.EDITOR, region="江苏省/扬州市", by="admin")
    store.authenticate("wu", "not the password")
    token, _ = store.open_session("wu")
    store.update("wu", may_edit_wider=True, by="admin")
    store.update("wu", may_edit_wider=True, by="admin")  # no change, no event
    store.set_password("wu", "another long password", by="admin")
    store.open_session("wu", "token", by="admin")
    store.revoke_all("wu", by="admin")
    assert actions(db, "wu") == ["account.create", "auth.login_failed", "auth.login", "account.update", "account.password",
                                 "account.token", "account.revoke"]
    [update] = AuditLog(db).list(action="account.update")
    assert update.actor == "admin" and update.detail == {"may_edit_wider": True}
    [created] = AuditLog(db).list(action="account.create")
    assert created.detail["region"] == "江苏省/扬州市" and "password" not in str(created.detail)


def test_a_regional_account_changes_its_own_region_and_wider_entries_only_when_allowed(store):
    yangzhou = store.create("yz-editor", PASSWORD, Role.EDITOR, region="江苏省/扬州市/", display_name="扬州编辑", by="admin")
    assert yangzhou.region == "江苏省/扬州市" and store.get("yz-editor") == yangzhou
    assert yangzhou.may_change("江苏省/扬州市") and yangzhou.may_change("江苏省/扬州市/邗江区")
    assert not yangzhou.may_change("江苏省") and not yangzhou.may_change("")
    assert not yangzhou.may_change("江苏省/南京市")
    wider = store.update("yz-editor", may_edit_wider=True, by="admin")
    assert wider.may_change("江苏省") and wider.may_change("") and not wider.may_change("江苏省/南京市")
    everywhere = store.create("province", PASSWORD, Role.REVIEWER, by="admin")
    assert everywhere.may_change("江苏省/南京市") and everywhere.may_change("")


def test_a_stranger_cannot_lock_a_colleague_out_from_another_address(store):
    store.create("zhou", PASSWORD, Role.SEAT, by="admin")
    for _ in range(5):
        assert store.authenticate("zhou", "wrong password", "203.0.113.9") is None
    with pytest.raises(LockedOut):
        store.authenticate("zhou", PASSWORD, "203.0.113.9")
    assert store.authenticate("zhou", PASSWORD, "10.1.2.3") is not None  # the colleague at their own desk


def test_an_address_that_tries_many_usernames_is_locked_out_whatever_it_tries_next(store):
    store.create("wang", PASSWORD, Role.SEAT, by="admin")
    for n in range(20):  # max_failed_logins_per_address
        store.authenticate(f"guess-{n}", "guess-guess", "198.51.100.7")
    with pytest.raises(LockedOut) as locked:
        store.authenticate("wang", PASSWORD, "198.51.100.7")
    assert locked.value.address == "198.51.100.7" and "from 198.51.100.7" in str(locked.value)
    assert store.authenticate("wang", PASSWORD, "10.1.2.3") is not None


def test_guessing_one_username_from_many_addresses_locks_it_everywhere(store):
    store.create("chen", PASSWORD, Role.SEAT, by="admin")
    for n in range(50):  # ten times max_failed_logins, each address under its own limit
        store.authenticate("chen", "guess-guess", f"192.0.2.{n}")
    with pytest.raises(LockedOut):
        store.authenticate("chen", PASSWORD, "10.1.2.3")
