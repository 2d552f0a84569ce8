"""Phone calls: how each left Frontdoor (transfer to a seat or an emergency number, or hung up).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "voice_calls",
        sa.Column("session", sa.String(100), primary_key=True),
        sa.Column("protocol", sa.String(20), nullable=False),
        sa.Column("caller", sa.String(200), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("ended_at", TIMESTAMP, nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("transfer_to", sa.String(20), nullable=True),
        sa.Column("ticket_number", sa.String(40), nullable=True),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("audio_seconds", sa.Float(), nullable=False),
    )
    op.create_index("ix_voice_calls_started_at", "voice_calls", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_voice_calls_started_at", "voice_calls")
    op.drop_table("voice_calls")
