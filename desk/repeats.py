"""重复诉求: the same citizen bringing the same matter again.

A citizen whose ticket is still being worked and who calls or writes again about it gets that ticket (its number
and its state), and their new words are added to its timeline: a seat sees one ticket, not two. A matter closed a
short while ago and raised again is told so, with its number, and nothing is opened unless the citizen insists.
"The same citizen" is the same phone number or WeChat openid; "the same matter" is two descriptions that share
enough of their words (of two characters or more, but the rules' everyday ones) and do not name two different
places. The windows and how alike is alike
enough are the hotline's rules (desk/content/repeats.yaml).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import yaml

SHIPPED_RULES = Path(__file__).resolve().parent / "content" / "repeats.yaml"
_NOT_WORDS = re.compile(r"[^\u4e00-\u9fff0-9A-Za-z]+")


class RepeatRulesError(ValueError):
    """The repeat rules file cannot be used (checked when the service starts)."""


@dataclass(frozen=True)
class Matter:
    """What a ticket is about, as far as telling two apart goes: what happened and where."""

    what: str
    where: str = ""

    @classmethod
    def of(cls, summary: str, details: dict | None) -> "Matter":
        details = details or {}
        return cls(details.get("what") or summary or "", details.get("where") or "")


def alike(a: str, b: str, ignore: frozenset[str] = frozenset()) -> float:
    """How much two texts share, 0–1: the Dice coefficient of their words of two characters or more (but those
    in `ignore`), which holds up when the same matter is told in other words around the same nouns
    ("隔壁装修噪音太大" and "隔壁在装修，噪音很大")."""
    words_a, words_b = _words(a) - ignore, _words(b) - ignore
    if not words_a or not words_b:
        return 0.0
    return 2 * len(words_a & words_b) / (len(words_a) + len(words_b))


def _words(text: str) -> set[str]:
    import jieba

    return {w for w in jieba.lcut(_NOT_WORDS.sub(" ", text)) if len(w.strip()) >= 2}


@dataclass(frozen=True)
class RepeatRules:
    live: timedelta      # a ticket still worked, opened within this: the same matter goes to it
    closed: timedelta    # a ticket closed within this: the citizen is told of it
    alike: float         # descriptions at least this alike are one matter
    same_place: float    # addresses at least this alike are one place
    ignore: frozenset[str] = frozenset()  # words that say nothing of the matter ("投诉", "我要")

    @classmethod
    def load(cls, path: Path = SHIPPED_RULES) -> "RepeatRules":
        try:
            rules = yaml.safe_load(path.read_text(encoding="utf-8"))
            made = cls(live=timedelta(days=float(rules["live_days"])), closed=timedelta(days=float(rules["closed_days"])),
                       alike=float(rules["alike"]), same_place=float(rules["same_place"]),
                       ignore=frozenset(str(w) for w in rules.get("ignore") or ()))
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as error:
            raise RepeatRulesError(f"{path}: needs live_days, closed_days, alike and same_place ({error!r})") from error
        if not (0 < made.alike <= 1 and 0 < made.same_place <= 1):
            raise RepeatRulesError(f"{path}: alike and same_place are shares between 0 and 1")
        return made

    @property
    def window(self) -> timedelta:
        """How far back a caller's tickets are looked at."""
        return max(self.live, self.closed)

    def same_matter(self, new: Matter, earlier: Matter) -> bool:
        """Whether `new` is `earlier` raised again: not at two different places, and told in much the same words."""
        if new.where and earlier.where and alike(new.where, earlier.where) < self.same_place:
            return False
        return alike(new.what, earlier.what, self.ignore) >= self.alike
