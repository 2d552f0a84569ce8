"""The editors' console: one page (hash routes) at /console; its script and style sheet are under /static.

The page itself is public, like the chat page; everything it shows comes from the API, which asks for a
sign-in (POST /v1/auth/login sets the session cookie) and checks the role on every call."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from api.auth import PUBLIC
from api.routes.pages import PAGE_HEADERS, STATIC_DIR

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[Depends(PUBLIC)])


def _page() -> FileResponse:
    return FileResponse(STATIC_DIR / "console.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/console")
def console_page() -> FileResponse:
    return _page()


@router.get("/console/{anything:path}")
def console_page_anywhere(anything: str) -> FileResponse:
    """/console/ and any path below it serve the same page (its routes are in the hash)."""
    return _page()
