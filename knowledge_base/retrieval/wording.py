"""How a caller words a question an editor wrote: fewer words, everyday words, a polite opening.

The calibration learns from questions it makes of the knowledge base itself; made from the editors' own
words with a character or two dropped, they are far closer to an entry than a caller's question ever is
("如果接到疾病预防控制部门通知，你是一位密切接触者，怎么办？" is asked "如果是密切接触者怎么办"). Rewritten
this way, its paraphrases and its near misses alike sit at a caller's distance, so what it learns is what
tells them apart (the margin to the next entry, what is asked, what is not shared), not closeness itself.
The words are content (`content/wording.yaml`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import numpy as np
import yaml

_CLAUSE = re.compile(r"[，,、；;：:]")
_END = re.compile(r"[？?。！!\s]+$")


@dataclass(frozen=True)
class CallerWording:
    everyday: dict[str, tuple[str, ...]]  # longest written word first
    openings: tuple[str, ...]
    endings: tuple[str, ...]
    drop: float
    lead_clause: float

    @classmethod
    def load(cls) -> "CallerWording":
        text = resources.files("knowledge_base.retrieval").joinpath("content/wording.yaml").read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        everyday = {k: tuple(v) for k, v in sorted(data["everyday"].items(), key=lambda item: -len(item[0]))}
        return cls(everyday, tuple(data["openings"]), tuple(data["endings"]), float(data["drop"]), float(data["lead_clause"]))

    def say(self, text: str, rng: np.random.Generator, *, keep: re.Pattern, rarity) -> str:
        """`text` as a caller might say it. `keep` matches what must stay (the ask); `rarity(word)` ranks
        words by how much they say (the two rarest stay)."""
        import jieba

        body = _END.sub("", text)
        clauses = [c for c in _CLAUSE.split(body) if c]
        if len(clauses) > 1 and rng.random() < self.lead_clause:
            body = self._last_clauses(clauses, keep, int(rng.integers(1, 3)))
        else:
            body = "".join(clauses)
        kept_spans = [m.span() for m in keep.finditer(body)]
        words = list(jieba.tokenize(body))
        free = [i for i, (w, start, end) in enumerate(words)
                if not any(s < end and start < e for s, e in kept_spans) and w.strip()]
        rarest = set(sorted(free, key=lambda i: -rarity(words[i][0]))[:2])
        out = []
        for i, (word, _, _) in enumerate(words):
            if i in free and i not in rarest and rng.random() < self.drop:
                continue
            out.append(self._everyday(word, rng) if i in free else word)
        said = "".join(out) or body
        if rng.random() < 0.3:
            said = self.openings[int(rng.integers(0, len(self.openings)))] + said
        if rng.random() < 0.2:
            said += self.endings[int(rng.integers(0, len(self.endings)))]
        return said

    @staticmethod
    def _last_clauses(clauses: list[str], keep: re.Pattern, wanted: int) -> str:
        """The last `wanted` clauses, or more until they say something besides the ask (four characters)."""
        for start in range(len(clauses) - wanted, -1, -1):
            tail = "".join(clauses[start:])
            if len(keep.sub("", tail)) >= 4:
                return tail
        return "".join(clauses)

    def _everyday(self, word: str, rng: np.random.Generator) -> str:
        for written, options in self.everyday.items():
            if written in word and rng.random() < 0.6:
                return word.replace(written, options[int(rng.integers(0, len(options)))], 1)
        return word
