"""The long-lived parts a request handler may need, built once per worker by the app factory."""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from accounts.store import AccountStore
from voice.records import CallRecords
from voice.services import VoiceServices
from api.ratelimit import Guard
from api.wechat.channel import WeChatChannel
from assistant.engine import Engine
from assistant.tryout import Tryout
from desk.departments import DepartmentDirectory
from desk.flows import Deliveries
from desk.supervision import Supervision
from desk.support import SupportDesk
from desk.tickets import TicketDesk
from desk.watch import QueueWatch
from knowledge_base.changes import ChangeDesk
from knowledge_base.follower import PublishFollower
from knowledge_base.gaps import GapQueue
from knowledge_base.labels import LabelStore
from knowledge_base.service import KnowledgeBase
from reports.service import Reports
from storage.audit import AuditLog
from storage.database import Database


@dataclass
class Services:
    db: Database
    knowledge: KnowledgeBase
    engine: Engine
    desk: TicketDesk
    accounts: AccountStore
    audit: AuditLog
    changes: ChangeDesk  # drafts, review, publishing (knowledge_base/changes.py)
    gaps: GapQueue  # the unanswered-question queue (knowledge_base/gaps.py)
    labels: LabelStore  # answer labels and the automatic answers' precision (knowledge_base/labels.py)
    deliveries: Deliveries  # the channels that carry a seat's reply on to the citizen (desk/flows.py)
    calls: CallRecords | None = None  # how phone calls left (voice/records.py), readable on every worker
    guard: Guard | None = None  # rate limits and caller blocks on the citizens' channels (api/ratelimit.py)
    wechat: WeChatChannel | None = None
    voice: VoiceServices | None = None
    tryout: Tryout | None = None  # "try it" (POST /v1/try): remembers the indexes it derived for drafts
    follower: PublishFollower | None = None  # keeps the index at the published revision (knowledge_base/follower.py)
    cookie_secure: bool = False  # the sign-in cookie goes over HTTPS only
    reports: Reports | None = None  # the manager's view: daily report, surge alarm (reports/service.py)
    support: SupportDesk | None = None  # seat teams and 多援一 activations (desk/support.py)
    departments: DepartmentDirectory | None = None  # where tickets are dispatched (desk/departments.py)
    supervision: Supervision | None = None  # 督办: the escalation job (desk/supervision.py)
    desk_watch: QueueWatch | None = None  # wakes the workbenches when a ticket's timeline moves (desk/watch.py)


def get_services(request: Request) -> Services:
    return request.app.state.services


def get_knowledge(request: Request) -> KnowledgeBase:
    return request.app.state.services.knowledge


def get_engine(request: Request) -> Engine:
    return request.app.state.services.engine


def get_desk(request: Request) -> TicketDesk:
    return request.app.state.services.desk
