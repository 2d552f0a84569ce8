"""Bulk import for editors: what a file would change, before anything is changed.

A file read with `knowledge_base.io.read_entries_from_bytes` is compared with the stored entries: new
entries, entries it changes (with the diff), entries it leaves as they are, and problems (an entry outside
the account's region, an entry that already has a change on its way). Importing it for real is
`ChangeDesk.import_as_changes`: one change per new or changed entry, all submitted for review as one batch,
or none at all.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from accounts.roles import Account
from knowledge_base.changes import ChangeDesk, ChangeKind, OutsideRegion, proposal_kind
from knowledge_base.diff import FieldDiff, diff_entries
from knowledge_base.entry import Entry, Status
from knowledge_base.io import KnowledgeFileError
from knowledge_base.store import KnowledgeStore


@dataclass(frozen=True)
class ImportProblem:
    message: str
    entry_id: str | None = None
    line: int | None = None   # the line (a spreadsheet: the row) of the file, when known
    code: str = "invalid_file"

    def to_json(self) -> dict[str, Any]:
        return {"entry_id": self.entry_id, "line": self.line, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class Updated:
    entry: Entry
    kind: ChangeKind            # edit, or retire when the file retires the entry
    diff: list[FieldDiff]


@dataclass
class Preview:
    created: list[Entry] = field(default_factory=list)
    updated: list[Updated] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def preview(entries: Sequence[Entry], store: KnowledgeStore, by: Account, *,
            desk: ChangeDesk | None = None) -> Preview:
    """What importing `entries` as `by` would do; with `desk`, entries that already have an open change
    are problems too (an import cannot open a second one)."""
    result = Preview()
    for entry in entries:
        current = store.get(entry.id)
        kind = proposal_kind(current, entry)
        if kind is None:
            result.unchanged.append(entry.id)
            continue
        regions = [entry.region] + ([current.region] if current is not None else [])
        for region in dict.fromkeys(regions):
            if not by.may_change(region):
                result.problems.append(ImportProblem(str(OutsideRegion(by, entry.id, region)), entry.id,
                                                     code=OutsideRegion.code))
                break
        if desk is not None and (open_change := desk.open_for(entry.id)) is not None:
            result.problems.append(ImportProblem(
                f"entry {entry.id!r} already has an open change ({open_change.id}, {open_change.status.value}); "
                "finish or withdraw it, then import again", entry.id, code="change_open"))
        target = entry.with_changes(status=Status.RETIRED if kind is ChangeKind.RETIRE else Status.PUBLISHED)
        if kind is ChangeKind.CREATE:
            result.created.append(target)
        else:
            result.updated.append(Updated(target, kind, diff_entries(current, target)))
    return result


def file_problems(error: KnowledgeFileError) -> list[ImportProblem]:
    """A file that could not be read, as preview problems (each with its line or row)."""
    return [ImportProblem(problem.message, line=problem.line) for problem in error.problems]
