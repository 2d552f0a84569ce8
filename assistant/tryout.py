"""Try it: what the engine would do with a question right now, and with an editor's draft published.

Nothing is recorded. The draft's index is the served one with the draft in place of its stored version
(or added; a retire draft takes the entry out), judged by the served index's calibrator and thresholds, so
the two decisions differ only by the draft. Only the draft's phrasings are embedded; the last few derived
indexes are remembered, so trying several questions against one draft builds it once.

Conflicts: a sample question (or the title) of the draft that, held out of its own entry, would be answered
by another entry — adding it would make answers flip between the two. Near-duplicates: a sample almost
identical to another entry's phrasing (the two entries then compete for the same words).
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from assistant.engine import Engine
from assistant.turn import Channel, Decision
from knowledge_base.entry import Entry, Status
from ground.clock import as_utc, utcnow
from ground.regions import region_covers
from knowledge_base.records import entry_to_record
from knowledge_base.retrieval.embedding import QueryEmbedder
from knowledge_base.retrieval.index import RetrievalIndex

NEAR_DUPLICATE = 0.97  # dense similarity above which two phrasings say the same thing
REMEMBERED = 4         # derived indexes kept per Tryout, the newest first …
# … and at most this many phrasing rows of their own among them (a derived index whose phrasings differ from the
# served index's holds its own copy of every vector, twice: ~3 KB a phrasing, ~220 MB for 10,000 seed-like
# entries); the newest is always kept.
REMEMBERED_ROWS = 100_000


@dataclass(frozen=True)
class Conflict:
    sample: str             # the draft's phrasing
    closer_entry_id: str    # the other entry it is closer to (conflicts) or nearly repeats (near-duplicates)
    closer_question: str
    matched: str            # the other entry's phrasing it matched
    own_score: float | None  # conflicts: fused scores; near-duplicates: dense similarity to the draft's other phrasings
    other_score: float
    new: bool = True        # False when the stored version of the entry has the same problem (not the draft's doing)


@dataclass(frozen=True)
class Note:
    code: str      # effective_later, expired, retired, not_found
    message: str


@dataclass(frozen=True)
class TryResult:
    now: Decision
    with_draft: Decision | None
    conflicts: list[Conflict] = field(default_factory=list)
    near_duplicates: list[Conflict] = field(default_factory=list)
    now_at: datetime | None = None    # the moment `now` is decided at
    draft_at: datetime | None = None  # the moment `with_draft` is decided at (the draft's effective_from when later)
    notes: list[Note] = field(default_factory=list)


def draft_key(draft: Entry) -> str:
    """A hash of what the draft would serve (not who saved it when)."""
    record = entry_to_record(draft)
    for volatile in ("version", "updated_by", "updated_at"):
        record.pop(volatile)
    return hashlib.sha256(json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def retiring(draft: Entry) -> bool:
    return draft.status is Status.RETIRED


@dataclass
class _Remembered:
    """A derived index, and the conflicts of its draft once they have been looked for."""

    index: RetrievalIndex
    found: tuple[list[Conflict], list[Conflict]] | None = None


class Tryout:
    def __init__(self, engine: Engine, embedder: QueryEmbedder, *, remembered: int = REMEMBERED,
                 remembered_rows: int = REMEMBERED_ROWS):
        self.engine = engine
        self.embedder = embedder
        self._remembered, self._remembered_rows = remembered, remembered_rows
        self._base: RetrievalIndex | None = None
        self._derived: OrderedDict[tuple[int, str], _Remembered] = OrderedDict()
        self._lock = threading.Lock()

    def run(self, text: str, region: str | None, channel: Channel, draft: Entry | None = None, *,
            now: datetime | None = None) -> TryResult:
        now = as_utc(now) or utcnow()
        current = self.engine.knowledge.index.current  # one served index for the whole try
        before = self.engine.preview(text, channel=channel, region=region, index=current, now=now)
        if draft is None:
            return TryResult(before, None, now_at=now)
        remembered = self._remember(current, draft)
        at, notes = self._moment(draft, now, current)
        after = self.engine.preview(text, channel=channel, region=region, index=remembered.index, now=at)
        if retiring(draft):
            return TryResult(before, after, now_at=now, draft_at=at, notes=notes)
        if remembered.found is None:  # the same for every question tried with this draft
            remembered.found = self._new_conflicts(current, remembered.index, draft, at)
        conflicts, duplicates = remembered.found
        return TryResult(before, after, list(conflicts), list(duplicates), now, at, notes)

    # ---- the index with the draft ---------------------------------------------------------------
    def derived(self, current: RetrievalIndex, draft: Entry) -> RetrievalIndex:
        """The served index with the draft published, remembered by (knowledge revision, draft content)."""
        return self._remember(current, draft).index

    def _remember(self, current: RetrievalIndex, draft: Entry) -> _Remembered:
        key = (current.revision, draft_key(draft))
        with self._lock:
            if self._base is not current:  # a new index is served: what was derived from the old one is stale
                self._base, self._derived = current, OrderedDict()
            remembered = self._derived.get(key)
            if remembered is not None:
                self._derived.move_to_end(key)
                return remembered
        index = RetrievalIndex.build(with_draft(current.entries, draft), self.embedder, reuse=current, calibrate=False,
                                     revision=current.revision).calibrated_like(current)
        remembered = _Remembered(index)
        with self._lock:
            if self._base is current:
                remembered = self._derived.setdefault(key, remembered)
                self._forget_oldest(current)
        return remembered

    def _forget_oldest(self, current: RetrievalIndex) -> None:
        def own_rows() -> int:  # rows not shared with the served index
            return sum(0 if r.index.vectors is current.vectors else len(r.index.phrasings) for r in self._derived.values())

        while len(self._derived) > 1 and (len(self._derived) > self._remembered or own_rows() > self._remembered_rows):
            self._derived.popitem(last=False)

    def _new_conflicts(self, current: RetrievalIndex, derived: RetrievalIndex, draft: Entry,
                       at: datetime) -> tuple[list[Conflict], list[Conflict]]:
        """The draft's conflicts and near-duplicates, those the stored version already had marked not new."""
        conflicts, duplicates = self.conflicts(derived, draft, at)
        stored = current.entries_by_id.get(draft.id)
        if stored is not None and (conflicts or duplicates):
            known_conflicts, known_duplicates = self.conflicts(current, stored, at)
            conflicts, duplicates = _marked(conflicts, known_conflicts), _marked(duplicates, known_duplicates)
        return conflicts, duplicates

    @staticmethod
    def _moment(draft: Entry, now: datetime, current: RetrievalIndex) -> tuple[datetime, list[Note]]:
        if retiring(draft):
            if draft.id in current.entries_by_id:
                return now, [Note("retired", f"With the draft, entry {draft.id!r} is retired: it no longer answers.")]
            return now, [Note("not_found", f"Entry {draft.id!r} is not being served now, so retiring it changes nothing.")]
        start, end = as_utc(draft.effective_from), as_utc(draft.expires_at)
        at, notes = now, []
        if start is not None and start > now:
            at = start
            notes.append(Note("effective_later", f"The draft takes effect at {start.isoformat()}; the answer "
                                                 "'with the draft' is the one callers would get from then on."))
        if end is not None and end <= at:
            notes.append(Note("expired", f"The draft expires at {end.isoformat()}, so it would answer nobody; "
                                         "move expires_at later to try it."))
        return at, notes

    # ---- conflicts -------------------------------------------------------------------------------
    def conflicts(self, index: RetrievalIndex, draft: Entry, at: datetime) -> tuple[list[Conflict], list[Conflict]]:
        """The draft's phrasings (title and samples) that another entry wins when held out of the draft's
        own entry, and those nearly identical to another entry's phrasing."""
        own = _row_of(index, draft.id)
        if own is None:
            return [], []
        own_rows = index.entry_phrasings[own]
        row_of_text = {index.phrasings[r]: int(r) for r in own_rows}
        written = list(dict.fromkeys(t.strip() for t in (draft.question, *draft.samples) if t.strip()))
        texts, rows, held = [], [], []
        for text in written:
            forms = [row_of_text[f] for f in _forms(text, draft.region) if f in row_of_text]
            if not forms or len(forms) >= own_rows.size:  # nothing of the entry would be left to compare with
                continue
            texts.append(text)
            rows.append(forms[0])
            held.append(np.asarray(forms, dtype=np.int64))
        if not texts:
            return [], []
        allowed = np.array([region_covers(e.region, draft.region or None) and e.is_in_force(at) for e in index.entries],
                           dtype=bool)
        vectors = index.vectors[rows]
        rankings = index.rank(texts, vectors, allowed=allowed, excluded=held)
        conflicts, duplicates = [], []
        nearest = _nearest_other(index, vectors, own, allowed)
        for text, vector, excluded, ranking, (row, similarity) in zip(texts, vectors, held, rankings, nearest):
            positions = np.flatnonzero(ranking.rows == own)
            own_score = float(ranking.fused[positions[0]]) if positions.size else None
            if ranking.rows.size and ranking.rows[0] != own:
                other = index.entries[int(ranking.rows[0])]
                conflicts.append(Conflict(text, other.id, other.question, index.phrasings[int(ranking.matched[0])],
                                          _rounded(own_score), round(float(ranking.fused[0]), 4)))
            if similarity >= NEAR_DUPLICATE:
                other = index.entries[int(index.phrasing_entry[row])]
                rest = np.setdiff1d(own_rows, excluded)
                own_similarity = float(np.max(index.vectors[rest] @ vector)) if rest.size else None
                duplicates.append(Conflict(text, other.id, other.question, index.phrasings[row], _rounded(own_similarity),
                                           round(similarity, 4)))
        return conflicts, duplicates


def with_draft(entries: list[Entry], draft: Entry) -> list[Entry]:
    """The servable entries with the draft published in place of its stored version (or added), or taken
    out when the draft retires it."""
    rest = [e for e in entries if e.id != draft.id]
    if retiring(draft):
        return rest
    placed = replace(draft, status=Status.PUBLISHED)
    position = next((i for i, e in enumerate(entries) if e.id == draft.id), len(rest))
    return rest[:position] + [placed] + rest[position:]


def _row_of(index: RetrievalIndex, entry_id: str) -> int | None:
    return next((row for row, e in enumerate(index.entries) if e.id == entry_id), None)


def _forms(text: str, region: str) -> list[str]:
    """A phrasing as the index holds it: itself, and without its place names for an entry below province level."""
    return Entry(id="_", question=text, region=region).phrasings()


def _nearest_other(index: RetrievalIndex, vectors: np.ndarray, own: int, allowed: np.ndarray) -> list[tuple[int, float]]:
    """Per vector, the phrasing of another allowed entry most similar to it, and the similarity
    (-inf when there is none)."""
    others = (index.phrasing_entry != own) & allowed[index.phrasing_entry]
    if not others.any():
        return [(-1, -np.inf)] * len(vectors)
    similarities = index.vectors @ vectors.T  # phrasings × samples
    similarities[~others] = -np.inf
    best = np.argmax(similarities, axis=0)
    return [(int(b), float(similarities[b, q])) for q, b in enumerate(best)]


def _marked(found: list[Conflict], known: list[Conflict]) -> list[Conflict]:
    """`found`, with those the stored version already had marked as not new."""
    already = {(c.sample, c.closer_entry_id) for c in known}
    return [replace(c, new=(c.sample, c.closer_entry_id) not in already) for c in found]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
