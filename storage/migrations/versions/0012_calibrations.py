"""Fitted calibrations shared by every worker (issue 11): a worker loads the retrieval calibration another
already fitted on the same phrasings instead of fitting it again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fitted_calibrations",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_fitted_calibrations_fitted_at", "fitted_calibrations", ["fitted_at"])


def downgrade() -> None:
    op.drop_index("ix_fitted_calibrations_fitted_at", table_name="fitted_calibrations")
    op.drop_table("fitted_calibrations")
