"""The seats' presence on the workbench (在线 / 小休 / 离线) and their turn for assignment (round-robin within a team).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "seat_presence",
        sa.Column("username", sa.String(100), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("changed_at", MOMENT, nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("last_assigned_at", MOMENT, nullable=True),
    )
    op.create_index("ix_seat_presence_turn", "seat_presence", ["state", "last_assigned_at"])


def downgrade() -> None:
    op.drop_index("ix_seat_presence_turn", table_name="seat_presence")
    op.drop_table("seat_presence")
