"""Normalisation of Chinese text before matching: what a caller typed and what an editor wrote must meet."""
from __future__ import annotations

import re
import unicodedata

_PUNCT_OR_SPACE = re.compile(r"[\s\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Full-width to half-width (NFKC), Latin letters lower-cased, punctuation and spaces removed."""
    return _PUNCT_OR_SPACE.sub("", unicodedata.normalize("NFKC", text).lower())


def char_ngrams(text: str, sizes: tuple[int, ...] = (1, 2)) -> list[str]:
    """Character n-grams of the normalised text; runs of ASCII digits or letters count as one character."""
    units = re.findall(r"[a-z0-9]+|.", normalise(text))
    grams: list[str] = []
    for n in sizes:
        grams.extend("".join(units[i : i + n]) for i in range(len(units) - n + 1))
    return grams
