"""Conversations and their turns, handoff tickets, the category code table, WeChat bookkeeping.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("region", sa.String(200), nullable=True),
        sa.Column("caller", sa.String(200), nullable=True),
        sa.Column("state", JSON_DOCUMENT, nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("ticket_number", sa.String(40), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "conversation_turns",
        sa.Column("conversation_id", sa.String(100), sa.ForeignKey("conversations.id"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("asr_confidence", sa.Float(), nullable=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("entry_id", sa.String(200), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("candidates", JSON_DOCUMENT, nullable=False),
        sa.Column("knowledge_revision", sa.Integer(), nullable=True),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(40), nullable=True, unique=True),
        sa.Column("conversation_id", sa.String(100), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("region", sa.String(200), nullable=True),
        sa.Column("caller", sa.String(200), nullable=True),
        sa.Column("transcript", JSON_DOCUMENT, nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("category_code", sa.String(100), nullable=True),
        sa.Column("category_name", sa.Text(), nullable=True),
        sa.Column("category_score", sa.Float(), nullable=True),
        sa.Column("category_source", sa.String(40), nullable=True),
        sa.Column("request_type", sa.String(16), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("due_at", TIMESTAMP, nullable=False),
        sa.Column("candidates", JSON_DOCUMENT, nullable=False),
        sa.Column("asr_confidence", sa.Float(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("seat", sa.String(200), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("claimed_at", TIMESTAMP, nullable=True),
        sa.Column("replied_at", TIMESTAMP, nullable=True),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
    )
    op.create_index("ix_tickets_queue", "tickets", ["status", "urgency", "due_at"])
    op.create_index("ix_tickets_region", "tickets", ["region"])
    op.create_table(
        "category_codes",
        sa.Column("code", sa.String(100), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("parent", sa.String(100), nullable=True),
        sa.Column("path", JSON_DOCUMENT, nullable=False),
    )
    op.create_table(
        "wechat_inbox",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("openid", sa.String(200), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "wechat_users",
        sa.Column("openid", sa.String(200), primary_key=True),
        sa.Column("last_message_at", TIMESTAMP, nullable=False),
        sa.Column("replies_since", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wechat_users")
    op.drop_table("wechat_inbox")
    op.drop_table("category_codes")
    op.drop_index("ix_tickets_region", table_name="tickets")
    op.drop_index("ix_tickets_queue", table_name="tickets")
    op.drop_table("tickets")
    op.drop_table("conversation_turns")
    op.drop_table("conversations")
