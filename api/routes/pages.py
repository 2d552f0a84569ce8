"""The H5 chat page for citizens: `/chat` and its files under `/static` (no build step, no CDN)."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.auth import PUBLIC

# The package's own folder, wherever the service is started from.
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# The page only loads its own files and only talks to this service; it never renders server HTML.
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[Depends(PUBLIC)])


def static_files() -> StaticFiles:
    """The page's script and style sheet; create_app mounts this at /static."""
    return StaticFiles(directory=STATIC_DIR)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/chat", status_code=307)


@router.get("/chat")
def chat_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "chat.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/desk")
def desk_page() -> FileResponse:
    """The seats' workbench (api/static/desk.html and desk/): the queue, take-next, a ticket, replies, dispatch."""
    return FileResponse(STATIC_DIR / "desk.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
