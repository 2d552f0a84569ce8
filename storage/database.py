"""One database for the whole product, built from a URL.

SQLite (a file) is the embedded default; PostgreSQL (``postgresql+psycopg://…``) is for several workers
or machines sharing the load. The schema is created and upgraded only by Alembic migrations
(``storage/migrations``), never by ``create_all``.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15_000
# Any constant will do; it only has to be the same in every worker that migrates the same database.
_MIGRATION_LOCK_KEY = 0x12345F


def normalise_url(url: str | URL) -> URL:
    """`postgres://` and `postgresql://` become `postgresql+psycopg://` (the driver we ship)."""
    url = make_url(url)
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def _json_dumps(value) -> str:
    # Keep Chinese readable in the database (and searchable with LIKE in SQLite).
    return json.dumps(value, ensure_ascii=False)


class Database:
    """Engine and sessions for one database URL."""

    def __init__(self, url: str | URL, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine = self._sqlite_engine(echo)
        else:
            self.engine = create_engine(self.url, echo=echo, pool_pre_ping=True, json_serializer=_json_dumps)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # On SQLite a writing session takes the write lock at BEGIN, so that a read-then-write
        # never fails half way with "database is locked" when another writer got there first.
        self._write_sessions = sessionmaker(
            self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE") if self.is_sqlite else self.engine,
            expire_on_commit=False,
        )

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _sqlite_engine(self, echo: bool) -> Engine:
        database = self.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(self.url, echo=echo, json_serializer=_json_dumps)

        @event.listens_for(engine, "connect")
        def configure(dbapi_connection, _record) -> None:
            # Let SQLAlchemy emit BEGIN itself: the sqlite3 module's legacy mode does not begin
            # before SELECT or DDL, which breaks repeatable reads and transactional migrations.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster commits
            cursor.close()

        @event.listens_for(engine, "begin")
        def begin(connection) -> None:
            connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))

        return engine

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back if it raises.

        Pass ``write=True`` for a read-modify-write: on SQLite it takes the write lock up front.
        """
        factory = self._write_sessions if write else self._sessions
        with factory() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to `revision` (Alembic). Safe to call from several workers at once."""
        from alembic import command

        config = alembic_config()
        engine = self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE") if self.is_sqlite else self.engine
        with engine.begin() as connection:
            if self.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def current_revision(self) -> str | None:
        """The Alembic revision the schema is at (None before the first migration)."""
        from alembic.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config():
    """The Alembic configuration, found through the installed package rather than the working directory.

    (``storage/alembic.ini`` is for the ``alembic`` command line only.)
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config
