"""The department directory: where tickets are dispatched (转办) — departments, and street offices that take a ticket
straight from the hotline ("一单直达").

Imported from a CSV a hotline keeps (UTF-8 or GBK): ``code,name,kind,region,account`` with a header row; `kind` is
``department`` (部门) or ``street`` (街道); `account` is the department account that works its tickets (optional).
An import replaces the directory's entries by code and keeps the others; every problem is reported by line.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ground.clock import as_utc, utcnow
from ground.errors import DomainError, ErrorKind
from storage.audit import record
from storage.database import Database
from storage.tables import DepartmentRow

KINDS = {"department": "department", "部门": "department", "street": "street", "街道": "street"}
COLUMNS = {"code": ("code", "编码"), "name": ("name", "名称"), "kind": ("kind", "类型"), "region": ("region", "区域"),
           "account": ("account", "账号")}


class DepartmentNotFound(DomainError, LookupError):
    code, kind = "department_not_found", ErrorKind.NOT_FOUND


class DirectoryError(DomainError, ValueError):
    """A department directory that cannot be imported; `details` lists every problem by line."""

    code, kind = "bad_department_directory", ErrorKind.INVALID


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    kind: str  # department | street
    region: str
    account: str | None
    active: bool = True


def parse_directory(data: bytes) -> list[Department]:
    problems: list[dict] = []
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DirectoryError("The file is neither UTF-8 nor GBK text; save it as CSV UTF-8.")
    rows = [row for row in csv.reader(io.StringIO(text, newline=""))]
    if not rows:
        raise DirectoryError("The file is empty: expected a header row code,name,kind,region,account.")
    header = [cell.strip().lower() for cell in rows[0]]
    where = {name: next((header.index(a) for a in aliases if a in header), None) for name, aliases in COLUMNS.items()}
    if None in (where["code"], where["name"], where["kind"], where["region"]):
        raise DirectoryError(f"Unrecognised header {','.join(rows[0])!r}: expected code,name,kind,region[,account].")
    departments, seen = [], set()
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        cell = {name: (row[i].strip() if i is not None and i < len(row) else "") for name, i in where.items()}
        kind = KINDS.get(cell["kind"].lower())
        if not cell["code"] or not cell["name"] or not cell["region"]:
            problems.append({"line": line, "message": "code, name and region are required"})
        elif kind is None:
            problems.append({"line": line, "message": f"kind {cell['kind']!r} is neither department (部门) nor street (街道)"})
        elif cell["code"] in seen:
            problems.append({"line": line, "message": f"code {cell['code']!r} appears twice"})
        else:
            seen.add(cell["code"])
            departments.append(Department(cell["code"], cell["name"], kind, cell["region"], cell["account"] or None))
    if problems:
        raise DirectoryError(f"{len(problems)} problems in the department directory; nothing was imported.", details=problems)
    return departments


class DepartmentDirectory:
    def __init__(self, db: Database) -> None:
        self._db = db

    def import_csv(self, data: bytes, *, by: str, now: datetime | None = None) -> list[Department]:
        """All or nothing: the file's departments replace those with the same code."""
        departments = parse_directory(data)
        now = as_utc(now or utcnow())
        with self._db.session(write=True) as s:
            for d in departments:
                s.merge(DepartmentRow(code=d.code, name=d.name, kind=d.kind, region=d.region, account=d.account, active=True))
            record(s, actor=by, action="departments.import", target="departments", at=now, count=len(departments))
        return departments

    def list(self, region: str | None = None) -> list[Department]:
        query = select(DepartmentRow).where(DepartmentRow.active.is_(True)).order_by(DepartmentRow.code)
        if region:
            query = query.where((DepartmentRow.region == region) | DepartmentRow.region.startswith(region + "/"))
        with self._db.session() as s:
            return [self._of(row) for row in s.execute(query).scalars()]

    def get(self, code: str) -> Department:
        with self._db.session() as s:
            row = s.get(DepartmentRow, code)
            if row is None or not row.active:
                raise DepartmentNotFound(f"no department with code {code!r} in the directory")
            return self._of(row)

    def of_account(self, username: str) -> list[Department]:
        """The departments a department account works for."""
        with self._db.session() as s:
            rows = s.execute(select(DepartmentRow).where(DepartmentRow.account == username, DepartmentRow.active.is_(True)))
            return [self._of(row) for row in rows.scalars()]

    @staticmethod
    def _of(row: DepartmentRow) -> Department:
        return Department(row.code, row.name, row.kind, row.region, row.account, row.active)
