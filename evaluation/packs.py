"""Reading evaluation query files: one `{"text": …, "expected": id | null}` per line."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class QueryFileError(ValueError):
    pass


@dataclass(frozen=True)
class Query:
    text: str
    expected: str | None


def read_json_lines(path: str | Path, error: type[ValueError], row: Callable[[dict], T | str]) -> list[T]:
    """One JSON object per line, each turned into a row by `row` (which returns a problem as a string);
    raises `error` naming every bad line as PATH:LINE, so a whole file is fixed in one pass."""
    rows, problems = [], []
    try:
        lines = Path(path).read_bytes().decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as failure:
        raise error(f"{path}: not UTF-8 ({failure}); save the file as UTF-8") from failure
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as failure:
            problems.append(f"{path}:{number}: not JSON: {failure.msg} (column {failure.colno})")
            continue
        result = row(item) if isinstance(item, dict) else "expected a JSON object"
        if isinstance(result, str):
            problems.append(f"{path}:{number}: {result}")
        else:
            rows.append(result)
    if problems:
        raise error("\n".join(problems))
    return rows


def _query(item: dict) -> Query | str:
    text, expected = item.get("text"), item.get("expected")
    if not isinstance(text, str) or not text.strip():
        return 'needs a non-empty "text"'
    if expected is not None and not isinstance(expected, str):
        return '"expected" must be an entry id or null'
    return Query(text=text, expected=expected)


def read_queries(path: Path) -> list[Query]:
    return read_json_lines(path, QueryFileError, _query)
