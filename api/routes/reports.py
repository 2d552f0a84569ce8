"""The manager's view: the 数据日报 (GET /v1/reports/daily), the surge alerts (GET /v1/alerts) and the seats an hour
needs (GET /v1/staffing). Figures, not citizens' words: managers, supervisors and admins read them."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from accounts.roles import Account, Role
from api.auth import PUBLIC, allow
from api.routes.pages import PAGE_HEADERS, STATIC_DIR
from api.services import Services, get_services
from ground.clock import BEIJING, utcnow
from ground.errors import DomainError, ErrorKind
from reports.staffing import Demand, seats_side_by_side

router = APIRouter(tags=["reports"])

READERS = allow(Role.MANAGER, Role.SUPERVISOR, Role.ADMIN)
# The report page holds nothing but its own inline styles and SVG charts.
REPORT_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                             "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                  "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
MAX_RANGE_DAYS = 31
MAX_ERLANGS = 20_000  # 400,000 three-minute calls an hour; Erlang A takes seconds there
MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf"}


class AlertOut(BaseModel):
    id: int
    topic: str
    region: str
    label: str
    link: str
    count: int
    expected: float
    p_value: float
    window_start: datetime
    window_end: datetime
    raised_at: datetime
    webhook: str | None


class StaffingOut(BaseModel):
    seats: int
    erlangs: float
    service_level: float
    wait_probability: float
    average_wait_seconds: float
    abandoned: float
    occupancy: float


class SeatsOut(BaseModel):
    diverted_share: float
    without: StaffingOut
    with_frontdoor: StaffingOut
    without_abandonment: StaffingOut | None
    with_frontdoor_abandonment: StaffingOut | None


def _reports(services: Services):
    if services.reports is None:
        raise DomainError("The reports are not running on this worker.", code="reports_unavailable",
                          kind=ErrorKind.UNAVAILABLE)
    return services.reports


@router.get("/v1/reports/daily", summary="The 数据日报 of a Beijing day: figures as JSON, or a page, a PDF, a workbook",
            response_model=None)
async def daily_report(date_: date | None = Query(default=None, alias="date", description="YYYY-MM-DD; default: today"),
                       format: Literal["json", "html", "pdf", "xlsx"] = "json",
                       until: date | None = Query(default=None, description="xlsx only: the last day of a range "
                                                                            "(one sheet per day, at most 31)"),
                       services: Services = Depends(get_services), account: Account = Depends(READERS)):
    reports = _reports(services)
    day = date_ or utcnow().astimezone(BEIJING).date()
    if until is not None:
        if format != "xlsx" or not 0 <= (until - day).days < MAX_RANGE_DAYS:
            raise DomainError(f"A range (until) is for the workbook (format=xlsx), from date to until, at most "
                              f"{MAX_RANGE_DAYS} days.", code="bad_range", kind=ErrorKind.INVALID)
        days = [day + timedelta(days=n) for n in range((until - day).days + 1)]
        body = await run_in_threadpool(reports.workbook, days)
        return Response(body, media_type=MEDIA["xlsx"],
                        headers={"content-disposition": f'attachment; filename="daily-{day}-{until}.xlsx"'})
    if format == "html":
        return HTMLResponse(await run_in_threadpool(reports.html, day), headers=REPORT_HEADERS)
    if format in MEDIA:
        body = await run_in_threadpool(getattr(reports, format), day)
        return Response(body, media_type=MEDIA[format],
                        headers={"content-disposition": f'attachment; filename="daily-{day.isoformat()}.{format}"'})
    figures = await run_in_threadpool(reports.figures, day)
    return {**figures.as_dict(), "self_service_rate": figures.self_service_rate}


@router.get("/v1/alerts", response_model=list[AlertOut], summary="Surge alerts, the latest first")
def alerts(hours: float = Query(default=24, gt=0, le=24 * 31), limit: int = Query(default=50, ge=1, le=500),
           services: Services = Depends(get_services),
           account: Account = Depends(allow(Role.MANAGER, Role.SUPERVISOR, Role.ADMIN, Role.EDITOR, Role.REVIEWER))
           ) -> list[AlertOut]:
    found = _reports(services).alarm.recent(limit, since=utcnow() - timedelta(hours=hours))
    return [AlertOut(**{k: v for k, v in asdict(a).items()}) for a in found]


@router.get("/v1/staffing", response_model=SeatsOut, summary="Seats needed for an hour, with Frontdoor's diversion and without")
def staffing(calls_per_hour: float = Query(ge=0, le=1_000_000), diverted_share: float = Query(default=0.0, ge=0, le=1),
             handling_seconds: float = Query(default=180, gt=0, le=3600),
             answer_seconds: float = Query(default=15, ge=0, le=60),
             service_level: float = Query(default=0.8, gt=0, le=0.999),
             patience_seconds: float | None = Query(default=None, gt=0, le=1800),
             account: Account = Depends(READERS)) -> SeatsOut:
    """Erlang C, and with `patience_seconds` Erlang A as well (which takes up to seconds at the largest loads)."""
    demand = Demand(calls_per_hour, handling_seconds, answer_seconds, service_level, patience_seconds)
    if demand.erlangs > MAX_ERLANGS:
        raise DomainError(f"{demand.erlangs:,.0f} Erlangs (calls a second × handling seconds) is more than the "
                          f"{MAX_ERLANGS:,} this computes; split the hotline into smaller queues.",
                          code="load_too_large", kind=ErrorKind.INVALID)
    both = seats_side_by_side(demand, diverted_share)
    return SeatsOut(**asdict(both))


@router.get("/v1/wall", summary="The live wall's figures: the last 15 minutes, the queue, seats, hot topics, alerts")
def wall(services: Services = Depends(get_services), account: Account = Depends(READERS)) -> dict:
    return _reports(services).wall.snapshot()


@router.get("/wall", include_in_schema=False, dependencies=[Depends(PUBLIC)])
def wall_page() -> FileResponse:
    """The live wall (大屏) for a large screen: api/static/wall.{html,js,css}; it signs in and reads /v1/wall."""
    return FileResponse(STATIC_DIR / "wall.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
