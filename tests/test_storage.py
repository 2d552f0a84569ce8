"""The database and the knowledge store: versions, publishing, what may be served, the embedding cache."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from knowledge_base.entry import Entry, Status
from knowledge_base.records import InvalidEntry
from knowledge_base.store import EmbeddingCache, EntryNotFound, ImportRejected, KnowledgeStore, VersionNotFound
from storage import Database
from storage.database import normalise_url
from storage.tables import Base, KbRevision

NOW = datetime(2022, 4, 1, 12, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def published(entry_id: str = "yellow-code", **fields) -> Entry:
    fields.setdefault("question", "苏康码变黄码了怎么转绿码？")
    return Entry(id=entry_id, status=Status.PUBLISHED, **fields)


def draft(entry_id: str = "yellow-code", **fields) -> Entry:
    return published(entry_id, **fields).with_changes(status=Status.DRAFT)


@pytest.fixture
def store(db: Database) -> KnowledgeStore:
    return KnowledgeStore(db)


# -- the database ----------------------------------------------------------------------------------

@pytest.mark.parametrize("given", ["postgres://u:p@h:5432/d", "postgresql://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"])
def test_postgres_urls_use_the_psycopg_driver(given):
    assert normalise_url(given).render_as_string(hide_password=False) == "postgresql+psycopg://u:p@h:5432/d"


def test_sqlite_file_is_created_with_wal_foreign_keys_and_busy_timeout(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'var' / 'frontdoor.db'}")
    try:
        database.migrate()
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
        assert (tmp_path / "var" / "frontdoor.db").exists()
    finally:
        database.dispose()


def test_migrations_do_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    database = Database(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    try:
        database.migrate()
        assert database.current_revision() is not None
    finally:
        database.dispose()


def test_migrating_again_changes_nothing_and_matches_the_tables(db):
    before = db.current_revision()
    db.migrate()
    assert db.current_revision() == before
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_a_session_that_fails_leaves_no_trace(db):
    with pytest.raises(RuntimeError):
        with db.session() as session:
            session.get(KbRevision, 1).revision = 99
            session.flush()
            raise RuntimeError("editor closed the browser")
    with db.session() as session:
        assert session.get(KbRevision, 1).revision == 0


# -- versions and rollback -----------------------------------------------------------------------

def test_each_save_is_a_new_version_with_its_author(store):
    first = store.save(draft(chat_answer="先做核酸"), by="editor-a")
    second = store.save(first.with_changes(chat_answer="先做两次核酸"), by="editor-b", note="新规")

    assert (first.version, second.version) == (1, 2)
    assert store.get("yellow-code") == second
    assert second.updated_by == "editor-b" and second.updated_at is not None
    history = store.history("yellow-code")
    assert [(v.entry.chat_answer, v.changed_by, v.note) for v in history] == [
        ("先做核酸", "editor-a", ""), ("先做两次核酸", "editor-b", "新规")]
    assert store.versions("yellow-code") == [first, second]


def test_rollback_restores_old_content_as_a_new_version(store):
    good = store.save(published(chat_answer="正确答复"), by="a")
    store.save(good.with_changes(chat_answer="错误答复"), by="b")

    restored = store.rollback("yellow-code", 1, by="c")

    assert restored.version == 3
    assert restored.chat_answer == "正确答复"
    assert store.get("yellow-code").chat_answer == "正确答复"
    assert [e.chat_answer for e in store.versions("yellow-code")] == ["正确答复", "错误答复", "正确答复"]
    assert store.history("yellow-code")[-1].note == "rollback to version 1"


def test_rollback_to_a_version_that_does_not_exist_is_refused(store):
    store.save(draft(), by="a")
    with pytest.raises(VersionNotFound):
        store.rollback("yellow-code", 7, by="a")
    with pytest.raises(EntryNotFound):
        store.rollback("no-such-entry", 1, by="a")


def test_status_change_is_versioned_and_unchanged_status_is_not(store):
    store.save(draft(), by="a")
    assert store.set_status("yellow-code", Status.PUBLISHED, by="reviewer").version == 2
    assert store.set_status("yellow-code", "published", by="reviewer").version == 2
    assert store.get("yellow-code").status is Status.PUBLISHED


def test_an_entry_that_expires_before_it_starts_is_refused(store):
    with pytest.raises(InvalidEntry, match="expires_at"):
        store.save(published(effective_from=NOW, expires_at=NOW - HOUR), by="a")
    assert store.count() == 0


def test_times_are_kept_as_the_same_instant(store):
    beijing = timezone(timedelta(hours=8))
    saved = store.save(published(effective_from=datetime(2022, 4, 1, 8, 0, tzinfo=beijing)), by="a")
    assert store.get(saved.id).effective_from == datetime(2022, 4, 1, 0, 0, tzinfo=timezone.utc)


# -- what may be served ------------------------------------------------------------------------------

def test_only_published_entries_in_force_are_servable(store):
    store.save(published("current"), by="a")
    store.save(published("expired", expires_at=NOW - HOUR), by="a")
    store.save(published("expires-right-now", expires_at=NOW), by="a")
    store.save(published("not-yet", effective_from=NOW + HOUR), by="a")
    store.save(published("window", effective_from=NOW - HOUR, expires_at=NOW + HOUR), by="a")
    store.save(draft("draft"), by="a")
    store.save(published("retired").with_changes(status=Status.RETIRED), by="a")

    assert [e.id for e in store.servable(NOW)] == ["current", "window"]
    assert [e.id for e in store.servable(NOW + 2 * HOUR)] == ["current", "not-yet"]


def test_revision_moves_when_servable_content_changes_and_not_for_drafts(store):
    assert store.revision() == 0
    entry = store.save(draft(), by="a")
    entry = store.save(entry.with_changes(chat_answer="草稿"), by="a")
    assert store.revision() == 0, "editing a draft changes nothing a citizen can be told"

    store.set_status(entry.id, Status.PUBLISHED, by="a")
    assert store.revision() == 1
    store.save(store.get(entry.id).with_changes(chat_answer="新答复"), by="a")
    assert store.revision() == 2
    store.set_status(entry.id, Status.RETIRED, by="a")
    assert store.revision() == 3
    store.save(store.get(entry.id).with_changes(chat_answer="旧的"), by="a")
    assert store.revision() == 3


def test_next_change_is_when_a_published_entry_starts_or_expires(store):
    store.save(published("later", effective_from=NOW + 3 * HOUR), by="a")
    store.save(published("soon-gone", expires_at=NOW + 2 * HOUR), by="a")
    store.save(published("old", expires_at=NOW - HOUR), by="a")
    store.save(draft("draft", effective_from=NOW + HOUR), by="a")

    assert store.next_change_at(NOW) == NOW + 2 * HOUR
    assert store.next_change_at(NOW + 2 * HOUR) == NOW + 3 * HOUR
    assert store.next_change_at(NOW + 3 * HOUR) is None


def test_list_filters_by_status_region_and_text(store):
    store.save(published("province", region="江苏省", chat_answer="全省适用"), by="a")
    store.save(published("nanjing", region="江苏省/南京市", samples=("离宁要什么证明",)), by="a")
    store.save(draft("gulou", region="江苏省/南京市/鼓楼区"), by="a")
    store.save(draft("nanjingbei", region="江苏省/南京市北"), by="a")

    assert [e.id for e in store.list(status=Status.DRAFT)] == ["gulou", "nanjingbei"]
    assert [e.id for e in store.list(region="江苏省/南京市")] == ["gulou", "nanjing"]
    assert [e.id for e in store.list(text="离宁")] == ["nanjing"]
    assert [e.id for e in store.list(text="全省")] == ["province"]
    assert [e.id for e in store.list(text="100%")] == []
    assert len(store.list(limit=2)) == 2
    assert store.count() == 4


# -- importing ---------------------------------------------------------------------------------------

def test_import_is_all_or_nothing(store):
    batch = [published("a"), published("b", question="  "), published("c"), published("a")]
    with pytest.raises(ImportRejected) as rejected:
        store.import_entries(batch, by="editor", source="upload.jsonl")

    assert len(rejected.value.problems) == 2
    assert store.count() == 0
    assert store.revision() == 0


def test_reimporting_the_same_content_creates_no_versions(store):
    batch = [published("a"), published("b"), draft("c")]
    first = store.import_entries(batch, by="editor", source="kb.yaml")
    again = store.import_entries(batch, by="editor", source="kb.yaml")

    assert (first.created, first.updated, first.unchanged) == (3, 0, 0)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert len(store.versions("a")) == 1
    assert store.revision() == 1, "one import is one change of the servable knowledge"
    assert store.history("a")[0].note == "imported from kb.yaml"


def test_import_versions_changed_entries_only(store):
    store.import_entries([published("a"), published("b")], by="editor", source="v1")
    report = store.import_entries([published("a", chat_answer="更新"), published("b"), published("c")],
                                  by="editor", source="v2")

    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    assert store.get("a").version == 2 and store.get("a").chat_answer == "更新"
    assert store.get("b").version == 1
    assert store.revision() == 2


# -- the embedding cache ------------------------------------------------------------------------------

def test_embedding_cache_returns_what_was_stored(db):
    cache = EmbeddingCache(db)
    rng = np.random.default_rng(0)
    vectors = {hashlib.sha256(f"query: 问题{i}".encode()).hexdigest(): rng.random(384, dtype=np.float32)
               for i in range(10_000)}

    cache.put_many("e5-small", vectors)
    cache.put_many("e5-small", dict(list(vectors.items())[:100]))  # a second worker's overlapping write
    found = cache.get_many("e5-small", [*vectors, "0" * 64])

    assert found.keys() == vectors.keys()
    assert all(np.array_equal(found[key], vector) for key, vector in vectors.items())
    assert next(iter(found.values())).dtype == np.float32
    assert cache.get_many("another-model", list(vectors)[:10]) == {}
