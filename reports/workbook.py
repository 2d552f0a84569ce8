"""The 数据日报's Excel workbook: one sheet per Beijing day, one row per ticket opened that day (its figures, not
the citizen's words: no transcript, summary, caller or contact)."""
from __future__ import annotations

import io
from datetime import date

from openpyxl import Workbook
from sqlalchemy import select

from ground.clock import BEIJING, as_utc
from reports.content import words
from reports.daily import day_bounds
from storage.database import Database
from storage.tables import TicketRow


def _beijing(moment) -> str:
    return as_utc(moment).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if moment else ""


def ticket_workbook(db: Database, days: list[date]) -> bytes:
    w = words()
    book = Workbook()
    book.remove(book.active)
    for day in days:
        sheet = book.create_sheet(day.isoformat())
        sheet.append(w["sheet_columns"])
        start, end = day_bounds(day)
        with db.session() as s:
            rows = s.execute(select(TicketRow.number, TicketRow.created_at, TicketRow.channel, TicketRow.region,
                                    TicketRow.category_code, TicketRow.category_name, TicketRow.request_type,
                                    TicketRow.urgency, TicketRow.due_at, TicketRow.status, TicketRow.reason,
                                    TicketRow.seat, TicketRow.claimed_at, TicketRow.closed_at)
                             .where(TicketRow.created_at >= start, TicketRow.created_at < end)
                             .order_by(TicketRow.created_at, TicketRow.id)).all()
        for (number, created, channel, region, code, name, request_type, urgency, due, status, reason, seat, claimed,
             closed) in rows:
            sheet.append([number, _beijing(created), w["channels"].get(channel, channel), region or "", code or "",
                          name or "", request_type, urgency, _beijing(due), status, reason, seat or "",
                          _beijing(claimed), _beijing(closed)])
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
