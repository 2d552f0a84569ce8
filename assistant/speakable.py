"""A chat answer made fit to be spoken, for entries whose editors have not written a voice answer yet.

Links, markdown and list markers cannot be heard; a long answer cannot be listened to. So: drop them, join
lines into sentences, and stop at a sentence end before `limit` characters, pointing the caller to where the
full text is (the `more` wording of replies.yaml's voice group). An editor's own voice answer always wins.
"""
from __future__ import annotations

import re

_URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9._~:/?#@!$&'*+,;=%-]+", re.IGNORECASE)
_MARKDOWN = re.compile(r"[*_`#>|~\[\]]+")
_LIST_MARKER = re.compile(r"^\s*(?:[-•·]|\d+[.、)]|[（(]\d+[)）])\s*", re.MULTILINE)
_SENTENCE_END = "。！？；"


def speakable(text: str, limit: int = 150, more: str = "") -> str:
    text = _URL.sub("", text or "")
    text = _LIST_MARKER.sub("", text)
    text = _MARKDOWN.sub("", text)
    lines = [line.strip(" \t:：，,") for line in text.splitlines()]
    text = "".join(line if line[-1:] in _SENTENCE_END else line + "。" for line in lines if line)
    text = re.sub(r"[（(]\s*[)）]", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])", "", text)
    if len(text) <= limit:
        return text
    cut = max(text.rfind(mark, 0, limit) for mark in _SENTENCE_END)
    return (text[: cut + 1] if cut > 0 else text[:limit] + "。") + more


_DIGIT_WORDS = str.maketrans("0123456789", "零一二三四五六七八九")


def digits_spoken(number: str) -> str:
    """A number read digit by digit, as the synthesiser reads a dialled number (voice/numbers.py): 120 → 一二零."""
    return number.translate(_DIGIT_WORDS)
