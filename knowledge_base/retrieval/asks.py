"""What a question asks, apart from what it is about.

A near miss is a question on the same subject that asks something else ("…怎么治疗" of an entry
"…有什么区别"); a paraphrase asks the same thing in other words ("…是什么原因" / "…怎么回事"). The
question types and their phrases are content (`content/asks.yaml`); this module tags a text with the
types it asks, takes out what is left (its subject), and rewrites a question to ask another type or the
same type in other words, which is how the calibration makes its own near misses and paraphrases.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from knowledge_base.retrieval.text import normalise


@dataclass(frozen=True)
class AskType:
    name: str
    match: re.Pattern
    say: tuple[str, ...]


@dataclass(frozen=True)
class Reading:
    """A question taken apart: the types it asks and the characters of what it is about."""

    asks: frozenset[str]
    subject: frozenset[str]


class Asks:
    def __init__(self, types: list[AskType], filler: str):
        self.types = types
        self._filler = frozenset(filler)

    @classmethod
    def load(cls, path: Path | None = None) -> "Asks":
        """The shipped question types, or those of `path` (a file like content/asks.yaml)."""
        if path is None:
            text = resources.files("knowledge_base.retrieval").joinpath("content/asks.yaml").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        types = [AskType(name, re.compile("|".join(sorted(spec["match"], key=len, reverse=True))), tuple(spec["say"]))
                 for name, spec in data["types"].items()]
        return cls(types, data.get("filler", ""))

    @cached_property
    def pattern(self) -> re.Pattern:
        """Any ask phrase of any type."""
        return re.compile("|".join(f"(?:{t.match.pattern})" for t in self.types))

    def read(self, text: str) -> Reading:
        plain = normalise(text)
        asks = frozenset(t.name for t in self.types if t.match.search(plain))
        rest = self.pattern.sub(" ", plain)
        return Reading(asks, frozenset(ch for ch in rest if ch not in self._filler and not ch.isspace()))

    def rewrite(self, text: str, rng: np.random.Generator, *, same: bool) -> str | None:
        """`text` asking, at its last ask phrase, the same type in other words (`same`) or another type;
        None when no ask phrase is found. The ask phrase and what follows it are replaced."""
        plain = normalise(text)
        last = None
        for t in self.types:
            for m in t.match.finditer(plain):
                if last is None or m.start() > last[1].start():
                    last = (t, m)
        if last is None:
            return None
        kind, found = last
        head = plain[: found.start()]
        if len(head) < 2:
            return None
        if same:
            options = [s for s in kind.say if s != found.group(0)]
        else:
            read = self.read(text).asks
            options = [s for t in self.types if t.name not in read for s in t.say]
        if not options:
            return None
        return head + options[int(rng.integers(0, len(options)))]


def pair_features(query: Reading, candidate: Reading) -> tuple[float, float, float, float]:
    """(asks the same, how many types one asks that the other does not, share of the query's subject the
    candidate covers, share of the candidate's subject the query covers)."""
    same = float(bool(query.asks) and query.asks == candidate.asks)
    differ = float(len(query.asks ^ candidate.asks))
    shared = len(query.subject & candidate.subject)
    return (same, differ, shared / max(1, len(query.subject)), shared / max(1, len(candidate.subject)))
