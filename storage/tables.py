"""The product's tables (SQLAlchemy 2 declarative). Every change here needs a migration in `migrations/versions`."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# JSONB on PostgreSQL (indexable, compact); JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime, stored as UTC and always given back aware (UTC).

    SQLite keeps no zone: without this an aware non-UTC time would be stored as its wall-clock time
    and compare wrongly. Naive datetimes are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give a timezone")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class EntryRow(Base):
    """The current state of each knowledge entry (see knowledge_base.entry.Entry)."""

    __tablename__ = "entries"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    samples: Mapped[list] = mapped_column(JSONDocument)
    chat_answer: Mapped[str] = mapped_column(Text)
    voice_answer: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(200))
    request_type: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(200))
    variant_of: Mapped[str | None] = mapped_column(String(200))
    effective_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_entries_status", "status"),)


class EntryVersionRow(Base):
    """An immutable snapshot of every saved version of an entry."""

    __tablename__ = "entry_versions"

    entry_id: Mapped[str] = mapped_column(String(200), ForeignKey("entries.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot: Mapped[dict] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text)

    entry: Mapped[EntryRow] = relationship()


class KbRevision(Base):
    """One row: a counter bumped in the same transaction as any change to what is servable.

    Workers poll it and rebuild their index when it moves.
    """

    __tablename__ = "kb_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("id = 1", name="ck_kb_revision_single_row"),)


class CachedEmbedding(Base):
    """A text's embedding under one model: float32 little-endian bytes of length `dim`."""

    __tablename__ = "embedding_cache"

    model_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # sha256 hex of exactly the text embedded, model prefix included
    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class ConversationRow(Base):
    """One citizen's conversation on one channel: what was offered, rejected and said so far.

    Kept in the database so that any worker can continue it.
    """

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(200))
    caller: Mapped[str | None] = mapped_column(String(200))  # phone number or WeChat openid; masked in logs
    state: Mapped[dict] = mapped_column(JSONDocument)
    turns: Mapped[int] = mapped_column(Integer)
    ticket_number: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TurnRow(Base):
    """What the citizen said in one turn and what Frontdoor decided."""

    __tablename__ = "conversation_turns"

    conversation_id: Mapped[str] = mapped_column(String(100), ForeignKey("conversations.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)
    asr_confidence: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[str] = mapped_column(String(16))
    entry_id: Mapped[str | None] = mapped_column(String(200))
    confidence: Mapped[float | None] = mapped_column(Float)
    candidates: Mapped[list] = mapped_column(JSONDocument)
    knowledge_revision: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(40))      # why the engine decided so: confident, low_confidence, …
    rejected: Mapped[list | None] = mapped_column(JSONDocument)  # entries the citizen said (this turn) were not it

    __table_args__ = (Index("ix_conversation_turns_entry", "entry_id"), Index("ix_conversation_turns_at", "at"))


class TicketRow(Base):
    """A handed-off request (工单), queued for seats with everything the citizen already said."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str | None] = mapped_column(String(40), unique=True)
    conversation_id: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(200))
    caller: Mapped[str | None] = mapped_column(String(200))
    transcript: Mapped[list] = mapped_column(JSONDocument)
    summary: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(40))
    category_code: Mapped[str | None] = mapped_column(String(100))
    category_name: Mapped[str | None] = mapped_column(Text)
    category_score: Mapped[float | None] = mapped_column(Float)
    category_source: Mapped[str | None] = mapped_column(String(40))
    request_type: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    candidates: Mapped[list] = mapped_column(JSONDocument)
    asr_confidence: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict | None] = mapped_column(JSONDocument, nullable=True)  # a 诉求's taken-down pieces
    status: Mapped[str] = mapped_column(String(16))
    seat: Mapped[str | None] = mapped_column(String(200))
    reply: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the lifecycle (migration 0010, desk/tickets.py): 转办, 督办, 回访, 归档
    seat_city: Mapped[str | None] = mapped_column(String(200))             # the city of the seat that holds it (多援一)
    department: Mapped[str | None] = mapped_column(String(100))            # the department's code it is dispatched to
    department_handler: Mapped[str | None] = mapped_column(String(200))    # the department account working it
    department_reply: Mapped[str | None] = mapped_column(Text)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    department_replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)     # 办结 by (working days by request type)
    callback_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 回访 by (the working day after closing)
    callback_result: Mapped[str | None] = mapped_column(String(32))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation: Mapped[str | None] = mapped_column(String(32))             # 督办: the latest deadline escalated
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)      # its rank, so a run never escalates twice
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    urge_count: Mapped[int] = mapped_column(Integer, default=0)
    urgency_rank: Mapped[int] = mapped_column(Integer, default=2)         # 紧急 0, 次紧急 1, 一般 2: the queue's order
    parent_number: Mapped[str | None] = mapped_column(String(40))         # merged under this ticket (one matter, many callers)

    __table_args__ = (
        Index("ix_tickets_queue", "status", "urgency", "due_at"),
        Index("ix_tickets_region", "region"),
        Index("ix_tickets_conversation", "conversation_id"),
        Index("ix_tickets_caller", "caller", "created_at"),
        Index("ix_tickets_seat", "seat", "status"),
        Index("ix_tickets_department", "department", "status"),
        Index("ix_tickets_next", "status", "urgency_rank", "due_at", "id"),
        Index("ix_tickets_parent", "parent_number"),
    )


class CategoryCodeRow(Base):
    """The province's request-category code table, as imported (code, name, parent)."""

    __tablename__ = "category_codes"

    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    parent: Mapped[str | None] = mapped_column(String(100))
    path: Mapped[list] = mapped_column(JSONDocument)


class WeChatInboxRow(Base):
    """Every WeChat push accepted, by its MsgId (or event key): WeChat retries a push it thinks we missed."""

    __tablename__ = "wechat_inbox"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    openid: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WeChatNonceRow(Base):
    """Every signed push's timestamp and nonce, kept for the window within which a push is accepted: a signed
    query seen before, with another body, is a replay (in plaintext mode the signature does not cover the body)."""

    __tablename__ = "wechat_nonces"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)      # "<timestamp>:<nonce>"
    message_key: Mapped[str] = mapped_column(String(200))                # the push it came with (its MsgId key)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class CallerBlockRow(Base):
    """A time-limited block on a caller (a phone number, a WeChat openid) or an address that flooded the front
    door or harassed it (限制其占用热线话务资源): set by the rate limit or by an administrator, who may lift it."""

    __tablename__ = "caller_blocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), index=True)  # "address:1.2.3.4", "caller:138…", "wechat:o…"
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(100))                # "rate_limit" or the administrator
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(100))


class WeChatUserRow(Base):
    """Per citizen: the reply window WeChat allows (a few messages within 48 h of their last message)."""

    __tablename__ = "wechat_users"

    openid: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replies_since: Mapped[int] = mapped_column(Integer)


class VoiceCallRow(Base):
    """One phone call through Frontdoor, from its first audio to how it left: for the dialplan that takes the
    call back (transfer to a seat or an emergency number) and for the daily report's call figures."""

    __tablename__ = "voice_calls"
    __table_args__ = (Index("ix_voice_calls_started_at", "started_at"),)

    session: Mapped[str] = mapped_column(String(100), primary_key=True)
    protocol: Mapped[str] = mapped_column(String(20))          # ivr-websocket, audiosocket
    caller: Mapped[str | None] = mapped_column(String(200), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)   # transfer, hangup, caller_hung_up
    transfer_to: Mapped[str | None] = mapped_column(String(20), nullable=True)  # seat, 110, 119, 120, 122
    ticket_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    audio_seconds: Mapped[float] = mapped_column(Float, default=0.0)


# ---- the editors' loop (migration 0004) ----------------------------------------------------------

class AccountRow(Base):
    """A person (or a machine, e.g. a telephony switch) who signs in: one role, an optional region."""

    __tablename__ = "accounts"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(Text)            # argon2id, PHC string
    role: Mapped[str] = mapped_column(String(16))               # editor, reviewer, seat, admin
    region: Mapped[str] = mapped_column(String(200))            # "" = every region; else e.g. 江苏省/扬州市
    may_edit_wider: Mapped[bool] = mapped_column(Boolean)       # may also change entries scoped wider than `region`
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AccountSessionRow(Base):
    """A signed-in session or an API token; only the SHA-256 of the token is kept."""

    __tablename__ = "account_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), ForeignKey("accounts.username"))
    kind: Mapped[str] = mapped_column(String(16))               # session (browser sign-in) or token (API)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_account_sessions_username", "username"),)


class EntryChangeRow(Base):
    """A proposed change to one entry (a new entry, an edit, a retirement) on its way from draft to published.

    status: draft → in_review → published, or → scheduled (publish_at in the future) → published;
    in_review → draft again when a reviewer returns it; draft/in_review → withdrawn by its author.
    """

    __tablename__ = "entry_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))               # create, edit, retire
    content: Mapped[dict] = mapped_column(JSONDocument)         # the proposed entry (knowledge_base.records record)
    base_version: Mapped[int | None] = mapped_column(Integer)   # the entry's version when the draft was last saved
    status: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewer: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str] = mapped_column(Text, default="")
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_version: Mapped[int | None] = mapped_column(Integer)
    batch: Mapped[str | None] = mapped_column(String(100))      # changes made together (an import), published together
    source: Mapped[str] = mapped_column(Text, default="")       # where it came from: the console, an import file, a gap cluster

    __table_args__ = (Index("ix_entry_changes_status", "status"), Index("ix_entry_changes_entry", "entry_id"))


class AuditEventRow(Base):
    """Who did what and when: every write through the console or the API."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))             # e.g. change.submit, entry.rollback, account.create
    target: Mapped[str] = mapped_column(String(300))            # e.g. entry:covid-001, change:12, account:li
    detail: Mapped[dict] = mapped_column(JSONDocument)

    __table_args__ = (Index("ix_audit_events_at", "at"), Index("ix_audit_events_target", "target"))


class GapClusterRow(Base):
    """Unanswered questions that ask for the same thing; an editor closes it with a new entry or new samples."""

    __tablename__ = "gap_clusters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    label: Mapped[str] = mapped_column(Text)                    # the most typical question
    status: Mapped[str] = mapped_column(String(16))             # open, resolved, dismissed
    size: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    centroid: Mapped[bytes] = mapped_column(LargeBinary)        # float32 little-endian, unit length
    model_id: Mapped[str] = mapped_column(String(200))
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[dict | None] = mapped_column(JSONDocument)  # {"change": id, "entry_id": …, "how": new_entry|samples|dismissed}

    __table_args__ = (Index("ix_gap_clusters_status", "status", "last_at"),)


class GapRow(Base):
    """One question nothing answered well: a handoff, a rejected answer or clarification, a low-confidence turn."""

    __tablename__ = "gaps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(16))
    session: Mapped[str] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)                     # what was asked (on voice: the recogniser's text)
    asr_confidence: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(40))             # handoff reason, unsatisfied, low_confidence
    confidence: Mapped[float | None] = mapped_column(Float)
    top_entry_id: Mapped[str | None] = mapped_column(String(200))
    cluster_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("gap_clusters.id"))

    __table_args__ = (Index("ix_gaps_cluster", "cluster_id"), Index("ix_gaps_at", "at"))


# ---- answer labels (migration 0005) --------------------------------------------------------------

class AnswerLabelRow(Base):
    """A seat's word on a handed-off ticket: entry `entry_id` would have answered its question, or (entry_id NULL)
    no entry does and the handoff was right. One per ticket: labelling again replaces it. The citizens' labels
    are not stored; knowledge_base/labels.py reads them from the conversation turns."""

    __tablename__ = "answer_labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ticket_number: Mapped[str] = mapped_column(String(40), unique=True)
    conversation_id: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))
    query: Mapped[str] = mapped_column(Text)                    # the ticket's question (its summary)
    entry_id: Mapped[str | None] = mapped_column(String(200))   # NULL: no entry answers it
    correct: Mapped[bool] = mapped_column(Boolean)              # whether entry_id (or "none") is right for query
    by: Mapped[str] = mapped_column(String(100))                # the seat's username

    __table_args__ = (Index("ix_answer_labels_at", "at"), Index("ix_answer_labels_conversation", "conversation_id"))


# ---- the desk's lifecycle and 多援一 (migration 0010) ----------------------------------------------

class TicketEventRow(Base):
    """One step on a ticket's timeline: what happened (`kind`: claimed, dispatched, urged, escalated, …), who did it
    and from which city's seat (多援一), when (UTC), and what more there is to say (`detail`). Read by reports."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_number: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    actor_city: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[dict] = mapped_column(JSONDocument)

    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_number", "id"), Index("ix_ticket_events_kind_at", "kind", "at"))


class DepartmentRow(Base):
    """A department or street office tickets are dispatched to (转办; a street office takes "一单直达")."""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))              # department | street
    region: Mapped[str] = mapped_column(String(200))
    account: Mapped[str | None] = mapped_column(String(100))   # the department account that works its tickets
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SeatTeamRow(Base):
    """A team of seats of one city (苏州支援组)."""

    __tablename__ = "seat_teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    city: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SeatTeamMemberRow(Base):
    """A seat in a team, and how many tickets it may hold at once."""

    __tablename__ = "seat_team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("seat_teams.id", ondelete="CASCADE"), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    capacity: Mapped[int] = mapped_column(Integer)


class SupportActivationRow(Base):
    """多援一: the teams of its batches take `city`'s tickets (all, some categories, or a share) from `starts_at` to
    `ends_at`, until a supervisor closes it."""

    __tablename__ = "support_activations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    city: Mapped[str] = mapped_column(String(200))
    categories: Mapped[list] = mapped_column(JSONDocument)     # category codes (and their sub-codes); [] = all
    share: Mapped[float] = mapped_column(Float)                # the share of the city's tickets, 0 < share <= 1
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text)
    opened_by: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SupportBatchRow(Base):
    """One batch of teams brought onto an activation (and, later, released from it)."""

    __tablename__ = "support_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    activation_id: Mapped[int] = mapped_column(ForeignKey("support_activations.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(200))
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(100))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SupportBatchTeamRow(Base):
    __tablename__ = "support_batch_teams"

    batch_id: Mapped[int] = mapped_column(ForeignKey("support_batches.id", ondelete="CASCADE"), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("seat_teams.id", ondelete="CASCADE"), primary_key=True)


class SeatPresenceRow(Base):
    """Where a seat says it is on the workbench (desk/presence.py): online (在线, takes tickets), break (小休: holds its
    tickets, takes no new) or offline (离线); and when it was last given a ticket, for the round-robin of assignment
    (desk/assignment.py). Migration 0015."""

    __tablename__ = "seat_presence"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(100))
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_seat_presence_turn", "state", "last_assigned_at"),)


# ---- fitted calibrations shared by every worker (migration 0012) ------------------------------------

class FittedCalibrationRow(Base):
    """A retrieval calibration fitted by one worker, for every worker whose index learns from the same
    (knowledge_base/retrieval/calibration_cache.py): `Calibration.to_bytes()` under that fingerprint."""

    __tablename__ = "fitted_calibrations"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of what the fit learned from
    version: Mapped[int] = mapped_column(Integer)                   # CALIBRATION_VERSION of the method
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_fitted_calibrations_fitted_at", "fitted_at"),)


# ---- the manager's view: the surge alarm and the 数据日报 (migration 0011) ---------------------------------

class SurgeAlertRow(Base):
    """A burst of one topic (an entry, an unanswered-question cluster, a ticket category) in one region against
    its own recent baseline (reports/surge_alarm.py). One row per burst: every worker may run the check, the
    unique (topic, region, window_end) lets only one of them raise it and post it to the webhook."""

    __tablename__ = "surge_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(240))             # entry:<id>, gap:<cluster id>, category:<code>
    region: Mapped[str] = mapped_column(String(200))            # a city (江苏省/南京市), or "*" for everywhere
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column(Float)
    p_value: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(Text)                    # the entry's question, the cluster's (masked) label, the category
    link: Mapped[str] = mapped_column(String(300))              # where an editor acts on it (the console)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    webhook: Mapped[str | None] = mapped_column(String(40))     # sent, failed: …, or NULL when none is configured

    __table_args__ = (UniqueConstraint("topic", "region", "window_end", name="uq_surge_alerts_burst"),
                      Index("ix_surge_alerts_raised_at", "raised_at"))


class DailyReportRow(Base):
    """The nightly 数据日报's run for one Beijing day: inserted once (the runner that inserts it builds it), its
    figures kept when done."""

    __tablename__ = "daily_reports"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runner: Mapped[str] = mapped_column(String(200))
    figures: Mapped[dict | None] = mapped_column(JSONDocument)


# --- the confidence refitted from the hotline's labels (issue 12) ------------------------------------------------
class CalibrationRefitRow(Base):
    """A refit of the answer confidence from the hotline's labels: the labelled questions of its window, taken once
    when it is asked, are learned from by every worker's next index build."""

    __tablename__ = "calibration_refits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    labels_since: Mapped[datetime] = mapped_column(UTCDateTime)
    labels_until: Mapped[datetime] = mapped_column(UTCDateTime)
    asked_by: Mapped[str] = mapped_column(String(200))
    labels: Mapped[int] = mapped_column(Integer)          # how many labels the window held when it was asked
    questions: Mapped[list] = mapped_column(JSONDocument)  # [[text, entry id or null, correct], …] as learned from


class ScheduledRunRow(Base):
    """One run of a job that every worker's timer may start but one should do per slot (storage/runs.py): inserted by
    the worker that runs it. Migration 0016."""

    __tablename__ = "scheduled_runs"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    slot: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    runner: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
