"""Category code tables, as a hotline exports them from its spreadsheet, and filing a ticket under one.

Two CSV shapes are read (UTF-8, with or without BOM, or GBK/GB18030 as Excel saves on Chinese Windows):

  coded      ``code,name,parent`` with a header row; parent empty at the top (our knowledge_base/seed/categories.csv)
  levels     one column per level, no codes: ``一级分类,二级分类,三级分类`` (or ``level1,level2,…``), one row per
             leaf, every level written out; a shorter row stops early and leaves later cells empty. Each path and
             each prefix of it is a category, coded by first-seen order among its siblings: ``L1-03`` is the
             third top-level name, ``L1-03-02`` the second name under it.

An empty cell is an empty cell: it never means "the same as the row above".
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ground.errors import DomainError, ErrorKind

import numpy as np

LEVEL_CODE_PREFIX = "L1"
PATH_SEPARATOR = " / "
# The header names each column of a coded table may go by.
_CODED_COLUMNS = {
    "code": ("code", "编码", "代码", "分类编码", "类别编码"),
    "name": ("name", "名称", "分类名称", "类别名称"),
    "parent": ("parent", "上级", "上级编码", "父级编码", "上级代码"),
}
_LEVEL_NUMERALS = "一二三四五六七八九"
_LEVEL_COLUMN = re.compile(r"^(?:(?P<zh>[一二三四五六七八九])级(?:分类|类别|类目|类)?|level\s*(?P<n>\d+))$", re.I)


@dataclass(frozen=True)
class Category:
    """One node of a code table; `path` holds the names from the top down to this one."""

    code: str
    name: str
    parent: str | None
    path: tuple[str, ...]

    @property
    def path_text(self) -> str:
        return PATH_SEPARATOR.join(self.path)


class CodeTableError(DomainError, ValueError):
    """A code table that cannot be imported; `problems` lists (line, message) for everything wrong, in order."""

    code, kind = "bad_code_table", ErrorKind.INVALID

    def __init__(self, path: str | Path, problems: Iterable[tuple[int, str]]) -> None:
        self.path = str(path)
        self.problems = sorted(problems)
        listing = "\n".join(f"  line {line}: {message}" for line, message in self.problems)
        super().__init__(f"{self.path}: cannot import the code table\n{listing}")


# -------------------------------------------------------------------------------------------------
# Reading

def read_code_table(path: str | Path) -> list[Category]:
    """Every category of a CSV code table, parents before children; raises `CodeTableError` listing every problem."""
    return parse_code_table(Path(path).read_bytes(), path)


def parse_code_table(data: bytes, name: str | Path = "code table") -> list[Category]:
    """The same, from the file's bytes (an upload); `name` is what error messages call the file."""
    path = name
    problems: list[tuple[int, str]] = []
    text = _decode(data, problems)
    categories: list[Category] = []
    if text is not None:
        rows = [(number, row) for number, row in _numbered_rows(text)]
        if not rows:
            problems.append((1, "the file is empty: expected a header row such as code,name,parent"))
        else:
            (header_line, header), body = rows[0], rows[1:]
            header = [cell.strip().lstrip("\ufeff") for cell in header]
            if (columns := _coded_columns(header)) is not None:
                categories = _coded(body, columns, len(header), problems)
            elif _is_level_header(header):
                categories = _levelled(body, len(header), problems)
            else:
                problems.append((header_line, f"unrecognised header {','.join(header)!r}: expected code,name,parent "
                                              "or level columns such as 一级分类,二级分类,三级分类"))
    if problems:
        raise CodeTableError(path, problems)
    return categories


def _decode(data: bytes, problems: list[tuple[int, str]]) -> str | None:
    """UTF-8 (BOM or not), else GB18030 (a superset of GBK); else report the first line that is neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    for number, line in enumerate(data.split(b"\n"), 1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            problems.append((number, "neither UTF-8 nor GBK text; save the file as CSV UTF-8"))
            break
    return None


def _numbered_rows(text: str) -> Iterable[tuple[int, list[str]]]:
    """Non-blank CSV rows with the line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    for row in reader:
        if any(cell.strip() for cell in row):
            yield line, row
        line = reader.line_num + 1


def _coded_columns(header: list[str]) -> dict[str, int] | None:
    lowered = [cell.lower() for cell in header]
    columns = {}
    for key, names in _CODED_COLUMNS.items():
        found = [i for i, cell in enumerate(lowered) if cell in names]
        if found:
            columns[key] = found[0]
    return columns if "code" in columns and "name" in columns else None


def _is_level_header(header: list[str]) -> bool:
    levels = []
    for cell in header:
        match = _LEVEL_COLUMN.match(cell)
        if not match:
            return False
        levels.append(_LEVEL_NUMERALS.index(match["zh"]) + 1 if match["zh"] else int(match["n"]))
    return len(levels) >= 1 and levels == list(range(1, len(levels) + 1))


def _coded(rows, columns: dict[str, int], width: int, problems) -> list[Category]:
    found: dict[str, tuple[str, str | None, int]] = {}  # code → (name, parent, line)
    for line, row in rows:
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            problems.append((line, f"expected {width} columns, found {len(row)}"))
            continue
        cell = lambda key: row[columns[key]].strip() if key in columns and columns[key] < len(row) else ""  # noqa: E731
        code, name, parent = cell("code"), cell("name"), cell("parent") or None
        if not code:
            problems.append((line, "empty code"))
        elif not name:
            problems.append((line, f"empty name for code {code!r}"))
        elif code in found:
            problems.append((line, f"duplicate code {code!r} (first on line {found[code][2]})"))
        elif parent == code:
            problems.append((line, f"{code!r} cannot be its own parent"))
        else:
            found[code] = (name, parent, line)
    paths: dict[str, tuple[str, ...]] = {}
    for code, (name, parent, line) in found.items():
        if parent is not None and parent not in found:
            problems.append((line, f"unknown parent {parent!r} of {code!r}: no row has that code"))
            continue
        chain, ancestor = [code], parent
        while ancestor is not None and ancestor not in chain and ancestor in found:
            chain.append(ancestor)
            ancestor = found[ancestor][1]
        if ancestor is not None and ancestor in chain:
            problems.append((line, f"{code!r} is its own ancestor (through {' → '.join(chain)})"))
        elif ancestor is None:
            paths[code] = tuple(found[c][0] for c in reversed(chain))
    if problems:
        return []
    by_depth = sorted(found, key=lambda code: len(paths[code]))  # stable: file order within a level
    return [Category(code, found[code][0], found[code][1], paths[code]) for code in by_depth]


def _levelled(rows, depth: int, problems) -> list[Category]:
    found: dict[tuple[str, ...], Category] = {}
    children: dict[tuple[str, ...], int] = {}
    leaves: dict[tuple[str, ...], int] = {}
    for line, row in rows:
        names = [cell.strip() for cell in row]
        if len(names) > depth and any(names[depth:]):
            problems.append((line, f"expected {depth} columns, found {len(names)}"))
            continue
        names = names[:depth]
        while names and not names[-1]:
            names.pop()
        if not all(names):
            level = names.index("") + 1
            problems.append((line, f"empty name at level {level} while a deeper level is filled "
                                   "(write every level out: an empty cell does not mean 'as above')"))
            continue
        path = tuple(names)
        if path in leaves:
            problems.append((line, f"duplicate row {','.join(path)!r} (first on line {leaves[path]})"))
            continue
        leaves[path] = line
        for level in range(1, len(path) + 1):
            prefix = path[:level]
            if prefix in found:
                continue
            parent = found[prefix[:-1]].code if level > 1 else LEVEL_CODE_PREFIX
            children[prefix[:-1]] = children.get(prefix[:-1], 0) + 1
            code = f"{parent}-{children[prefix[:-1]]:02d}"
            found[prefix] = Category(code, prefix[-1], parent if level > 1 else None, prefix)
    return [] if problems else sorted(found.values(), key=lambda category: len(category.path))


# -------------------------------------------------------------------------------------------------
# Filing a ticket without a trained classifier

class Embeds(Protocol):
    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class CategoryMatcher:
    """Files a ticket under the categories whose path reads most like it, when no classifier is trained yet.

    Each category's path ("城乡建设 / 安全生产 / 事故处理") is embedded once as a passage; a ticket is embedded
    as a query, and the cosines are turned into scores that sum to one by a softmax at `temperature`
    (cosines of one model sit close together, so a small temperature spreads them). The scores rank; they
    are not calibrated probabilities. Only leaves are candidates unless `leaves_only` is False.
    """

    def __init__(self, categories: Sequence[Category], embedder: Embeds, *, temperature: float = 0.02,
                 leaves_only: bool = True) -> None:
        parents = {category.parent for category in categories}
        self.categories = [c for c in categories if not leaves_only or c.code not in parents]
        if not self.categories:
            raise ValueError("a CategoryMatcher needs at least one category")
        self.temperature = temperature
        self._embedder = embedder
        self._vectors = embedder.embed_passages([category.path_text for category in self.categories])

    def classify(self, text: str, k: int = 3) -> list[tuple[Category, float]]:
        """The `k` best categories for `text`, best first, each with its share of the softmax."""
        cosines = self._vectors @ self._embedder.embed_queries([text])[0]
        weights = np.exp((cosines - cosines.max()) / self.temperature)
        scores = weights / weights.sum()
        best = np.argsort(-scores, kind="stable")[:k]
        return [(self.categories[i], float(scores[i])) for i in best]
