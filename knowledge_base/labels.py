"""Answer labels: (question, entry) pairs that say whether the entry answers the question, and the measured
precision of the engine's automatic answers, per channel.

Citizens' labels are read from the conversation turns already stored (assistant/conversations.py), never stored twice:
- "citizen_reject": an entry the citizen said was not it (the turn's `rejected`: "不是这个" after an answer, "都不是"
  after a clarification, which rejects every choice offered) → correct=False for the question the citizen had
  asked. The question is the text of the turn that asked it: a rejection makes the engine search the same question
  again, so an answer given in the rejecting turn answers the earlier question, not "不是这个".
- "citizen_choice": a choice picked from a clarification (a turn with reason "chosen") → correct=True for the
  question the clarification answered; a choice the citizen then rejects for the same question gives only the
  rejection.
A label's `confidence` is the engine's when it decided: the answer's, or the clarification's (for its choices).

Seats' labels are stored (storage/tables.py AnswerLabelRow): a seat marks a handed-off ticket "entry X would have
answered this" or "no entry answers this" (the handoff was right); one label per ticket, labelling again replaces it.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError

from ground.clock import as_utc, utcnow
from ground.errors import DomainError, ErrorKind
from ground.privacy import mask
from storage import audit
from storage.database import Database
from knowledge_base.retrieval.self_supervision import Labelled
from knowledge_base.store import bump_revision
from storage.tables import AnswerLabelRow, CalibrationRefitRow, ConversationRow, EntryRow, TicketRow, TurnRow

CITIZEN_REJECT, CITIZEN_CHOICE, SEAT = "citizen_reject", "citizen_choice", "seat"
# Turns that asked a fresh question (assistant/engine.py: what `_from_knowledge` decides, outside a rejection).
# Automatic answers: above the channel's threshold, or the plain case (assistant/engine.py Engine.judge).
AUTOMATIC = ("confident", "plain")
ASKED = frozenset({("answer", "confident"), ("answer", "plain"), ("clarify", "close_candidates"), ("handoff", "low_confidence"),
                   ("handoff", "no_candidate")})
# How far outside a window a conversation's turns are read: the answer a rejection in the window refers to, the
# rejection of an answer at the window's end. A conversation that goes quiet for its idle time starts afresh, so an
# answer and its rejection are minutes apart, not days.
EPISODE = timedelta(days=1)
Z95 = 1.959964  # the standard normal quantile of a two-sided 95 % interval


class TicketNotFound(DomainError, LookupError):
    """No ticket has that number (the condition desk.tickets.TicketNotFound names; this floor cannot import it)."""

    code, kind = "ticket_not_found", ErrorKind.NOT_FOUND


class UnknownEntry(DomainError, ValueError):
    """A label names an entry the knowledge base does not have."""

    code, kind = "unknown_entry", ErrorKind.INVALID

    def __init__(self, entry_id: str) -> None:
        super().__init__(f"No entry has the id {entry_id!r}: name an entry of the knowledge base, "
                         "or null when no entry answers the question.")
        self.entry_id = entry_id


@dataclass(frozen=True)
class Label:
    query: str
    entry_id: str | None         # None: "no entry answers this"
    correct: bool                # whether entry_id (or "none") answers query
    source: str                  # citizen_reject, citizen_choice, seat
    channel: str
    at: datetime
    conversation_id: str | None
    confidence: float | None     # the engine's confidence when it decided (None for a seat's label)


@dataclass(frozen=True)
class ChannelPrecision:
    channel: str
    answers: int                 # automatic answers (decision answer, reason confident) in the window
    wrong: int                   # of them, known wrong: rejected by the citizen or corrected by a seat
    labels: int                  # of them, how many a citizen's or a seat's label speaks about
    precision: float | None      # (answers - wrong) / answers; None without answers
    low: float                   # its Wilson 95 % interval
    high: float


@dataclass(frozen=True)
class StoredTurn:
    """A conversation turn as the labels read it."""

    seq: int
    at: datetime
    text: str
    decision: str
    reason: str | None
    entry_id: str | None
    confidence: float | None
    rejected: tuple[str, ...] = ()

    @property
    def automatic(self) -> bool:
        return self.decision == "answer" and self.reason in AUTOMATIC


@dataclass(frozen=True)
class AutomaticAnswer:
    conversation_id: str
    channel: str
    at: datetime
    query: str
    entry_id: str
    rejected: bool               # the citizen said, later in the conversation, that it was not it


@dataclass(frozen=True)
class ConversationReading:
    labels: list[Label]
    answers: list[AutomaticAnswer]


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion `successes / trials` ((0, 1) without trials)."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    spread = z * z / trials
    centre = (p + spread / 2) / (1 + spread)
    half = z * math.sqrt(p * (1 - p) / trials + spread / (4 * trials)) / (1 + spread)
    return max(0.0, centre - half), min(1.0, centre + half)


def channel_precision(channel: str, answers: int, wrong: int, labels: int) -> ChannelPrecision:
    low, high = wilson_interval(answers - wrong, answers)
    return ChannelPrecision(channel, answers, wrong, labels, (answers - wrong) / answers if answers else None, low, high)


@dataclass(frozen=True)
class _Offer:
    """An entry put before the citizen: by an answer or by a clarification (entry None: its choices)."""

    seq: int
    confidence: float | None
    automatic: bool = False


def read_conversation(conversation_id: str, channel: str, turns: Sequence[StoredTurn]) -> ConversationReading:
    """The citizens' labels and the automatic answers of one conversation, from its turns in order."""
    question: str | None = None
    answered: dict[str, _Offer] = {}        # entry → the answer that gave it, for the current question
    clarified: _Offer | None = None         # the latest clarification
    labels: list[Label] = []
    choices: dict[tuple[str, str], int] = {}  # (question, entry) → index of its citizen_choice label
    dropped: set[int] = set()
    automatic: dict[int, tuple[StoredTurn, str]] = {}  # seq → the answer turn and its question
    rejected_answers: set[int] = set()
    for turn in turns:
        if turn.rejected:
            for entry_id in turn.rejected:
                offer = _offered_by(entry_id, answered, clarified)
                query = mask(question or turn.text)
                labels.append(Label(query, entry_id, False, CITIZEN_REJECT, channel, turn.at, conversation_id,
                                    offer.confidence if offer else None))
                if offer is not None and offer.automatic:
                    rejected_answers.add(offer.seq)
                if (query, entry_id) in choices:
                    dropped.add(choices.pop((query, entry_id)))
        elif turn.reason == "chosen" and turn.entry_id:
            query = mask(question or turn.text)
            choices[(query, turn.entry_id)] = len(labels)
            labels.append(Label(query, turn.entry_id, True, CITIZEN_CHOICE, channel, turn.at, conversation_id,
                                clarified.confidence if clarified else None))
        elif (turn.decision, turn.reason) in ASKED:
            question, answered, clarified = turn.text, {}, None
        if turn.decision == "answer" and turn.entry_id:
            confidence = clarified.confidence if turn.reason == "chosen" and clarified else turn.confidence
            answered[turn.entry_id] = _Offer(turn.seq, confidence, turn.automatic)
        elif turn.decision == "clarify":
            clarified = _Offer(turn.seq, turn.confidence)
        if turn.automatic and turn.entry_id:
            automatic[turn.seq] = (turn, mask(question or turn.text))
    answers = [AutomaticAnswer(conversation_id, channel, turn.at, query, turn.entry_id, seq in rejected_answers)
               for seq, (turn, query) in automatic.items()]
    return ConversationReading([label for n, label in enumerate(labels) if n not in dropped], answers)


def _offered_by(entry_id: str, answered: dict[str, _Offer], clarified: _Offer | None) -> _Offer | None:
    """What put a rejected entry before the citizen: its answer, or a later clarification (whose choices were all
    rejected together)."""
    answer = answered.get(entry_id)
    if answer is not None and (clarified is None or answer.seq > clarified.seq):
        return answer
    return clarified


def judged(answers: Iterable[AutomaticAnswer], seats: dict[tuple[str, str], Label]) -> tuple[int, int]:
    """(known wrong, labelled) among `answers`: a seat's label on the same conversation's question decides (wrong
    when it names another entry, or none); else a citizen's rejection makes it wrong; else it counts as right."""
    wrong = labelled = 0
    for answer in answers:
        seat = seats.get((answer.conversation_id, answer.query))
        if seat is not None:
            labelled += 1
            wrong += seat.entry_id != answer.entry_id
        elif answer.rejected:
            labelled += 1
            wrong += 1
    return wrong, labelled


@dataclass(frozen=True)
class Refit:
    """A refit of the answer confidence from the labels given in [labels_since, labels_until)."""

    id: int
    labels_since: datetime
    labels_until: datetime
    asked_by: str
    labels: int
    revision: int | None     # the knowledge revision whose index build learns from them (not kept: None when read back)


def as_labelled(labels: Iterable[Label]) -> list[Labelled]:
    """The labels as the calibration learns from them, each (question, entry, verdict) once; a question that
    one label says an entry answers and a later one says it does not keeps the later word."""
    latest: dict[tuple[str, str | None], Labelled] = {}
    for label in sorted(labels, key=lambda label: label.at):
        latest[(label.query, label.entry_id)] = Labelled(label.query, label.entry_id, label.correct)
    return list(latest.values())


class LabelStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # ---- refitting the confidence --------------------------------------------------------------
    def refit(self, *, by: str, window: timedelta = timedelta(days=90), now: datetime | None = None) -> Refit:
        """Asks every worker to learn its answer confidence again, from the labels of the last `window` too: takes
        the window's labelled questions once, records them with the refit and moves the knowledge revision in the
        same transaction, so that each worker's next index build (within seconds) reads them from that one row;
        the first to fit shares the fit with the others (knowledge_base/retrieval/calibration_cache.py). Audited
        as confidence.refit."""
        now = as_utc(now or utcnow())
        since = now - window
        questions = as_labelled(self.labels(since, now))
        with self._db.session(write=True) as s:
            row = CalibrationRefitRow(labels_since=since, labels_until=now, asked_by=by, labels=len(questions),
                                      questions=[[q.text, q.entry_id, q.correct] for q in questions])
            s.add(row)
            revision = bump_revision(s, now)
            audit.record(s, actor=by, action="confidence.refit", target="confidence", at=now, labels=len(questions),
                         revision=revision)
            s.flush()
            return Refit(row.id, since, now, by, len(questions), revision)

    def refits(self, limit: int = 10) -> list[Refit]:
        """The latest refits, newest first (for the console: when the confidence last learned, from how many labels)."""
        with self._db.session() as s:
            rows = s.execute(select(CalibrationRefitRow.id, CalibrationRefitRow.labels_since, CalibrationRefitRow.labels_until,
                                    CalibrationRefitRow.asked_by, CalibrationRefitRow.labels)
                             .order_by(CalibrationRefitRow.id.desc()).limit(limit)).all()
        return [Refit(id_, as_utc(since), as_utc(until), by, labels, None) for id_, since, until, by, labels in rows]

    def labelled_for_calibration(self) -> list[Labelled]:
        """The labelled questions of the latest refit (none before the first): the same for every worker that
        builds an index after it, whenever it builds."""
        with self._db.session() as s:
            questions = s.execute(select(CalibrationRefitRow.questions).order_by(CalibrationRefitRow.id.desc())
                                  .limit(1)).scalar_one_or_none()
        return [Labelled(text, entry_id, bool(correct)) for text, entry_id, correct in questions or ()]

    # ---- seats ---------------------------------------------------------------------------------
    def label_ticket(self, ticket_number: str, entry_id: str | None, *, by: str, now: datetime | None = None) -> Label:
        """A seat's label on a handed-off ticket: `entry_id` would have answered it, or None: no entry does (the
        handoff was right). Replaces the ticket's earlier label; audited as ticket.label."""
        now = as_utc(now or utcnow())
        try:
            return self._write_label(ticket_number, entry_id, by, now)
        except IntegrityError:  # another seat gave this ticket its first label at the same moment: replace theirs
            return self._write_label(ticket_number, entry_id, by, now)

    def _write_label(self, ticket_number: str, entry_id: str | None, by: str, now: datetime) -> Label:
        with self._db.session(write=True) as s:
            ticket = s.execute(select(TicketRow).where(TicketRow.number == ticket_number)).scalar_one_or_none()
            if ticket is None:
                raise TicketNotFound(f"No ticket is numbered {ticket_number!r}.")
            if entry_id is not None and s.get(EntryRow, entry_id) is None:
                raise UnknownEntry(entry_id)
            row = s.execute(select(AnswerLabelRow).where(AnswerLabelRow.ticket_number == ticket_number)
                            .with_for_update()).scalar_one_or_none()
            if row is None:
                row = AnswerLabelRow(ticket_number=ticket_number)
                s.add(row)
            row.at, row.by, row.entry_id, row.correct = now, by, entry_id, True
            row.conversation_id, row.channel, row.query = ticket.conversation_id, ticket.channel, mask(ticket.summary)
            audit.record(s, actor=by, action="ticket.label", target=f"ticket:{ticket_number}", at=now, entry_id=entry_id)
            s.flush()
            return _seat_label(row)

    # ---- reading -------------------------------------------------------------------------------
    def labels(self, since: datetime, until: datetime) -> list[Label]:
        """Every label given in [since, until): the citizens' (read from the turns) and the seats', oldest first."""
        since, until = as_utc(since), as_utc(until)
        with self._db.session() as s:
            touched = select(TurnRow.conversation_id).where(
                TurnRow.at >= since, TurnRow.at < until, or_(TurnRow.rejected.is_not(None), TurnRow.reason == "chosen"))
            readings = self._read(s, touched, since, until)
            seats = s.execute(select(AnswerLabelRow).where(AnswerLabelRow.at >= since, AnswerLabelRow.at < until)).scalars()
            labels = [_seat_label(row) for row in seats]
        labels += [label for reading in readings for label in reading.labels if since <= label.at < until]
        return sorted(labels, key=lambda label: label.at)

    def precision(self, since: datetime, until: datetime) -> list[ChannelPrecision]:
        """Per channel, the precision of the automatic answers given in [since, until): (answers - known wrong) ÷
        answers, with its Wilson 95 % interval and how many labels it rests on.

        Known wrong: the citizen rejected it later in the conversation, or a seat labelled the ticket the
        conversation led to, for the same question, with another entry or with none (a seat's label, where there is
        one, overrules the citizen's). Every other answer counts as right, so this is an UPPER estimate: a citizen
        who reads a wrong answer and leaves without a word is counted as satisfied."""
        since, until = as_utc(since), as_utc(until)
        automatic = and_(TurnRow.decision == "answer", TurnRow.reason.in_(AUTOMATIC), TurnRow.at >= since, TurnRow.at < until)
        with self._db.session() as s:
            counts = Counter(dict(s.execute(
                select(ConversationRow.channel, func.count()).select_from(TurnRow)
                .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
                .where(automatic).group_by(ConversationRow.channel)).all()))
            answered = select(TurnRow.conversation_id).where(automatic)
            rows = s.execute(select(AnswerLabelRow).where(AnswerLabelRow.conversation_id.in_(answered))
                             .order_by(AnswerLabelRow.at)).scalars().all()
            seats = {(row.conversation_id, row.query): _seat_label(row) for row in rows}  # the latest ticket's wins
            rejected = select(TurnRow.conversation_id).where(TurnRow.rejected.is_not(None), TurnRow.at >= since,
                                                             TurnRow.at < until + EPISODE)
            touched = select(TurnRow.conversation_id).where(
                automatic, or_(TurnRow.conversation_id.in_(rejected),
                               TurnRow.conversation_id.in_(select(AnswerLabelRow.conversation_id))))
            readings = self._read(s, touched, since, until)
        by_channel: dict[str, list[AutomaticAnswer]] = defaultdict(list)
        for reading in readings:
            for answer in reading.answers:
                if since <= answer.at < until:
                    by_channel[answer.channel].append(answer)
        out = []
        for channel in sorted(counts):
            wrong, labelled = judged(by_channel[channel], seats)
            out.append(channel_precision(channel, counts[channel], wrong, labelled))
        return out

    def _read(self, s, conversations, since: datetime, until: datetime) -> list[ConversationReading]:
        """Each conversation of the `conversations` subquery, read from its turns around [since, until)."""
        rows = s.execute(
            select(TurnRow.conversation_id, ConversationRow.channel, TurnRow.seq, TurnRow.at, TurnRow.text,
                   TurnRow.decision, TurnRow.reason, TurnRow.entry_id, TurnRow.confidence, TurnRow.rejected)
            .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
            .where(TurnRow.conversation_id.in_(conversations), TurnRow.at >= since - EPISODE, TurnRow.at < until + EPISODE)
            .order_by(TurnRow.conversation_id, TurnRow.seq)).all()
        turns: dict[tuple[str, str], list[StoredTurn]] = defaultdict(list)
        for conversation_id, channel, seq, at, text, decision, reason, entry_id, confidence, rejected in rows:
            turns[(conversation_id, channel)].append(StoredTurn(
                seq, as_utc(at), text, decision, reason, entry_id, confidence,
                tuple(rejected) if isinstance(rejected, list) else ()))
        return [read_conversation(conversation_id, channel, conversation)
                for (conversation_id, channel), conversation in turns.items()]


def _seat_label(row: AnswerLabelRow) -> Label:
    return Label(row.query, row.entry_id, row.correct, SEAT, row.channel, as_utc(row.at), row.conversation_id, None)
