"""Citizens' numbers out of the places that do not need them.

A citizen writes their mobile number, ID-card number, bank-card number or house number into a message as a
matter of course ("我的电话13812345678，身份证32010219900101123X"). The ticket a seat works keeps them (the
seat calls back); everything else that holds a citizen's words (the unanswered-question queue, answer labels,
the audit trail, logs, exports, reports) keeps them masked. `find` says what is there (for refusing to publish
an entry that carries one), `mask` blanks all but a few recognisable digits of each.

Matching is on digit runs bounded by non-digits, so an order number or a date is not taken for a phone number:
- mobile: 11 digits starting 1[3-9], also written 3-4-4 with spaces or hyphens; shown as 138****5678;
- ID card (居民身份证): 17 digits and a digit or X, with a plausible birth date; shown as 3201************3X;
- bank card: 16 to 19 digits passing the Luhn check, also in groups of four; shown as ************1234;
- landline: an area code 0xx(x) and 7–8 digits, with or without a hyphen; shown as 025-****5678;
- house numbers: digits before 栋/幢/单元/室/号楼, and before 号 right after a road (路/街/巷/弄/道/村/里):
  中山路123号4栋501室 → 中山路***号*栋***室; a date (7月25号) or a metro line (3号线) is left alone.
Full-width digits (１３８…) count as digits.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_D = "0-9０-９"
_NOT_DIGIT_BEFORE = rf"(?<![{_D}])"
_NOT_DIGIT_AFTER = rf"(?![{_D}])"
_SEP = r"[ \-‐－]?"

_MOBILE = re.compile(rf"{_NOT_DIGIT_BEFORE}(?:[1１][3-9３-９][{_D}]{_SEP}[{_D}]{{4}}{_SEP}[{_D}]{{4}}){_NOT_DIGIT_AFTER}")
_ID_CARD = re.compile(rf"{_NOT_DIGIT_BEFORE}[{_D}]{{17}}[{_D}XxＸｘ]{_NOT_DIGIT_AFTER}")
_BANK_CARD = re.compile(rf"{_NOT_DIGIT_BEFORE}(?:[{_D}]{{4}}[ \-]?){{3,4}}[{_D}]{{1,7}}{_NOT_DIGIT_AFTER}")
_LANDLINE = re.compile(rf"{_NOT_DIGIT_BEFORE}[0０][1-9１-９][{_D}]{{1,2}}{_SEP}[{_D}]{{7,8}}{_NOT_DIGIT_AFTER}")
_HOUSE = re.compile(rf"(?<=[路街巷弄道村里])[{_D}]+(?=号)|[{_D}]+(?=号楼|栋|幢|单元|室)")

PERSONAL = frozenset({"mobile", "id_card", "bank_card"})
_FULL_WIDTH = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")


@dataclass(frozen=True)
class Finding:
    kind: str   # mobile, id_card, bank_card, landline, house_number
    start: int
    end: int

    @property
    def identifies_a_person(self) -> bool:
        """A mobile, ID-card or bank-card number belongs to one person; a landline or a house number may be an
        office's, published on purpose (an entry may give a service centre's number and address)."""
        return self.kind in PERSONAL

    def masked(self, text: str) -> str:
        return _MASKERS[self.kind](text[self.start:self.end])


def _digits(text: str) -> str:
    return re.sub(r"[^0-9Xx]", "", text.translate(_FULL_WIDTH))


def _plausible_id(number: str) -> bool:
    """An ID number's birth date (digits 7–14) is a real-looking date; its check digit is not checked, since
    citizens mistype it and the number is personal all the same."""
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    return 1900 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31


def _luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _keep(text: str, head: int, tail: int) -> str:
    """`text` with every digit but the first `head` and the last `tail` replaced by *, separators kept."""
    positions = [i for i, ch in enumerate(text) if ch.translate(_FULL_WIDTH) in "0123456789Xx"]
    hidden = set(positions[head:len(positions) - tail if tail else None])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


_MASKERS = {
    "mobile": lambda s: _keep(s, 3, 4),
    "id_card": lambda s: _keep(s, 4, 2),
    "bank_card": lambda s: _keep(s, 0, 4),
    "landline": lambda s: _keep(s, 3, 4),
    "house_number": lambda s: "*" * len(s),
}


def find(text: str) -> list[Finding]:
    """Every personal number in `text`, left to right, none overlapping (the longer reading wins)."""
    if not text:
        return []
    found: list[Finding] = []
    for match in _ID_CARD.finditer(text):
        if _plausible_id(_digits(match.group())):
            found.append(Finding("id_card", *match.span()))
    for match in _BANK_CARD.finditer(text):
        digits = _digits(match.group())
        if 16 <= len(digits) <= 19 and _luhn(digits):
            found.append(Finding("bank_card", *match.span()))
    for kind, pattern in (("mobile", _MOBILE), ("landline", _LANDLINE), ("house_number", _HOUSE)):
        found.extend(Finding(kind, *m.span()) for m in pattern.finditer(text))
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start, -(f.end - f.start))):
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return kept


def mask(text: str | None) -> str | None:
    """`text` with every personal number masked (None stays None)."""
    if not text:
        return text
    findings = find(text)
    if not findings:
        return text
    out, at = [], 0
    for finding in findings:
        out.append(text[at:finding.start])
        out.append(finding.masked(text))
        at = finding.end
    out.append(text[at:])
    return "".join(out)


def mask_value(value):
    """A JSON-like value with every string in it masked (for audit details and exports)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(item) for item in value]
    return value
