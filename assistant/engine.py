"""The conversation engine: one turn in, one decision out. Channel-agnostic: the channel only picks
the answer variant (voice or chat), the wording and the precision the answer must reach.

The decision of one turn, in order:
  emergency → redirect · a follow-up about the conversation ("转人工", "不是这个", a choice) →
  handled against what was offered · a greeting, or a message too garbled to be a question → a prompt to
  say what is needed (after two prompts, a seat, once) · out of scope → refuse · otherwise retrieve and
  answer (confident, or the plain case) / clarify (close) / hand off (nothing fits).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from assistant.conversations import ConversationState, ConversationStore
from assistant.deadlines import say_deadline
from assistant.intake import Intake, IntakeDialogue, Step
from assistant.policy import Policy
from assistant.rules import Rules
from assistant.speakable import digits_spoken, speakable
from assistant.turn import Channel, Choice, Decision, Kind, Scored, Turn
from desk.classification import Classify, classify_by_top_entry
from desk.lifecycle import citizen_states
from desk.tickets import Ticket, TicketDesk, TicketDraft
from ground.clock import BEIJING, as_utc, utcnow
from knowledge_base.entry import Entry
from knowledge_base.retrieval.index import Candidate, RetrievalIndex, SearchResult
from knowledge_base.service import KnowledgeBase

log = logging.getLogger(__name__)
PREVIEW_SESSION = "preview"   # the session of a previewed turn, which is never recorded
PREVIEW_TICKET = "（试用：不开工单）"  # where a previewed handoff's ticket number would be
REPEAT_CLOSED = "repeat_closed"  # the reason of telling a citizen that their matter's ticket was closed lately


@dataclass(frozen=True)
class Verdict:
    kind: Kind                    # ANSWER, CLARIFY or HANDOFF
    confidence: float
    candidates: list[Candidate]   # the usable ones, best first
    offered: list[Candidate]      # the answer, or the choices of a clarification
    reason: str = ""              # an answer's: "confident" (above the channel's threshold) or "plain"


def _readings(said: str, turn: Turn, extra: int = 7) -> list[tuple[str, float]]:
    """What to search for, with the recogniser's posterior of each: what was said, then up to `extra` other
    readings (typed text has one reading, certain)."""
    if said != (turn.text.strip() or (turn.hypotheses[0].text if turn.hypotheses else "")):
        return [(said, 1.0)]  # an earlier question asked again: this turn's readings are of something else
    first = next((h.confidence for h in turn.hypotheses if h.text == said), 1.0)
    others = [(h.text, h.confidence) for h in turn.hypotheses if h.text and h.text != said]
    return [(said, first)] + others[:extra]


class Engine:
    def __init__(self, knowledge: KnowledgeBase, conversations: ConversationStore, desk: TicketDesk, rules: Rules,
                 policy: Policy | None = None, classify: Classify = classify_by_top_entry):
        self.knowledge = knowledge
        self.conversations = conversations
        self.desk = desk
        self.rules = rules
        self.policy = policy or Policy()
        self.classify = classify
        self.intake = IntakeDialogue(rules.intake, spoken_digits=digits_spoken) if rules.intake else None
        self._citizen_states = citizen_states()
        # Told of every turn decided and how long it took (the composition root wires the worker's metrics here).
        self.on_turn: Callable[[Turn, Decision, float], None] | None = None

    # ---- one turn ---------------------------------------------------------------------------
    def handle(self, turn: Turn) -> Decision:
        started = time.perf_counter()
        now = turn.at or utcnow()
        turn = replace(turn, at=now)
        index = self.knowledge.index.current  # one index for the whole turn
        before = state = self.conversations.state(turn.session, now)
        said = turn.text.strip() or (turn.hypotheses[0].text if turn.hypotheses else "")
        decision, state = self._decide(turn, said, state, index)
        decision = replace(self._with_ticket(turn, said, state, index, decision), knowledge_revision=index.revision)
        state = self._after_ticket(decision, state)
        self.conversations.record(turn, decision, state, said=said, now=now, before=before)
        self._observed(turn, decision, started)
        return decision

    def hand_off(self, turn: Turn, reason: str) -> Decision:
        """Straight to a seat, whatever was said: a key press for a human, or a caller the line cannot hear."""
        started = time.perf_counter()
        now = turn.at or utcnow()
        turn = replace(turn, at=now)
        index = self.knowledge.index.current
        before = state = self.conversations.state(turn.session, now)
        said = turn.text.strip()
        decision, state = self._handoff(turn, said, state, index, reason)
        decision = replace(self._with_ticket(turn, said, state, index, decision), knowledge_revision=index.revision)
        state = self._after_ticket(decision, state)
        self.conversations.record(turn, decision, state, said=said, now=now, before=before)
        self._observed(turn, decision, started)
        return decision

    def _observed(self, turn: Turn, decision: Decision, started: float) -> None:
        if self.on_turn is not None:
            self.on_turn(turn, decision, time.perf_counter() - started)

    def preview(self, text: str, *, channel: Channel, region: str | None = None, index: RetrievalIndex | None = None,
                now: datetime | None = None) -> Decision:
        """The decision `handle` would make if `text` opened a fresh conversation, over `index` (default: the
        one being served) at `now`, recording nothing: no conversation, no ticket. A handoff says what the
        citizen would be told, with a placeholder where the ticket number would be."""
        index = index or self.knowledge.index.current
        turn = Turn(session=PREVIEW_SESSION, channel=channel, text=text, region=region, at=as_utc(now) or utcnow())
        decision, _ = self._decide(turn, text.strip(), ConversationState(), index)
        if decision.kind is Kind.HANDOFF:
            urgency = self.rules.urgency_of(text.strip())
            decision = replace(decision, text=self._handoff_text(
                turn, PREVIEW_TICKET, self.desk.deadlines.dispatch_due(urgency.name, turn.at), phone=False))
        return replace(decision, knowledge_revision=index.revision)

    def screen(self, said: str) -> Kind | None:
        """REDIRECT or REFUSE when the rules take the message out of the knowledge base's hands."""
        if self.rules.emergency(said):
            return Kind.REDIRECT
        return Kind.REFUSE if self.rules.out_of_scope(said) else None

    def _decide(self, turn: Turn, said: str, state: ConversationState, index: RetrievalIndex) -> tuple[Decision, ConversationState]:
        emergency = self.rules.emergency(said)
        if emergency:
            return self._redirect(turn, emergency), state

        if state.intake is not None and self.intake is not None:  # a 诉求 is being taken down
            if self.rules.intent(said) == "human":
                return self._handoff(turn, said, state, index, "asked_for_human")
            return self._take_down(turn, said, state, index)
        started = self.rules.intake.trigger(said) if self.intake is not None else None
        if started and not self.rules.out_of_scope(said):
            return self._start_intake(turn, said, state, index, *started)

        picked = self._picked(turn, said, state)
        if picked is not None and picked in index.entries_by_id:
            return self._answer_entry(turn, index, picked, "chosen", 1.0), replace(state, offered=[], answered=picked)

        intent = self.rules.intent(said)
        if intent == "human":
            return self._handoff(turn, said, state, index, "asked_for_human")
        if intent in ("reject", "confused") and (state.answered or state.offered):
            return self._unsatisfied(turn, said, state, index)
        if intent == "thanks":
            return self._courtesy(turn), state
        if intent == "greeting":
            return self._prompt(turn, "greeting"), state
        if self.rules.unintelligible(said):
            counted = replace(state, prompts=state.prompts + 1)
            if state.prompts == self.rules.unclear.prompts_before_handoff:  # once: later ones are prompted again
                return self._handoff(turn, said, counted, index, "unintelligible")
            return self._prompt(turn, "unclear"), counted

        rule = self.rules.out_of_scope(said)
        if rule:
            text = rule.voice if turn.channel.speaks else rule.chat
            return Decision(Kind.REFUSE, turn.session, text, reason=rule.reason), state

        state = replace(state, query=said, rejected=[], offered=[], answered=None)
        return self._from_knowledge(turn, said, state, index)

    # ---- taking down a 诉求 ------------------------------------------------------------------------
    def _start_intake(self, turn: Turn, said: str, state: ConversationState, index: RetrievalIndex, kind: str,
                      rest: str) -> tuple[Decision, ConversationState]:
        intake, step = self.intake.start(kind, rest, now=turn.at, caller=turn.caller, region=turn.region,
                                         speaks=turn.channel.speaks)
        state = replace(state, query=said, rejected=[], offered=[], answered=None, intake=intake.as_json())
        return self._intake_step(turn, said, state, index, step)

    def _take_down(self, turn: Turn, said: str, state: ConversationState, index: RetrievalIndex,
                   ) -> tuple[Decision, ConversationState]:
        intake, step = self.intake.answer(Intake.from_json(state.intake), said, now=turn.at, region=turn.region,
                                          speaks=turn.channel.speaks, meaningless=self.rules.unintelligible(said))
        return self._intake_step(turn, said, replace(state, intake=intake.as_json()), index, step)

    def _intake_step(self, turn: Turn, said: str, state: ConversationState, index: RetrievalIndex,
                     step: Step) -> tuple[Decision, ConversationState]:
        if step.action == "done":
            return self._handoff(turn, said, state, index, "intake")
        if step.action == "stalled":
            return self._handoff(turn, said, state, index, "intake_stalled")
        reason = f"intake_{step.action}" + (f"_{step.slot}" if step.slot else "")
        return Decision(Kind.INTAKE, turn.session, step.text, reason=reason, confidence=1.0), state

    def _statement_of_a_request(self, said: str) -> str | None:
        """The request type of a message that tells of a problem (a 投诉, 举报, 求助 or 建议 by the urgency rules'
        request types) without asking a question; None for anything else."""
        if self.intake is None or self.rules.intake.asks_a_question(said):
            return None
        kind = self.rules.request_type_of(said, default="")
        return kind if kind in self.rules.intake.needs else None

    @staticmethod
    def _after_ticket(decision: Decision, state: ConversationState) -> ConversationState:
        """Once a ticket is open, the 诉求 taken down for it is done (later words add to the ticket); told of a
        closed ticket on the same matter, a citizen who hands off again gets a new one."""
        if decision.reason == REPEAT_CLOSED:
            return replace(state, intake=None, repeat_told=decision.ticket_number)
        return replace(state, intake=None) if decision.kind is Kind.HANDOFF and state.intake else state

    # ---- answering from the knowledge base --------------------------------------------------
    def understand(self, turn: Turn, index: RetrievalIndex) -> SearchResult:
        """What the knowledge base makes of a turn's question (the spoken evaluation runs exactly this)."""
        said = turn.text.strip() or (turn.hypotheses[0].text if turn.hypotheses else "")
        return self._search(turn, _readings(said, turn), index)

    def _search(self, turn: Turn, readings: list[tuple[str, float]], index: RetrievalIndex) -> SearchResult:
        """The best reading of what was said. With several ASR readings, the one whose knowledge-base
        confidence times the recogniser's posterior is highest: a reading the recogniser doubts must match
        much better to be preferred. The result keeps its own calibrated confidence."""
        results = index.search_many([text for text, _ in readings], region=turn.region, now=turn.at,
                                    k=self.policy.max_choices + 5)
        return max(zip(results, readings), key=lambda pair: pair[0].confidence * pair[1][1])[0]

    def judge(self, result: SearchResult, channel: Channel, index: RetrievalIndex, rejected: Sequence[str] = ()) -> Verdict:
        """Answer, clarify or hand off, from a search result alone (the evaluation runs exactly this)."""
        candidates = [c for c in result.candidates if c.entry.id not in rejected]
        if not candidates:
            return Verdict(Kind.HANDOFF, 0.0, candidates, [])
        # Once the caller has rejected the top entry, the next one is no longer what the calibrator judged.
        confidence = result.confidence if not rejected else 0.0
        top = candidates[0]
        if confidence >= index.answer_threshold(self.policy.answer_precision(channel)):
            return Verdict(Kind.ANSWER, confidence, candidates, [top], "confident")
        if result.plain and not rejected:
            return Verdict(Kind.ANSWER, confidence, candidates, [top], "plain")
        if rejected or confidence >= index.answer_threshold(self.policy.clarify_precision):
            close = [c for c in candidates if c.score >= top.score - self.policy.clarify_margin][: self.policy.max_choices]
            close = close if len(close) >= 2 else candidates[:2]
            if len(close) >= 2:
                return Verdict(Kind.CLARIFY, confidence, candidates, close)
        return Verdict(Kind.HANDOFF, confidence, candidates, [])

    def _from_knowledge(self, turn: Turn, said: str, state: ConversationState, index: RetrievalIndex,
                        ) -> tuple[Decision, ConversationState]:
        verdict = self.judge(self._search(turn, _readings(said, turn), index), turn.channel, index, state.rejected)
        scored = tuple(Scored(c.entry.id, c.entry.question, c.score) for c in verdict.candidates[:5])
        if verdict.kind is Kind.ANSWER:
            top = verdict.offered[0].entry.id
            decision = self._answer_entry(turn, index, top, verdict.reason, verdict.confidence)
            return replace(decision, candidates=scored), replace(state, answered=top)
        kind = self._statement_of_a_request(said) if not state.rejected else None
        if kind:  # nothing answers it for sure, and it reads as a 诉求 ("路灯坏了一个月了，物业不作为"): take it down
            return self._start_intake(turn, said, state, index, kind, said)
        if verdict.kind is Kind.CLARIFY:
            return self._clarify(turn, [c.entry for c in verdict.offered], verdict.confidence, scored), replace(
                state, offered=[c.entry.id for c in verdict.offered], answered=None)
        unclear = self.rules.unclear
        if not state.rejected and unclear.too_short(said) and state.prompts < unclear.prompts_before_handoff:
            return self._prompt(turn, "unclear"), replace(state, prompts=state.prompts + 1)
        reason = "low_confidence" if verdict.candidates else "no_candidate"
        return self._handoff(turn, said, state, index, reason, scored, verdict.confidence)

    def _answer_entry(self, turn: Turn, index: RetrievalIndex, entry_id: str, reason: str, confidence: float) -> Decision:
        entry = index.entries_by_id[entry_id]
        if not turn.channel.speaks:
            text = entry.chat_answer
        else:
            text = entry.voice_answer or speakable(entry.chat_answer, more=self.rules.reply("voice", "more"))
        return Decision(Kind.ANSWER, turn.session, text, reason=reason, confidence=confidence, entry_id=entry.id,
                        entry_question=entry.question)

    def _clarify(self, turn: Turn, entries: list[Entry], confidence: float, scored: tuple[Scored, ...]) -> Decision:
        choices = tuple(Choice(n, e.id, e.question) for n, e in enumerate(entries, start=1))
        if turn.channel.speaks:
            lines = [self.rules.reply("voice", "clarify_choice", number=c.number, number_word=digits_spoken(str(c.number)),
                                      question=c.question.rstrip("？?。"))
                     for c in choices]
            text = self.rules.reply("voice", "clarify", choices=self.rules.replies["voice"].get("clarify_joiner", "；").join(lines))
        else:
            lines = [self.rules.reply("chat", "clarify_choice", number=c.number, question=c.question) for c in choices]
            text = self.rules.reply("chat", "clarify", choices="\n".join(lines))
        return Decision(Kind.CLARIFY, turn.session, text, reason="close_candidates", confidence=confidence,
                        choices=choices, candidates=scored)

    # ---- follow-ups --------------------------------------------------------------------------
    def _picked(self, turn: Turn, said: str, state: ConversationState) -> str | None:
        """An entry chosen from the last clarification: by id (a button) or by its number."""
        if not state.offered:
            return None
        if turn.choice and turn.choice in state.offered:
            return turn.choice
        number = self.rules.choice(said)
        if number is not None and 1 <= number <= len(state.offered):
            return state.offered[number - 1]
        return None

    def _unsatisfied(self, turn: Turn, said: str, state: ConversationState, index: RetrievalIndex) -> tuple[Decision, ConversationState]:
        not_it = [state.answered] if state.answered else list(state.offered)
        state = replace(state, unsatisfied=state.unsatisfied + 1, rejected=state.rejected + not_it, answered=None, offered=[])
        if state.unsatisfied >= self.policy.unsatisfied_limit or not state.query:
            return self._handoff(turn, said, state, index, "unsatisfied")
        return self._from_knowledge(turn, state.query, state, index)

    def _courtesy(self, turn: Turn) -> Decision:
        return Decision(Kind.ANSWER, turn.session, self.rules.reply(turn.channel.wording, "courtesy"), reason="courtesy")

    def _prompt(self, turn: Turn, why: str) -> Decision:
        """A greeting or a message too garbled to be a question: ask what the citizen needs (reason "prompt")."""
        return Decision(Kind.ANSWER, turn.session, self.rules.reply(turn.channel.wording, why), reason="prompt")

    # ---- leaving the self-service path ------------------------------------------------------
    def _redirect(self, turn: Turn, emergency) -> Decision:
        if turn.channel.speaks:
            words = digits_spoken(emergency.number).replace("一一", "幺幺")
            text = self.rules.reply("voice", "redirect", number_words=words, name=emergency.name, number=emergency.number)
        else:
            text = self.rules.reply("chat", "redirect", number=emergency.number, name=emergency.name)
        return Decision(Kind.REDIRECT, turn.session, text, reason="emergency", redirect_to=emergency.number, confidence=1.0)

    def _handoff(self, turn: Turn, said: str, state: ConversationState, index: RetrievalIndex, reason: str,
                 scored: tuple[Scored, ...] = (), confidence: float = 0.0) -> tuple[Decision, ConversationState]:
        """The decision to hand off; its ticket is opened (and its words written) by `_with_ticket`."""
        decision = Decision(Kind.HANDOFF, turn.session, "", reason=reason, confidence=confidence, candidates=scored)
        return decision, replace(state, offered=[], answered=None)

    def _with_ticket(self, turn: Turn, said: str, state: ConversationState, index: RetrievalIndex,
                     decision: Decision) -> Decision:
        """A handoff decision with its ticket opened at the desk and its number in the words; others as they are."""
        if decision.kind is not Kind.HANDOFF:
            return decision
        taken = self.desk.take(self._ticket_draft(turn, said, state, index, decision), now=turn.at,
                               repeats=state.repeat_told is None)
        ticket = taken.ticket
        log.info("handoff %s (%s, %s) on %s", ticket.number, decision.reason, taken.how, turn.channel.value)
        if taken.how == "closed_repeat":  # told of it; nothing is opened (and no seat is called) unless they insist
            return replace(decision, kind=Kind.ANSWER, reason=REPEAT_CLOSED, ticket_number=ticket.number,
                           text=self._repeat_text(turn, ticket, "repeat_closed", ticket.closed_at))
        if taken.how == "repeat":
            text = self._repeat_text(turn, ticket, "repeat", ticket.created_at)
        else:
            text = self._handoff_text(turn, ticket.number, ticket.due_at, phone=bool(ticket.caller))
        return replace(decision, text=text, ticket_number=ticket.number)

    def _repeat_text(self, turn: Turn, ticket: Ticket, template: str, day: datetime | None) -> str:
        """What a citizen is told of the ticket they already have for this matter."""
        day = as_utc(day or ticket.created_at).astimezone(BEIJING)
        return self.rules.reply(turn.channel.wording, template, ticket=ticket.number, tail=digits_spoken(ticket.number[-4:]),
                                date=f"{day.month}月{day.day}日", state=self._citizen_states.get(ticket.status.value, ""))

    def _ticket_draft(self, turn: Turn, said: str, state: ConversationState, index: RetrievalIndex,
                      decision: Decision) -> TicketDraft:
        transcript = self.conversations.transcript(turn.session) + [
            {"at": turn.at.isoformat(), "text": said, "asr_confidence": turn.asr_confidence, "decision": Kind.HANDOFF.value}]
        words = "\n".join(t["text"] for t in transcript)
        scored = decision.candidates
        candidates_entries = [index.entries_by_id[s.entry_id] for s in scored if s.entry_id in index.entries_by_id]
        category = self.classify(words, candidates_entries)
        urgency = self.rules.urgency_of(words)
        intake = Intake.from_json(state.intake) if state.intake and self.intake is not None else None
        summary, request_type = state.query or said, self.rules.request_type_of(words)
        region, caller, details = turn.region, turn.caller, None
        if intake is not None:
            summary, request_type = intake.slots.get("what") or summary, intake.type
            region = intake.region or region
            if turn.channel is not Channel.WECHAT:  # a WeChat caller is the openid the reply goes to
                caller = intake.phone or caller
            details = self.intake.details(intake, confirmed=decision.reason == "intake")
        return TicketDraft(
            channel=turn.channel.value, summary=summary, reason=decision.reason, transcript=transcript,
            request_type=request_type, urgency=urgency.name, details=details,
            region=region, caller=caller, conversation_id=turn.session, category_code=category.code,
            category_name=category.name, category_score=category.score, category_source=category.source,
            candidates=[{"entry_id": s.entry_id, "question": s.question, "score": round(s.score, 4)} for s in scored],
            asr_confidence=turn.asr_confidence,
        )

    def _handoff_text(self, turn: Turn, ticket_number: str, due_at: datetime, *, phone: bool) -> str:
        wording = turn.channel.wording
        deadline = say_deadline(due_at, turn.at or utcnow(), self.rules.replies["deadline"])
        contact = "contact_wechat" if turn.channel is Channel.WECHAT else "contact_phone" if phone else "contact_none"
        return self.rules.reply(wording, "handoff", ticket=ticket_number, deadline=deadline,
                                contact=self.rules.replies[wording].get(contact, ""))
