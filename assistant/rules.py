"""The engine's editable content: emergencies, scope, follow-up intents, urgency, reply wording.

All of it lives in YAML files (`assistant/rules/*.yaml` ship as defaults; a hotline points
`FRONTDOOR_RULES_DIR` at a folder of its own files, any of which replaces the shipped one).
Patterns are compiled once when the rules are loaded; a bad pattern stops loading with the file and
the pattern named.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assistant.intake import IntakeRules, load_intake_rules

SHIPPED = Path(__file__).resolve().parent / "rules"
_SPACES = re.compile(r"\s+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_TRAILING = re.compile(r"[。．.!！?？~～,，、…\s]+$")


class RulesError(ValueError):
    pass


def compact(text: str) -> str:
    """What patterns are matched against: no spaces, no trailing punctuation."""
    return _TRAILING.sub("", _SPACES.sub("", text))


@dataclass(frozen=True)
class Emergency:
    number: str
    name: str
    patterns: tuple[re.Pattern, ...]


@dataclass(frozen=True)
class ScopeRule:
    reason: str
    patterns: tuple[re.Pattern, ...]
    chat: str
    voice: str


@dataclass(frozen=True)
class UrgencyLevel:
    name: str  # the desk's dispatch deadline is by this name (desk/content/deadlines.yaml)
    patterns: tuple[re.Pattern, ...]


@dataclass(frozen=True)
class Unclear:
    min_distinct_han: int = 2
    min_question_han: int = 4
    prompts_before_handoff: int = 2

    def __call__(self, text: str) -> bool:
        """Whether a message has too few different Chinese characters to be a question."""
        return _distinct_han(text) < self.min_distinct_han

    def too_short(self, text: str) -> bool:
        """Whether a message is too short to take down when nothing answers it ("测试", "社保")."""
        return _distinct_han(text) < self.min_question_han


def _distinct_han(text: str) -> int:
    return len({ch for ch in text if _HAN.match(ch)})


@dataclass(frozen=True)
class Rules:
    emergencies: tuple[Emergency, ...]
    scope: tuple[ScopeRule, ...]
    intents: dict[str, tuple[re.Pattern, ...]]
    choices: dict[int, frozenset[str]]
    urgency: tuple[UrgencyLevel, ...]
    request_types: dict[str, tuple[re.Pattern, ...]]
    replies: dict[str, dict[str, str]]
    terms: tuple[str, ...] = ()  # the hotline's own words, for speech recognition
    unclear: Unclear = field(default_factory=Unclear)  # what is too garbled to be a question (followups.yaml)
    intake: IntakeRules | None = None  # taking down a 诉求 (intake.yaml)

    # ---- matching -------------------------------------------------------------------------------
    def emergency(self, text: str) -> Emergency | None:
        said = compact(text)
        return next((e for e in self.emergencies if any(p.search(said) for p in e.patterns)), None)

    def out_of_scope(self, text: str) -> ScopeRule | None:
        said = compact(text)
        return next((r for r in self.scope if any(p.search(said) for p in r.patterns)), None)

    def intent(self, text: str) -> str | None:
        """'human', 'reject', 'confused', 'thanks' … when the whole message is one of those, else None."""
        said = compact(text)
        for name, patterns in self.intents.items():
            if any(p.fullmatch(said) for p in patterns):
                return name
        return None

    def unintelligible(self, text: str) -> bool:
        """A message too garbled or too short to mean anything: a prompt answers it, not a ticket."""
        return self.unclear(compact(text))

    def choice(self, text: str) -> int | None:
        said = compact(text).removeprefix("选").removesuffix("吧").removesuffix("个")
        for number, words in self.choices.items():
            if said in words:
                return number
        return None

    def urgency_of(self, text: str) -> UrgencyLevel:
        said = compact(text)
        for level in self.urgency:
            if any(p.search(said) for p in level.patterns):
                return level
        return self.urgency[-1]

    def request_type_of(self, text: str, default: str = "咨询") -> str:
        said = compact(text)
        return next((kind for kind, patterns in self.request_types.items() if any(p.search(said) for p in patterns)), default)

    def reply(self, channel_group: str, template: str, **values) -> str:
        return self.replies[channel_group][template].format(**values)


REPLY_TEMPLATES = {
    "chat": {"clarify", "clarify_choice", "handoff", "contact_phone", "contact_wechat", "contact_none", "redirect",
             "courtesy", "greeting", "unclear", "repeat", "repeat_closed"},
    "voice": {"clarify", "clarify_choice", "handoff", "redirect", "courtesy", "greeting", "unclear", "more", "repeat",
              "repeat_closed"},
    "deadline": {"within_hours", "today", "tomorrow", "day_after", "later", "o_clock", "half_past"},
    "ivr": {"greeting", "anything_else", "no_input", "no_match", "invalid_key", "emergency_transfer", "goodbye"},
}


def _compile(patterns, where: str) -> tuple[re.Pattern, ...]:
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise RulesError(f"{where}: expected a list of patterns (strings)")
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as error:
            raise RulesError(f"{where}: pattern {pattern!r} is not a valid regular expression ({error})") from error
    return tuple(compiled)


def _read(name: str, override_dir: Path | None) -> tuple[dict, str]:
    path = override_dir / name if override_dir and (override_dir / name).exists() else SHIPPED / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise RulesError(f"{path}: cannot be read ({error})") from error
    if not isinstance(data, dict):
        raise RulesError(f"{path}: expected a mapping at the top level")
    return data, str(path)


def load_rules(override_dir: Path | None = None) -> Rules:
    try:
        return _load(override_dir)
    except (KeyError, TypeError, AttributeError) as error:
        raise RulesError(f"the rules files are missing a field or have the wrong shape: {error!r}") from error


def _load(override_dir: Path | None) -> Rules:
    emergency, where = _read("emergency.yaml", override_dir)
    emergencies = tuple(
        Emergency(number=str(s["number"]), name=str(s["name"]), patterns=_compile(s["patterns"], f"{where}: {s['number']}"))
        for s in emergency["services"]
    )
    scope, where = _read("scope.yaml", override_dir)
    scope_rules = tuple(
        ScopeRule(reason=r["reason"], patterns=_compile(r["patterns"], f"{where}: {r['reason']}"), chat=r["chat"], voice=r["voice"])
        for r in scope["rules"]
    )
    followups, where = _read("followups.yaml", override_dir)
    intents = {name: _compile(patterns, f"{where}: {name}") for name, patterns in followups["intents"].items()}
    choices = {int(n): frozenset(str(w) for w in words) for n, words in followups["choices"].items()}
    unclear = Unclear(**{k: int(v) for k, v in (followups.get("unclear") or {}).items()})
    urgency, where = _read("urgency.yaml", override_dir)
    levels = tuple(
        UrgencyLevel(name=l["name"], patterns=_compile(l.get("patterns") or [], f"{where}: {l['name']}"))
        for l in urgency["levels"]
    )
    if not levels:
        raise RulesError(f"{where}: at least one urgency level is needed")
    request_types = {kind: _compile(patterns, f"{where}: {kind}") for kind, patterns in urgency["request_types"].items()}
    replies, where = _read("replies.yaml", override_dir)
    for group, needed in REPLY_TEMPLATES.items():
        missing = needed - set(replies.get(group) or {})
        if missing:
            raise RulesError(f"{where}: the {group} replies lack {', '.join(sorted(missing))}")
    vocabulary, where = _read("terms.yaml", override_dir)
    terms = vocabulary.get("terms") or []
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise RulesError(f"{where}: terms must be a list of words")
    intake_data, where = _read("intake.yaml", override_dir)
    try:
        intake = load_intake_rules(intake_data, where, _compile)
    except ValueError as error:
        raise RulesError(str(error)) from error
    return Rules(emergencies, scope_rules, intents, choices, levels, request_types, replies, tuple(terms), unclear, intake)
