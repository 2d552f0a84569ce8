"""SSML for a telephony platform's synthesiser: numbers read as in voice/numbers.py, dialled ones marked as
telephone numbers, a pause after each sentence.

Telephony platforms synthesise speech themselves, so the voice channel normally returns text and `to_ssml`.
"""
from __future__ import annotations

import re
from xml.sax.saxutils import escape

from voice.numbers import normalise, number_spans

_SENTENCE_END = re.compile(r"([。！？；])")


def to_ssml(text: str) -> str:
    """SSML for a telephony platform's synthesiser.

    Numbers read as in `number_words`; those dialled digit by digit stay digits inside
    <say-as interpret-as="telephone">; every sentence break (。！？；, or a line break) is followed by a
    300 ms <break/> (except at the very end). The text is XML-escaped.
    """
    text = normalise(text).strip()
    parts, position = [], 0

    def plain(chunk: str) -> str:
        chunk = escape(chunk)
        chunk = _SENTENCE_END.sub(r'\1<break time="300ms"/>', chunk)
        return re.sub(r"\s*\n\s*", '<break time="300ms"/>', chunk)

    for span in number_spans(text):
        parts.append(plain(text[position:span.start]))
        if span.telephone:
            parts.append(f'<say-as interpret-as="telephone">{escape(text[span.start:span.end])}</say-as>')
        else:
            parts.append(escape(span.words))
        position = span.end
    parts.append(plain(text[position:]))
    body = "".join(parts)
    body = re.sub(r'(<break time="300ms"/>)+', r'<break time="300ms"/>', body)
    body = re.sub(r'<break time="300ms"/>$', "", body)
    return f'<speak xml:lang="zh-CN">{body}</speak>'
