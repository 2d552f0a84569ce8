"""WeChat pushes' nonces, kept for the window within which a push is accepted, so that every worker refuses a replay.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "wechat_nonces",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("message_key", sa.String(200), nullable=False),
        sa.Column("seen_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_wechat_nonces_seen_at", "wechat_nonces", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_wechat_nonces_seen_at", "wechat_nonces")
    op.drop_table("wechat_nonces")
