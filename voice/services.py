"""What every call of one worker shares: the recogniser, its thread pool, the knowledge base's vocabulary."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from voice.listener import Listening
from voice.records import CallRecords
from assistant.engine import Engine
from knowledge_base.entry import Entry
from knowledge_base.service import KnowledgeBase
from models.asr import SpeechRecogniser
from voice.vocabulary import Segmenter, VocabularyBias

log = logging.getLogger(__name__)


def entry_texts(entries: list[Entry]) -> list[str]:
    """The words callers are likely to say: titles, sample questions and both answers."""
    texts: list[str] = []
    for entry in entries:
        texts.extend([entry.question, *entry.samples, entry.chat_answer, entry.voice_answer])
    return texts


class KnowledgeVocabulary:
    """The published knowledge base's vocabulary as a recognition bias, rebuilt after each publish.

    `current()` never waits for a rebuild: calls keep the previous bias until the new one is complete."""

    def __init__(self, knowledge: KnowledgeBase, segmenter: Segmenter, executor: ThreadPoolExecutor,
                 terms: tuple[str, ...] = ()) -> None:
        self._knowledge = knowledge
        self._terms = terms
        self._segmenter = segmenter
        self._executor = executor
        self._bias: VocabularyBias | None = None
        self._building: int | None = None
        self._lock = threading.Lock()

    def current(self) -> VocabularyBias | None:
        revision = self._knowledge.index.current.revision
        with self._lock:
            stale = self._bias is None or self._bias.revision != revision
            if stale and self._building != revision:
                self._building = revision
                self._executor.submit(self._rebuild, revision)
            return self._bias

    def _rebuild(self, revision: int) -> VocabularyBias:
        try:
            index = self._knowledge.index.current
            bias = VocabularyBias.from_texts(entry_texts(list(index.entries_by_id.values())), self._segmenter,
                                             index.revision, terms=self._terms)
            with self._lock:
                self._bias = bias
                self._building = None
            log.info("recognition vocabulary of revision %s: %d words", index.revision, len(bias))
            return bias
        except Exception:
            log.exception("building the recognition vocabulary of revision %s failed", revision)
            with self._lock:
                self._building = None
            raise


class CallPlace:
    """One admitted call's place on the worker. An adapter releases it the moment it knows the call is over (the
    caller hung up, or before it tells the caller the call is over), and again on every way out: only the first
    release counts, so a place is given back exactly once whatever path the call took."""

    def __init__(self, leave: Callable[[], None]) -> None:
        self._leave: Callable[[], None] | None = leave

    @property
    def released(self) -> bool:
        return self._leave is None

    def release(self) -> None:
        leave, self._leave = self._leave, None
        if leave is not None:
            leave()


@dataclass
class VoiceServices:
    recogniser: SpeechRecogniser
    engine: Engine
    executor: ThreadPoolExecutor
    listening: Listening
    vocabulary: KnowledgeVocabulary | None
    records: CallRecords
    no_input_seconds: float = 6.0
    reprompts: int = 2
    idle_seconds: float = 30.0
    start_seconds: float = 5.0                 # a connection must open its call within this, before it takes a place
    synthesiser: object | None = None          # voice.synthesis.Synthesiser, for adapters that send audio
    max_calls: int = 20                        # calls this worker takes at once; more are turned away
    active_calls: int = field(default=0, init=False)

    def admit(self) -> CallPlace | None:
        """A place for one more call (or recognition stream), or None when the worker is full: a call beyond
        what the cores can recognise in real time would make every caller wait, so it goes to a seat."""
        if self.active_calls >= self.max_calls:
            log.warning("voice: %d calls at once, the most this worker takes; turning one away", self.active_calls)
            return None
        self.active_calls += 1
        return CallPlace(self._leave)

    def _leave(self) -> None:
        self.active_calls -= 1

    def bias(self) -> VocabularyBias | None:
        return self.vocabulary.current() if self.vocabulary is not None else None

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
