"""The unit an editor owns: one question and its answers."""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from ground.clock import as_utc
from ground.regions import REGION_SEPARATOR, region_place_names


class Status(str, enum.Enum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    RETIRED = "retired"


class RequestType(str, enum.Enum):
    """The five kinds of 诉求 a 12345 hotline records."""

    ENQUIRY = "咨询"
    HELP = "求助"
    COMPLAINT = "投诉"
    REPORT = "举报"
    SUGGESTION = "建议"


@dataclass(frozen=True)
class Entry:
    id: str
    question: str
    samples: tuple[str, ...] = ()
    chat_answer: str = ""
    voice_answer: str = ""
    category: str | None = None
    request_type: RequestType = RequestType.ENQUIRY
    region: str = ""
    # The id of a wider-scoped entry this one replaces for callers in its region (a city's own rule
    # for a question the province answers too).
    variant_of: str | None = None
    effective_from: datetime | None = None
    expires_at: datetime | None = None
    status: Status = Status.DRAFT
    version: int = 0
    updated_by: str = ""
    updated_at: datetime | None = None
    source: str = ""

    def is_in_force(self, now: datetime) -> bool:
        """Effective and not expired at `now`."""
        start, end = as_utc(self.effective_from), as_utc(self.expires_at)
        now = as_utc(now)
        return (start is None or start <= now) and (end is None or now < end)

    def is_servable(self, now: datetime) -> bool:
        """Published and in force: the only entries a citizen may ever be told."""
        return self.status is Status.PUBLISHED and self.is_in_force(now)

    def phrasings(self) -> list[str]:
        """The question title and its sample questions, without duplicates, title first; for an entry
        scoped below the whole province, also each phrasing without its place names — a caller in
        扬州 asks "黄码怎么转绿", not "在扬州黄码怎么转绿", and the scope already says where."""
        seen: dict[str, None] = {}
        places = region_place_names(self.region) if REGION_SEPARATOR in self.region else []
        for text in (self.question, *self.samples):
            text = text.strip()
            if text:
                seen.setdefault(text, None)
        for text in list(seen):
            bare = text
            for name in places:
                bare = bare.replace(name, "")
            bare = bare.strip(" ，,、")
            if len(bare) >= 4:
                seen.setdefault(bare, None)
        return list(seen)

    def with_changes(self, **changes) -> "Entry":
        return replace(self, **changes)
