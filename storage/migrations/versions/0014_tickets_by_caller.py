"""Tickets found by their caller: a repeat request (重复诉求) is matched against the caller's recent tickets.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08
"""
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_caller", "tickets", ["caller", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_caller", table_name="tickets")
