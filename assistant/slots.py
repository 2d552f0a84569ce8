"""What a citizen's words say about a 诉求: where, since when, and how to reach them.

Citizens give these in any order, several in one message ("鼓楼区中山路18号，昨晚十点开始的，我电话13812345678").
A message is read clause by clause (split at punctuation): a phone number is found by ground.privacy's
patterns, a time by JioNLP's time parser, a place by the words places end with (content: intake.yaml), and
the region tree by JioNLP's address parser with the citizen's own city as context (鼓楼区 is in 南京, 徐州, 福州
and 开封). What no other piece takes is what happened.
"""
from __future__ import annotations

import contextlib
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from ground.privacy import find as find_numbers
from ground.regions import REGION_SEPARATOR

_CLAUSE = re.compile(r"[，,。；;！!？?、\s]+")
_PHONE_KINDS = ("mobile", "landline")


@cache
def _jionlp():
    """JioNLP, imported once on first use (it takes a second and prints a banner to stdout, which is dropped).
    Its time parser logs a traceback to the root logger for every phrase it cannot read ("这周半") and then
    carries on; those records are dropped, since to us such a phrase is just not a time."""
    with contextlib.redirect_stdout(io.StringIO()):
        import jionlp
    logging.getLogger().addFilter(_NotFromJioNLP(str(Path(jionlp.__file__).parent)))
    return jionlp


def load_parsers() -> None:
    """Loads JioNLP now rather than on the first 诉求 a worker takes down."""
    _jionlp()


class _NotFromJioNLP(logging.Filter):
    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.pathname.startswith(self.folder)


@dataclass(frozen=True)
class SlotWords:
    place_words: tuple[str, ...]
    place_lead_ins: tuple[str, ...]
    time_words: tuple[str, ...]


@dataclass
class Reading:
    """What one message gave: the pieces found, and the clauses none of them took (what happened)."""

    phone: str | None = None
    place: str | None = None
    since: str | None = None
    rest: list[str] = field(default_factory=list)

    @property
    def remainder(self) -> str:
        return "，".join(self.rest)


def clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE.split(text or "") if c]


_SPOKEN_DIGITS = re.compile(r"[零〇一二三四五六七八九幺]{7,}")
_SPOKEN_DIGIT_VALUES = str.maketrans("零〇一二三四五六七八九幺", "001234567891")


def _written_digits(text: str) -> str:
    """A number read out digit by digit ("一三八一二三四五六七八", as the recogniser writes it) in digits; the
    same length, so positions in the text stay valid."""
    return _SPOKEN_DIGITS.sub(lambda m: m.group().translate(_SPOKEN_DIGIT_VALUES), text)


def find_phone(text: str) -> tuple[str, int, int] | None:
    """The first mobile or landline number in `text`, written or read out digit by digit: (its digits, start, end)."""
    text = _written_digits(text)
    for finding in find_numbers(text):
        if finding.kind in _PHONE_KINDS:
            digits = re.sub(r"\D", "", text[finding.start:finding.end].translate(_FULL_WIDTH_DIGITS))
            return digits, finding.start, finding.end
    return None


_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


PLACE_TAIL = 3  # at most this many characters after a place's last place word ("…小区东门"), else it is a matter
_HOUSE_NUMBER = re.compile(r"[0-9０-９一二三四五六七八九十百千零]+号")  # "18号", "十八号" (not "手机号")
_DURATION = re.compile(r"[0-9一二三四五六七八九十两几半多]+(?:个)?多?(?:天|周|星期|礼拜|个月|月|年|小时)(?:多)?(?:了|左右)?")


def place_in(clause: str, words: SlotWords) -> str | None:
    """`clause` as a place, lead-in dropped, if it names one: it ends at (or just after) a place word, so that
    "玄武区钟灵街50号的小区" is a place and "我们小区停车的问题" is not."""
    ends = [clause.rfind(w) + len(w) for w in words.place_words if w in clause]
    ends += [m.end() for m in _HOUSE_NUMBER.finditer(clause)]
    if not ends or len(clause) - max(ends) > PLACE_TAIL:
        return None
    for lead in sorted(words.place_lead_ins, key=len, reverse=True):
        at = clause.find(lead)
        if 0 <= at <= 6 and len(clause) - at - len(lead) >= 2:  # "我家住在…", "就在…": a short lead-in only
            return clause[at + len(lead):]
    return clause


def time_in(clause: str, now: datetime, words: SlotWords) -> str | None:
    """The words of `clause` that say when something began or how long it has gone on ("昨晚十点开始",
    "天天半夜"), if any."""
    try:
        found = _jionlp().ner.extract_time(clause, time_base=now.timestamp())
    except Exception:  # a parser failure on odd input reads as "no time here", never as a failed turn
        found = []
    times = [f["text"] for f in found if f.get("type") in ("time_point", "time_span", "time_period")]
    if times:
        return times[0]
    duration = _DURATION.search(clause)
    if duration:
        return duration.group()
    said = [w for w in words.time_words if w in clause]
    if not said:
        return None
    first = min(clause.find(w) for w in said)
    last = max(clause.find(w) + len(w) for w in said)
    return clause[first:last]


_PHONE_LABEL = re.compile(r"(我的?|本人)?(电话|手机|手机号|手机号码|号码|联系电话|联系方式)(是|为|号码是)?[:：]?$")
TIME_TAIL = 3  # a clause with at most this much besides its time words is a time, else it says what happened too


def read(text: str, now: datetime, words: SlotWords) -> Reading:
    """Every piece `text` gives. A clause is a place before it is a time ("中山路18号" is not the 18th); several
    place clauses are one place ("我们小区门口，翠屏山小区东门")."""
    reading = Reading()
    places: list[str] = []
    for clause in clauses(text):
        phone = find_phone(clause)
        if phone and reading.phone is None:
            reading.phone = phone[0]
            clause = _PHONE_LABEL.sub("", (clause[:phone[1]] + clause[phone[2]:]).strip())
        if len(clause) < 2 or _PHONE_LABEL.fullmatch(clause):
            continue
        place = place_in(clause, words)
        if place:
            places.append(place)
            continue
        since = time_in(clause, now, words) if reading.since is None else None
        if since:
            short = len(clause) - len(since) <= TIME_TAIL  # "昨晚十点开始的" is a time; "楼上天天半夜跺脚" says more
            reading.since = clause if short else since
            if short:
                continue
        reading.rest.append(clause)
    if places:
        reading.place = "，".join(places)
    return reading


EMBEDDED_REACH = 12  # how far after a district's name a place told inside a sentence may run


def place_within(text: str, words: SlotWords, region: str | None) -> str | None:
    """A place told inside a sentence about something else ("鼓楼区湖南路上的一家奶茶店卫生很差" → "鼓楼区湖南路"):
    from the name of a district of the citizen's city to the last place word shortly after it."""
    for county in districts_of(region):
        start = text.find(county)
        if start < 0:
            continue
        reach = text[start:start + len(county) + EMBEDDED_REACH]
        ends = [reach.rfind(w) + len(w) for w in words.place_words if w in reach[len(county):]]
        return reach[:max(ends)] if ends else county
    return None


def districts_of(region: str | None) -> tuple[str, ...]:
    """The districts and counties of the region's city, by the address parser's tables (江苏省/南京市 → 玄武区 …)."""
    parts = (region or "").split(REGION_SEPARATOR)
    return _districts(parts[0], parts[1]) if len(parts) >= 2 else ()


@cache
def _districts(province: str, city: str) -> tuple[str, ...]:
    """Read once per city: JioNLP reads its whole place table from disk on every call of its loader."""
    try:
        table = _jionlp().china_location_loader().get(province, {}).get(city, {})
    except Exception:
        return ()
    return tuple(name for name in table if not name.startswith("_"))


def region_of(place: str, region: str | None) -> str | None:
    """The region tree node ("江苏省/南京市/鼓楼区") a place lies in, read with the citizen's own region as
    context; None when the parser places it outside that region or cannot tell."""
    context = (region or "").replace(REGION_SEPARATOR, "")
    try:
        parsed = _jionlp().parse_location(context + place if context and context not in place else place)
    except Exception:
        return None
    parts = [parsed.get("province"), parsed.get("city"), parsed.get("county")]
    parts = [p for p in parts if p]
    if not parts:
        return None
    found = REGION_SEPARATOR.join(parts)
    if region and not (found == region or found.startswith(region + REGION_SEPARATOR) or region.startswith(found)):
        return None
    return found if not region or len(found) >= len(region) else region

