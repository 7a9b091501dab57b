"""Callbacks done (漏接回拨): which abandoned calls an agent has called back, when and how it went."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("call_id", sa.String(64), sa.ForeignKey("call_records.call_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("done_ms", sa.BigInteger, nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("note", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("callbacks")
