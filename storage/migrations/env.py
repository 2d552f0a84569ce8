"""Alembic environment: used by `Database.migrate()` (which hands over its connection) and by the CLI."""
from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from storage.tables import Base

config = context.config


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_from_command_line() -> None:
    from frontdoor.settings import Settings
    from storage.database import Database

    if config.config_file_name:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    url = config.get_main_option("sqlalchemy.url") or Settings().resolved_database_url
    database = Database(url)
    try:
        with database.engine.begin() as connection:
            run_migrations(connection)
    finally:
        database.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run against a database.")

connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    run_from_command_line()
