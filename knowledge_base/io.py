"""Knowledge files: entries as JSONL, YAML or Excel (.xlsx), category code tables as CSV.

Each entry in a file is a record (knowledge_base/records.py: the mapping to and from `Entry` and its checks).

Reading is all or nothing: a file with anything wrong raises `KnowledgeFileError` listing every problem
with its line number, so an editor can fix the whole file in one pass and nothing half-imports.

JSONL is one entry per line, the evaluation packs' shape ``{"id", "question", "answer", "samples",
"category"}`` (``answer`` is the chat answer and may be empty) plus the keys our own export adds.
YAML is the seed format (``knowledge_base/seed/README.md``): a top-level ``entries:`` list.
Excel is for editors: the first row names the columns (the record's keys: id, question, samples, …), each
further row is an entry, samples one per line in their cell (or separated by ｜ or |); `write_entries`
makes such a workbook, so an export is also a template to fill in. Its problems are reported by row.
Entries in files are published unless the file says otherwise. Times without a zone are China Standard
Time (UTC+8), the hotline's own clock; exported times carry their offset.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from ground.clock import BEIJING
from ground.errors import DomainError, ErrorKind
from knowledge_base.entry import Entry, RequestType
from knowledge_base.records import ENTRY_KEYS, entry_from_fields, entry_to_record, type_name

TOO_DEEP = "nested far deeper than any entry is: not a knowledge file (or a damaged one)"
ENTRY_SUFFIXES = (".jsonl", ".yaml", ".yml", ".xlsx")
_UNSUPPORTED = "unsupported file type {suffix!r} (use .jsonl, .yaml, .yml or .xlsx; save an .xls or .csv from Excel as .xlsx)"


@dataclass(frozen=True)
class Problem:
    line: int | None
    message: str
    unit: str = "line"  # "row" in a spreadsheet

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.message}" if self.line else self.message

    def to_json(self) -> dict[str, Any]:
        """As an import problem (knowledge_base/imports.py's `ImportProblem`): a file's problem names no entry."""
        return {"entry_id": None, "line": self.line, "code": "invalid_file", "message": self.message}


class KnowledgeFileError(DomainError, ValueError):
    """A knowledge file that cannot be used; `problems` lists everything wrong, in line order.

    Printed (by the CLI), it lists every problem under the file's name. Its `message`, what an editor who uploaded
    it reads, says the file was refused whole; its `details` carry the problems, each with its line (or row)."""

    code, kind = "invalid_import", ErrorKind.INVALID

    def __init__(self, path: str | Path, problems: Iterable[Problem]) -> None:
        self.path = str(path)
        self.problems = sorted(problems, key=lambda p: (p.line or 0))
        listing = "\n".join(f"  {problem}" for problem in self.problems)
        count = len(self.problems)
        super().__init__(f"{self.path}: {count} problem{'s' if count != 1 else ''}\n{listing}")

    @property
    def message(self) -> str:
        return f"{self.path} cannot be imported; nothing was. Fix every problem listed in details and upload it again."

    @property
    def details(self) -> list:
        return [problem.to_json() for problem in self.problems]

    def __str__(self) -> str:
        return str(self.args[0])


# ---------------------------------------------------------------------------------------------
# Reading entries

def read_entries(path: str | Path) -> list[Entry]:
    """The entries in a .jsonl, .yaml, .yml or .xlsx file; raises `KnowledgeFileError` listing every problem."""
    path = Path(path)
    _check_suffix(path.name)
    return read_entries_from_bytes(path.read_bytes(), str(path))


def read_entries_from_bytes(data: bytes, filename: str) -> list[Entry]:
    """The entries in an uploaded file's bytes, its type by `filename`'s extension; raises
    `KnowledgeFileError` (named for `filename`) listing every problem."""
    suffix = _check_suffix(filename)
    problems: list[Problem] = []
    unit = "row" if suffix == ".xlsx" else "line"

    def report(line: int | None, message: str) -> None:
        problems.append(Problem(line, message, unit))

    readers = {".jsonl": _read_jsonl, ".xlsx": _read_xlsx}
    located = readers.get(suffix, _read_yaml)(data, report)
    first_line: dict[str, int | None] = {}
    for entry, line in located:
        if entry.id in first_line:
            where = f" (first on {unit} {first_line[entry.id]})" if first_line[entry.id] else ""
            report(line, f"duplicate id {entry.id!r}{where}")
        else:
            first_line[entry.id] = line
    if problems:
        raise KnowledgeFileError(filename, problems)
    return [entry for entry, _line in located]


def _check_suffix(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in ENTRY_SUFFIXES:
        raise KnowledgeFileError(filename, [Problem(None, _UNSUPPORTED.format(suffix=suffix))])
    return suffix


def _lines(data: bytes) -> list[bytes]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.split(b"\n")


def _invalid_utf8(line: bytes, number: int) -> Problem | None:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as error:
        return Problem(number, f"not valid UTF-8 (byte 0x{line[error.start]:02x} at column {error.start + 1}); "
                               "save the file as UTF-8")
    return None


def _decode(data: bytes, report: Callable[[int | None, str], None]) -> str | None:
    """The text of a whole file, or None after reporting every line that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        for number, line in enumerate(_lines(data), 1):
            if problem := _invalid_utf8(line, number):
                report(problem.line, problem.message)
        return None


def _read_jsonl(data: bytes, report) -> list[tuple[Entry, int]]:
    located = []
    for number, raw in enumerate(_lines(data), 1):
        if problem := _invalid_utf8(raw, number):
            report(problem.line, problem.message)
            continue
        text = raw.decode("utf-8").strip()
        if not text:
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            report(number, f"invalid JSON: {error.msg} (column {error.colno})")
            continue
        except RecursionError:
            report(number, TOO_DEEP)
            continue
        if not isinstance(record, dict):
            report(number, f"each line must be a JSON object, not {type_name(record)}")
            continue
        entry = entry_from_fields(record, lambda _key, n=number: n, number, report)
        if entry is not None:
            located.append((entry, number))
    return located


def _read_yaml(data: bytes, report) -> list[tuple[Entry, int]]:
    text = _decode(data, report)
    if text is None:
        return []
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        return _entries_from_yaml(loader, root, report)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        report(mark.line + 1 if mark else None, f"invalid YAML: {error.problem or error.context}")
        return []
    except RecursionError:
        report(None, TOO_DEEP)
        return []
    finally:
        loader.dispose()


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _yaml_mapping(node: yaml.MappingNode, report) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """Key → (key node, value node), reporting duplicate and non-text keys."""
    items: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            report(_line(key_node), "a key must be plain text")
            continue
        key = key_node.value
        if key in items:
            report(_line(key_node), f"{key!r} is given twice (first on line {_line(items[key][0])})")
            continue
        items[key] = (key_node, value_node)
    return items


def _entries_from_yaml(loader: yaml.SafeLoader, root: yaml.Node | None, report) -> list[tuple[Entry, int]]:
    if not isinstance(root, yaml.MappingNode):
        report(_line(root) if root else 1, "the file must be a mapping with an 'entries:' list")
        return []
    top = _yaml_mapping(root, report)
    for key, (key_node, _value) in top.items():
        if key != "entries":
            report(_line(key_node), f"unknown top-level key {key!r} (only 'entries:' is read)")
    if "entries" not in top:
        report(_line(root), "no 'entries:' list")
        return []
    listing = top["entries"][1]
    if isinstance(listing, yaml.ScalarNode) and listing.tag == "tag:yaml.org,2002:null":
        return []
    if not isinstance(listing, yaml.SequenceNode):
        report(_line(listing), "'entries' must be a list of entries (each item starting with '- ')")
        return []
    located = []
    for item in listing.value:
        if not isinstance(item, yaml.MappingNode):
            report(_line(item), "each item of 'entries' must be a mapping of fields (id:, question:, …)")
            continue
        fields, lines = {}, {}
        for key, (_key_node, value_node) in _yaml_mapping(item, report).items():
            lines[key] = _line(value_node)
            try:
                fields[key] = loader.construct_object(value_node, deep=True)
            except (yaml.YAMLError, ValueError) as error:
                report(_line(value_node), f"{key!r}: cannot read the value ({error})")
        entry = entry_from_fields(fields, lambda key, lines=lines, item=item: lines.get(key, _line(item)),
                                   _line(item), report)
        if entry is not None:
            located.append((entry, _line(item)))
    return located


# ---------------------------------------------------------------------------------------------
# Excel workbooks (openpyxl): a header row of record keys, then one entry per row

XLSX_COLUMNS = ("id", "question", "samples", "chat_answer", "voice_answer", "category", "request_type", "region",
                "variant_of", "effective_from", "expires_at", "status", "version", "updated_by", "updated_at", "source")
XLSX_SHEET = "entries"
_SAMPLE_SEPARATORS = re.compile(r"[｜|]")
_XLSX_TEXT_KEYS = frozenset(ENTRY_KEYS - {"samples", "effective_from", "expires_at", "updated_at", "version"})
_XLSX_TIME_KEYS = frozenset({"effective_from", "expires_at", "updated_at"})


def _read_xlsx(data: bytes, report) -> list[tuple[Entry, int]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        report(None, "not an Excel workbook (.xlsx): save it from Excel or WPS as \"Excel 工作簿 (.xlsx)\"")
        return []
    try:
        sheet = workbook[XLSX_SHEET] if XLSX_SHEET in workbook.sheetnames else workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        columns = _xlsx_columns(next(rows, ()), report)
        if columns is None:
            return []
        located = []
        for number, cells in enumerate(rows, 2):
            fields = _xlsx_fields(columns, cells, number, report)
            if fields is None:
                continue
            entry = entry_from_fields(fields, lambda _key, n=number: n, number, report)
            if entry is not None:
                located.append((entry, number))
        return located
    finally:
        workbook.close()


def _xlsx_columns(header: tuple, report) -> dict[int, str] | None:
    """Column position → record key, from the first row; None after reporting a header that cannot be used."""
    columns: dict[int, str] = {}
    for position, cell in enumerate(header):
        if cell is None or str(cell).strip() == "":
            continue
        key = str(cell).strip()
        if key not in ENTRY_KEYS:
            report(1, f"unknown column {key!r} in the header row (the columns are: {', '.join(XLSX_COLUMNS)})")
        elif key in columns.values():
            report(1, f"column {key!r} is given twice in the header row")
        else:
            columns[position] = key
    missing = [key for key in ("id", "question") if key not in columns.values()]
    if missing:
        report(1, f"missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}: the first row "
                  f"must name the columns ({', '.join(XLSX_COLUMNS)}); export the knowledge base to .xlsx for a template")
        return None
    return columns


def _xlsx_fields(columns: dict[int, str], cells: tuple, number: int, report) -> dict[str, Any] | None:
    """A row's cells as record fields (empty cells left out); None for an empty row."""
    fields: dict[str, Any] = {}
    for position, value in enumerate(cells):
        if isinstance(value, str) and not value.strip():
            value = None
        if value is None:
            continue
        key = columns.get(position)
        if key is None:
            report(number, f"a value in column {_column_letter(position)}, which has no name in the header row; "
                           "name the column or clear it")
            continue
        fields[key] = _xlsx_value(key, value, number, report)
    return fields or None


def _xlsx_value(key: str, value: Any, number: int, report) -> Any:
    """A cell's value as the record would hold it: Excel turns ids into numbers and answers into dates."""
    if key == "samples":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return [_number_text(value)]
        if isinstance(value, str):
            parts = value.splitlines() if "\n" in value else _SAMPLE_SEPARATORS.split(value)
            return [part.strip() for part in parts if part.strip()]
        return value
    if key == "version" and isinstance(value, float) and value.is_integer():
        return int(value)
    if key in _XLSX_TEXT_KEYS:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _number_text(value)
        if isinstance(value, (datetime, date)):
            report(number, f"{key!r} holds a date, but it must be text: format the cell as 文本 (Text) and type it again")
            return ""
    if key in _XLSX_TIME_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
        report(number, f"{key!r} must be a date or time: format the cell as a date, or type e.g. 2022-04-01 08:00")
        return None
    return value


def _number_text(value: int | float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _column_letter(position: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(position + 1)


# ---------------------------------------------------------------------------------------------
# Writing entries

def write_entries(entries: Iterable[Entry], path: str | Path) -> None:
    """Writes `entries` as JSONL, YAML or Excel (by extension); `read_entries` gives back equal entries."""
    path = Path(path)
    suffix = path.suffix.lower()
    records = [entry_to_record(entry, tz=BEIJING) for entry in entries]
    if suffix == ".xlsx":
        path.write_bytes(_xlsx_bytes(records))
        return
    if suffix == ".jsonl":
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    elif suffix in (".yaml", ".yml"):
        text = yaml.dump({"entries": [_yaml_record(record) for record in records]}, Dumper=_Dumper,
                         allow_unicode=True, sort_keys=False, width=1000)
    else:
        raise KnowledgeFileError(path, [Problem(None, _UNSUPPORTED.format(suffix=suffix))])
    path.write_text(text, encoding="utf-8")


def _yaml_record(record: dict[str, Any]) -> dict[str, Any]:
    """The seed format: `chat_answer`, and only the fields that differ from what reading assumes."""
    record = {("chat_answer" if key == "answer" else key): value for key, value in record.items()}
    always = {"id", "question", "status"}
    defaults = {"request_type": RequestType.ENQUIRY.value, "version": 0}
    return {key: value for key, value in record.items()
            if key in always or (value not in (None, "", []) and defaults.get(key) != value)}


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False):
        # Indent list items under their key, as the seed files are written by hand.
        return super().increase_indent(flow, False)


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_Dumper.add_representer(str, _represent_text)


def _xlsx_bytes(records: list[dict[str, Any]]) -> bytes:
    """A workbook with one sheet: the header row of XLSX_COLUMNS, then one row per record."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = XLSX_SHEET
    sheet.append(list(XLSX_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for number, record in enumerate(records, 2):
        for position, key in enumerate(XLSX_COLUMNS, 1):
            value = record.get("answer") if key == "chat_answer" else record.get(key)
            if key == "samples":
                # One per line; a lone sample with a | in it keeps a line end, so it is not split there.
                value = "\n".join(value) + ("\n" if len(value) == 1 and _SAMPLE_SEPARATORS.search(value[0]) else "")
            if isinstance(value, str):
                value = ILLEGAL_CHARACTERS_RE.sub("", value) or None
            cell = sheet.cell(row=number, column=position, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
                if "\n" in value:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
    widths = {"id": 18, "question": 30, "samples": 30, "chat_answer": 50, "voice_answer": 40, "region": 20}
    for position, key in enumerate(XLSX_COLUMNS, 1):
        sheet.column_dimensions[_column_letter(position - 1)].width = widths.get(key, 14)
    sheet.freeze_panes = "C2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
