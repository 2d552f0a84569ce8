"""Jobs that every worker's timer may start but only one should run per slot (the surge alarm's check per 5-minute
bucket): the worker whose insert of (job, slot) succeeds runs it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scheduled_runs",
        sa.Column("job", sa.String(40), primary_key=True),
        sa.Column("slot", MOMENT, primary_key=True),
        sa.Column("runner", sa.String(200), nullable=False),
        sa.Column("started_at", MOMENT, nullable=False),
        sa.Column("finished_at", MOMENT, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("scheduled_runs")
