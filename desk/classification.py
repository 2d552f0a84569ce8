"""Filing a handoff ticket under the province's code table.

In order of preference: the classifier trained on the hotline's labelled tickets
(`frontdoor train classifier FILE`); else the category whose name path reads most like the ticket
(retrieval over the imported code table); else the category of the closest knowledge entry.

A seat's correction is a label: `seat_labels` reads the tickets seats filed under a category (`reclassify`),
with the words the classifier read, for `frontdoor train classifier --from-desk`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select

from desk.categories import PATH_SEPARATOR, Category, CategoryMatcher
from knowledge_base.entry import Entry
from ground.clock import utcnow
from models.text_classifier import ClassifierError, TextClassifier
from storage.audit import record
from storage.database import Database
from storage.tables import CategoryCodeRow, TicketEventRow, TicketRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Classification:
    code: str | None
    name: str | None
    score: float | None
    source: str


# text → classification of a handoff ticket (the desk's trained classifier, or a fallback)
Classify = Callable[[str, Sequence[Entry]], Classification]


def classify_by_top_entry(text: str, candidates: Sequence[Entry]) -> Classification:
    """With no classifier and no code table: the category of the closest entry, if any."""
    top = next((e for e in candidates if e.category), None)
    return Classification(top.category if top else None, None, None, "nearest_entry" if top else "none")


class CodeTable:
    """The imported code table, shared by every worker through the database."""

    def __init__(self, db: Database):
        self._db = db

    def replace(self, categories: Sequence[Category], *, by: str = "system", source: str = "") -> int:
        """The whole table at once (a province publishes its table whole); audited as `codes.import`."""
        with self._db.session(write=True) as s:
            s.execute(delete(CategoryCodeRow))
            s.add_all(CategoryCodeRow(code=c.code, name=c.name, parent=c.parent, path=list(c.path)) for c in categories)
            record(s, actor=by, action="codes.import", target="codes", at=utcnow(), categories=len(categories), source=source)
        return len(categories)

    def all(self) -> list[Category]:
        with self._db.session() as s:
            rows = s.execute(select(CategoryCodeRow).order_by(CategoryCodeRow.code)).scalars()
            return [Category(code=r.code, name=r.name, parent=r.parent, path=tuple(r.path)) for r in rows]


class TicketClassifier:
    def __init__(self, categories: Sequence[Category], embedder, classifier: TextClassifier | None = None):
        self._embedder = embedder
        self._classifier = classifier
        self._by_label = {}
        for category in categories:  # a trained label may be a code, a name or a whole path
            for key in (category.code, category.name, category.path_text, "/".join(category.path)):
                self._by_label.setdefault(key, category)
        self._matcher = CategoryMatcher(categories, embedder) if categories else None

    def __call__(self, text: str, candidates: Sequence[Entry]) -> Classification:
        if self._classifier is not None:
            [(label, probability)] = self._classifier.predict([text], self._embedder.embed_passages)
            category = self._by_label.get(label)
            return Classification(category.code if category else None, category.path_text if category else label,
                                  round(probability, 4), "classifier")
        if self._matcher is not None:
            [(category, score)] = self._matcher.classify(text, k=1)
            return Classification(category.code, category.path_text, round(score, 4), "code_table")
        return classify_by_top_entry(text, candidates)


def load_classifier(folder: Path, embedder_id: str) -> TextClassifier | None:
    """The trained classifier in `folder`, or None when none has been trained (or it cannot be used)."""
    if not (folder / "meta.json").exists():
        return None
    try:
        return TextClassifier.load(folder, embedder_id)
    except ClassifierError as error:
        log.error("the ticket classifier in %s is not used: %s", folder, error)
        return None


# -------------------------------------------------------------------------------------------------
# Seats' corrections as training labels

@dataclass(frozen=True)
class SeatLabel:
    """A ticket a seat filed under a category: its number, the citizen's words as the classifier reads them, and the
    label (the category's path down to the asked level: its top-level name at level 1)."""

    number: str
    text: str
    label: str


def ticket_words(transcript: Sequence[dict]) -> str:
    """What the classifier reads of a ticket: every turn the citizen said, one a line (as the engine files it)."""
    return "\n".join(turn["text"] for turn in transcript if isinstance(turn, dict) and turn.get("text"))


def seat_labels(db: Database, *, since: datetime, level: int = 1) -> list[SeatLabel]:
    """The tickets whose category a seat set or confirmed (reclassified at or after `since`, and still filed by a
    seat), oldest correction first. A code no longer in the code table keeps the path it was filed under."""
    if level < 1:
        raise ClassifierError(f"--level must be 1 or more, not {level}")
    paths = {category.code: category.path for category in CodeTable(db).all()}
    corrected = (select(TicketEventRow.ticket_number, TicketEventRow.at)
                 .where(TicketEventRow.kind == "reclassified", TicketEventRow.at >= since).subquery())
    with db.session() as s:
        rows = s.execute(select(TicketRow).join(corrected, corrected.c.ticket_number == TicketRow.number)
                         .where(TicketRow.category_source == "seat", TicketRow.category_code.is_not(None))
                         .order_by(corrected.c.at)).scalars().unique()
        labels = {}
        for row in rows:
            path = paths.get(row.category_code) or tuple((row.category_name or row.category_code).split(PATH_SEPARATOR))
            text = ticket_words(row.transcript or []) or row.summary
            if text.strip():
                labels[row.number] = SeatLabel(row.number, text, PATH_SEPARATOR.join(path[:level]))
    return list(labels.values())


def past_ticket_words(db: Database, *, since: datetime, limit: int) -> list[str]:
    """The citizens' words of up to `limit` tickets opened at or after `since`, newest first: unlabelled examples of
    how this hotline's citizens put things."""
    with db.session() as s:
        rows = s.execute(select(TicketRow.transcript, TicketRow.summary).where(TicketRow.created_at >= since)
                         .order_by(TicketRow.created_at.desc()).limit(limit)).all()
    return [words for words in (ticket_words(transcript or []) or summary for transcript, summary in rows) if words.strip()]


def label_names(categories: Sequence[Category], labels: Sequence[str]) -> dict[str, list[str]]:
    """For each label that names a category of the code table (by code, name, or path), the path of that category
    and of every category under it: the words the `e5-codes` method reads a label by. Labels the table does not
    know are left out; a name used twice in the table (at different places) names nothing."""
    by_key: dict[str, Category | None] = {}
    for category in categories:
        by_key[category.name] = None if category.name in by_key else category
    for category in categories:  # a code or a path names one category, whatever other names say
        for key in (category.code, category.path_text, "/".join(category.path)):
            by_key[key] = category
    names = {}
    for label in dict.fromkeys(labels):
        category = by_key.get(label)
        if category is not None:
            depth = len(category.path)
            names[label] = [c.path_text for c in categories if c.path[:depth] == category.path]
    return names


def merge_labels(file_rows: Sequence[tuple[str, str]], seat_rows: Sequence[SeatLabel]) -> list[tuple[str, str]]:
    """The file's (text, label) rows and the seats' labels as one training set; a text in both takes the seat's label."""
    from models.text_classifier import clean

    by_seat = {clean(label.text): label.label for label in seat_rows}
    merged = [(text, label) for text, label in file_rows if clean(text) not in by_seat]
    return merged + [(label.text, label.label) for label in seat_rows]
