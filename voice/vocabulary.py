"""The knowledge base's vocabulary as a bias for speech recognition.

The recogniser's n-best readings of an utterance often differ only in homophones (核酸 / 合算, 隔离 / 各里).
`VocabularyBias` gives a reading a bonus for every word that is typical of the knowledge base: the log-ratio
of the word's frequency in the knowledge base's texts to its frequency in general Chinese (jieba's dictionary
counts, drawn from a large general corpus), floored at zero. Words every text uses (我们, 可以, 什么) earn
nothing, so speech about something else is not pulled towards the knowledge base; 核酸, 隔离, 健康码 earn much.
Measured on ../shared/eval: in-domain spoken questions lose a fifth of their character errors, generic speech
is unchanged (BENCHMARKS.md, "Voice").

A word the recogniser's readings lack altogether cannot be re-ranked into them: the model's language model
gives 新冠 so little weight that 新官, 清官 and 清关 fill the n-best list. So `corrected` also rewrites a
reading's stretches that sound like a knowledge-base word into that word; the engine searches such sound-alike
readings beside the recogniser's own, and the text the caller's words are recorded in stays the recogniser's.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

_NOT_WORD = re.compile(r"[\W_]+")
MAX_SOUND_LENGTH = 4


class Segmenter:
    """A jieba tokenizer of our own (jieba's module-level one is shared state) and its general frequencies."""

    def __init__(self) -> None:
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()

    def words(self, text: str) -> list[str]:
        return [w for w in self._tokenizer.lcut(_NOT_WORD.sub("", text)) if w]

    def general_frequency(self, word: str) -> float:
        return (self._tokenizer.FREQ.get(word, 0) + 1) / self._tokenizer.total


def sound(text: str) -> str:
    """Toneless pinyin: what a homophone shares with the word it was mistaken for (新官, 新冠 → xinguan)."""
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text))


@dataclass(frozen=True)
class VocabularyBias:
    weights: dict[str, float]
    segmenter: Segmenter
    revision: int | None = None
    sounds: dict[str, str] = field(default_factory=dict)  # toneless pinyin → the knowledge base's word

    @classmethod
    def from_texts(cls, texts: Iterable[str], segmenter: Segmenter, revision: int | None = None,
                   terms: Iterable[str] = (), min_length: int = 2) -> VocabularyBias:
        """`terms` are the hotline's own words (rules/terms.yaml: 新冠, 核酸, 健康码 …), used even when the
        knowledge base spells them out differently."""
        terms = [t for t in terms if len(t) >= min_length]
        counts: Counter[str] = Counter()
        for text in [*texts, *terms]:
            counts.update(w for w in segmenter.words(text or "") if len(w) >= min_length)
        total = sum(counts.values()) or 1
        weights = {}
        for word, count in counts.items():
            weight = math.log((count / total) / segmenter.general_frequency(word))
            if weight > 0:
                weights[word] = weight
        sounds: dict[str, str] = {}
        for word in sorted([*weights, *terms], key=lambda w: -weights.get(w, math.inf)):
            if min_length <= len(word) <= MAX_SOUND_LENGTH and not _NOT_WORD.search(word):
                sounds.setdefault(sound(word), word)
        return cls(weights, segmenter, revision, sounds)

    def corrected(self, text: str) -> str:
        """The text with every stretch that sounds like one of the knowledge base's words written as that word
        (longest first, left to right); the recogniser wrote 新官肺炎, the knowledge base says 新冠肺炎."""
        out, i = [], 0
        while i < len(text):
            for n in range(MAX_SOUND_LENGTH, 1, -1):
                piece = text[i:i + n]
                word = self.sounds.get(sound(piece)) if len(piece) == n else None
                if word is not None:
                    out.append(word)
                    i += n
                    break
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def bonus(self, text: str) -> float:
        return sum(self.weights.get(w, 0.0) for w in self.segmenter.words(text))

    def __len__(self) -> int:
        return len(self.weights)
