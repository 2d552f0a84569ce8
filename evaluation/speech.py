"""`frontdoor eval asr` and `frontdoor eval spoken`: speech recognition as a phone call hears it, and spoken
questions through the engine next to the same questions typed.

A call's audio goes through a `Listener` (voice activity detection, endpointing, the knowledge base's
vocabulary bias) in 20 ms frames; `--plain` measures bare vosk on the whole file instead, as a baseline.
CER = character edits ÷ reference characters over the whole set, after removing punctuation and spaces and
upper-casing Latin letters; RTF = processing seconds ÷ audio seconds.
"""
from __future__ import annotations

import contextlib
import json
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from voice.audio import Audio, AudioError, read_wav, to_rate
from voice.listener import FRAME_MS, Heard, Listener, Listening
from evaluation.metrics import decision_measures
from evaluation.packs import read_json_lines
from knowledge_base.entry import Entry, Status
from models.asr import SAMPLE_RATES, Reading, Recognition, SpeechRecogniser, join, plain_text, with_variants

ProgressFactory = Callable[[int, str], Callable[[int], None]]
Recognise = Callable[[bytes, int], "Decoded"]
Decision = tuple[str, str | None, list[str]]

TRANSCRIPTS = "transcripts.tsv"
QUESTIONS = "questions.jsonl"
DEFAULT_RATE = 16000
TRAILING_SILENCE_SECONDS = 1.0
PLAIN_CHUNK_SECONDS = 0.2
_NOT_CHARACTER = re.compile(r"[\W_]+")


class SpeechDataError(ValueError):
    """A bad evaluation folder: the message names the file (and line) and what is wrong."""


def _silent(total: int, description: str) -> Callable[[int], None]:
    return lambda n: None


# --- character error rate ---------------------------------------------------------------------------------

def normalise(text: str) -> str:
    """What CER compares: no punctuation or spaces, Latin letters upper-cased."""
    return _NOT_CHARACTER.sub("", text).upper()


def edit_distance(hypothesis: str, reference: str) -> int:
    """Levenshtein distance in characters (substitutions, insertions and deletions cost 1)."""
    previous = list(range(len(reference) + 1))
    for i, said in enumerate(hypothesis, 1):
        current = [i]
        for j, meant in enumerate(reference, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (said != meant)))
        previous = current
    return previous[-1]


def character_errors(hypothesis: str, reference: str) -> tuple[int, int]:
    """(edits, reference characters), both after `normalise`."""
    reference = normalise(reference)
    return edit_distance(normalise(hypothesis), reference), len(reference)


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0


# --- the evaluation folders ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Utterance:
    path: Path
    reference: str


@dataclass(frozen=True)
class SpokenQuestion:
    path: Path
    text: str
    expected: str | None


def _decode_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise SpeechDataError(f"{path}: no such file")
    try:
        return path.read_bytes().decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as failure:
        raise SpeechDataError(f"{path}: not UTF-8 ({failure}); save the file as UTF-8") from failure


def _utterance(folder: Path, line: str) -> Utterance | str:
    name, tab, reference = line.partition("\t")
    if not tab or not name.strip() or not reference.strip():
        return "expected FILE<TAB>REFERENCE"
    path = folder / name.strip()
    if not path.is_file():
        return f"{name.strip()} does not exist in {folder}"
    return Utterance(path, reference.strip())


def read_transcripts(folder: Path) -> list[Utterance]:
    """`folder/transcripts.tsv`: file<TAB>reference per line (files relative to the folder); every bad
    line is named as PATH:LINE in one error."""
    folder = Path(folder)
    path = folder / TRANSCRIPTS
    utterances, problems = [], []
    for number, line in enumerate(_decode_lines(path), 1):
        if not line.strip():
            continue
        found = _utterance(folder, line)
        if isinstance(found, str):
            problems.append(f"{path}:{number}: {found}")
        else:
            utterances.append(found)
    if problems:
        raise SpeechDataError("\n".join(problems))
    if not utterances:
        raise SpeechDataError(f"{path}: no utterances")
    return utterances


def spoken_audio_folder(folder: Path, rate: int) -> Path:
    """wav8k/ for 8000 Hz, wav16k/ for 16000 Hz; the other one (resampled) when only it exists."""
    folder = Path(folder)
    wanted, other = (folder / "wav8k", folder / "wav16k") if rate == 8000 else (folder / "wav16k", folder / "wav8k")
    for candidate in (wanted, other):
        if candidate.is_dir():
            return candidate
    raise SpeechDataError(f"{folder}: neither wav8k/ nor wav16k/ exists")


def read_spoken_questions(folder: Path, rate: int) -> list[SpokenQuestion]:
    """`folder/questions.jsonl` ({"file", "text", "expected"} per line) with each file in the audio folder."""
    folder = Path(folder)
    audio = spoken_audio_folder(folder, rate)
    path = folder / QUESTIONS
    _decode_lines(path)

    def row(item: dict) -> SpokenQuestion | str:
        name, text, expected = item.get("file"), item.get("text"), item.get("expected")
        if not isinstance(name, str) or not name.strip():
            return 'needs a non-empty "file"'
        if not isinstance(text, str) or not text.strip():
            return 'needs a non-empty "text"'
        if expected is not None and not isinstance(expected, str):
            return '"expected" must be an entry id or null'
        if not (audio / name).is_file():
            return f"{name} does not exist in {audio}"
        return SpokenQuestion(audio / name, text, expected)

    questions = read_json_lines(path, SpeechDataError, row)
    if not questions:
        raise SpeechDataError(f"{path}: no questions")
    return questions


def read_audio(path: Path) -> Audio:
    try:
        return read_wav(path)
    except AudioError as error:
        raise SpeechDataError(f"{path}: {error}") from error


def rate_for(audio: Audio, rate: int | None) -> int:
    """The requested rate, else the file's own if the recogniser takes it, else 16 kHz."""
    if rate is not None:
        return rate
    return audio.rate if audio.rate in SAMPLE_RATES else DEFAULT_RATE


# --- recognition ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Decoded:
    recognition: Recognition
    processing_seconds: float
    decoded_seconds: float

    @property
    def text(self) -> str:
        return self.recognition.text


def listen(recogniser: SpeechRecogniser, pcm: bytes, rate: int, bias, listening: Listening) -> Decoded:
    """As on a phone call: 20 ms frames through a Listener, then a second of silence and the hang-up."""
    step = rate * FRAME_MS // 1000 * 2
    audio = pcm + bytes(int(rate * TRAILING_SILENCE_SECONDS) * 2)
    started = time.perf_counter()
    listener = Listener(recogniser, rate, bias, listening)
    try:
        events = []
        for start in range(0, len(audio), step):
            events.extend(listener.feed(audio[start:start + step]))
        events.extend(listener.flush())
        decoded = listener.decoded_seconds
    finally:
        listener.close()
    heard = [e.recognition for e in events if isinstance(e, Heard)]
    recognition = with_variants(join(heard, recogniser.readings_kept), bias)
    return Decoded(recognition, time.perf_counter() - started, decoded)


def _vosk_text(result_json: str) -> str:
    return plain_text(json.loads(result_json).get("text", ""))


def plain_vosk(model, pcm: bytes, rate: int) -> Decoded:
    """The baseline: a fresh vosk recogniser over the whole file in 0.2 s chunks; no VAD, no bias."""
    import vosk

    step = int(rate * PLAIN_CHUNK_SECONDS) * 2
    started = time.perf_counter()
    recogniser = vosk.KaldiRecognizer(model, float(rate))
    texts = []
    for start in range(0, len(pcm), step):
        if recogniser.AcceptWaveform(pcm[start:start + step]):
            texts.append(_vosk_text(recogniser.Result()))
    texts.append(_vosk_text(recogniser.FinalResult()))
    text = "".join(texts)
    seconds = len(pcm) / 2 / rate
    recognition = Recognition((Reading(text, 1.0),) if text else (), seconds)
    return Decoded(recognition, time.perf_counter() - started, seconds)


def listening_recogniser(recogniser: SpeechRecogniser, bias, listening: Listening) -> Recognise:
    return lambda pcm, rate: listen(recogniser, pcm, rate, bias, listening)


def plain_recogniser(recogniser: SpeechRecogniser) -> Recognise:
    return lambda pcm, rate: plain_vosk(recogniser.model, pcm, rate)


# --- the vocabulary bias ----------------------------------------------------------------------------------------

def bias_texts(entries: Sequence[Entry]) -> list[str]:
    """What the deployed bias is built from: the published entries' titles, samples and both answers."""
    from voice.services import entry_texts

    return entry_texts([e for e in entries if e.status is Status.PUBLISHED])


def knowledge_bias(entries: Sequence[Entry], *, weight: float, terms: Sequence[str] = ()):
    """The entries' vocabulary bias (with the hotline's own `terms`), or None when its weight is 0 (turned off)."""
    if weight == 0:
        return None
    from voice.vocabulary import Segmenter, VocabularyBias

    return VocabularyBias.from_texts(bias_texts(entries), Segmenter(), terms=tuple(terms))


# --- eval asr ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scored:
    utterance: Utterance
    rate: int
    audio_seconds: float
    decoded: Decoded
    errors: int
    length: int

    def line(self) -> dict:
        return {"file": self.utterance.path.name, "reference": self.utterance.reference, "text": self.decoded.text,
                "errors": self.errors, "length": self.length, "cer": _ratio(self.errors, self.length),
                "seconds": round(self.audio_seconds, 3), "rtf": _ratio(self.decoded.processing_seconds, self.audio_seconds)}


def score_utterance(utterance: Utterance, recognise: Recognise, rate: int | None) -> Scored:
    audio = read_audio(utterance.path)
    used = rate_for(audio, rate)
    decoded = recognise(to_rate(audio, used), used)
    errors, length = character_errors(decoded.text, utterance.reference)
    return Scored(utterance, used, audio.seconds, decoded, errors, length)


def asr_figures(scored: Sequence[Scored], mode: str) -> dict:
    audio = sum(s.audio_seconds for s in scored)
    rates = sorted({s.rate for s in scored})
    return {
        "utterances": len(scored),
        "cer": _ratio(sum(s.errors for s in scored), sum(s.length for s in scored)),
        "rtf": _ratio(sum(s.decoded.processing_seconds for s in scored), audio),
        "decoded_share": _ratio(sum(s.decoded.decoded_seconds for s in scored), audio),
        "audio_seconds": round(audio, 2),
        "rate": rates[0] if len(rates) == 1 else rates,
        "mode": mode,
    }


def evaluate_asr(utterances: Sequence[Utterance], recognise: Recognise, *, rate: int | None = None,
                 mode: str = "frontdoor", report: Callable[[dict], None] | None = None,
                 progress: ProgressFactory = _silent) -> dict:
    """Every utterance recognised by `recognise` at `rate` (None: each file's own); `report` sees each one."""
    advance = progress(len(utterances), "recognising")
    scored = []
    for utterance in utterances:
        scored.append(score_utterance(utterance, recognise, rate))
        if report is not None:
            report(scored[-1].line())
        advance(1)
    return asr_figures(scored, mode)


# --- eval spoken ------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def throwaway_knowledge(entries: Sequence[Entry], source: Path, embedder,
                        progress: ProgressFactory = _silent) -> Iterator[tuple]:
    """(database, knowledge base) of the entries, in a temporary SQLite file (never the service's own)."""
    from knowledge_base.service import KnowledgeBase
    from knowledge_base.store import EmbeddingCache, KnowledgeStore
    from storage.database import Database

    with tempfile.TemporaryDirectory(prefix="frontdoor-eval-") as scratch:
        db = Database(f"sqlite:///{Path(scratch) / 'eval.db'}")
        try:
            db.migrate()
            store = KnowledgeStore(db)
            store.import_entries(list(entries), by="eval", source=str(source))
            knowledge = KnowledgeBase(store, embedder, EmbeddingCache(db), None,
                                      progress=progress(sum(len(e.phrasings()) for e in entries), "indexing"))
            knowledge.index.refresh(force=True)
            yield db, knowledge
        finally:
            db.dispose()


def voice_turn(text: str, recognition: Recognition | None = None):
    """The first turn of a new phone call: what the recogniser heard (with its readings), or typed text."""
    from voice.dialogue import spoken_turn
    from assistant.turn import Channel, Turn

    session = f"eval-{uuid.uuid4().hex}"
    if recognition is None:
        return Turn(session=session, channel=Channel.VOICE, text=text)
    return spoken_turn(session, recognition)


def decide(engine, index, turn) -> tuple[str | None, Decision]:
    """(top candidate, decision) of a turn, as the engine decides a first turn on the voice channel.
    Nothing heard is a handoff."""
    from assistant.turn import Channel

    if not turn.text.strip() and not turn.hypotheses:
        return None, ("handoff", None, [])
    result = engine.understand(turn, index)
    top = result.candidates[0].entry.id if result.candidates else None
    screened = engine.screen(turn.text)
    if screened is not None:
        return top, (screened.value, None, [])
    verdict = engine.judge(result, Channel.VOICE, index)
    return top, (verdict.kind.value, verdict.offered[0].entry.id if verdict.offered else None,
                 [c.entry.id for c in verdict.offered])


def top1(expected: Sequence[str | None], tops: Sequence[str | None]) -> float:
    answerable = [(e, t) for e, t in zip(expected, tops) if e is not None]
    return _ratio(sum(e == t for e, t in answerable), len(answerable))


@dataclass(frozen=True)
class Asked:
    """One spoken question, asked both ways."""

    question: SpokenQuestion
    decoded: Decoded
    audio_seconds: float
    spoken: tuple[str | None, Decision]
    typed: tuple[str | None, Decision]


def ask(question: SpokenQuestion, recognise: Recognise, rate: int, engine, index) -> Asked:
    audio = read_audio(question.path)
    decoded = recognise(to_rate(audio, rate), rate)
    spoken = decide(engine, index, voice_turn(decoded.text, decoded.recognition))
    typed = decide(engine, index, voice_turn(question.text))
    return Asked(question, decoded, audio.seconds, spoken, typed)


def spoken_figures(asked: Sequence[Asked], rate: int) -> dict:
    expected = [a.question.expected for a in asked]
    spoken = decision_measures(expected, [a.spoken[1] for a in asked])
    typed = decision_measures(expected, [a.typed[1] for a in asked])
    spoken_top1, typed_top1 = top1(expected, [a.spoken[0] for a in asked]), top1(expected, [a.typed[0] for a in asked])
    errors = [character_errors(a.decoded.text, a.question.text) for a in asked]
    audio = sum(a.audio_seconds for a in asked)
    return {
        "questions": len(asked),
        "top1": spoken_top1,
        "precision": spoken["precision"],
        "coverage": spoken["coverage"],
        "text_top1": typed_top1,
        "text_precision": typed["precision"],
        "text_coverage": typed["coverage"],
        "cer": _ratio(sum(e for e, _ in errors), sum(n for _, n in errors)),
        "top1_ratio": _ratio(spoken_top1, typed_top1) if typed_top1 else None,
        "rtf": _ratio(sum(a.decoded.processing_seconds for a in asked), audio),
        "answerable": sum(e is not None for e in expected),
        "answered": spoken["answered"],
        "text_answered": typed["answered"],
        "rate": rate,
    }


def evaluate_spoken(kb_path: Path, questions: Sequence[SpokenQuestion], embedder, recogniser: SpeechRecogniser, *,
                    build_engine: Callable, listening: Listening, bias_weight: float, terms: Sequence[str] = (),
                    rate: int = 8000, progress: ProgressFactory = _silent) -> dict:
    """Each spoken question (`read_spoken_questions`) heard as on a phone call and decided by the engine over
    the pack in a throw-away store, next to the same question typed on the voice channel."""
    from knowledge_base.io import read_entries

    entries = read_entries(Path(kb_path))
    recognise = listening_recogniser(recogniser, knowledge_bias(entries, weight=bias_weight, terms=terms), listening)
    with throwaway_knowledge(entries, Path(kb_path), embedder, progress) as (db, knowledge):
        engine = build_engine(db, knowledge)
        index = knowledge.index.current
        advance = progress(len(questions), "asking")
        asked = []
        for question in questions:
            asked.append(ask(question, recognise, rate, engine, index))
            advance(1)
    return spoken_figures(asked, rate)
