"""The 数据日报: one Beijing day's figures, read from the conversations, tickets, calls and the knowledge base.

What each figure counts (a Beijing day is 00:00–24:00 Beijing time; everything is stored in UTC):
- contacts: conversations started that day, by hour, channel (chat, wechat, voice) and city;
- self-service resolution: a contact is resolved by itself when Frontdoor answered it (an `answer` turn with an
  entry), it was not handed off (no ticket), and the same caller (phone number or WeChat openid) did not come back
  on any channel within 24 hours of that answer about the same thing (a later conversation whose turns answered,
  offered or handed off near the same entry, or that ended in a ticket). A chat citizen without a number cannot
  be followed, so their answered, not handed-off contacts count as resolved; the rate is over all contacts.
  Returns are seen up to the moment the report is built (the 22:00 report sees two hours of the next day);
- clarifications: turns that offered choices, and how many were followed by a chosen answer (and which entries were
  chosen most), a handoff, or nothing;
- handoffs: tickets opened that day by reason;
- tickets by category, urgency, request type, channel and city; deadlines met: tickets whose dispatch deadline fell
  that day, dispatched (or else claimed by a seat) by then; call-backs (回访) recorded that day by result, when the desk records them;
- hot topics: the topics (entries answered, unanswered-question clusters, ticket categories: the 诉求) that grew
  most against the day before, with the entry's question, the cluster's label or the category's name and up to
  three of the day's questions (or tickets' summaries), masked;
- knowledge gaps: the unanswered-question clusters with most questions that day, with the link to make the entry;
- entries changed that day (every saved version) and by whom;
- 多援一: tickets per supporting city (the seat's city where it is not the ticket's city) and per supporting team
  (the holding seat's team of that city, as the teams are when the report is built), when the desk's lifecycle
  tables exist;
- seats: the peak hour's contacts, the Erlang C and Erlang A seats it needs with Frontdoor's resolution and without.

A manager reads figures, not citizens' words: the only text from citizens is the hot topics' masked examples and
the clusters' masked labels (the same as the editors' queue shows).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, inspect, select

from ground.clock import BEIJING, as_utc, utcnow
from ground.privacy import mask
from reports.content import words
from reports.staffing import Demand, seats_side_by_side
from storage.database import Database
from storage.tables import (ConversationRow, EntryRow, EntryVersionRow, GapClusterRow, GapRow, SeatTeamMemberRow,
                            SeatTeamRow, TicketRow, TurnRow, VoiceCallRow)

RETURN_WINDOW = timedelta(hours=24)
CHANNELS = ("voice", "chat", "wechat")


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=BEIJING).astimezone(timezone.utc)
    return start, start + timedelta(days=1)


def beijing_hour(moment: datetime) -> int:
    return as_utc(moment).astimezone(BEIJING).hour


def city_of(region: str | None) -> str:
    if not region:
        return "-"
    return "/".join(region.split("/")[:2])


@dataclass
class StaffingAssumptions:
    handling_seconds: float = 180.0
    answer_seconds: float = 15.0
    service_level: float = 0.80
    patience_seconds: float = 120.0


@dataclass
class DailyFigures:
    day: str
    built_at: str
    contacts: int = 0
    contacts_by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    contacts_by_channel: dict[str, int] = field(default_factory=dict)
    contacts_by_city: dict[str, int] = field(default_factory=dict)
    answered: int = 0
    resolved: int = 0
    came_back: int = 0
    resolved_by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    resolved_by_channel: dict[str, int] = field(default_factory=dict)
    clarifications: int = 0
    clarification_outcomes: dict[str, int] = field(default_factory=dict)
    clarification_choices: list[dict] = field(default_factory=list)  # the entries chosen most often
    handoffs_by_reason: dict[str, int] = field(default_factory=dict)
    tickets: int = 0
    tickets_by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    tickets_by_category: dict[str, int] = field(default_factory=dict)
    tickets_by_urgency: dict[str, int] = field(default_factory=dict)
    tickets_by_request_type: dict[str, int] = field(default_factory=dict)
    tickets_by_channel: dict[str, int] = field(default_factory=dict)
    tickets_by_city: dict[str, int] = field(default_factory=dict)
    deadlines_due: int = 0
    deadlines_met: int = 0
    callbacks: dict[str, int] | None = None
    calls: dict[str, int] = field(default_factory=dict)
    hot_topics: list[dict] = field(default_factory=list)
    gaps: list[dict] = field(default_factory=list)
    entry_changes: list[dict] = field(default_factory=list)
    support_by_city: dict[str, int] | None = None   # None: the desk's lifecycle is not there
    support_by_team: dict[str, int] | None = None   # the same tickets by the holding seat's team
    staffing: dict | None = None

    @property
    def self_service_rate(self) -> float:
        return self.resolved / self.contacts if self.contacts else 0.0

    def as_dict(self) -> dict:
        return asdict(self)


class DailyReport:
    """Builds a day's figures (`figures`) from the database."""

    def __init__(self, db: Database, staffing: StaffingAssumptions | None = None, *, hot_topics: int = 10,
                 gaps: int = 10) -> None:
        self.db = db
        self.assumptions = staffing or StaffingAssumptions()
        self.hot_limit = hot_topics
        self.gap_limit = gaps

    def figures(self, day: date, now: datetime | None = None) -> DailyFigures:
        now = now or utcnow()
        start, end = day_bounds(day)
        out = DailyFigures(day=day.isoformat(), built_at=now.isoformat())
        with self.db.session() as s:
            self._contacts(s, out, start, end, now)
            self._clarifications(s, out, start, end)
            self._tickets(s, out, start, end)
            self._calls(s, out, start, end)
            self._hot_topics(s, out, start, end)
            self._gaps(s, out, start, end)
            self._changes(s, out, start, end)
            self._support(s, out, start, end)
        self._staffing(out)
        return out

    # ---- contacts and self-service -----------------------------------------------------------------------
    def _contacts(self, s, out: DailyFigures, start: datetime, end: datetime, now: datetime) -> None:
        conversations = s.execute(select(ConversationRow.id, ConversationRow.channel, ConversationRow.region,
                                         ConversationRow.caller, ConversationRow.created_at, ConversationRow.ticket_number)
                                  .where(ConversationRow.created_at >= start, ConversationRow.created_at < end)).all()
        by_channel, by_city = Counter(), Counter()
        for _, channel, region, _, created, _ in conversations:
            out.contacts_by_hour[beijing_hour(created)] += 1
            by_channel[channel] += 1
            by_city[city_of(region)] += 1
        out.contacts = len(conversations)
        out.contacts_by_channel, out.contacts_by_city = dict(by_channel), dict(by_city)
        # the answer each contact got (its last answered entry) and when
        answers = dict()
        for conversation, entry, at in s.execute(
                select(TurnRow.conversation_id, TurnRow.entry_id, TurnRow.at)
                .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
                .where(ConversationRow.created_at >= start, ConversationRow.created_at < end,
                       TurnRow.decision == "answer", TurnRow.entry_id.is_not(None)).order_by(TurnRow.seq)):
            answers[conversation] = (entry, as_utc(at))
        callers = {c: caller for c, _, _, caller, _, _ in conversations if caller}
        later = self._later_contacts(s, {callers[c] for c in answers if c in callers}, start, end + RETURN_WINDOW, now)
        resolved_channel = Counter()
        for conversation, channel, _, caller, created, ticket in conversations:
            if conversation not in answers:
                continue
            out.answered += 1
            if ticket:
                continue
            entry, answered_at = answers[conversation]
            if caller and any(answered_at < at <= answered_at + RETURN_WINDOW and other != conversation
                              and (entry in entries or had_ticket)
                              for other, at, entries, had_ticket in later.get(caller, ())):
                out.came_back += 1
                continue
            out.resolved += 1
            out.resolved_by_hour[beijing_hour(created)] += 1
            resolved_channel[channel] += 1
        out.resolved_by_channel = dict(resolved_channel)

    @staticmethod
    def _later_contacts(s, callers: set[str], start: datetime, end: datetime, now: datetime):
        """caller → [(conversation, started, entries it touched, whether it ended in a ticket)] for the callers'
        conversations in [start, min(end, now))."""
        out: dict[str, list] = defaultdict(list)
        if not callers:
            return out
        end = min(end, now)
        rows = []
        listed = sorted(callers)
        for i in range(0, len(listed), 500):
            rows += s.execute(select(ConversationRow.id, ConversationRow.caller, ConversationRow.created_at,
                                     ConversationRow.ticket_number)
                              .where(ConversationRow.caller.in_(listed[i:i + 500]), ConversationRow.created_at >= start,
                                     ConversationRow.created_at < end)).all()
        touched: dict[str, set[str]] = defaultdict(set)
        ids = [r[0] for r in rows]
        for i in range(0, len(ids), 500):
            for conversation, entry, candidates in s.execute(
                    select(TurnRow.conversation_id, TurnRow.entry_id, TurnRow.candidates)
                    .where(TurnRow.conversation_id.in_(ids[i:i + 500]))):
                if entry:
                    touched[conversation].add(entry)
                for candidate in (candidates or [])[:3]:
                    if isinstance(candidate, dict) and candidate.get("entry_id"):
                        touched[conversation].add(candidate["entry_id"])
        for conversation, caller, created, ticket in rows:
            out[caller].append((conversation, as_utc(created), touched[conversation], bool(ticket)))
        return out

    def _clarifications(self, s, out: DailyFigures, start: datetime, end: datetime) -> None:
        rows = s.execute(select(TurnRow.conversation_id, TurnRow.seq, TurnRow.decision, TurnRow.reason, TurnRow.entry_id)
                         .where(TurnRow.at >= start, TurnRow.at < end).order_by(TurnRow.conversation_id, TurnRow.seq)).all()
        outcomes, chosen = Counter(), Counter()
        for i, (conversation, _, decision, _, _) in enumerate(rows):
            if decision != "clarify":
                continue
            out.clarifications += 1
            following = rows[i + 1] if i + 1 < len(rows) and rows[i + 1][0] == conversation else None
            if following is None:
                outcomes["none"] += 1
            elif following[2] == "answer" and following[3] == "chosen":
                outcomes["chosen"] += 1
                chosen[following[4]] += 1
            elif following[2] == "handoff":
                outcomes["handoff"] += 1
            else:
                outcomes["other"] += 1
        out.clarification_outcomes = dict(outcomes)
        questions = dict(s.execute(select(EntryRow.id, EntryRow.question).where(EntryRow.id.in_(list(chosen)))).all())
        out.clarification_choices = [{"entry_id": entry, "question": questions.get(entry, entry), "chosen": n}
                                     for entry, n in chosen.most_common(10)]

    # ---- tickets, calls ----------------------------------------------------------------------------------
    def _tickets(self, s, out: DailyFigures, start: datetime, end: datetime) -> None:
        rows = s.execute(select(TicketRow.created_at, TicketRow.reason, TicketRow.category_code, TicketRow.category_name,
                                TicketRow.urgency, TicketRow.request_type, TicketRow.channel, TicketRow.region)
                         .where(TicketRow.created_at >= start, TicketRow.created_at < end)).all()
        counters = [Counter() for _ in range(6)]
        for created, reason, code, name, urgency, request_type, channel, region in rows:
            out.tickets_by_hour[beijing_hour(created)] += 1
            for counter, value in zip(counters, (reason, f"{code or '-'} {name or ''}".strip(), urgency, request_type,
                                                  channel, city_of(region))):
                counter[value] += 1
        out.tickets = len(rows)
        (out.handoffs_by_reason, out.tickets_by_category, out.tickets_by_urgency, out.tickets_by_request_type,
         out.tickets_by_channel, out.tickets_by_city) = (dict(c.most_common()) for c in counters)
        # met: taken up by the dispatch deadline (dispatched to a department where the desk records it, else claimed)
        taken = TicketRow.dispatched_at if hasattr(TicketRow, "dispatched_at") else TicketRow.claimed_at
        due = s.execute(select(TicketRow.due_at, TicketRow.claimed_at, taken)
                        .where(TicketRow.due_at >= start, TicketRow.due_at < end)).all()
        out.deadlines_due = len(due)
        out.deadlines_met = sum(1 for due_at, claimed, dispatched in due
                                if (dispatched or claimed) is not None and as_utc(dispatched or claimed) <= as_utc(due_at))
        if hasattr(TicketRow, "callback_result"):
            results = s.execute(select(TicketRow.callback_result, func.count())
                                .where(TicketRow.callback_at >= start, TicketRow.callback_at < end,
                                       TicketRow.callback_result.is_not(None))
                                .group_by(TicketRow.callback_result)).all()
            out.callbacks = {result: count for result, count in results}

    def _calls(self, s, out: DailyFigures, start: datetime, end: datetime) -> None:
        rows = s.execute(select(VoiceCallRow.outcome, VoiceCallRow.transfer_to, func.count())
                         .where(VoiceCallRow.started_at >= start, VoiceCallRow.started_at < end)
                         .group_by(VoiceCallRow.outcome, VoiceCallRow.transfer_to)).all()
        calls = Counter()
        for outcome, to, count in rows:
            calls["total"] += count
            calls[f"{outcome or 'in_progress'}" + (f":{to}" if to else "")] += count
        out.calls = dict(calls)

    # ---- topics, gaps, entries ---------------------------------------------------------------------------
    def _topic_counts(self, s, start: datetime, end: datetime) -> Counter:
        counts = Counter()
        for entry, count in s.execute(select(TurnRow.entry_id, func.count())
                                      .where(TurnRow.at >= start, TurnRow.at < end, TurnRow.decision == "answer",
                                             TurnRow.entry_id.is_not(None)).group_by(TurnRow.entry_id)):
            counts[f"entry:{entry}"] += count
        for cluster, count in s.execute(select(GapRow.cluster_id, func.count())
                                        .where(GapRow.at >= start, GapRow.at < end, GapRow.cluster_id.is_not(None))
                                        .group_by(GapRow.cluster_id)):
            counts[f"gap:{cluster}"] += count
        for code, count in s.execute(select(TicketRow.category_code, func.count())
                                     .where(TicketRow.created_at >= start, TicketRow.created_at < end,
                                            TicketRow.category_code.is_not(None)).group_by(TicketRow.category_code)):
            counts[f"category:{code}"] += count
        return counts

    def _hot_topics(self, s, out: DailyFigures, start: datetime, end: datetime) -> None:
        today = self._topic_counts(s, start, end)
        yesterday = self._topic_counts(s, start - timedelta(days=1), start)
        growth = sorted(today, key=lambda t: (today[t] - yesterday.get(t, 0), today[t]), reverse=True)
        for topic in growth[:self.hot_limit]:
            if today[topic] - yesterday.get(topic, 0) <= 0:
                break
            kind, _, key = topic.partition(":")
            if kind == "entry":
                label = s.execute(select(EntryRow.question).where(EntryRow.id == key)).scalar() or key
                examples = [t for (t,) in s.execute(select(TurnRow.text).distinct().where(
                    TurnRow.entry_id == key, TurnRow.decision == "answer", TurnRow.at >= start, TurnRow.at < end).limit(3))]
                link = f"/console#/entry/{key}"
            elif kind == "gap":
                label = s.execute(select(GapClusterRow.label).where(GapClusterRow.id == int(key))).scalar() or key
                examples = [t for (t,) in s.execute(select(GapRow.text).distinct().where(
                    GapRow.cluster_id == int(key), GapRow.at >= start, GapRow.at < end).limit(3))]
                link = "/console#/gaps"
            else:  # a ticket category: the 诉求 filed under it (their summaries, masked)
                label = s.execute(select(TicketRow.category_name).where(TicketRow.category_code == key).limit(1)).scalar() or key
                examples = [t for (t,) in s.execute(select(TicketRow.summary).distinct().where(
                    TicketRow.category_code == key, TicketRow.created_at >= start, TicketRow.created_at < end,
                    TicketRow.summary != "").limit(3))]
                link = "/console#/entries"
            out.hot_topics.append({"topic": topic, "label": mask(label), "today": today[topic],
                                   "yesterday": yesterday.get(topic, 0), "examples": [mask(e) for e in examples],
                                   "link": link})

    def _gaps(self, s, out: DailyFigures, start: datetime, end: datetime) -> None:
        rows = s.execute(select(GapClusterRow.id, GapClusterRow.label, GapClusterRow.status, func.count(GapRow.id))
                         .join(GapRow, GapRow.cluster_id == GapClusterRow.id)
                         .where(GapRow.at >= start, GapRow.at < end)
                         .group_by(GapClusterRow.id, GapClusterRow.label, GapClusterRow.status)
                         .order_by(func.count(GapRow.id).desc(), GapClusterRow.id).limit(self.gap_limit)).all()
        unclustered = s.execute(select(func.count()).select_from(GapRow).where(
            GapRow.at >= start, GapRow.at < end, GapRow.cluster_id.is_(None))).scalar()
        out.gaps = [{"cluster": cid, "label": mask(label), "status": status, "questions": count,
                     "link": "/console#/gaps"} for cid, label, status, count in rows]
        if unclustered:
            out.gaps.append({"cluster": None, "label": "", "status": "unclustered", "questions": unclustered,
                             "link": "/console#/gaps"})

    def _changes(self, s, out: DailyFigures, start: datetime, end: datetime) -> None:
        rows = s.execute(select(EntryVersionRow.entry_id, EntryVersionRow.version, EntryVersionRow.status,
                                EntryVersionRow.changed_by, EntryVersionRow.changed_at, EntryRow.question)
                         .join(EntryRow, EntryRow.id == EntryVersionRow.entry_id)
                         .where(EntryVersionRow.changed_at >= start, EntryVersionRow.changed_at < end)
                         .order_by(EntryVersionRow.changed_at)).all()
        out.entry_changes = [{"entry_id": entry, "version": version, "status": status, "by": by,
                              "at": as_utc(at).astimezone(BEIJING).strftime("%H:%M"), "question": question}
                             for entry, version, status, by, at, question in rows]

    def _support(self, s, out: DailyFigures, start: datetime, end: datetime) -> None:
        """多援一: tickets per supporting city (a seat of another city holds it), when the desk records seats' cities."""
        if not hasattr(TicketRow, "seat_city") or not inspect(s.get_bind()).has_table("ticket_events"):
            return
        rows = s.execute(select(TicketRow.seat, TicketRow.seat_city, TicketRow.region, func.count())
                         .where(TicketRow.created_at >= start, TicketRow.created_at < end, TicketRow.seat_city.is_not(None))
                         .group_by(TicketRow.seat, TicketRow.seat_city, TicketRow.region)).all()
        held = [(seat, seat_city, count) for seat, seat_city, region, count in rows if city_of(seat_city) != city_of(region)]
        support, by_team = Counter(), Counter()
        teams = self._teams_of(s, {seat for seat, _, _ in held})
        for seat, seat_city, count in held:
            support[seat_city] += count
            by_team[teams.get((seat, seat_city)) or teams.get((seat, None)) or f"{seat_city}{words()['no_team']}"] += count
        out.support_by_city = dict(support.most_common())
        out.support_by_team = dict(by_team.most_common())

    @staticmethod
    def _teams_of(s, seats: set[str]) -> dict[tuple[str, str | None], str]:
        """(seat, team's city) → team name, and (seat, None) → its first team: a seat's support team is the one of the
        city it worked for (a seat in two teams of different cities is counted under the one matching its city).
        Membership is read as it is when the report is built."""
        if not seats:
            return {}
        out: dict[tuple[str, str | None], str] = {}
        for username, name, city in s.execute(select(SeatTeamMemberRow.username, SeatTeamRow.name, SeatTeamRow.city)
                                              .join(SeatTeamRow, SeatTeamRow.id == SeatTeamMemberRow.team_id)
                                              .where(SeatTeamMemberRow.username.in_(seats)).order_by(SeatTeamRow.id)):
            out.setdefault((username, city), name)
            out.setdefault((username, None), name)
        return out

    # ---- seats -------------------------------------------------------------------------------------------
    def _staffing(self, out: DailyFigures) -> None:
        peak = max(range(24), key=lambda h: out.contacts_by_hour[h])
        calls = out.contacts_by_hour[peak]
        if not calls:
            return
        a = self.assumptions
        share = out.resolved_by_hour[peak] / calls
        both = seats_side_by_side(Demand(calls, a.handling_seconds, a.answer_seconds, a.service_level,
                                         patience_seconds=a.patience_seconds), share)
        out.staffing = {"peak_hour": peak, "contacts": calls, "diverted_share": share,
                        "handling_seconds": a.handling_seconds, "answer_seconds": a.answer_seconds,
                        "service_level": a.service_level, "patience_seconds": a.patience_seconds,
                        "erlang_c_without": both.without.seats, "erlang_c_with": both.with_frontdoor.seats,
                        "erlang_a_without": both.without_abandonment.seats,
                        "erlang_a_with": both.with_frontdoor_abandonment.seats}
