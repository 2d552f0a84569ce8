"""From an unanswered-question cluster to a draft, in one step: a new entry, or new samples for an existing one.

Either way the draft is a change like any other (knowledge_base/changes.py: reviewed, then published), its
source the cluster (`gap:<id>`), and the cluster is closed as resolved by it (knowledge_base/gaps.py).
"""
from __future__ import annotations

from accounts.roles import Account
from ground.errors import DomainError, ErrorKind
from knowledge_base.changes import Change, ChangeDesk, ChangeKind
from knowledge_base.entry import Entry, Status
from knowledge_base.gaps import GapClosed, GapQueue, distinct
from knowledge_base.store import KnowledgeStore

MAX_SAMPLES = 30  # questions a draft takes from a cluster, the most often asked first


class NoEntryToExtend(DomainError, LookupError):
    """The entry a cluster's questions were to be added to does not exist."""

    code, kind = "entry_not_found", ErrorKind.NOT_FOUND

    def __init__(self, entry_id: str) -> None:
        super().__init__(f"No entry has the id {entry_id!r}; pick one of the cluster's suggestions, "
                         "or make a new entry (POST …/new-entry).")
        self.entry_id = entry_id


class NothingToAdd(DomainError):
    """Every question of the cluster is already one of the entry's phrasings."""

    code, kind = "nothing_to_add", ErrorKind.CONFLICT

    def __init__(self, entry_id: str, cluster_id: int) -> None:
        super().__init__(f"Entry {entry_id!r} already has every question of cluster {cluster_id} among its "
                         "phrasings; if it still does not answer them, edit its answer, or dismiss the cluster.")
        self.entry_id, self.cluster_id = entry_id, cluster_id


def draft_new_entry(queue: GapQueue, desk: ChangeDesk, account: Account, cluster_id: int) -> Change:
    """A draft of a new entry: its question the cluster's label, its samples the cluster's other questions (at
    most MAX_SAMPLES); the answers are left for the editor to write. Scoped to the editor's own region
    (everywhere for an editor without one). Closes the cluster."""
    queue.ensure_open(cluster_id)
    label = queue.get(cluster_id, questions=0).label
    samples = distinct(queue.questions(cluster_id), without=[label])[:MAX_SAMPLES]
    entry = Entry(id="", question=label, samples=tuple(samples), region=account.region, status=Status.DRAFT)
    change = _draft(desk, account, ChangeKind.CREATE, entry, None, cluster_id)
    _resolve(queue, cluster_id, account, how="new_entry", change_id=change.id, entry_id=change.entry_id)
    return change


def draft_samples(queue: GapQueue, desk: ChangeDesk, store: KnowledgeStore, account: Account, cluster_id: int,
                  entry_id: str) -> Change:
    """A draft adding the cluster's questions that the entry does not already have as phrasings (at most
    MAX_SAMPLES) to its samples. Closes the cluster."""
    queue.ensure_open(cluster_id)
    questions = queue.questions(cluster_id)
    current = store.get(entry_id)
    if current is None:
        raise NoEntryToExtend(entry_id)
    new = distinct(questions, without=current.phrasings())[:MAX_SAMPLES]
    if not new:
        raise NothingToAdd(current.id, cluster_id)
    entry = current.with_changes(samples=tuple(current.samples) + tuple(new))
    change = _draft(desk, account, ChangeKind.EDIT, entry, current.id, cluster_id)
    _resolve(queue, cluster_id, account, how="samples", change_id=change.id, entry_id=current.id)
    return change


def _draft(desk: ChangeDesk, account: Account, kind: ChangeKind, entry: Entry, entry_id: str | None,
           cluster_id: int) -> Change:
    return desk.create(account, kind=kind, entry=entry, entry_id=entry_id, source=f"gap:{cluster_id}")


def _resolve(queue: GapQueue, cluster_id: int, account: Account, **resolution) -> None:
    """The draft exists; if another editor closed the cluster meanwhile, their action stands and so does the draft."""
    try:
        queue.resolve(cluster_id, by=account.username, **resolution)
    except GapClosed:
        pass
