"""Taking down a 诉求 (a complaint, report, help request or suggestion): what happened, where, since when, and
how to reach the citizen, asked one missing piece at a time, read back, and then opened as one ticket.

The pieces a type needs, the questions, the read-back and the words that confirm or withhold are content
(rules/intake.yaml). A citizen may give any piece at any time, several at once, and correct one at the
read-back ("地点不对，是中山路20号"). Someone who gives nothing useful `stalls_before_handoff` times in a row goes
to a seat with what was said. The state lives in the conversation (`Intake.as_json`), so any worker continues it.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

from assistant.slots import SlotWords, find_phone, place_within, read, region_of

WHAT, WHERE, SINCE, CONTACT = "what", "where", "since", "contact"
WITHHELD = ""  # the contact slot's value when the citizen chose not to leave a number
WITHHOLD_WORDS = 8  # a message this short that withholds a number does so even before it is asked for


@dataclass(frozen=True)
class SlotText:
    ask: str
    label: str
    ask_voice: str = ""  # what the phone line says instead, where the chat wording cannot be spoken


@dataclass(frozen=True)
class IntakeRules:
    triggers: dict[str, tuple[re.Pattern, ...]]
    slots: dict[str, SlotText]
    needs: dict[str, tuple[str, ...]]
    readback: str
    readback_voice: str
    readback_joiner: str
    contact_withheld: str
    what_to_change: str
    stalls_before_handoff: int
    confirm: tuple[re.Pattern, ...]
    deny: tuple[re.Pattern, ...]
    withhold: tuple[re.Pattern, ...]
    words: SlotWords
    question_words: tuple[str, ...] = ()

    def asks_a_question(self, said: str) -> bool:
        return any(w in said for w in self.question_words)

    def trigger(self, said: str) -> tuple[str, str] | None:
        """(request type, the words after the trigger) when `said` asks to file a 诉求."""
        for kind, patterns in self.triggers.items():
            for pattern in patterns:
                match = pattern.search(said)
                if match:
                    return kind, (said[:match.start()] + said[match.end():]).strip(" ，,。：:")
        return None


def load_intake_rules(data: dict, where: str, compile_patterns) -> IntakeRules:
    """The intake content of `data` (intake.yaml); `compile_patterns(list, where)` compiles a list of regexes."""
    slots = {name: SlotText(ask=str(s["ask"]), label=str(s["label"]), ask_voice=str(s.get("ask_voice") or ""))
             for name, s in data["slots"].items()}
    needs = {kind: tuple(names) for kind, names in data["needs"].items()}
    for kind, names in needs.items():
        unknown = set(names) - set(slots)
        if unknown:
            raise ValueError(f"{where}: needs of {kind} name unknown slots {sorted(unknown)}")
    return IntakeRules(
        triggers={kind: compile_patterns(patterns, f"{where}: triggers {kind}") for kind, patterns in data["triggers"].items()},
        slots=slots, needs=needs, readback=str(data["readback"]),
        readback_voice=str(data.get("readback_voice") or data["readback"]), readback_joiner=str(data["readback_joiner"]),
        contact_withheld=str(data["contact_withheld"]), what_to_change=str(data["what_to_change"]),
        stalls_before_handoff=int(data["stalls_before_handoff"]),
        confirm=compile_patterns(data["confirm"], f"{where}: confirm"), deny=compile_patterns(data["deny"], f"{where}: deny"),
        withhold=compile_patterns(data["withhold_contact"], f"{where}: withhold_contact"),
        words=SlotWords(tuple(data["place_words"]), tuple(data["place_lead_ins"]), tuple(data["time_words"])),
        question_words=tuple(data.get("question_words") or ()),
    )


@dataclass(frozen=True)
class Intake:
    """One 诉求 being taken down."""

    type: str
    slots: dict[str, str] = field(default_factory=dict)
    region: str | None = None        # the region tree node of the place, when the address parser could tell
    asked: str | None = None         # the slot last asked for
    reading_back: bool = False       # the summary was read back and awaits a yes
    stalls: int = 0                  # answers in a row that gave nothing

    def as_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Intake":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def phone(self) -> str | None:
        return self.slots.get(CONTACT) or None


@dataclass(frozen=True)
class Step:
    """What to do next: ask for a slot, read back, open the ticket (done), or give up to a seat (stalled)."""

    action: str                  # "ask", "readback", "done", "stalled"
    text: str = ""
    slot: str | None = None


class IntakeDialogue:
    def __init__(self, rules: IntakeRules, *, spoken_digits=None):
        self.rules = rules
        self._spoken_digits = spoken_digits or (lambda text: text)

    def start(self, kind: str, rest: str, *, now: datetime, caller: str | None, region: str | None,
              speaks: bool) -> tuple[Intake, Step]:
        intake = Intake(kind)
        if caller and find_phone(caller):  # the number they are calling from (or left in the chat)
            intake = self._fill(intake, CONTACT, find_phone(caller)[0])
        if rest:  # the words that started it say what the matter is, and may say where, when and a number
            intake, _ = self._take(intake, rest, now=now, region=region, asked=None)
            phone = find_phone(rest)
            what = (rest[:phone[1]] + rest[phone[2]:]).strip(" ，,。") if phone else rest
            if len(what) >= 2:
                intake = self._fill(intake, WHAT, what)
            if WHERE not in intake.slots and (place := place_within(what, self.rules.words, region)):
                intake = replace(self._fill(intake, WHERE, place), region=region_of(place, region))
        return self._next(intake, speaks)

    def answer(self, intake: Intake, said: str, *, now: datetime, region: str | None, speaks: bool,
               meaningless: bool = False) -> tuple[Intake, Step]:
        """The citizen's next words; `meaningless`: too garbled to be an answer ("asdf", "。。。")."""
        if intake.reading_back and any(p.search(said) for p in self.rules.confirm):
            return intake, Step("done")
        asked = None if intake.reading_back else intake.asked
        if meaningless and find_phone(said) is None:  # digits alone are garbled words but a fine phone number
            updated, took = intake, False
        else:
            updated, took = self._take(intake, said, now=now, region=region, asked=asked)
        if took:
            return self._next(replace(updated, stalls=0), speaks)
        if intake.reading_back and any(p.search(said) for p in self.rules.deny):
            return replace(intake, reading_back=False, asked=None), Step("ask", self.rules.what_to_change)
        stalls = intake.stalls + 1
        if stalls >= self.rules.stalls_before_handoff:
            return replace(intake, stalls=stalls), Step("stalled")
        return self._next(replace(intake, stalls=stalls), speaks)

    # ---- reading an answer ------------------------------------------------------------------------------
    def _take(self, intake: Intake, said: str, *, now: datetime, region: str | None,
              asked: str | None) -> tuple[Intake, bool]:
        """`intake` with every piece `said` gives; and whether it gave any."""
        reading = read(said, now, self.rules.words)
        before = intake
        if reading.phone:
            intake = self._fill(intake, CONTACT, reading.phone)
        elif self._withholds(said, asked, intake):
            return self._fill(intake, CONTACT, WITHHELD), True
        if reading.place:
            intake = replace(self._fill(intake, WHERE, reading.place), region=region_of(reading.place, region))
        if reading.since:
            intake = self._fill(intake, SINCE, reading.since)
        rest = reading.remainder
        if asked == WHAT and not rest and WHAT not in intake.slots:  # "楼上天天半夜跺脚" says what and since when
            rest = said.strip(" ，,。")
        if rest and not self._only_denial(rest):
            if asked in (WHAT, WHERE, SINCE) and asked not in self._filled_now(before, intake):
                intake = self._fill(intake, asked, rest)
            elif WHAT not in intake.slots:
                intake = self._fill(intake, WHAT, rest)
        return intake, intake.slots != before.slots

    def _withholds(self, said: str, asked: str | None, intake: Intake) -> bool:
        """"不留" to the phone question, or a short "不方便留" before it is asked (not "…不给发票" in a matter)."""
        short = asked is not None and CONTACT not in intake.slots and len(said.strip()) <= WITHHOLD_WORDS
        return (asked == CONTACT or short) and any(p.search(said) for p in self.rules.withhold)

    def _only_denial(self, text: str) -> bool:
        return len(text) <= 4 and any(p.search(text) for p in self.rules.deny)

    @staticmethod
    def _filled_now(before: Intake, after: Intake) -> set[str]:
        return {k for k, v in after.slots.items() if before.slots.get(k) != v}

    @staticmethod
    def _fill(intake: Intake, slot: str, value: str) -> Intake:
        return replace(intake, slots={**intake.slots, slot: value})

    # ---- what to say next -------------------------------------------------------------------------------
    def _next(self, intake: Intake, speaks: bool) -> tuple[Intake, Step]:
        for slot in self.rules.needs.get(intake.type, (WHAT,)):
            if slot not in intake.slots:
                text = self.rules.slots[slot]
                return replace(intake, asked=slot, reading_back=False), Step("ask", (speaks and text.ask_voice) or text.ask, slot)
        return replace(intake, asked=None, reading_back=True), Step("readback", self.readback(intake, speaks))

    def readback(self, intake: Intake, speaks: bool) -> str:
        parts = []
        for slot in self.rules.needs.get(intake.type, (WHAT,)):
            value = intake.slots.get(slot, "")
            if slot == CONTACT:
                value = (self._spoken_digits(value) if speaks else value) if value else self.rules.contact_withheld
            parts.append(f"{self.rules.slots[slot].label}：{value}")
        template = self.rules.readback_voice if speaks else self.rules.readback
        return template.format(type=intake.type, details=self.rules.readback_joiner.join(parts))

    def details(self, intake: Intake, *, confirmed: bool) -> dict:
        """The taken-down pieces as the ticket keeps them; `confirmed`: the citizen said yes to the read-back."""
        return {"type": intake.type, **{slot: intake.slots.get(slot) for slot in self.rules.slots},
                "region": intake.region, "confirmed": confirmed}
