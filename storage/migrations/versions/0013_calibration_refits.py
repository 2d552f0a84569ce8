"""Refits of the answer confidence from the hotline's labels (issue 12).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

TIMESTAMP = sa.DateTime(timezone=True)

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calibration_refits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("labels_since", TIMESTAMP, nullable=False),
        sa.Column("labels_until", TIMESTAMP, nullable=False),
        sa.Column("asked_by", sa.String(200), nullable=False),
        sa.Column("labels", sa.Integer, nullable=False),
        sa.Column("questions", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("calibration_refits")
