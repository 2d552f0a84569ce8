"""Bounds on the numbers a request may carry, at the schema: ids and versions are INTEGER columns, 32-bit signed
on PostgreSQL, so an id, an offset or a version beyond 2^31 − 1 is a clear 422, never an overflow inside the
database driver (SQLite's 64 bits and PostgreSQL's 32 both hold every number the schema lets through)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

SQL_INT_MAX = 2**31 - 1

RowId = Annotated[int, Path(ge=1, le=SQL_INT_MAX, description="A row's id (a positive 32-bit integer).")]
Offset = Annotated[int, Query(ge=0, le=SQL_INT_MAX, description="How many to skip.")]
BeforeId = Annotated[int | None, Query(ge=1, le=SQL_INT_MAX, description="Only rows older than this id.")]
BodyId = Annotated[int, Field(ge=1, le=SQL_INT_MAX)]
Version = Annotated[int, Field(ge=1, le=SQL_INT_MAX, description="An entry's version.")]
