"""Reading evaluation query files: one `{"text": …, "expected": id | null}` per line."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


class QueryFileError(ValueError):
    pass


@dataclass(frozen=True)
class Query:
    text: str
    expected: str | None


def read_queries(path: Path) -> list[Query]:
    queries, problems = [], []
    try:
        lines = Path(path).read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise QueryFileError(f"{path}: not UTF-8 ({error}); save the file as UTF-8") from error
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"{path}:{number}: not JSON: {error.msg}")
            continue
        text, expected = (item.get("text"), item.get("expected")) if isinstance(item, dict) else (None, None)
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{path}:{number}: needs a non-empty \"text\"")
        elif expected is not None and not isinstance(expected, str):
            problems.append(f"{path}:{number}: \"expected\" must be an entry id or null")
        else:
            queries.append(Query(text=text, expected=expected))
    if problems:
        raise QueryFileError("\n".join(problems))
    return queries
