"""The knowledge base in the database: entries, every version of them, publishing, and the embedding cache.

Every change to what citizens may be told (anything that is or was published) bumps `kb_revision` in the
same transaction, so a worker that sees the revision move knows its index is stale. A worker reads
`revision()` before `servable()`: the entries are then at least as new as the revision it records.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import numpy as np
from sqlalchemy import String, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from ground.regions import REGION_SEPARATOR
from knowledge_base.entry import Entry, RequestType, Status
from ground.clock import as_utc, utcnow
from ground.errors import DomainError, ErrorKind
from knowledge_base.records import InvalidEntry, entry_from_record, entry_problems, entry_to_record
from knowledge_base.retrieval.calibration_cache import CALIBRATION_VERSION
from knowledge_base.retrieval.confidence import Calibration
from storage import Database
from storage.tables import CachedEmbedding, EntryChangeRow, EntryRow, EntryVersionRow, FittedCalibrationRow, KbRevision

log = logging.getLogger(__name__)
# Well under SQLite's and PostgreSQL's limits on bound parameters in one statement.
_IN_CHUNK = 500
# The PostgreSQL channel on which each new knowledge revision is announced (its number as the payload).
KB_CHANNEL = "frontdoor_kb"
# A change in one of these states is still on its way (knowledge_base.changes): one per entry at a time.
OPEN_CHANGE_STATUSES = ("draft", "in_review", "scheduled")
_T = TypeVar("_T")


class EntryNotFound(DomainError, LookupError):
    code, kind = "entry_not_found", ErrorKind.NOT_FOUND

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id
        super().__init__(f"No entry has the id {entry_id!r}.")


class VersionNotFound(DomainError, LookupError):
    code, kind = "version_not_found", ErrorKind.NOT_FOUND

    def __init__(self, entry_id: str, version: int) -> None:
        self.entry_id, self.version = entry_id, version
        super().__init__(f"Entry {entry_id!r} has no version {version}; see its history for the versions it has.")


class ImportRejected(DomainError, ValueError):
    code, kind = "invalid_import", ErrorKind.INVALID

    """A batch that cannot be imported; `problems` lists every bad entry. Nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s), nothing imported:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class ImportReport:
    """How many entries an import created, changed, and left alone because their content was current."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


@dataclass(frozen=True)
class EntryVersion:
    """One saved version of an entry and why it was saved."""

    entry: Entry
    changed_by: str
    changed_at: datetime
    note: str


class KnowledgeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- reading ---------------------------------------------------------------------------------

    def get(self, entry_id: str) -> Entry | None:
        with self.db.session() as session:
            row = session.get(EntryRow, entry_id)
            return _entry_from_row(row) if row else None

    def list(self, *, status: Status | str | None = None, region: str | None = None, text: str | None = None,
             category: str | None = None, expires_before: datetime | None = None, has_draft: bool = False,
             limit: int | None = None, offset: int = 0) -> list[Entry]:
        """Entries by id. `region` keeps entries scoped to that region or inside it (a city's list shows
        its districts' entries too); `text` matches id, question, samples or answers, ignoring case;
        `expires_before` keeps entries that expire before then; `has_draft` those with an open change."""
        query = select(EntryRow).order_by(EntryRow.id)
        if status is not None:
            query = query.where(EntryRow.status == Status(status).value)
        if category:
            query = query.where(EntryRow.category == category)
        if expires_before is not None:
            query = query.where(EntryRow.expires_at < as_utc(expires_before))
        if has_draft:
            open_changes = select(EntryChangeRow.entry_id).where(EntryChangeRow.status.in_(OPEN_CHANGE_STATUSES))
            query = query.where(EntryRow.id.in_(open_changes))
        if region:
            inside = EntryRow.region.startswith(region + REGION_SEPARATOR, autoescape=True)
            query = query.where(or_(EntryRow.region == region, inside))
        if text:
            query = query.where(or_(
                EntryRow.id.icontains(text, autoescape=True),
                EntryRow.question.icontains(text, autoescape=True),
                cast(EntryRow.samples, String).icontains(text, autoescape=True),
                EntryRow.chat_answer.icontains(text, autoescape=True),
                EntryRow.voice_answer.icontains(text, autoescape=True),
            ))
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        with self.db.session() as session:
            return [_entry_from_row(row) for row in session.scalars(query)]

    def count(self) -> int:
        with self.db.session() as session:
            return session.scalar(select(func.count()).select_from(EntryRow))

    def servable(self, now: datetime | None = None, *, known: Mapping[str, Entry] | None = None) -> list[Entry]:
        """Published entries in force at `now`: the only ones an index may be built from.

        `known`: entries read before, by id (the index being served). Those still at the stored version
        are taken as they are and only the others are read: every worker does this on every publish,
        which changes a few entries of thousands."""
        now = as_utc(now) or utcnow()
        table = EntryRow.__table__  # plain rows, not ORM objects
        published = table.c.status == Status.PUBLISHED.value
        with self.db.session() as session:
            if not known:
                entries = [_entry_from_row(row) for row in session.execute(select(table).where(published).order_by(table.c.id))]
            else:
                current = session.execute(select(table.c.id, table.c.version).where(published).order_by(table.c.id)).all()
                stale = [id for id, version in current if id not in known or known[id].version != version]
                fresh: dict[str, Entry] = {}
                for chunk in _chunks(stale, _IN_CHUNK):
                    query = select(table).where(published, table.c.id.in_(chunk))
                    fresh.update((row.id, _entry_from_row(row)) for row in session.execute(query))
                # (one unpublished in between is left out; the revision it moved brings the next rebuild)
                entries = [fresh[id] if id in fresh else known[id] for id, _ in current if id in fresh or id not in stale]
        return [entry for entry in entries if entry.is_servable(now)]

    def revision(self) -> int:
        """Moves whenever what is servable may have changed by an edit (not by the clock: see next_change_at)."""
        with self.db.session() as session:
            return _revision(session)

    def next_change_at(self, now: datetime | None = None) -> datetime | None:
        """The next moment after `now` when a published entry comes into force or expires, if any."""
        now = as_utc(now) or utcnow()
        published = EntryRow.status == Status.PUBLISHED.value
        with self.db.session() as session:
            starts = session.scalar(
                select(func.min(EntryRow.effective_from)).where(published, EntryRow.effective_from > now))
            ends = session.scalar(select(func.min(EntryRow.expires_at)).where(published, EntryRow.expires_at > now))
        moments = [as_utc(moment) for moment in (starts, ends) if moment is not None]
        return min(moments) if moments else None

    def history(self, entry_id: str) -> list[EntryVersion]:
        """Every saved version, oldest first, with who saved it and why."""
        query = select(EntryVersionRow).where(EntryVersionRow.entry_id == entry_id).order_by(EntryVersionRow.version)
        with self.db.session() as session:
            return [EntryVersion(entry_from_record(row.snapshot), row.changed_by, row.changed_at, row.note)
                    for row in session.scalars(query)]

    def versions(self, entry_id: str) -> list[Entry]:
        return [version.entry for version in self.history(entry_id)]

    # -- changing ------------------------------------------------------------------------------

    def save(self, entry: Entry, *, by: str, note: str = "") -> Entry:
        """Inserts or updates `entry` as a new version (the given `version` is ignored) and returns it as saved."""
        entry = _normalised(entry)
        if problems := entry_problems(entry):
            raise InvalidEntry(entry.id, problems)
        with self.db.session(write=True) as session, VersionWriter(session, utcnow()) as writer:
            return writer.write(entry, by=by, note=note)

    def set_status(self, entry_id: str, status: Status | str, *, by: str, note: str = "") -> Entry:
        """Publishes, retires, … an entry as a new version; no new version if it already has that status."""
        status = Status(status)
        with self.db.session(write=True) as session, VersionWriter(session, utcnow()) as writer:
            current = writer.current(entry_id)
            if current is None:
                raise EntryNotFound(entry_id)
            if current.status is status:
                return current
            return writer.write(current.with_changes(status=status), by=by,
                                note=note or f"status {current.status.value} → {status.value}")

    def rollback(self, entry_id: str, version: int, *, by: str, note: str = "") -> Entry:
        """Restores version `version` (content and status) as a new version; history is never rewritten."""
        with self.db.session(write=True) as session, VersionWriter(session, utcnow()) as writer:
            return writer.rollback(entry_id, version, by=by, note=note)

    def import_entries(self, entries: Iterable[Entry], *, by: str, source: str) -> ImportReport:
        """Saves every entry whose content differs from the stored one, all in one transaction.

        `source` (a file name, an upload) is recorded as the note of each new version. If any entry is
        invalid, `ImportRejected` lists them all and nothing is written.
        """
        entries = [_normalised(entry) for entry in entries]
        _check_batch(entries)
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        with self.db.session(write=True) as session, VersionWriter(session, utcnow()) as writer:
            existing: dict[str, EntryRow] = {}
            for chunk in _chunks([entry.id for entry in entries], _IN_CHUNK):
                query = select(EntryRow).where(EntryRow.id.in_(chunk)).with_for_update()
                existing.update((row.id, row) for row in session.scalars(query))
            for entry in entries:
                row = existing.get(entry.id)
                if row is not None and _same_content(_entry_from_row(row), entry):
                    counts["unchanged"] += 1
                    continue
                counts["updated" if row is not None else "created"] += 1
                writer.write_over(row, entry, by=by, note=f"imported from {source}")
        return ImportReport(**counts)


class VersionWriter:
    """Writes entry versions inside one write transaction, which may hold other writes too (a change's
    status, its audit event). `kb_revision` moves once, when the block ends without error, if any
    version touched what is servable: publishing several changes together is one knowledge revision.

        with db.session(write=True) as session, VersionWriter(session, utcnow()) as writer:
            writer.write(entry, by="li", note="change 12")
    """

    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now
        self.servable_changed = False

    def __enter__(self) -> "VersionWriter":
        return self

    def __exit__(self, error_type, _error, _traceback) -> None:
        if error_type is None and self.servable_changed:
            bump_revision(self.session, self.now)
            self.servable_changed = False

    def current(self, entry_id: str) -> Entry | None:
        """The stored entry, its row locked until the transaction ends (None if there is none)."""
        row = self.session.get(EntryRow, entry_id, with_for_update=True)
        return _entry_from_row(row) if row is not None else None

    def version(self, entry_id: str, version: int) -> Entry:
        """The entry as saved at `version`; raises VersionNotFound."""
        snapshot = self.session.get(EntryVersionRow, (entry_id, version))
        if snapshot is None:
            raise VersionNotFound(entry_id, version)
        return entry_from_record(snapshot.snapshot)

    def write(self, entry: Entry, *, by: str, note: str = "") -> Entry:
        """Inserts or updates `entry` as its next version (the given `version` is ignored); the entry as saved."""
        entry = _normalised(entry)
        if problems := entry_problems(entry):
            raise InvalidEntry(entry.id, problems)
        return self.write_over(self.session.get(EntryRow, entry.id, with_for_update=True), entry, by=by, note=note)

    def write_over(self, row: EntryRow | None, entry: Entry, *, by: str, note: str) -> Entry:
        """`write` for a caller that already holds the (locked) row and a normalised, valid entry."""
        saved, changed = _write_version(self.session, row, entry, by=by, note=note, now=self.now)
        self.servable_changed = self.servable_changed or changed
        return saved

    def rollback(self, entry_id: str, version: int, *, by: str, note: str = "") -> Entry:
        """Restores version `version` (content and status) as a new version; history is never rewritten."""
        row = _row_for_update(self.session, entry_id)
        restored = self.version(entry_id, version)
        return self.write_over(row, _normalised(restored), by=by, note=note or f"rollback to version {version}")


def _check_batch(entries: Sequence[Entry]) -> None:
    problems, seen = [], set()
    for entry in entries:
        problems += [f"entry {entry.id!r}: {problem}" for problem in entry_problems(entry)]
        if entry.id in seen:
            problems.append(f"entry {entry.id!r}: given more than once")
        seen.add(entry.id)
    if problems:
        raise ImportRejected(problems)


def _write_version(session: Session, row: EntryRow | None, entry: Entry, *, by: str, note: str,
                   now: datetime) -> tuple[Entry, bool]:
    """Writes `entry` as the next version over `row` (None: a new entry), with its snapshot.

    Returns the saved entry and whether the change touches what is servable (it is or was published).
    """
    previous_status = Status(row.status) if row is not None else None
    saved = entry.with_changes(version=(row.version if row is not None else 0) + 1, updated_by=by, updated_at=now)
    if row is None:
        row = EntryRow(id=saved.id)
        session.add(row)
    _fill_row(row, saved)
    session.add(EntryVersionRow(entry=row, version=saved.version, snapshot=entry_to_record(saved),
                                status=saved.status.value, changed_by=by, changed_at=now, note=note))
    return saved, Status.PUBLISHED in (saved.status, previous_status)


def _row_for_update(session: Session, entry_id: str) -> EntryRow:
    row = session.get(EntryRow, entry_id, with_for_update=True)
    if row is None:
        raise EntryNotFound(entry_id)
    return row


def _revision(session: Session) -> int:
    return session.scalar(select(KbRevision.revision).where(KbRevision.id == 1))


def bump_revision(session: Session, now: datetime) -> int:
    """The next knowledge revision, in the caller's transaction (one per transaction: a publish of
    several entries is one revision). On PostgreSQL the same transaction notifies KB_CHANNEL, which
    every listening worker hears when, and only if, it commits (knowledge_base/follower.py)."""
    revision = session.scalar(update(KbRevision).where(KbRevision.id == 1)
                              .values(revision=KbRevision.revision + 1, changed_at=now).returning(KbRevision.revision))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(KB_CHANNEL, str(revision))))
    return revision


def _normalised(entry: Entry) -> Entry:
    """Enum members, a tuple of samples and UTC times, whatever the caller passed."""
    return entry.with_changes(
        samples=tuple(entry.samples),
        request_type=RequestType(entry.request_type),
        status=Status(entry.status),
        effective_from=as_utc(entry.effective_from),
        expires_at=as_utc(entry.expires_at),
        updated_at=as_utc(entry.updated_at),
    )


def _same_content(stored: Entry, incoming: Entry) -> bool:
    """Equal apart from the bookkeeping a save sets (version, who and when)."""
    def content(entry: Entry) -> Entry:
        return entry.with_changes(version=0, updated_by="", updated_at=None)

    return content(stored) == content(incoming)


def _fill_row(row: EntryRow, entry: Entry) -> None:
    row.question = entry.question
    row.samples = list(entry.samples)
    row.chat_answer = entry.chat_answer
    row.voice_answer = entry.voice_answer
    row.category = entry.category
    row.request_type = entry.request_type.value
    row.region = entry.region
    row.effective_from = entry.effective_from
    row.expires_at = entry.expires_at
    row.status = entry.status.value
    row.version = entry.version
    row.updated_by = entry.updated_by
    row.updated_at = entry.updated_at
    row.source = entry.source
    row.variant_of = entry.variant_of


# By stored value: quicker than calling the enum, for the thousands of rows a rebuild reads.
_REQUEST_TYPES = {member.value: member for member in RequestType}
_STATUSES = {member.value: member for member in Status}


def _entry_from_row(row: EntryRow) -> Entry:
    """From an EntryRow or a plain row of the entries table."""
    return Entry(
        id=row.id,
        question=row.question,
        samples=tuple(row.samples),
        chat_answer=row.chat_answer,
        voice_answer=row.voice_answer,
        category=row.category,
        request_type=_REQUEST_TYPES[row.request_type],
        region=row.region,
        effective_from=row.effective_from,
        expires_at=row.expires_at,
        status=_STATUSES[row.status],
        version=row.version,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        source=row.source,
        variant_of=row.variant_of,
    )


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# ---------------------------------------------------------------------------------------------
# Embedding cache

class EmbeddingCache:
    """Embeddings already computed, by (model, text hash), so a restart or another worker need not recompute.

    The text hash is the sha256 hex of exactly the text embedded, model prefix included
    (see knowledge_base.retrieval.embedding.text_hash).
    """

    _INSERT_CHUNK = 1000

    def __init__(self, db: Database) -> None:
        self.db = db

    def get_many(self, model_id: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vectors (float32) among `hashes`; missing ones are simply absent."""
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, np.ndarray] = {}
        with self.db.session() as session:
            for chunk in _chunks(wanted, _IN_CHUNK):
                query = (select(CachedEmbedding.text_hash, CachedEmbedding.dim, CachedEmbedding.vector)
                         .where(CachedEmbedding.model_id == model_id, CachedEmbedding.text_hash.in_(chunk)))
                for key, dim, blob in session.execute(query):
                    vector = np.frombuffer(blob, dtype="<f4")
                    if vector.size == dim:
                        found[key] = vector.astype(np.float32)  # a writable, native-order copy
        return found

    def put_many(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        """Stores vectors by text hash; ones already cached (by any worker) are left as they are."""
        rows = []
        for key, vector in vectors.items():
            array = np.asarray(vector, dtype="<f4")
            if array.ndim != 1:
                raise ValueError(f"embedding for {key} must be one vector, not shape {array.shape}")
            rows.append({"model_id": model_id, "text_hash": key, "dim": array.size, "vector": array.tobytes()})
        if not rows:
            return
        statement = _insert_ignoring_duplicates(self.db, CachedEmbedding, ["model_id", "text_hash"])
        with self.db.session(write=True) as session:
            for chunk in _chunks(rows, self._INSERT_CHUNK):
                session.execute(statement, list(chunk))


class CalibrationStore:
    """Fitted retrieval calibrations by the fingerprint of what they learned from
    (knowledge_base/retrieval/calibration_cache.py), so that a worker loads what another already fitted.
    Only the newest `KEEP` are kept: older ones belong to knowledge bases long since published over."""

    KEEP = 16

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str) -> Calibration | None:
        """The calibration stored under `key` by this method's version; None when there is none or it cannot
        be read (a row of another layout, say): the caller then fits afresh."""
        with self.db.session() as session:
            data = session.scalar(select(FittedCalibrationRow.data).where(
                FittedCalibrationRow.key == key, FittedCalibrationRow.version == CALIBRATION_VERSION))
        if data is None:
            return None
        try:
            return Calibration.from_bytes(data)
        except ValueError as error:
            log.warning("the stored calibration %s… is unreadable (%s); fitting it again", key[:12], error)
            return None

    def put(self, key: str, calibration: Calibration) -> None:
        """Stores a calibration under `key` (one already there, by any worker, is left as it is) and forgets
        all but the newest `KEEP`."""
        row = {"key": key, "version": CALIBRATION_VERSION, "fitted_at": utcnow(), "data": calibration.to_bytes()}
        with self.db.session(write=True) as session:
            session.execute(_insert_ignoring_duplicates(self.db, FittedCalibrationRow, ["key"]), [row])
            newest = select(FittedCalibrationRow.key).order_by(FittedCalibrationRow.fitted_at.desc()).limit(self.KEEP)
            session.execute(delete(FittedCalibrationRow).where(FittedCalibrationRow.key.not_in(newest.scalar_subquery())))


def _insert_ignoring_duplicates(db: Database, table, keys: list[str]):
    if db.dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif db.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        raise NotImplementedError(f"the knowledge base's caches support SQLite and PostgreSQL, not {db.dialect}")
    return insert(table.__table__).on_conflict_do_nothing(index_elements=keys)
