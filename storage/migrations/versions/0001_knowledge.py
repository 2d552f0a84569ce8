"""Knowledge tables: entries, their versions, the servable-revision counter, the embedding cache.

Revision ID: 0001
Revises:
Create Date: 2024-11-24
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Written out here rather than imported: a migration must not change when the models do.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "entries",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("samples", JSON_DOCUMENT, nullable=False),
        sa.Column("chat_answer", sa.Text(), nullable=False),
        sa.Column("voice_answer", sa.Text(), nullable=False),
        sa.Column("category", sa.String(200), nullable=True),
        sa.Column("request_type", sa.String(16), nullable=False),
        sa.Column("region", sa.String(200), nullable=False),
        sa.Column("variant_of", sa.String(200), nullable=True),
        sa.Column("effective_from", TIMESTAMP, nullable=True),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
    )
    op.create_index("ix_entries_status", "entries", ["status"])

    op.create_table(
        "entry_versions",
        sa.Column("entry_id", sa.String(200), sa.ForeignKey("entries.id"), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("snapshot", JSON_DOCUMENT, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )

    kb_revision = op.create_table(
        "kb_revision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("changed_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint("id = 1", name="ck_kb_revision_single_row"),
    )
    op.bulk_insert(kb_revision, [{"id": 1, "revision": 0, "changed_at": None}])

    op.create_table(
        "embedding_cache",
        sa.Column("model_id", sa.String(200), primary_key=True),
        sa.Column("text_hash", sa.String(64), primary_key=True),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("embedding_cache")
    op.drop_table("kb_revision")
    op.drop_table("entry_versions")
    op.drop_index("ix_entries_status", table_name="entries")
    op.drop_table("entries")
