"""Caller blocks: time-limited blocks on a caller or an address that flooded or harassed the front door.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "caller_blocks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("until", TIMESTAMP, nullable=False),
        sa.Column("lifted_at", TIMESTAMP, nullable=True),
        sa.Column("lifted_by", sa.String(100), nullable=True),
    )
    op.create_index("ix_caller_blocks_key", "caller_blocks", ["key"])
    op.create_index("ix_caller_blocks_until", "caller_blocks", ["until"])


def downgrade() -> None:
    op.drop_index("ix_caller_blocks_until", "caller_blocks")
    op.drop_index("ix_caller_blocks_key", "caller_blocks")
    op.drop_table("caller_blocks")
