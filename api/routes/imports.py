"""Bulk import for editors: upload a knowledge file (JSONL, YAML or Excel) as the raw request body, see what it
would change, then submit it as one batch of changes for review."""
from __future__ import annotations

from urllib.parse import unquote

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from accounts.roles import Account, Role
from api.auth import allow
from api.errors import ApiError
from api.routes.changes import DiffOut
from api.routes.entries import EntryOut
from api.services import Services, get_services
from knowledge_base.changes import ChangeKind
from knowledge_base.imports import ImportProblem, Preview, file_problems, preview
from knowledge_base.io import ENTRY_SUFFIXES, KnowledgeFileError, read_entries_from_bytes

router = APIRouter(prefix="/v1/imports", tags=["editors"])

EDITOR = allow(Role.EDITOR)
FILENAME_HELP = (f"Send the file as the request body with its name in the X-Filename header "
                 f"({', '.join(ENTRY_SUFFIXES)}), percent-encoded if it is not ASCII.")


class CreatedOut(BaseModel):
    entry_id: str
    entry: EntryOut


class UpdatedOut(CreatedOut):
    kind: ChangeKind
    diff: list[DiffOut]


class ProblemOut(BaseModel):
    entry_id: str | None
    line: int | None = Field(description="The file's line (a spreadsheet's row), when known.")
    code: str
    message: str

    @classmethod
    def of(cls, problem: ImportProblem) -> "ProblemOut":
        return cls(**problem.to_json())


class PreviewOut(BaseModel):
    filename: str
    created: list[CreatedOut]
    updated: list[UpdatedOut]
    unchanged: list[str]
    problems: list[ProblemOut]

    @classmethod
    def of(cls, filename: str, result: Preview) -> "PreviewOut":
        return cls(filename=filename,
                   created=[CreatedOut(entry_id=e.id, entry=EntryOut.of(e)) for e in result.created],
                   updated=[UpdatedOut(entry_id=u.entry.id, entry=EntryOut.of(u.entry), kind=u.kind,
                                       diff=[DiffOut.of(d) for d in u.diff]) for u in result.updated],
                   unchanged=result.unchanged, problems=[ProblemOut.of(p) for p in result.problems])


class ImportOut(BaseModel):
    batch: str | None = Field(description="The batch of changes (None when the file changes nothing).")
    changes: list[int] = Field(description="The changes created, each submitted for review.")


def _filename(x_filename: str | None) -> str:
    name = unquote(x_filename or "").strip()
    if not name:
        raise ApiError(400, "filename_missing", f"No file name. {FILENAME_HELP}")
    return name


@router.post("/preview", response_model=PreviewOut, summary="What importing a knowledge file would change")
async def preview_import(request: Request, x_filename: str | None = Header(default=None),
                         services: Services = Depends(get_services), account: Account = Depends(EDITOR)) -> PreviewOut:
    filename = _filename(x_filename)
    data = await request.body()
    return await run_in_threadpool(_preview, data, filename, services, account)


@router.post("", response_model=ImportOut, status_code=201,
             summary="Import a knowledge file as changes submitted for review (all or nothing)")
async def create_import(request: Request, x_filename: str | None = Header(default=None),
                        services: Services = Depends(get_services), account: Account = Depends(EDITOR)) -> ImportOut:
    filename = _filename(x_filename)
    data = await request.body()
    return await run_in_threadpool(_import, data, filename, services, account)


def _preview(data: bytes, filename: str, services: Services, account: Account) -> PreviewOut:
    try:
        entries = read_entries_from_bytes(data, filename)
    except KnowledgeFileError as error:  # a preview shows what is wrong with the file instead of refusing it
        return PreviewOut.of(filename, Preview(problems=file_problems(error)))
    return PreviewOut.of(filename, preview(entries, services.knowledge.store, account, desk=services.changes))


def _import(data: bytes, filename: str, services: Services, account: Account) -> ImportOut:
    entries = read_entries_from_bytes(data, filename)  # any problem refuses the whole file (KnowledgeFileError)
    batch, ids = services.changes.import_as_changes(account, entries, source=filename)
    return ImportOut(batch=batch, changes=ids)
