"""The product's tables (SQLAlchemy 2 declarative). Every change here needs a migration in `migrations/versions`."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
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
