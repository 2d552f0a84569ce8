"""Changes on their way from an editor's draft to what citizens are told: draft → review → publish.

A change proposes one entry (new, edited or retired). Its author saves and submits it; a reviewer returns
it with a note or publishes it (now, or at a time: scheduled). Publishing writes the entry as a new version
through the store, in the same transaction as the change's status and the audit event, and several
changes published together are one knowledge revision. A change is based on the entry's version when it
was last saved: if the entry has moved on since, publishing it would silently undo someone else's work,
so it is refused as stale.

Every method that writes takes the acting account and refuses an entry outside its region, before and
after the change. Roles (who may publish at all) are the API's business; the rules that hold whoever
calls (only the author edits a draft, nobody publishes their own change) are kept here.
"""
from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from accounts.roles import Account
from knowledge_base.diff import FieldDiff, changed_fields, diff_entries
from knowledge_base.entry import Entry, Status
from ground.clock import as_utc, utcnow
from ground.errors import DomainError, ErrorKind
from knowledge_base.hints import Hint, entry_hints
from knowledge_base.records import entry_from_record, entry_problems, entry_to_record
from knowledge_base.store import OPEN_CHANGE_STATUSES, KnowledgeStore, VersionWriter
from storage import Database
from storage.audit import record
from storage.tables import EntryChangeRow, EntryVersionRow

SYSTEM_ACTOR = "system"
_ID_SLUG_CHARS = 4  # Chinese characters of the question spelled in pinyin in a generated id


class ChangeKind(str, enum.Enum):
    CREATE = "create"
    EDIT = "edit"
    RETIRE = "retire"


class ChangeStatus(str, enum.Enum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


OPEN = tuple(ChangeStatus(status) for status in OPEN_CHANGE_STATUSES)


@dataclass(frozen=True)
class Change:
    id: int
    entry_id: str
    kind: ChangeKind
    status: ChangeStatus
    entry: Entry                 # the proposed entry, with the status it will have once published
    base_version: int | None     # the entry's version when the draft was last saved (None: no entry yet)
    author: str
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    reviewer: str | None
    reviewed_at: datetime | None
    review_note: str
    publish_at: datetime | None
    published_version: int | None
    batch: str | None
    source: str

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


@dataclass(frozen=True)
class Review:
    """A change as a reviewer sees it: what it does to the entry, hints for its answers, and whether the
    entry moved on since it was saved."""

    change: Change
    before: Entry | None         # the entry as published now (for a published change: the version it replaced)
    diff: list[FieldDiff]
    hints: list[Hint]
    stale: bool


# -- errors: each says what was wrong and what to do ------------------------------------------------

class ChangeError(DomainError):
    """Anything a change cannot do; `code` is what the API reports, `kind` what sort of refusal it is."""

    code, kind = "change_refused", ErrorKind.CONFLICT


class ChangeNotFound(ChangeError, LookupError):
    code, kind = "change_not_found", ErrorKind.NOT_FOUND

    def __init__(self, change_id: int) -> None:
        self.change_id = change_id
        super().__init__(f"There is no change {change_id}.")


class EntryMissing(ChangeError, LookupError):
    code, kind = "entry_not_found", ErrorKind.NOT_FOUND

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id
        super().__init__(f"There is no entry {entry_id!r} to change; to add it, create a change of kind 'create'.")


class EntryExists(ChangeError):
    code, kind = "entry_exists", ErrorKind.CONFLICT

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id
        super().__init__(f"An entry {entry_id!r} exists already; edit it (kind 'edit') or choose another id.")


class ChangeOpen(ChangeError):
    code, kind = "change_open", ErrorKind.CONFLICT

    @property
    def details(self) -> list:
        return [{"change_id": self.existing_id, "status": self.status}]

    def __init__(self, entry_id: str, existing_id: int, status: str) -> None:
        self.entry_id, self.existing_id, self.status = entry_id, existing_id, status
        super().__init__(f"Entry {entry_id!r} already has an open change ({existing_id}, {status}); "
                         f"continue that one, or have it withdrawn first.")


class WrongStatus(ChangeError):
    kind = ErrorKind.CONFLICT

    def __init__(self, change: Change, action: str, allowed: Sequence[ChangeStatus]) -> None:
        self.change, self.allowed = change, tuple(allowed)
        self.code = "not_draft" if self.allowed == (ChangeStatus.DRAFT,) else "wrong_status"
        allowed_text = " or ".join(status.value for status in self.allowed)
        super().__init__(f"Change {change.id} is {change.status.value}; only a change that is {allowed_text} "
                         f"can be {action}." + (" Ask a reviewer to return it to you first."
                                                if change.status is ChangeStatus.IN_REVIEW and action == "saved" else ""))


class NotAuthor(ChangeError):
    code, kind = "not_author", ErrorKind.FORBIDDEN

    def __init__(self, change: Change, username: str, action: str) -> None:
        self.change = change
        super().__init__(f"Change {change.id} is {change.author}'s; only its author can {action} it "
                         f"(you are {username}). Create your own change when theirs is finished.")


class OwnChange(ChangeError):
    code, kind = "own_change", ErrorKind.FORBIDDEN

    def __init__(self, change: Change) -> None:
        self.change = change
        super().__init__(f"You wrote change {change.id}; another reviewer must publish it.")


class OutsideRegion(ChangeError):
    code, kind = "outside_region", ErrorKind.FORBIDDEN

    def __init__(self, account: Account, entry_id: str, region: str) -> None:
        self.account, self.entry_id, self.region = account, entry_id, region
        wider = "" if account.may_edit_wider else " (entries scoped wider than your region need an account that may edit wider)"
        super().__init__(f"Entry {entry_id!r} is scoped to {region or 'every region'}, outside your region "
                         f"{account.region}{wider}; ask an editor of that region.")


class InvalidChange(ChangeError):
    code, kind = "invalid_entry", ErrorKind.INVALID

    @property
    def details(self) -> list:
        return [{"where": "entry", "problem": problem} for problem in self.problems]

    def __init__(self, entry_id: str, problems: list[str]) -> None:
        self.entry_id, self.problems = entry_id, problems
        super().__init__(f"Entry {entry_id!r} cannot be saved: " + "; ".join(problems))


class Stale(ChangeError):
    code, kind = "stale", ErrorKind.CONFLICT

    @property
    def details(self) -> list:
        return [{"field": field} for field in self.fields]

    def __init__(self, change: Change, current: Entry | None, fields: list[str]) -> None:
        self.change, self.current, self.fields = change, current, fields
        if change.base_version is None:
            what = f"entry {change.entry_id!r} was created by {current.updated_by} meanwhile"
        else:
            moved = f"version {change.base_version} → {current.version}" if current else "it is gone"
            by = f" by {current.updated_by}" if current else ""
            what = f"entry {change.entry_id!r} changed since change {change.id} was saved ({moved}{by}"
            what += f": {', '.join(fields)})" if fields else ")"
        super().__init__(f"{what[0].upper()}{what[1:]}. Publishing it would undo that; the author must open "
                         f"the change, save it again on top of the current entry, and submit it.")


class ImportRefused(ChangeError):
    code, kind = "invalid_import", ErrorKind.INVALID

    @property
    def details(self) -> list:
        return self.problems

    def __init__(self, problems: list[dict], message: str | None = None) -> None:
        self.problems = problems
        super().__init__(message or f"{len(problems)} problem(s), nothing imported: "
                         + "; ".join(f"{p['entry_id']}: {p['message']}" for p in problems))


# -- the desk -----------------------------------------------------------------------------------------

class ChangeDesk:
    def __init__(self, db: Database, store: KnowledgeStore) -> None:
        self.db = db
        self.store = store

    # reading

    def get(self, change_id: int) -> Change:
        with self.db.session() as session:
            return _change(_row(session, change_id))

    def list(self, *, status: ChangeStatus | str | Iterable[ChangeStatus | str] | None = None,
             entry_id: str | None = None, author: str | None = None, batch: str | None = None,
             limit: int = 100, offset: int = 0) -> list[Change]:
        """Newest first."""
        query = select(EntryChangeRow).order_by(EntryChangeRow.id.desc()).limit(limit).offset(offset)
        if status is not None:
            statuses = [status] if isinstance(status, (str, ChangeStatus)) else list(status)
            query = query.where(EntryChangeRow.status.in_([ChangeStatus(s).value for s in statuses]))
        if entry_id is not None:
            query = query.where(EntryChangeRow.entry_id == entry_id)
        if author is not None:
            query = query.where(EntryChangeRow.author == author)
        if batch is not None:
            query = query.where(EntryChangeRow.batch == batch)
        with self.db.session() as session:
            return [_change(row) for row in session.scalars(query)]

    def open_for(self, entry_id: str) -> Change | None:
        """The change on its way for `entry_id` (draft, in review or scheduled), if there is one."""
        with self.db.session() as session:
            row = _open_row(session, entry_id)
            return _change(row) if row is not None else None

    def review(self, change: Change) -> Review:
        """What `change` does, against the entry as published now (a published change: against the
        version it replaced), with hints for its answers and whether it is stale."""
        if change.status is ChangeStatus.PUBLISHED and change.published_version:
            with self.db.session() as session:
                snapshot = session.get(EntryVersionRow, (change.entry_id, change.published_version - 1))
                before = entry_from_record(snapshot.snapshot) if snapshot is not None else None
        else:
            before = self.store.get(change.entry_id)
        stale = change.is_open and _is_stale(change, before)
        return Review(change, before, diff_entries(before, change.entry), entry_hints(change.entry), stale)

    # writing

    def create(self, by: Account, *, kind: ChangeKind | str, entry: Entry | None = None, entry_id: str | None = None,
               source: str = "console", batch: str | None = None) -> Change:
        """A new draft. Edit and retire start from the stored entry when `entry` is None; a new entry
        without an id gets one made from its question."""
        kind = ChangeKind(kind)
        now = utcnow()
        with self.db.session(write=True) as session, VersionWriter(session, now) as entries:
            row = self._new_change(session, entries, by, kind=kind, entry=entry, entry_id=entry_id, source=source,
                                   batch=batch, now=now)
            return _change(row)

    def save(self, by: Account, change_id: int, entry: Entry) -> Change:
        """Replaces a draft's proposed entry (only a draft, only by its author), based on the entry as stored now."""
        now = utcnow()
        with self.db.session(write=True) as session, VersionWriter(session, now) as entries:
            row = _row(session, change_id, lock=True)
            change = _change(row)
            _require(change, "saved", ChangeStatus.DRAFT)
            _require_author(change, by, "save")
            if entry.id and entry.id != change.entry_id:
                raise InvalidChange(change.entry_id, [f"the id cannot change in a change (it is {change.entry_id!r}); "
                                                      "retire this entry and create a new one instead"])
            current = entries.current(change.entry_id)
            proposed = _proposed(entry.with_changes(id=change.entry_id), change.kind, current)
            _check_region(by, proposed, current)
            _check_valid(proposed)
            row.content = entry_to_record(proposed)
            row.base_version = current.version if current is not None else None
            row.updated_at = now
            record(session, actor=by.username, action="change.save", target=f"change:{row.id}", at=now,
                   entry_id=row.entry_id, base_version=row.base_version)
            return _change(row)

    def submit(self, by: Account, change_id: int) -> Change:
        """draft → in_review (its author)."""
        return self._move(by, change_id, "submitted", (ChangeStatus.DRAFT,), ChangeStatus.IN_REVIEW,
                          action="change.submit", author_only=True)

    def withdraw(self, by: Account, change_id: int) -> Change:
        """An open change abandoned by its author; the entry is free for another change."""
        return self._move(by, change_id, "withdrawn", OPEN, ChangeStatus.WITHDRAWN,
                          action="change.withdraw", author_only=True)

    def return_(self, by: Account, change_id: int, note: str) -> Change:
        """A reviewer sends a change back to its author as a draft, saying why (also un-schedules it)."""
        return self._move(by, change_id, "returned", (ChangeStatus.IN_REVIEW, ChangeStatus.SCHEDULED),
                          ChangeStatus.DRAFT, action="change.return", note=note)

    def publish(self, by: Account, change_id: int, at: datetime | None = None) -> Change:
        """Publishes a change in review now, or schedules it when `at` is in the future."""
        return self.publish_many(by, [change_id], at)[0]

    def publish_many(self, by: Account, change_ids: Sequence[int], at: datetime | None = None) -> list[Change]:
        """Publishes (or schedules) several changes in one transaction and one knowledge revision: all of
        them, or none when any is refused."""
        now = utcnow()
        at = as_utc(at)
        schedule = at is not None and at > now
        published = []
        with self.db.session(write=True) as session, VersionWriter(session, now) as entries:
            for change_id in dict.fromkeys(change_ids):
                row = _row(session, change_id, lock=True)
                change = _change(row)
                _require(change, "published", (ChangeStatus.IN_REVIEW, ChangeStatus.SCHEDULED))
                if change.author == by.username:
                    raise OwnChange(change)
                current = entries.current(change.entry_id)
                _check_region(by, change.entry, current)
                _check_fresh(change, current, entries)
                row.reviewer, row.reviewed_at = by.username, now
                if schedule:
                    row.status, row.publish_at, row.updated_at = ChangeStatus.SCHEDULED.value, at, now
                    record(session, actor=by.username, action="change.schedule", target=f"change:{row.id}", at=now,
                           entry_id=row.entry_id, publish_at=at.isoformat())
                else:
                    _apply(session, entries, row, current, publisher=by.username, now=now)
                published.append(_change(row))
        return published

    def publish_due(self, now: datetime | None = None) -> int:
        """Applies every scheduled change whose time has come, as published by its reviewer; how many.

        Safe to call from every worker at once: on PostgreSQL each due change is locked by the first
        worker to reach it and skipped by the others; SQLite's write transactions take turns. A change
        whose entry moved on after it was scheduled goes back to its author as a draft instead.
        """
        now = as_utc(now) or utcnow()
        due = (EntryChangeRow.status == ChangeStatus.SCHEDULED.value, EntryChangeRow.publish_at <= now)
        with self.db.session() as session:  # usually nothing is due: then take no write lock at all
            if session.scalar(select(EntryChangeRow.id).where(*due).limit(1)) is None:
                return 0
        query = (select(EntryChangeRow).where(*due).order_by(EntryChangeRow.publish_at, EntryChangeRow.id)
                 .with_for_update(skip_locked=True))
        applied = 0
        with self.db.session(write=True) as session, VersionWriter(session, now) as entries:
            for row in session.scalars(query).all():
                change = _change(row)
                current = entries.current(row.entry_id)
                if _is_stale(change, current):
                    _return_stale(session, row, current, entries, now=now)
                    continue
                _apply(session, entries, row, current, publisher=row.reviewer or SYSTEM_ACTOR, now=now, scheduled=True)
                applied += 1
        return applied

    def rollback(self, by: Account, entry_id: str, version: int, note: str = "") -> Entry:
        """Restores version `version` of an entry (content and status) as a new version, published at
        once as it was then; refused outside the account's region, before or after."""
        now = utcnow()
        with self.db.session(write=True) as session, VersionWriter(session, now) as entries:
            current = entries.current(entry_id)
            if current is None:
                raise EntryMissing(entry_id)
            restored = entries.version(entry_id, version)
            _check_region(by, restored, current)
            saved = entries.rollback(entry_id, version, by=by.username, note=note or f"rollback to version {version}")
            record(session, actor=by.username, action="entry.rollback", target=f"entry:{entry_id}", at=now,
                   to_version=version, from_version=current.version, version=saved.version, note=note)
            return saved

    def import_as_changes(self, by: Account, entries: Sequence[Entry], source: str) -> tuple[str | None, list[int]]:
        """One change per entry that is new or differs from the stored one, all submitted for review as
        one batch in one transaction; `ImportRefused` lists every problem and nothing is created.
        A file that changes nothing gives no batch (None) and no changes."""
        now = utcnow()
        batch = f"import-{now:%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
        problems: list[dict] = []
        ids: list[int] = []
        with self.db.session(write=True) as session, VersionWriter(session, now) as stored:
            for entry in entries:
                current = stored.current(entry.id)
                kind = proposal_kind(current, entry)
                if kind is None:
                    continue
                try:
                    row = self._new_change(session, stored, by, kind=kind, entry=entry, entry_id=entry.id,
                                           source=source, batch=batch, now=now)
                except ChangeError as error:
                    problems.append({"entry_id": entry.id, "line": None, "code": error.code, "message": str(error)})
                    continue
                row.status, row.submitted_at = ChangeStatus.IN_REVIEW.value, now
                record(session, actor=by.username, action="change.submit", target=f"change:{row.id}", at=now,
                       entry_id=row.entry_id)
                ids.append(row.id)
            if problems:
                raise ImportRefused(problems)
            if not ids:
                return None, []  # nothing to change, nothing written
            record(session, actor=by.username, action="import.create", target=f"import:{batch}", at=now,
                   source=source, changes=ids, entries=len(entries))
        return batch, ids

    # the steps

    def _new_change(self, session: Session, entries: VersionWriter, by: Account, *, kind: ChangeKind,
                    entry: Entry | None, entry_id: str | None, source: str, batch: str | None,
                    now: datetime) -> EntryChangeRow:
        if kind is ChangeKind.CREATE:
            if entry is None:
                raise InvalidChange(entry_id or "?", ["a new entry needs at least its question"])
            entry_id = entry_id or entry.id or new_entry_id(entry.question)
        else:
            entry_id = entry_id or (entry.id if entry is not None else None)
            if not entry_id:
                raise InvalidChange("?", ["say which entry to change (entry_id)"])
        _lock_entry_id(session, entry_id)
        current = entries.current(entry_id)
        if kind is ChangeKind.CREATE and current is not None:
            raise EntryExists(entry_id)
        if kind is not ChangeKind.CREATE and current is None:
            raise EntryMissing(entry_id)
        if (existing := _open_row(session, entry_id)) is not None:
            raise ChangeOpen(entry_id, existing.id, existing.status)
        proposed = _proposed((entry or current).with_changes(id=entry_id), kind, current)
        _check_region(by, proposed, current)
        _check_valid(proposed)
        row = EntryChangeRow(entry_id=entry_id, kind=kind.value, content=entry_to_record(proposed),
                             base_version=current.version if current is not None else None,
                             status=ChangeStatus.DRAFT.value, author=by.username, created_at=now, updated_at=now,
                             review_note="", batch=batch, source=source)
        session.add(row)
        session.flush()  # the id, for the audit event
        record(session, actor=by.username, action="change.create", target=f"change:{row.id}", at=now,
               entry_id=entry_id, kind=kind.value, source=source, batch=batch)
        return row

    def _move(self, by: Account, change_id: int, verb: str, allowed: Sequence[ChangeStatus], to: ChangeStatus, *,
              action: str, author_only: bool = False, note: str | None = None) -> Change:
        now = utcnow()
        with self.db.session(write=True) as session:
            row = _row(session, change_id, lock=True)
            change = _change(row)
            _require(change, verb, allowed)
            if author_only:
                _require_author(change, by, _verb(action))
            _check_region(by, change.entry, self.store.get(change.entry_id))
            row.status, row.updated_at = to.value, now
            if to is ChangeStatus.IN_REVIEW:
                row.submitted_at = now
            if note is not None:
                row.reviewer, row.reviewed_at, row.review_note = by.username, now, note
                row.publish_at = None
            detail = {"entry_id": row.entry_id} | ({"note": note} if note is not None else {})
            record(session, actor=by.username, action=action, target=f"change:{row.id}", at=now, **detail)
            return _change(row)


def proposal_kind(current: Entry | None, incoming: Entry) -> ChangeKind | None:
    """What a change bringing `incoming` would be (None: it would change nothing that is served)."""
    if current is None:
        return ChangeKind.CREATE
    if incoming.status is Status.RETIRED:
        return None if current.status is Status.RETIRED else ChangeKind.RETIRE
    target = incoming.with_changes(status=Status.PUBLISHED)
    if current.status is Status.PUBLISHED and not changed_fields(current, target):
        return None
    return ChangeKind.EDIT


# -- helpers over one session -------------------------------------------------------------------------

def _row(session: Session, change_id: int, *, lock: bool = False) -> EntryChangeRow:
    row = session.get(EntryChangeRow, change_id, with_for_update=lock or None)
    if row is None:
        raise ChangeNotFound(change_id)
    return row


def _open_row(session: Session, entry_id: str) -> EntryChangeRow | None:
    query = (select(EntryChangeRow).where(EntryChangeRow.entry_id == entry_id,
                                          EntryChangeRow.status.in_(OPEN_CHANGE_STATUSES))
             .order_by(EntryChangeRow.id.desc()).limit(1))
    return session.scalars(query).first()


def _lock_entry_id(session: Session, entry_id: str) -> None:
    """Two editors opening a change for the same id at the same moment take turns (PostgreSQL; SQLite's
    write transactions already do), so only one open change per entry can exist."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"entry-change:{entry_id}"})


def _proposed(entry: Entry, kind: ChangeKind, current: Entry | None) -> Entry:
    """The entry as it will be once published: published (retired for a retirement), on the stored version."""
    status = Status.RETIRED if kind is ChangeKind.RETIRE else Status.PUBLISHED
    return entry.with_changes(status=status, version=current.version if current is not None else 0,
                              samples=tuple(entry.samples))


def _check_region(by: Account, proposed: Entry, current: Entry | None) -> None:
    for entry in (current, proposed):
        if entry is not None and not by.may_change(entry.region):
            raise OutsideRegion(by, proposed.id, entry.region)


def _check_valid(entry: Entry) -> None:
    if problems := entry_problems(entry):
        raise InvalidChange(entry.id, problems)


def _require(change: Change, verb: str, allowed: ChangeStatus | Sequence[ChangeStatus]) -> None:
    allowed = (allowed,) if isinstance(allowed, ChangeStatus) else tuple(allowed)
    if change.status not in allowed:
        raise WrongStatus(change, verb, allowed)


def _require_author(change: Change, by: Account, verb: str) -> None:
    if change.author != by.username:
        raise NotAuthor(change, by.username, verb)


def _verb(action: str) -> str:
    return action.split(".", 1)[1]


def _is_stale(change: Change, current: Entry | None) -> bool:
    return (current.version if current is not None else None) != change.base_version


def _check_fresh(change: Change, current: Entry | None, entries: VersionWriter) -> None:
    if not _is_stale(change, current):
        return
    base = entries.version(change.entry_id, change.base_version) if change.base_version else None
    fields = changed_fields(base, current) if current is not None and base is not None else []
    raise Stale(change, current, fields)


def _apply(session: Session, entries: VersionWriter, row: EntryChangeRow, current: Entry | None, *,
           publisher: str, now: datetime, scheduled: bool = False) -> None:
    change = _change(row)
    note = f"change {row.id} ({row.kind}) by {row.author}" + (f": {row.source}" if row.source else "")
    saved = entries.write(change.entry, by=publisher, note=note)
    row.status, row.published_version, row.updated_at = ChangeStatus.PUBLISHED.value, saved.version, now
    row.publish_at = row.publish_at if scheduled else now
    record(session, actor=publisher, action="change.publish", target=f"change:{row.id}", at=now,
           entry_id=row.entry_id, kind=row.kind, version=saved.version, scheduled=scheduled,
           previous_version=current.version if current is not None else None)


def _return_stale(session: Session, row: EntryChangeRow, current: Entry | None, entries: VersionWriter, *,
                  now: datetime) -> None:
    change = _change(row)
    base = entries.version(row.entry_id, row.base_version) if row.base_version else None
    fields = changed_fields(base, current) if base is not None and current is not None else []
    note = str(Stale(change, current, fields))
    row.status, row.review_note, row.publish_at, row.updated_at = ChangeStatus.DRAFT.value, note, None, now
    record(session, actor=SYSTEM_ACTOR, action="change.return", target=f"change:{row.id}", at=now,
           entry_id=row.entry_id, note=note, stale=True)


def _change(row: EntryChangeRow) -> Change:
    return Change(id=row.id, entry_id=row.entry_id, kind=ChangeKind(row.kind), status=ChangeStatus(row.status),
                  entry=entry_from_record(row.content), base_version=row.base_version, author=row.author,
                  created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
                  submitted_at=as_utc(row.submitted_at), reviewer=row.reviewer, reviewed_at=as_utc(row.reviewed_at),
                  review_note=row.review_note or "", publish_at=as_utc(row.publish_at),
                  published_version=row.published_version, batch=row.batch, source=row.source or "")


def new_entry_id(question: str) -> str:
    """A readable, unique-enough id for a new entry: its first words in pinyin (or its Latin letters)
    and a short random suffix, e.g. "huang-ma-zen-me-3f9a2c"."""
    from pypinyin import lazy_pinyin

    words = [word.lower() for word in lazy_pinyin(question.strip()[:_ID_SLUG_CHARS * 2])]
    slug = "-".join(filter(None, (re.sub(r"[^a-z0-9]+", "-", word).strip("-") for word in words)))
    slug = "-".join(slug.split("-")[:_ID_SLUG_CHARS]) or "entry"
    return f"{slug}-{secrets.token_hex(3)}"
