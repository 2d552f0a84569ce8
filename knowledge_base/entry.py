"""The unit an editor owns: one question and its answers."""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timezone


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


REGION_SEPARATOR = "/"


def region_covers(scope: str, region: str | None) -> bool:
    """Whether an entry scoped to `scope` applies to a caller in `region`.

    Regions are paths from the province down, e.g. "江苏省/南京市/鼓楼区". An empty scope applies
    everywhere; a caller with no known region is served only entries whose scope is province-wide or
    wider (a city's special rule must not be told to someone who may live elsewhere).
    """
    if not scope:
        return True
    if not region:
        return REGION_SEPARATOR not in scope
    return region == scope or region.startswith(scope + REGION_SEPARATOR)


def region_depth(scope: str) -> int:
    """0 for everywhere, 1 for a province, 2 for a city, 3 for a district."""
    return 0 if not scope else scope.count(REGION_SEPARATOR) + 1


_ADMINISTRATIVE_SUFFIXES = ("自治州", "自治县", "特别行政区", "省", "市", "区", "县", "镇", "街道")


def region_place_names(scope: str) -> list[str]:
    """The names a caller may use for the places in a scope, longest first:
    "江苏省/扬州市" → ["江苏省", "扬州市", "江苏", "扬州"]."""
    names: set[str] = set()
    for part in filter(None, scope.split(REGION_SEPARATOR)):
        names.add(part)
        for suffix in _ADMINISTRATIVE_SUFFIXES:
            if part.endswith(suffix) and len(part) - len(suffix) >= 2:
                names.add(part[: -len(suffix)])
                break
    return sorted(names, key=lambda n: (-len(n), n))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC (databases that drop the zone give them back naive)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


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
