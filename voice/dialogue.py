"""The IVR dialogue of one call: the engine's decisions turned into prompts and call actions.

Greeting → question → answer ("还有其他问题…按一转人工") | clarify ("按一…按二…") | a 诉求 taken down (each
missing piece asked, a phone number spoken or keyed and ended with #, the read-back confirmed by saying 对 or
pressing 1) | handoff (transfer with the ticket) | emergency redirect (said at once, "按一立即为您转接"). Silence and unintelligible speech get a
limited number of reprompts, then a seat. Keys work at every prompt: 0 (or 1 after an answer) for a person,
1–3 for a choice, * to hear the prompt again. Blocking (the engine writes to the database): run it off the
event loop. The prompts' wording is the `ivr` group of assistant/rules/replies.yaml.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from assistant.engine import Engine
from assistant.turn import Channel, Decision, Hypothesis, Kind, Turn
from models.asr import Recognition

KEYS = frozenset("0123456789*#")


class Step(str, enum.Enum):
    QUESTION = "question"      # waiting for a question
    ANSWERED = "answered"      # an answer was given: another question, 1 for a person, or goodbye
    CLARIFYING = "clarifying"  # choices were offered
    EMERGENCY = "emergency"    # an emergency number was given: 1 transfers there
    TAKING_DOWN = "taking_down"  # a 诉求 is being taken down: answers spoken, or a number keyed and ended with #
    ENDED = "ended"


@dataclass(frozen=True)
class Say:
    text: str
    purpose: str             # greeting, answer, clarify, intake, handoff, redirect, refuse, reprompt, invalid_key, goodbye
    barge_in: bool = True    # may the caller's speech interrupt it


@dataclass(frozen=True)
class Transfer:
    to: str                  # "seat", or the emergency number (110/119/120/122)
    ticket_number: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Hangup:
    reason: str


@dataclass(frozen=True)
class Decided:
    """What the engine decided on a turn (for the telephony platform's logs and the caller's screen)."""

    decision: Decision
    heard: str


Action = Say | Transfer | Hangup | Decided


def spoken_turn(session: str, recognition: Recognition, *, region: str | None = None, caller: str | None = None) -> Turn:
    """A caller's utterance as the engine's turn: the best reading as the text, every reading (and its
    sound-alike variant in the knowledge base's words) as a hypothesis with the recogniser's posterior."""
    return Turn(session, Channel.VOICE, recognition.text, region=region, caller=caller,
                hypotheses=tuple(Hypothesis(r.text, r.posterior) for r in recognition.hypotheses),
                asr_confidence=round(recognition.confidence, 4))


class IvrDialogue:
    def __init__(self, engine: Engine, session: str, *, caller: str | None = None, region: str | None = None,
                 reprompts: int = 2) -> None:
        self.engine = engine
        self.session = session
        self.caller = caller
        self.region = region
        self.reprompts = reprompts
        self.step = Step.QUESTION
        self._misses = 0            # no-input and no-match in a row
        self._last_prompt: Say | None = None
        self._emergency_number: str | None = None
        self._choices = 0           # how many choices the last clarification offered
        self._asr_confidence: float | None = None  # of the last utterance, for a ticket opened by a key
        self._keyed = ""            # digits keyed while a 诉求 is taken down, until #
        self._reading_back = False  # the taken-down 诉求 was read back: 1 confirms it
        self._asking_number = False  # a phone number was asked for: 0 starts one (025…), not a transfer

    @property
    def ended(self) -> bool:
        return self.step is Step.ENDED

    # ---- what happens on the line -----------------------------------------------------------
    def start(self) -> list[Action]:
        return [self._say(self._prompt("greeting"), "greeting")]

    def heard(self, recognition: Recognition) -> list[Action]:
        if self.ended:
            return []
        if recognition.empty:
            return self._missed("no_match")
        turn = spoken_turn(self.session, recognition, region=self.region, caller=self.caller)
        self._asr_confidence = turn.asr_confidence
        return self._after(self.engine.handle(turn), recognition.text)

    def key(self, digit: str) -> list[Action]:
        if self.ended:
            return []
        if digit not in KEYS:
            raise ValueError(f"{digit!r} is not a telephone key; send one of 0-9, * or #")
        if digit == "*" and self._last_prompt is not None:
            return [self._last_prompt]
        if self.step is Step.EMERGENCY and digit == "1":
            return self._transfer_to_emergency("pressed")
        if self.step is Step.CLARIFYING and (digit == "0" or digit in "123"[:self._choices]):
            return self._after(self.engine.handle(self._turn(digit)), f"按键{digit}")
        if self.step is Step.TAKING_DOWN:
            return self._key_while_taking_down(digit)
        if digit == "0" or (self.step is Step.ANSWERED and digit == "1"):
            return self._to_seat("pressed_for_human")
        return [Say(self._prompt("invalid_key"), "invalid_key")] + ([self._last_prompt] if self._last_prompt else [])

    def silence(self) -> list[Action]:
        """The caller said nothing for the no-input time after a prompt."""
        if self.ended:
            return []
        if self.step is Step.ANSWERED:
            return self._goodbye("caller_done")
        if self.step is Step.EMERGENCY:
            return self._transfer_to_emergency("no_input")
        return self._missed("no_input")

    # ---- turning decisions into prompts ------------------------------------------------------
    def _after(self, decision: Decision, heard: str) -> list[Action]:
        actions: list[Action] = [Decided(decision, heard)]
        self._misses = 0
        if decision.kind is Kind.HANDOFF:
            self.step = Step.ENDED
            return actions + [Say(decision.text, "handoff", barge_in=False),
                              Transfer("seat", decision.ticket_number, decision.reason)]
        if decision.kind is Kind.REDIRECT:
            self.step, self._emergency_number = Step.EMERGENCY, decision.redirect_to
            return actions + [self._say(decision.text + self._prompt("emergency_transfer"), "redirect")]
        if decision.kind is Kind.CLARIFY:
            self.step, self._choices = Step.CLARIFYING, len(decision.choices)
            return actions + [self._say(decision.text, "clarify")]
        if decision.kind is Kind.INTAKE:
            self.step, self._keyed = Step.TAKING_DOWN, ""
            self._reading_back = decision.reason == "intake_readback"
            self._asking_number = decision.reason == "intake_ask_contact"
            return actions + [self._say(decision.text, "intake")]
        if decision.reason == "prompt":  # a greeting or words that mean nothing: ask again, still listening
            return actions + [self._say(decision.text, "reprompt")]
        if decision.reason == "courtesy" and self.step is Step.ANSWERED:
            return actions + self._goodbye("caller_done")
        purpose = "refuse" if decision.kind is Kind.REFUSE else "answer"
        self.step = Step.ANSWERED
        text = decision.text if decision.reason == "courtesy" else decision.text + self._prompt("anything_else")
        return actions + [self._say(text, purpose)]

    def _key_while_taking_down(self, digit: str) -> list[Action]:
        """1 confirms a read-back; digits ended with # are a phone number; 0 on its own is a person."""
        if self._reading_back and digit == "1" and not self._keyed:
            return self._after(self.engine.handle(self._turn("1")), "按键1")
        if digit == "#":
            keyed, self._keyed = self._keyed, ""
            return self._after(self.engine.handle(self._turn(keyed)), f"按键{keyed}") if keyed else []
        if digit == "0" and not self._keyed and not self._asking_number:
            return self._to_seat("pressed_for_human")
        self._keyed += digit
        return []

    def _missed(self, what: str) -> list[Action]:
        self._misses += 1
        if self._misses > self.reprompts:
            return self._to_seat(what)
        if self.step is Step.TAKING_DOWN and self._last_prompt is not None:  # the question asked, again
            return [self._last_prompt]
        return [self._say(self._prompt(what), "reprompt")]

    def _to_seat(self, reason: str) -> list[Action]:
        decision = self.engine.hand_off(self._turn(""), reason)
        self.step = Step.ENDED
        return [Decided(decision, ""), Say(decision.text, "handoff", barge_in=False),
                Transfer("seat", decision.ticket_number, reason)]

    def _transfer_to_emergency(self, reason: str) -> list[Action]:
        self.step = Step.ENDED
        return [Transfer(self._emergency_number or "110", None, f"emergency_{reason}")]

    def _goodbye(self, reason: str) -> list[Action]:
        self.step = Step.ENDED
        return [Say(self._prompt("goodbye"), "goodbye", barge_in=False), Hangup(reason)]

    def _say(self, text: str, purpose: str) -> Say:
        self._last_prompt = Say(text, purpose)
        return self._last_prompt

    def _prompt(self, name: str) -> str:
        return self.engine.rules.reply("ivr", name)

    def _turn(self, text: str) -> Turn:
        return Turn(self.session, Channel.VOICE, text, region=self.region, caller=self.caller,
                    asr_confidence=self._asr_confidence)
