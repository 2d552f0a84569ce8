"""The editors' loop: accounts and their sessions, proposed changes, the audit trail, the unanswered-question
queue; the reason and rejections of each conversation turn.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("conversation_turns") as batch:
        batch.add_column(sa.Column("reason", sa.String(40), nullable=True))
        batch.add_column(sa.Column("rejected", JSON_DOCUMENT, nullable=True))
    op.create_index("ix_conversation_turns_entry", "conversation_turns", ["entry_id"])
    op.create_index("ix_conversation_turns_at", "conversation_turns", ["at"])

    op.create_table(
        "accounts",
        sa.Column("username", sa.String(100), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("region", sa.String(200), nullable=False),
        sa.Column("may_edit_wider", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("password_changed_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "account_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(100), sa.ForeignKey("accounts.username"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=True),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
    )
    op.create_index("ix_account_sessions_username", "account_sessions", ["username"])

    op.create_table(
        "entry_changes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content", JSON_DOCUMENT, nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("submitted_at", TIMESTAMP, nullable=True),
        sa.Column("reviewer", sa.String(100), nullable=True),
        sa.Column("reviewed_at", TIMESTAMP, nullable=True),
        sa.Column("review_note", sa.Text(), nullable=False),
        sa.Column("publish_at", TIMESTAMP, nullable=True),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("batch", sa.String(100), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
    )
    op.create_index("ix_entry_changes_status", "entry_changes", ["status"])
    op.create_index("ix_entry_changes_entry", "entry_changes", ["entry_id"])

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("detail", JSON_DOCUMENT, nullable=False),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_target", "audit_events", ["target"])

    op.create_table(
        "gap_clusters",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("first_at", TIMESTAMP, nullable=False),
        sa.Column("last_at", TIMESTAMP, nullable=False),
        sa.Column("centroid", sa.LargeBinary(), nullable=False),
        sa.Column("model_id", sa.String(200), nullable=False),
        sa.Column("resolved_by", sa.String(100), nullable=True),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("resolution", JSON_DOCUMENT, nullable=True),
    )
    op.create_index("ix_gap_clusters_status", "gap_clusters", ["status", "last_at"])
    op.create_table(
        "gaps",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("session", sa.String(100), nullable=False),
        sa.Column("region", sa.String(200), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("asr_confidence", sa.Float(), nullable=True),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("top_entry_id", sa.String(200), nullable=True),
        sa.Column("cluster_id", sa.Integer(), sa.ForeignKey("gap_clusters.id"), nullable=True),
    )
    op.create_index("ix_gaps_cluster", "gaps", ["cluster_id"])
    op.create_index("ix_gaps_at", "gaps", ["at"])


def downgrade() -> None:
    for index, table in (("ix_gaps_at", "gaps"), ("ix_gaps_cluster", "gaps")):
        op.drop_index(index, table)
    op.drop_table("gaps")
    op.drop_index("ix_gap_clusters_status", "gap_clusters")
    op.drop_table("gap_clusters")
    op.drop_index("ix_audit_events_target", "audit_events")
    op.drop_index("ix_audit_events_at", "audit_events")
    op.drop_table("audit_events")
    op.drop_index("ix_entry_changes_entry", "entry_changes")
    op.drop_index("ix_entry_changes_status", "entry_changes")
    op.drop_table("entry_changes")
    op.drop_index("ix_account_sessions_username", "account_sessions")
    op.drop_table("account_sessions")
    op.drop_table("accounts")
    op.drop_index("ix_conversation_turns_at", "conversation_turns")
    op.drop_index("ix_conversation_turns_entry", "conversation_turns")
    with op.batch_alter_table("conversation_turns") as batch:
        batch.drop_column("rejected")
        batch.drop_column("reason")
