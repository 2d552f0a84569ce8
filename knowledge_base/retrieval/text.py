"""Normalisation of Chinese text before matching: what a caller typed and what an editor wrote must meet."""
from __future__ import annotations

import re
import unicodedata

_PUNCT_OR_SPACE = re.compile(r"[\s\W_]+", re.UNICODE)
_UNIT = re.compile(r"[a-z0-9]+|.")


def normalise(text: str) -> str:
    """Full-width to half-width (NFKC), Latin letters lower-cased, punctuation and spaces removed."""
    return _PUNCT_OR_SPACE.sub("", unicodedata.normalize("NFKC", text).lower())


def char_units(text: str) -> list[str]:
    """The normalised text's characters, each run of ASCII digits or letters counting as one."""
    return _UNIT.findall(normalise(text))


def char_ngrams(text: str, sizes: tuple[int, ...] = (1, 2)) -> list[str]:
    """Character n-grams of the normalised text; runs of ASCII digits or letters count as one character."""
    units = char_units(text)
    grams: list[str] = []
    for n in sizes:
        grams.extend("".join(units[i : i + n]) for i in range(len(units) - n + 1))
    return grams
