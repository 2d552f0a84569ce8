"""`frontdoor db backup FILE` and `frontdoor db restore FILE`: a whole, consistent copy taken while the service
writes, and the same data back from it; a database that holds data is only replaced when forced.

SQLite always; PostgreSQL (pg_dump / pg_restore) when FRONTDOOR_TEST_POSTGRES_URL is set, each test on fresh
databases of its own."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from storage import Database
from storage.audit import AuditLog
from storage.backup import BackupProblem, backup, restore


def frontdoor(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "frontdoor", "db", *args], env=env, capture_output=True, text=True)


def contents(db: Database) -> dict[str, list]:
    """Every row of every table, order aside."""
    found = {}
    with db.engine.connect() as connection:
        for table in inspect(db.engine).get_table_names():
            rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
            found[table] = sorted((tuple(map(repr, row)) for row in rows))
    return found


def write_events(db: Database, count: int, who: str = "seat") -> None:
    audit = AuditLog(db)
    for number in range(count):
        audit.record(actor=who, action="ticket.claim", target=f"ticket:{number}", at=datetime.now(timezone.utc))


def sqlite_database(folder: Path, name: str = "frontdoor.db", *, migrate: bool = True) -> Database:
    db = Database(f"sqlite:///{folder / name}")
    if migrate:
        db.migrate()
    return db


# ---- SQLite ----------------------------------------------------------------------------------------
def test_a_backup_taken_while_the_service_writes_is_whole_and_consistent(tmp_path):
    live = sqlite_database(tmp_path)
    write_events(live, 50)
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            write_events(live, 1, who="writer")

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        done = frontdoor(str(live.url), "backup", str(tmp_path / "during.db"))
    finally:
        stop.set()
        writer.join()
    assert done.returncode == 0, done.stderr
    copy = sqlite_database(tmp_path, "during.db", migrate=False)
    with copy.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM audit_events WHERE actor = 'seat'").scalar() == 50


def test_a_restored_database_holds_exactly_what_was_backed_up(tmp_path):
    live = sqlite_database(tmp_path)
    write_events(live, 20)
    assert frontdoor(str(live.url), "backup", str(tmp_path / "backup.db")).returncode == 0
    fresh_url = f"sqlite:///{tmp_path / 'elsewhere' / 'frontdoor.db'}"
    done = frontdoor(fresh_url, "restore", str(tmp_path / "backup.db"))
    assert done.returncode == 0, done.stderr
    assert contents(Database(fresh_url)) == contents(live)


def test_restore_refuses_a_database_that_holds_data(tmp_path):
    live = sqlite_database(tmp_path)
    write_events(live, 3)
    backup(live, tmp_path / "backup.db")
    write_events(live, 2, who="later")
    done = frontdoor(str(live.url), "restore", str(tmp_path / "backup.db"))
    assert done.returncode == 2 and "--force" in done.stderr
    assert len(contents(live)["audit_events"]) == 5  # untouched


def test_restore_with_force_replaces_the_data(tmp_path):
    live = sqlite_database(tmp_path)
    write_events(live, 3)
    backup(live, tmp_path / "backup.db")
    expected = contents(live)
    write_events(live, 2, who="later")
    done = frontdoor(str(live.url), "restore", "--force", str(tmp_path / "backup.db"))
    assert done.returncode == 0, done.stderr
    assert contents(live) == expected


def test_restore_refuses_a_file_that_is_not_a_frontdoor_backup(tmp_path):
    (tmp_path / "notes.db").write_text("not a database")
    with pytest.raises(BackupProblem, match="not a SQLite database"):
        restore(sqlite_database(tmp_path, "empty.db", migrate=False), tmp_path / "notes.db")


# ---- PostgreSQL ----------------------------------------------------------------------------------------
@pytest.fixture
def postgres_databases(_postgres_admin):
    """Two fresh, empty PostgreSQL databases of this test's own (pg_dump copies a whole database)."""
    names = [f"backup_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with _postgres_admin.connect() as connection:
        for name in names:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    databases = [Database(_postgres_admin.url.set(database=name)) for name in names]
    yield databases
    for db in databases:
        db.dispose()
    with _postgres_admin.connect() as connection:
        for name in names:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def url_of(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


@pytest.mark.postgres
def test_a_postgres_backup_restores_into_an_empty_database_with_the_same_data(postgres_databases, tmp_path):
    live, fresh = postgres_databases
    live.migrate()
    write_events(live, 20)
    done = frontdoor(url_of(live), "backup", str(tmp_path / "frontdoor.dump"))
    assert done.returncode == 0, done.stderr
    done = frontdoor(url_of(fresh), "restore", str(tmp_path / "frontdoor.dump"))
    assert done.returncode == 0, done.stderr
    assert contents(fresh) == contents(live)


@pytest.mark.postgres
def test_a_postgres_restore_refuses_a_database_that_holds_data_unless_forced(postgres_databases, tmp_path):
    live, _ = postgres_databases
    live.migrate()
    write_events(live, 3)
    backup(live, tmp_path / "frontdoor.dump")
    expected = contents(live)
    write_events(live, 2, who="later")
    refused = frontdoor(url_of(live), "restore", str(tmp_path / "frontdoor.dump"))
    assert refused.returncode == 2 and "--force" in refused.stderr
    forced = frontdoor(url_of(live), "restore", "--force", str(tmp_path / "frontdoor.dump"))
    assert forced.returncode == 0, forced.stderr
    assert contents(live) == expected
