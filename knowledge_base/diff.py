"""What a change does to an entry, field by field, for a reviewer to read before publishing.

Text fields are compared character by character (Chinese has no spaces to split words on); the sample
questions line by line, since each is a unit an editor adds or removes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher
from typing import Any

from knowledge_base.entry import Entry
from ground.clock import as_utc

# The fields a reviewer cares about, in the order the console shows them; bookkeeping (version, who,
# when) is left out because every save changes it.
DIFF_FIELDS = ("question", "samples", "chat_answer", "voice_answer", "category", "request_type", "region",
               "variant_of", "effective_from", "expires_at", "status", "source")
_TEXT_FIELDS = frozenset({"question", "chat_answer", "voice_answer", "category", "region", "variant_of", "source"})


@dataclass(frozen=True)
class Segment:
    op: str  # equal, insert, delete
    text: str

    def to_json(self) -> dict[str, str]:
        return {"op": self.op, "text": self.text}


@dataclass(frozen=True)
class FieldDiff:
    field: str
    before: Any  # JSON-ready: text, a list of texts, an ISO time, or None
    after: Any
    segments: tuple[Segment, ...]

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "before": self.before, "after": self.after,
                "segments": [segment.to_json() for segment in self.segments]}


def diff_entries(before: Entry | None, after: Entry) -> list[FieldDiff]:
    """The fields that differ between `before` (None: a new entry) and `after`, in DIFF_FIELDS order."""
    changes = []
    for field in DIFF_FIELDS:
        old = _value(before, field) if before is not None else None
        new = _value(after, field)
        if old == new or (before is None and new in (None, "", [])):
            continue
        changes.append(FieldDiff(field, old, new, tuple(_segments(field, old, new))))
    return changes


def changed_fields(before: Entry | None, after: Entry) -> list[str]:
    return [change.field for change in diff_entries(before, after)]


def _value(entry: Entry, field: str) -> Any:
    value = getattr(entry, field)
    if field == "samples":
        return list(value)
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if hasattr(value, "value"):  # an enum
        return value.value
    return value


def _segments(field: str, old: Any, new: Any) -> list[Segment]:
    if field == "samples":
        return _opcodes_to_segments(old or [], new or [], joiner="\n")
    if field in _TEXT_FIELDS:
        return _opcodes_to_segments(old or "", new or "", joiner="")
    # A status, a type, a time: replaced whole.
    segments = []
    if old not in (None, ""):
        segments.append(Segment("delete", str(old)))
    if new not in (None, ""):
        segments.append(Segment("insert", str(new)))
    return segments


def _opcodes_to_segments(old, new, *, joiner: str) -> list[Segment]:
    """Segments from a SequenceMatcher over characters (text) or lines (a list of samples); lines keep
    their line ends so that the segments join back into the text on either side."""
    segments: list[Segment] = []

    def add(op: str, parts) -> None:
        text = "".join(parts) if not joiner else "".join(part + joiner for part in parts)
        if not text:
            return
        if segments and segments[-1].op == op:
            segments[-1] = Segment(op, segments[-1].text + text)
        else:
            segments.append(Segment(op, text))

    matcher = SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("equal", old[i1:i2])
        else:
            add("delete", old[i1:i2])
            add("insert", new[j1:j2])
    return segments
