"""Answer labels: a seat's word on a handed-off ticket (which entry would have answered it, or none), one per ticket.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "answer_labels",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("ticket_number", sa.String(40), nullable=False, unique=True),
        sa.Column("conversation_id", sa.String(100), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.String(200), nullable=True),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
    )
    op.create_index("ix_answer_labels_at", "answer_labels", ["at"])
    op.create_index("ix_answer_labels_conversation", "answer_labels", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_answer_labels_conversation", "answer_labels")
    op.drop_index("ix_answer_labels_at", "answer_labels")
    op.drop_table("answer_labels")
