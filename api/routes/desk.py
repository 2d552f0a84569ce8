"""The seats' desk beyond the basic ticket calls (api/routes/tickets.py): the queue a seat may work (its own city's,
and under 多援一 the cities its teams support), "take the next one", a ticket with its timeline and suggested answers,
dispatch (转办) and the departments' side, 督办 (urge, escalations), 回访 and 归档; seat teams and support activations
for supervisors; the department directory.

Every action is attributed to the signed-in account and the city of its seat (its region's city)."""
from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from accounts.roles import STAFF, Account, Role
from api.auth import allow
from api.routes.tickets import TicketOut
from api.services import Services, get_desk, get_services
from desk.classification import CodeTable
from desk.departments import Department, DepartmentDirectory
from desk.assignment import Assigner
from desk.lifecycle import HELD, LIVE, CallbackResult, TicketStatus, state_words
from desk.presence import Presence, SeatPresence, presence_words
from desk.support import Activation, SupportDesk, Team, TeamPresence, city_of
from desk.tickets import Ticket, TicketDesk, TicketEvent
from ground.clock import BEIJING, utcnow
from ground.errors import DomainError, ErrorKind

router = APIRouter(tags=["desk"])

SEATS = allow(Role.SEAT, Role.TEAM_LEAD)
DESK_STAFF = allow(Role.SEAT, Role.TEAM_LEAD, Role.SUPERVISOR)
SUPERVISORS = allow(Role.SUPERVISOR, Role.ADMIN)
DEPARTMENTS = allow(Role.DEPARTMENT)


def get_support(services: Services = Depends(get_services)) -> SupportDesk:
    return services.support


def get_directory(services: Services = Depends(get_services)) -> DepartmentDirectory:
    return services.departments


# ---- shapes ---------------------------------------------------------------------------------------

class QueueItemOut(BaseModel):
    number: str
    status: TicketStatus
    urgency: str
    request_type: str
    summary: str
    region: str | None
    category_name: str | None
    channel: str
    seat: str | None
    seat_city: str | None
    department: str | None
    deadline: datetime | None = Field(description="The deadline that matters now (UTC): dispatch, closing or call-back.")
    deadline_beijing: str | None = Field(description="The same in Beijing time, as seats read it: 2026-07-25 14:30.")
    seconds_left: int | None = Field(description="Until the deadline; negative once past it.")
    escalation: str | None = Field(description="督办: the deadline escalated (dispatch_overdue, close_near, …), or null.")
    urge_count: int

    @classmethod
    def of(cls, ticket: Ticket, now: datetime) -> "QueueItemOut":
        deadline = ticket.deadline
        return cls(number=ticket.number, status=ticket.status, urgency=ticket.urgency, request_type=ticket.request_type,
                   summary=ticket.summary, region=ticket.region, category_name=ticket.category_name, channel=ticket.channel,
                   seat=ticket.seat, seat_city=ticket.seat_city, department=ticket.department, deadline=deadline,
                   deadline_beijing=f"{deadline.astimezone(BEIJING):%Y-%m-%d %H:%M}" if deadline else None,
                   seconds_left=int((deadline - now).total_seconds()) if deadline else None,
                   escalation=ticket.escalation, urge_count=ticket.urge_count)


class EventOut(BaseModel):
    kind: str
    actor: str
    actor_city: str | None
    at: datetime
    at_beijing: str
    detail: dict

    @classmethod
    def of(cls, event: TicketEvent) -> "EventOut":
        return cls(kind=event.kind, actor=event.actor, actor_city=event.actor_city, at=event.at,
                   at_beijing=f"{event.at.astimezone(BEIJING):%Y-%m-%d %H:%M:%S}", detail=event.detail)


class SuggestionOut(BaseModel):
    entry_id: str
    question: str
    answer: str = Field(description="The entry's chat answer, in the ticket's city's version: ready to insert into a reply.")
    region: str
    score: float


class DeskTicketOut(BaseModel):
    ticket: TicketOut
    timeline: list[EventOut]
    suggestions: list[SuggestionOut] = Field(description="The knowledge base's best entries for the ticket's question, "
                                                         "from its city's entries.")


class Note(BaseModel):
    note: str = Field(default="", max_length=2000)


class DispatchIn(Note):
    department: str = Field(min_length=1, max_length=100, description="The department's (or street office's) code.")


class CallbackIn(Note):
    result: CallbackResult = Field(description="satisfied 满意, basically_satisfied 基本满意, unsatisfied 不满意 (reopens), "
                                               "unreachable")


class AnswerIn(BaseModel):
    text: str = Field(min_length=1, max_length=5000)


class DepartmentOut(BaseModel):
    code: str
    name: str
    kind: str
    region: str
    account: str | None

    @classmethod
    def of(cls, d: Department) -> "DepartmentOut":
        return cls(code=d.code, name=d.name, kind=d.kind, region=d.region, account=d.account)


class TeamIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=200, description="The team's city, e.g. 江苏省/苏州市.")


class TeamOut(BaseModel):
    id: int
    name: str
    city: str
    members: dict[str, int] = Field(description="username → capacity (tickets held at once)")

    @classmethod
    def of(cls, team: Team) -> "TeamOut":
        return cls(id=team.id, name=team.name, city=team.city, members=team.members)


class MemberIn(BaseModel):
    capacity: int = Field(default=5, ge=1, le=100)


class ActivationIn(BaseModel):
    city: str = Field(min_length=1, max_length=200, description="The affected city, e.g. 江苏省/扬州市.")
    starts_at: datetime
    ends_at: datetime
    categories: list[str] = Field(default_factory=list, max_length=200, description="Category codes (and their sub-codes); empty: all.")
    share: float = Field(default=1.0, gt=0, le=1, description="The share of the city's tickets the supporting teams take.")
    note: str = Field(default="", max_length=2000)


class BatchIn(BaseModel):
    label: str = Field(min_length=1, max_length=200, description="第一批, 第二批, …")
    teams: list[int] = Field(min_length=1, max_length=200)


class BatchOut(BaseModel):
    id: int
    label: str
    teams: list[int]
    added_by: str
    added_at: datetime
    released_by: str | None
    released_at: datetime | None


class ActivationOut(BaseModel):
    id: int
    city: str
    categories: list[str]
    share: float
    starts_at: datetime
    ends_at: datetime
    note: str
    opened_by: str
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    active: bool
    batches: list[BatchOut]

    @classmethod
    def of(cls, a: Activation) -> "ActivationOut":
        return cls(id=a.id, city=a.city, categories=list(a.categories), share=a.share, starts_at=a.starts_at,
                   ends_at=a.ends_at, note=a.note, opened_by=a.opened_by, opened_at=a.opened_at, closed_by=a.closed_by,
                   closed_at=a.closed_at, active=a.active(utcnow()),
                   batches=[BatchOut(id=b.id, label=b.label, teams=list(b.team_ids), added_by=b.added_by, added_at=b.added_at,
                                     released_by=b.released_by, released_at=b.released_at) for b in a.batches])


# ---- the seat's queue and tickets ---------------------------------------------------------------

@router.get("/v1/desk/queue", response_model=list[QueueItemOut], summary="The queue this seat may work, or its own tickets")
def queue(view: str = Query(default="waiting", pattern="^(waiting|mine)$"), limit: int = Query(default=100, ge=1, le=500),
          desk: TicketDesk = Depends(get_desk), support: SupportDesk = Depends(get_support),
          account: Account = Depends(SEATS)) -> list[QueueItemOut]:
    """`waiting`: tickets no seat has taken (and not merged under another), of the seat's own city and of the cities its
    teams support now (多援一), most urgent first, then the nearest deadline. `mine`: the tickets the seat holds or has dispatched."""
    now = utcnow()
    if view == "mine":
        tickets = desk.list(seat=account.username, status=(*HELD, TicketStatus.DISPATCHED, TicketStatus.HANDLING), limit=limit)
    else:
        tickets = desk.list(status=TicketStatus.OPEN, scope=support.scope_for(account.username, account.region, now),
                            unmerged=True, limit=limit)
    return [QueueItemOut.of(t, now) for t in tickets]


STREAM_SECONDS = 300      # a stream ends after this; the browser reconnects (with the last id) at once
KEEP_ALIVE_SECONDS = 15   # a comment line this often, so that proxies keep an idle stream open
RECONNECT_MS = 500


@router.get("/v1/desk/stream", summary="Server-sent events: `queue` whenever a ticket moves (a new one, a claim, …)",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def stream(request: Request, account: Account = Depends(allow(Role.SEAT, Role.TEAM_LEAD, Role.SUPERVISOR,
                                                                  Role.DEPARTMENT))) -> StreamingResponse:
    """For the workbench's EventSource. Without `Last-Event-ID` one `queue` event (with the current id) is sent and the
    stream ends; the browser reconnects with that id, and from then on an event comes as soon as this worker sees a
    newer ticket event, whichever worker wrote it (on PostgreSQL at once, by LISTEN/NOTIFY; on SQLite within
    FRONTDOOR_DESK_WATCH_SECONDS). Refetch the queue on each. (A held stream is not a sign of life by itself:
    presence lapses when no request of the seat's has come for a while, desk/presence.py; the page refetches its queue
    every 15 s.)"""
    watch = get_services(request).desk_watch
    last = request.headers.get("last-event-id", "")

    async def events():
        if watch is None or not last.isdigit():
            latest = await asyncio.to_thread(watch.latest) if watch is not None else 0
            yield f"retry: {RECONNECT_MS}\nid: {latest}\nevent: queue\ndata: \n\n"
            return
        seen, loop = int(last), asyncio.get_running_loop()
        until = loop.time() + STREAM_SECONDS
        while loop.time() < until and not await request.is_disconnected():
            version = await watch.wait(seen, KEEP_ALIVE_SECONDS)
            if version != seen:
                seen = version
                yield f"id: {version}\nevent: queue\ndata: \n\n"
            else:
                yield ": keep-alive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/v1/desk/next", response_model=TicketOut, summary="Take the next one: the most urgent ticket this seat may work",
             responses={404: {"description": "queue_empty"}, 409: {"description": "at_capacity, or not_online"}})
def take_next(desk: TicketDesk = Depends(get_desk), support: SupportDesk = Depends(get_support),
              account: Account = Depends(SEATS)) -> TicketOut:
    """Only a seat that is online (在线) takes a ticket: on a break (小休) or offline it gets `not_online` (409)."""
    support.presence_board.require_online(account.username)
    scope = support.scope_for(account.username, account.region)
    ticket = desk.take_next(account.username, scope, support.capacity_of(account.username), city=city_of(account.region))
    return TicketOut.of(ticket)


def _suggestions(services: Services, ticket: Ticket, text: str | None, k: int) -> list[SuggestionOut]:
    index = services.knowledge.index.current
    result = index.search(text or ticket.summary, region=ticket.region, k=k)
    return [SuggestionOut(entry_id=c.entry.id, question=c.entry.question, answer=c.entry.chat_answer, region=c.entry.region,
                          score=round(c.score, 4)) for c in result.candidates]


@router.get("/v1/desk/tickets/{number}", response_model=DeskTicketOut,
            summary="A ticket with the whole conversation, its timeline and suggested answers")
def desk_ticket(number: str, services: Services = Depends(get_services), account: Account = Depends(DESK_STAFF)) -> DeskTicketOut:
    ticket = services.desk.get(number)
    return DeskTicketOut(ticket=TicketOut.of(ticket), timeline=[EventOut.of(e) for e in services.desk.timeline(number)],
                         suggestions=_suggestions(services, ticket, None, 5))


@router.get("/v1/tickets/{number}/timeline", response_model=list[EventOut], tags=["seats"])
def timeline(number: str, desk: TicketDesk = Depends(get_desk), account: Account = Depends(allow(*STAFF))) -> list[EventOut]:
    return [EventOut.of(e) for e in desk.timeline(number)]


@router.get("/v1/tickets/{number}/suggestions", response_model=list[SuggestionOut], tags=["seats"],
            summary="Suggested answers: the knowledge base's best entries for this ticket, in its city's version")
def suggestions(number: str, text: str | None = Query(default=None, max_length=500,
                                                       description="What the seat is typing; the ticket's question when left out."),
                k: int = Query(default=5, ge=1, le=20), services: Services = Depends(get_services),
                account: Account = Depends(DESK_STAFF)) -> list[SuggestionOut]:
    """A remote seat (多援一) gets the affected city's entries: the search runs with the ticket's region."""
    return _suggestions(services, services.desk.get(number), text, k)


@router.post("/v1/tickets/{number}/dispatch", response_model=TicketOut, tags=["seats"],
             summary="转办: send the ticket to a department, or straight to a street office (一单直达)")
def dispatch(number: str, body: DispatchIn, desk: TicketDesk = Depends(get_desk),
             directory: DepartmentDirectory = Depends(get_directory), account: Account = Depends(SEATS)) -> TicketOut:
    department = directory.get(body.department)
    return TicketOut.of(desk.dispatch(number, account.username, department.code, city=city_of(account.region),
                                      note=body.note, direct=department.kind == "street"))


class ClassificationIn(BaseModel):
    code: str = Field(min_length=1, max_length=100, description="A category code of the imported code table (GET /v1/codes).")


@router.put("/v1/tickets/{number}/classification", response_model=TicketOut, tags=["seats"],
            summary="File the ticket under another category of the code table",
            responses={422: {"description": "unknown_category"}})
def reclassify(number: str, body: ClassificationIn, services: Services = Depends(get_services),
               account: Account = Depends(DESK_STAFF)) -> TicketOut:
    category = next((c for c in CodeTable(services.db).all() if c.code == body.code), None)
    if category is None:
        raise DomainError(f"The code table has no category {body.code!r}.", code="unknown_category", kind=ErrorKind.INVALID)
    return TicketOut.of(services.desk.reclassify(number, account.username, category.code, category.path_text,
                                                 city=city_of(account.region)))


class LinkIn(BaseModel):
    parent: str = Field(min_length=1, max_length=40, description="The ticket to merge this one under.")


@router.post("/v1/tickets/{number}/link", response_model=TicketOut, tags=["seats"],
             summary="Merge a ticket under another of the same matter: closing that one closes this one with its reply")
def link(number: str, body: LinkIn, desk: TicketDesk = Depends(get_desk), account: Account = Depends(DESK_STAFF)) -> TicketOut:
    return TicketOut.of(desk.link(number, body.parent, account.username, city=city_of(account.region)))


@router.post("/v1/tickets/{number}/urge", response_model=TicketOut, tags=["desk"], summary="督办: urge the ticket's department")
def urge(number: str, body: Note, desk: TicketDesk = Depends(get_desk), account: Account = Depends(SUPERVISORS)) -> TicketOut:
    return TicketOut.of(desk.urge(number, account.username, body.note, city=city_of(account.region)))


@router.post("/v1/tickets/{number}/callback", response_model=TicketOut, tags=["seats"],
             summary="回访: the citizen's satisfaction (不满意 reopens the ticket)")
def call_back(number: str, body: CallbackIn, desk: TicketDesk = Depends(get_desk),
              account: Account = Depends(DESK_STAFF)) -> TicketOut:
    return TicketOut.of(desk.call_back(number, account.username, body.result, city=city_of(account.region), note=body.note))


@router.post("/v1/tickets/{number}/archive", response_model=TicketOut, tags=["seats"], summary="归档 a closed, called-back ticket")
def archive(number: str, desk: TicketDesk = Depends(get_desk), account: Account = Depends(DESK_STAFF)) -> TicketOut:
    return TicketOut.of(desk.archive(number, account.username, city=city_of(account.region)))


@router.get("/v1/desk/escalations", response_model=list[QueueItemOut], summary="督办: tickets escalated near or past a deadline")
def escalations(limit: int = Query(default=200, ge=1, le=500), desk: TicketDesk = Depends(get_desk),
                account: Account = Depends(allow(Role.SUPERVISOR, Role.TEAM_LEAD))) -> list[QueueItemOut]:
    now = utcnow()
    return [QueueItemOut.of(t, now) for t in desk.list(escalated=True, status=(*LIVE, TicketStatus.CLOSED), limit=limit)]


@router.get("/v1/desk/words", summary="The desk's words: states, call-back results, events, escalations, presence (Chinese)")
def words(account: Account = Depends(allow(*STAFF))) -> dict:
    return state_words() | {"presence": presence_words()["states"], "presence_lapsed": presence_words()["lapsed"]}


# ---- presence: 在线 / 小休 / 离线 ---------------------------------------------------------------------------

class PresenceIn(BaseModel):
    state: Presence = Field(description="online 在线 (takes tickets), break 小休 (keeps its tickets, takes no new), "
                                        "offline 离线")


class PresenceOut(BaseModel):
    username: str
    state: Presence = Field(description="What counts now: offline once the workbench has not been seen for a while.")
    said: Presence = Field(description="What the seat last chose.")
    lapsed: bool
    changed_at: datetime | None
    held: int = Field(description="Tickets the seat holds now.")
    capacity: int

    @classmethod
    def of(cls, p: SeatPresence, held: int, capacity: int) -> "PresenceOut":
        return cls(username=p.username, state=p.state, said=p.said, lapsed=p.lapsed, changed_at=p.changed_at,
                   held=held, capacity=capacity)


class SeatOnDeskOut(BaseModel):
    username: str
    presence: Presence
    lapsed: bool
    held: int
    capacity: int
    last_assigned_at: datetime | None


class TeamPresenceOut(BaseModel):
    team_id: int
    name: str
    city: str
    online: int
    seats: list[SeatOnDeskOut]

    @classmethod
    def of(cls, t: TeamPresence) -> "TeamPresenceOut":
        return cls(team_id=t.team_id, name=t.name, city=t.city, online=t.online,
                   seats=[SeatOnDeskOut(username=s.username, presence=s.presence, lapsed=s.lapsed, held=s.held,
                                        capacity=s.capacity, last_assigned_at=s.last_assigned_at) for s in t.seats])


def _my_presence(account: Account, desk: TicketDesk, support: SupportDesk) -> PresenceOut:
    held = len(desk.list(seat=account.username, status=HELD, limit=500))
    return PresenceOut.of(support.presence_board.of(account.username), held, support.capacity_of(account.username))


@router.get("/v1/desk/presence", response_model=PresenceOut, summary="Where this seat is: 在线, 小休 or 离线")
def my_presence(desk: TicketDesk = Depends(get_desk), support: SupportDesk = Depends(get_support),
                account: Account = Depends(SEATS)) -> PresenceOut:
    return _my_presence(account, desk, support)


@router.put("/v1/desk/presence", response_model=PresenceOut, summary="Say where this seat is: 在线, 小休 or 离线 (audited)")
def set_presence(body: PresenceIn, services: Services = Depends(get_services), account: Account = Depends(SEATS)) -> PresenceOut:
    """Going online gives the seat its share of the waiting tickets at once (desk/assignment.py); on a break or offline
    it keeps the tickets it holds and is given no new ones."""
    support = services.support
    support.presence_board.set(account.username, body.state, city=city_of(account.region))
    if body.state is Presence.ONLINE:
        Assigner(services.db, support).run()
    return _my_presence(account, services.desk, support)


@router.get("/v1/desk/presence/teams", response_model=list[TeamPresenceOut],
            summary="Who is on the desk now, team by team: each seat's presence and the tickets it holds of its capacity")
def teams_presence(city: str | None = Query(default=None, max_length=200), support: SupportDesk = Depends(get_support),
                   account: Account = Depends(allow(Role.SUPERVISOR, Role.ADMIN, Role.TEAM_LEAD))) -> list[TeamPresenceOut]:
    """A team lead or supervisor limited to a region sees the teams of the cities in it."""
    teams = support.presence(city=city)
    if account.region:
        teams = [t for t in teams if t.city == account.region or t.city.startswith(account.region.rstrip("/") + "/")
                 or account.region.startswith(t.city + "/")]
    return [TeamPresenceOut.of(t) for t in teams]


# ---- departments ---------------------------------------------------------------------------------

def _departments_of(account: Account, directory: DepartmentDirectory) -> list[str]:
    """The codes of the departments the account works for (the directory's account column); none: no tickets."""
    return [d.code for d in directory.of_account(account.username)]


def _department_for(number: str, account: Account, desk: TicketDesk, directory: DepartmentDirectory) -> str:
    ticket = desk.get(number)
    if ticket.department not in _departments_of(account, directory):
        raise DomainError(f"ticket {number} is not dispatched to a department of {account.username!r} (the department "
                          "directory's account column names who works for each)", code="not_your_department",
                          kind=ErrorKind.FORBIDDEN)
    return ticket.department


@router.get("/v1/department/tickets", response_model=list[QueueItemOut], summary="The tickets dispatched to my department")
def department_tickets(desk: TicketDesk = Depends(get_desk), directory: DepartmentDirectory = Depends(get_directory),
                       account: Account = Depends(DEPARTMENTS)) -> list[QueueItemOut]:
    now = utcnow()
    return [QueueItemOut.of(t, now) for code in _departments_of(account, directory)
            for t in desk.list(department=code, status=(TicketStatus.DISPATCHED, TicketStatus.HANDLING), limit=500)]


@router.get("/v1/department/tickets/{number}", response_model=TicketOut)
def department_ticket(number: str, desk: TicketDesk = Depends(get_desk), directory: DepartmentDirectory = Depends(get_directory),
                      account: Account = Depends(DEPARTMENTS)) -> TicketOut:
    _department_for(number, account, desk, directory)  # 403 unless dispatched to one of the account's departments
    return TicketOut.of(desk.get(number))


@router.post("/v1/department/tickets/{number}/claim", response_model=TicketOut, summary="The department takes up a dispatched ticket")
def department_claim(number: str, desk: TicketDesk = Depends(get_desk), directory: DepartmentDirectory = Depends(get_directory),
                     account: Account = Depends(DEPARTMENTS)) -> TicketOut:
    return TicketOut.of(desk.department_claim(number, _department_for(number, account, desk, directory), account.username))


@router.post("/v1/department/tickets/{number}/answer", response_model=TicketOut, summary="The department's answer (back to the seat)")
def department_answer(number: str, body: AnswerIn, desk: TicketDesk = Depends(get_desk),
                      directory: DepartmentDirectory = Depends(get_directory), account: Account = Depends(DEPARTMENTS)) -> TicketOut:
    department = _department_for(number, account, desk, directory)
    return TicketOut.of(desk.department_answer(number, department, account.username, body.text))


@router.get("/v1/departments", response_model=list[DepartmentOut], summary="The department directory (转办 targets)")
def departments(region: str | None = Query(default=None, max_length=200), directory: DepartmentDirectory = Depends(get_directory),
                account: Account = Depends(allow(*STAFF))) -> list[DepartmentOut]:
    return [DepartmentOut.of(d) for d in directory.list(region)]


@router.post("/v1/departments/import", response_model=list[DepartmentOut],
             summary="Import the department directory (CSV: code,name,kind,region,account; UTF-8 or GBK)",
             responses={422: {"description": "bad_department_directory, with every problem by line in details"}})
async def import_departments(request: Request, directory: DepartmentDirectory = Depends(get_directory),
                             account: Account = Depends(SUPERVISORS)) -> list[DepartmentOut]:
    data = await request.body()
    imported = await asyncio.to_thread(directory.import_csv, data, by=account.username)
    return [DepartmentOut.of(d) for d in imported]


# ---- teams and 多援一 activations (supervisors) ---------------------------------------------------------

@router.get("/v1/desk/teams", response_model=list[TeamOut])
def teams(support: SupportDesk = Depends(get_support), account: Account = Depends(allow(Role.SUPERVISOR, Role.ADMIN, Role.TEAM_LEAD))) -> list[TeamOut]:
    return [TeamOut.of(t) for t in support.teams()]


@router.post("/v1/desk/teams", response_model=TeamOut, status_code=201)
def create_team(body: TeamIn, support: SupportDesk = Depends(get_support), account: Account = Depends(SUPERVISORS)) -> TeamOut:
    return TeamOut.of(support.create_team(body.name, body.city, by=account.username))


@router.put("/v1/desk/teams/{team_id}/members/{username}", response_model=TeamOut, summary="Add a seat to a team, or set its capacity")
def set_member(team_id: int, username: str, body: MemberIn, support: SupportDesk = Depends(get_support),
               account: Account = Depends(SUPERVISORS)) -> TeamOut:
    return TeamOut.of(support.set_member(team_id, username, body.capacity, by=account.username))


@router.delete("/v1/desk/teams/{team_id}/members/{username}", response_model=TeamOut)
def remove_member(team_id: int, username: str, support: SupportDesk = Depends(get_support),
                  account: Account = Depends(SUPERVISORS)) -> TeamOut:
    return TeamOut.of(support.set_member(team_id, username, None, by=account.username))


@router.get("/v1/desk/activations", response_model=list[ActivationOut], summary="多援一 support activations, newest first")
def activations(support: SupportDesk = Depends(get_support),
                account: Account = Depends(allow(Role.SUPERVISOR, Role.ADMIN, Role.TEAM_LEAD))) -> list[ActivationOut]:
    return [ActivationOut.of(a) for a in support.activations()]


@router.post("/v1/desk/activations", response_model=ActivationOut, status_code=201, summary="Open a 多援一 support activation")
def open_activation(body: ActivationIn, support: SupportDesk = Depends(get_support),
                    account: Account = Depends(SUPERVISORS)) -> ActivationOut:
    return ActivationOut.of(support.open_activation(body.city, body.starts_at, body.ends_at, by=account.username,
                                                    categories=body.categories, share=body.share, note=body.note))


@router.post("/v1/desk/activations/{activation_id}/batches", response_model=ActivationOut, summary="Bring a batch of teams on")
def add_batch(activation_id: int, body: BatchIn, support: SupportDesk = Depends(get_support),
              account: Account = Depends(SUPERVISORS)) -> ActivationOut:
    return ActivationOut.of(support.add_batch(activation_id, body.label, body.teams, by=account.username))


@router.post("/v1/desk/activations/{activation_id}/batches/{batch_id}/release", response_model=ActivationOut)
def release_batch(activation_id: int, batch_id: int, support: SupportDesk = Depends(get_support),
                  account: Account = Depends(SUPERVISORS)) -> ActivationOut:
    return ActivationOut.of(support.release_batch(activation_id, batch_id, by=account.username))


@router.post("/v1/desk/activations/{activation_id}/close", response_model=ActivationOut)
def close_activation(activation_id: int, support: SupportDesk = Depends(get_support),
                     account: Account = Depends(SUPERVISORS)) -> ActivationOut:
    return ActivationOut.of(support.close_activation(activation_id, by=account.username))
