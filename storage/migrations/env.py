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
    from storage.database import Database

    if config.config_file_name:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    # The database is named by the caller: `frontdoor db upgrade` (which reads the settings) passes it through
    # Database.migrate; a bare `alembic` run names it with `-x url=…` or sqlalchemy.url in alembic.ini.
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("name the database: alembic -x url=sqlite:///var/frontdoor.db upgrade head "
                         "(or use: frontdoor db upgrade)")
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
