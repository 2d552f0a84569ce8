"""The manager's view (issue 15): the surge alarm's alerts and the nightly 数据日报's runs.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(JSONB(), "postgresql")
MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "surge_alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(240), nullable=False),
        sa.Column("region", sa.String(200), nullable=False),
        sa.Column("window_start", MOMENT, nullable=False),
        sa.Column("window_end", MOMENT, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("link", sa.String(300), nullable=False),
        sa.Column("raised_at", MOMENT, nullable=False),
        sa.Column("webhook", sa.String(40), nullable=True),
        sa.UniqueConstraint("topic", "region", "window_end", name="uq_surge_alerts_burst"),
    )
    op.create_index("ix_surge_alerts_raised_at", "surge_alerts", ["raised_at"])
    op.create_table(
        "daily_reports",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("started_at", MOMENT, nullable=False),
        sa.Column("finished_at", MOMENT, nullable=True),
        sa.Column("runner", sa.String(200), nullable=False),
        sa.Column("figures", JSON_DOCUMENT, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("daily_reports")
    op.drop_index("ix_surge_alerts_raised_at", table_name="surge_alerts")
    op.drop_table("surge_alerts")
