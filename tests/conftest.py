"""Shared test fixtures."""
# --- database: the `db` fixture (storage/) --------------------------------------------------------
# Every test that takes `db` runs on SQLite (a fresh file) and on PostgreSQL (a fresh schema) when
# FRONTDOOR_TEST_POSTGRES_URL is set, e.g. by: eval "$(.ci/start-postgres)".
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

POSTGRES_URL_VARIABLE = "FRONTDOOR_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def _postgres_admin():
    """An autocommit engine on the test PostgreSQL, for creating and dropping per-test schemas."""
    from sqlalchemy import create_engine

    from storage.database import normalise_url

    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        how = f'{POSTGRES_URL_VARIABLE} is not set (start a server with: eval "$(.ci/start-postgres)")'
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {how}: the PostgreSQL tests must run in CI", pytrace=False)
        pytest.skip(f"PostgreSQL tests skipped: {how}")
    engine = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    """A migrated, empty `storage.Database` of its own for each test."""
    from storage import Database

    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'frontdoor.db'}")
        database.migrate()
        yield database
        database.dispose()
        return
    admin = request.getfixturevalue("_postgres_admin")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
    database = Database(url)
    try:
        database.migrate()
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


# --- models: provisioned once per test session, from the installed registry packages -------------
@dataclass
class Provisioned:
    model_dir: Path
    embedder_dir: Path
    vosk_dir: Path
    progress: list[tuple[int, str]]


class RecordingBar:
    def __init__(self, log: list[tuple[int, str]], total: int, desc: str) -> None:
        log.append((total, desc))

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def provisioned(tmp_path_factory) -> Provisioned:
    """Both models provisioned once, from the installed registry packages, with downloads off."""
    from models.provision import ModelStore

    model_dir = tmp_path_factory.mktemp("models")
    progress: list[tuple[int, str]] = []
    store = ModelStore(model_dir, allow_download=False)

    def factory(total: int, desc: str) -> RecordingBar:
        return RecordingBar(progress, total, desc)

    return Provisioned(model_dir, store.embedder_dir(progress=factory), store.vosk_dir(progress=factory), progress)


@pytest.fixture(scope="session")
def embedder(provisioned):
    """The real multilingual-e5-small, loaded once per test session."""
    from models.embedder import Embedder

    return Embedder.load(provisioned.embedder_dir)


