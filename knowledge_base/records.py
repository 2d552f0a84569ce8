"""Entries as records, and the rules every entry must keep.

A record is a JSON-ready dict of an entry's fields: one JSONL line, an import's row, the snapshot stored for each
version and a proposed change's content. `entry_from_record` reads one strictly (every problem listed in words an
editor understands); knowledge_base/io.py reads files of them. Entries in files are published unless the record
says otherwise; times without a zone are China Standard Time (UTC+8), the hotline's own clock.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone, tzinfo
from typing import Any

from ground.clock import BEIJING, as_utc
from ground import privacy
from knowledge_base.entry import Entry, RequestType, Status

FILE_DEFAULT_STATUS = Status.PUBLISHED


class InvalidEntry(ValueError):
    """An entry that breaks the rules every entry must keep (see `entry_problems`)."""

    def __init__(self, entry_id: str, problems: list[str]) -> None:
        self.entry_id = entry_id
        self.problems = problems
        super().__init__(f"entry {entry_id!r}: " + "; ".join(problems))


def entry_problems(entry: Entry) -> list[str]:
    """What makes `entry` unfit to store, in words an editor understands (empty when it is fine)."""
    problems = []
    if not entry.id or entry.id != entry.id.strip():
        problems.append("id must be non-empty text without surrounding spaces")
    if not entry.question.strip():
        problems.append("question must not be empty")
    if entry.variant_of is not None and entry.variant_of == entry.id:
        problems.append("variant_of must name another entry, not the entry itself")
    start, end = as_utc(entry.effective_from), as_utc(entry.expires_at)
    if start is not None and end is not None and end <= start:
        problems.append(f"expires_at ({end.isoformat()}) must be after effective_from ({start.isoformat()})")
    problems.extend(personal_number_problems(entry))
    return problems


PERSONAL_NUMBER_NAMES = {"mobile": "a mobile number", "id_card": "an ID-card number", "bank_card": "a bank-card number"}


def personal_number_problems(entry: Entry) -> list[str]:
    """An entry is shown to every citizen who asks: one that carries a person's mobile, ID-card or bank-card
    number (a citizen's question added as a sample, pasted from a ticket) must not be stored. An office's
    landline or address is fine."""
    fields = {"question": [entry.question], "answer": [entry.chat_answer], "voice_answer": [entry.voice_answer or ""],
              "samples": list(entry.samples)}
    problems = []
    for name, texts in fields.items():
        for text in texts:
            for finding in privacy.find(text):
                if finding.identifies_a_person:
                    problems.append(f"{name} holds {PERSONAL_NUMBER_NAMES[finding.kind]} ({finding.masked(text)}); "
                                    "remove it: an entry is shown to every citizen who asks")
    return problems


# ---------------------------------------------------------------------------------------------
# Entry <-> record (a JSON-ready dict: one JSONL line, and the snapshot stored for each version)

def entry_to_record(entry: Entry, *, tz: tzinfo = timezone.utc) -> dict[str, Any]:
    """Every field of `entry`, JSON-ready, with times written in `tz`."""

    def moment(value: datetime | None) -> str | None:
        return None if value is None else as_utc(value).astimezone(tz).isoformat()

    return {
        "id": entry.id,
        "question": entry.question,
        "answer": entry.chat_answer,
        "samples": list(entry.samples),
        "category": entry.category,
        "voice_answer": entry.voice_answer,
        "request_type": entry.request_type.value,
        "region": entry.region,
        "variant_of": entry.variant_of,
        "effective_from": moment(entry.effective_from),
        "expires_at": moment(entry.expires_at),
        "status": entry.status.value,
        "version": entry.version,
        "updated_by": entry.updated_by,
        "updated_at": moment(entry.updated_at),
        "source": entry.source,
    }


def entry_from_record(record: Mapping[str, Any]) -> Entry:
    """The entry a record describes; raises `InvalidEntry` listing every problem."""
    problems: list[str] = []
    entry = entry_from_fields(record, lambda _key: None, None, lambda _line, message: problems.append(message))
    if entry is None or problems:
        raise InvalidEntry(str(record.get("id", "?")), problems)
    return entry


def _text(value: Any, key: str, report: Callable[[str], None]) -> str | None:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    report(f"'{key}' must be text, not {type_name(value)}" + (" (put it in quotes)" if _is_scalar(value) else ""))
    return None


def _moment(value: Any, key: str, report: Callable[[str], None]) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            report(f"'{key}' is not an ISO 8601 date or time: {value!r} (e.g. 2022-04-01T08:00:00+08:00)")
            return None
    else:
        report(f"'{key}' must be an ISO 8601 date or time, not {type_name(value)}")
        return None
    return parsed.replace(tzinfo=BEIJING) if parsed.tzinfo is None else parsed


def _choice(value: Any, key: str, kind: type, default, report: Callable[[str], None]):
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        allowed = "/".join(member.value for member in kind)
        report(f"unknown {key} {value!r} (one of {allowed})")
        return None


ENTRY_KEYS = frozenset(
    {"id", "question", "answer", "chat_answer", "samples", "category", "voice_answer", "request_type", "region",
     "variant_of",
     "effective_from", "expires_at", "status", "version", "updated_by", "updated_at", "source"}
)


def entry_from_fields(
    fields: Mapping[str, Any],
    line_of: Callable[[str], int | None],
    entry_line: int | None,
    report: Callable[[int | None, str], None],
) -> Entry | None:
    """Builds an Entry from loosely typed fields, reporting each problem at its line; None if any."""
    problem_count = 0

    def problem_at(key: str | None) -> Callable[[str], None]:
        def add(message: str) -> None:
            nonlocal problem_count
            problem_count += 1
            report(line_of(key) if key else entry_line, message)

        return add

    for key in fields:
        if key not in ENTRY_KEYS:
            problem_at(key)(f"unknown field {key!r}")
    values: dict[str, Any] = {}
    for key in ("id", "question"):
        if fields.get(key) is None:
            problem_at(None)(f"'{key}' is missing")
            continue
        value = _text(fields[key], key, problem_at(key))
        if value is not None and not value.strip():
            problem_at(key)(f"'{key}' is empty")
        elif value is not None:
            values[key] = value.strip()
    if "answer" in fields and "chat_answer" in fields:
        problem_at("chat_answer")("give either 'answer' or 'chat_answer', not both")
    answer_key = "chat_answer" if "chat_answer" in fields else "answer"
    for key, target in ((answer_key, "chat_answer"), ("voice_answer", "voice_answer"), ("region", "region"),
                        ("updated_by", "updated_by"), ("source", "source")):
        value = _text(fields.get(key), key, problem_at(key))
        if value is not None:
            values[target] = value
    for key in ("category", "variant_of"):
        value = _text(fields.get(key), key, problem_at(key))
        if value is not None:
            values[key] = value.strip() or None
    samples = fields.get("samples")
    if samples is None:
        values["samples"] = ()
    elif not isinstance(samples, list):
        problem_at("samples")(f"'samples' must be a list of texts, not {type_name(samples)}")
    elif bad := [(i, s) for i, s in enumerate(samples, 1) if not isinstance(s, str)]:
        for position, sample in bad:
            problem_at("samples")(f"sample {position} must be text, not {type_name(sample)} (put it in quotes)")
    else:
        values["samples"] = tuple(samples)
    for key in ("effective_from", "expires_at", "updated_at"):
        values[key] = _moment(fields.get(key), key, problem_at(key))
    values["request_type"] = _choice(fields.get("request_type"), "request_type", RequestType, RequestType.ENQUIRY,
                                     problem_at("request_type"))
    values["status"] = _choice(fields.get("status"), "status", Status, FILE_DEFAULT_STATUS, problem_at("status"))
    version = fields.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        problem_at("version")(f"'version' must be a whole number ≥ 0, not {version!r}")
    else:
        values["version"] = version
    if problem_count:
        return None
    entry = Entry(**values)
    for message in entry_problems(entry):
        problem_at("expires_at" if message.startswith("expires_at") else None)(message)
    return None if problem_count else entry


def type_name(value: Any) -> str:
    names = {str: "text", bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float, bool, date))
