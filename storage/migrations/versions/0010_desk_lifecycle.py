"""The desk's lifecycle (issue 14): a ticket carried 受理 → 转办 → 督办 → 回访 → 办结 → 归档 with an event timeline,
the department directory, seat teams and 多援一 support activations in batches.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(JSONB(), "postgresql")
MOMENT = sa.DateTime(timezone=True)

TICKET_COLUMNS = (
    ("seat_city", sa.String(200)), ("department", sa.String(100)), ("department_handler", sa.String(200)),
    ("department_reply", sa.Text()), ("dispatched_at", MOMENT), ("department_replied_at", MOMENT),
    ("close_due_at", MOMENT), ("callback_due_at", MOMENT), ("callback_result", sa.String(32)), ("callback_at", MOMENT),
    ("archived_at", MOMENT), ("escalation", sa.String(32)), ("escalated_at", MOMENT), ("parent_number", sa.String(40)),
)


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        for name, type_ in TICKET_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
        batch.add_column(sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("urge_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("urgency_rank", sa.Integer(), nullable=False, server_default="2"))
    op.execute("UPDATE tickets SET urgency_rank = CASE urgency WHEN '紧急' THEN 0 WHEN '次紧急' THEN 1 WHEN '一般' THEN 2 ELSE 3 END")
    op.create_index("ix_tickets_seat", "tickets", ["seat", "status"])
    op.create_index("ix_tickets_department", "tickets", ["department", "status"])
    op.create_index("ix_tickets_next", "tickets", ["status", "urgency_rank", "due_at", "id"])
    op.create_index("ix_tickets_parent", "tickets", ["parent_number"])

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_number", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_city", sa.String(200), nullable=True),
        sa.Column("at", MOMENT, nullable=False),
        sa.Column("detail", JSON_DOCUMENT, nullable=False),
    )
    op.create_index("ix_ticket_events_ticket", "ticket_events", ["ticket_number", "id"])
    op.create_index("ix_ticket_events_kind_at", "ticket_events", ["kind", "at"])

    op.create_table(
        "departments",
        sa.Column("code", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("region", sa.String(200), nullable=False),
        sa.Column("account", sa.String(100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "seat_teams",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("city", sa.String(200), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
    )
    op.create_table(
        "seat_team_members",
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("seat_teams.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("username", sa.String(100), primary_key=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
    )
    op.create_table(
        "support_activations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("city", sa.String(200), nullable=False),
        sa.Column("categories", JSON_DOCUMENT, nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("starts_at", MOMENT, nullable=False),
        sa.Column("ends_at", MOMENT, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.String(100), nullable=False),
        sa.Column("opened_at", MOMENT, nullable=False),
        sa.Column("closed_by", sa.String(100), nullable=True),
        sa.Column("closed_at", MOMENT, nullable=True),
    )
    op.create_table(
        "support_batches",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("activation_id", sa.Integer(), sa.ForeignKey("support_activations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("added_by", sa.String(100), nullable=False),
        sa.Column("added_at", MOMENT, nullable=False),
        sa.Column("released_by", sa.String(100), nullable=True),
        sa.Column("released_at", MOMENT, nullable=True),
    )
    op.create_table(
        "support_batch_teams",
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("support_batches.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("seat_teams.id", ondelete="CASCADE"), primary_key=True),
    )


def downgrade() -> None:
    for table in ("support_batch_teams", "support_batches", "support_activations", "seat_team_members", "seat_teams",
                  "departments", "ticket_events"):
        op.drop_table(table)
    op.drop_index("ix_tickets_parent", "tickets")
    op.drop_index("ix_tickets_next", "tickets")
    op.drop_index("ix_tickets_department", "tickets")
    op.drop_index("ix_tickets_seat", "tickets")
    with op.batch_alter_table("tickets") as batch:
        for name in [name for name, _ in TICKET_COLUMNS] + ["escalation_level", "urge_count", "urgency_rank"]:
            batch.drop_column(name)
