"""A copy of the whole database in one file, and the database back from it (`frontdoor db backup|restore FILE`).

SQLite: the online backup API (sqlite3's `Connection.backup`), which copies a consistent snapshot while the service
keeps reading and writing; the restore goes through the same API into the live file, so workers that have it
open see the restored data and the WAL is never torn. PostgreSQL: `pg_dump --format=custom` and `pg_restore`,
found on PATH (or Debian's /usr/lib/postgresql/*/bin), in one transaction. A restore refuses a database that
already holds data unless forced: restoring over the live hotline by mistake would lose every ticket since the
backup. Like the migrations, this takes a database URL, never the settings."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL

from ground.errors import DomainError, ErrorKind
from storage.database import Database

SCHEMA_VERSION_TABLE = "alembic_version"  # Alembic's own: a freshly migrated database holds only this
DEBIAN_POSTGRES_BIN = Path("/usr/lib/postgresql")


class BackupProblem(DomainError):
    code, kind = "backup_failed", ErrorKind.INVALID


@dataclass(frozen=True)
class Restored:
    tables: int  # tables that hold data after the restore


def backup(db: Database, target: Path) -> Path:
    """Writes the whole database to `target` (a SQLite file, or pg_dump's custom format); the path written."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")  # a backup cut short never looks like a whole one
    if db.is_sqlite:
        _sqlite_backup(_sqlite_path(db.url), partial)
    else:
        _run(_postgres_tool("pg_dump"), db.url, "--format=custom", "--no-owner", f"--file={partial}")
    partial.replace(target)
    return target


def restore(db: Database, source: Path, *, force: bool = False) -> Restored:
    """Replaces the database's contents with the backup in `source`. Refuses a database that holds data unless
    `force`. The schema is the backup's: `frontdoor db upgrade` (or a worker's start) brings it up to date."""
    source = Path(source)
    if not source.is_file():
        raise BackupProblem(f"{source}: no such backup file")
    if not force and holds_data(db):
        raise BackupProblem(f"the database {db.url.render_as_string(hide_password=True)} already holds data; restoring "
                            "would replace it. Restore into an empty database, or pass --force to replace it.")
    if db.is_sqlite:
        _check_sqlite_backup(source)
        _sqlite_backup(source, _sqlite_path(db.url))
    else:
        _run(_postgres_tool("pg_restore"), db.url, f"--dbname={db.url.database}", "--clean", "--if-exists", "--no-owner",
             "--single-transaction", "--exit-on-error", str(source))
    return Restored(tables=len(tables_with_data(db)))


def holds_data(db: Database) -> bool:
    return bool(tables_with_data(db))


def tables_with_data(db: Database) -> list[str]:
    """The tables (of the database's schema) that hold at least one row, besides the schema's version."""
    names = [n for n in inspect(db.engine).get_table_names() if n != SCHEMA_VERSION_TABLE]
    with db.engine.connect() as connection:
        preparer = db.engine.dialect.identifier_preparer
        return [n for n in names
                if connection.execute(text(f"SELECT 1 FROM {preparer.quote(n)} LIMIT 1")).first() is not None]


# ---- SQLite ----------------------------------------------------------------------------------------
def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupProblem(f"only a SQLite database in a file can be backed up or restored, not {url.database!r}")
    return Path(url.database).expanduser()


def _sqlite_backup(source: Path, target: Path) -> None:
    """Copies `source` into `target` with the online backup API: one consistent snapshot (a read transaction
    on the source; writers carry on in the WAL meanwhile)."""
    with _closing(sqlite3.connect(source)) as reading, _closing(sqlite3.connect(target)) as writing:
        writing.execute("PRAGMA busy_timeout = 15000")  # a worker may hold the live file's write lock a moment
        try:
            reading.backup(writing)
        except sqlite3.Error as error:
            raise BackupProblem(f"copying {source} to {target} failed: {error}") from error


def _check_sqlite_backup(source: Path) -> None:
    try:
        with _closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as connection:
            intact = connection.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as error:
        raise BackupProblem(f"{source} is not a SQLite database ({error})") from error
    if intact != "ok":
        raise BackupProblem(f"{source} is damaged (integrity check: {intact}); nothing was restored")
    if SCHEMA_VERSION_TABLE not in tables:
        raise BackupProblem(f"{source} is not a Frontdoor database (it has no {SCHEMA_VERSION_TABLE}); nothing was restored")


class _closing:
    """sqlite3's connection as a context manager commits but does not close; this closes."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        return self.connection

    def __exit__(self, *exc) -> None:
        self.connection.close()


# ---- PostgreSQL --------------------------------------------------------------------------------------
def _postgres_tool(name: str) -> str:
    """pg_dump or pg_restore: on PATH, else the newest of Debian's /usr/lib/postgresql/<major>/bin."""
    found = shutil.which(name)
    if found:
        return found
    installed = sorted(DEBIAN_POSTGRES_BIN.glob(f"*/bin/{name}"), key=lambda p: _major(p.parents[1].name))
    if installed:
        return str(installed[-1])
    raise BackupProblem(f"{name} was not found on PATH or in {DEBIAN_POSTGRES_BIN}/*/bin: install PostgreSQL's client "
                        "programs of the server's major version or newer (Debian: apt-get install postgresql-client)")


def _major(version: str) -> int:
    return int(version) if version.isdigit() else 0


def _libpq_environment(url: URL) -> dict[str, str]:
    """The connection as libpq's variables: the password stays out of the command line (and out of `ps`)."""
    env = {"PGHOST": url.host or "", "PGPORT": str(url.port or ""), "PGUSER": url.username or "",
           "PGPASSWORD": url.password or "", "PGDATABASE": url.database or ""}
    options = url.query.get("options")
    if options:  # e.g. -csearch_path=… for a schema of its own
        env["PGOPTIONS"] = options if isinstance(options, str) else " ".join(options)
    return {**os.environ, **{k: v for k, v in env.items() if v}}


def _run(tool: str, url: URL, *args: str) -> None:
    done = subprocess.run([tool, *args], env=_libpq_environment(url), capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupProblem(f"{Path(tool).name} failed: {done.stderr.strip()[-2000:]}")
