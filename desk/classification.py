"""Filing a handoff ticket under the province's code table.

In order of preference: the classifier trained on the hotline's labelled tickets
(`frontdoor train classifier FILE`); else the category whose name path reads most like the ticket
(retrieval over the imported code table); else the category of the closest knowledge entry.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select

from desk.categories import Category, CategoryMatcher
from knowledge_base.entry import Entry
from ground.clock import utcnow
from models.text_classifier import ClassifierError, TextClassifier
from storage.audit import record
from storage.database import Database
from storage.tables import CategoryCodeRow

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
