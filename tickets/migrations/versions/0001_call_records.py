"""Call records and their offers."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("caller_region", sa.String(128)),
        sa.Column("called_number", sa.String(64), nullable=False),
        sa.Column("switch_entry_ms", sa.BigInteger, nullable=False, index=True),
        sa.Column("ivr_entry_ms", sa.BigInteger),
        sa.Column("ivr_path", sa.JSON, nullable=False),
        sa.Column("queue_entry_ms", sa.BigInteger),
        sa.Column("queue", sa.String(64)),
        sa.Column("original_position", sa.Integer),
        sa.Column("answered_ms", sa.BigInteger),
        sa.Column("agent", sa.String(64)),
        sa.Column("hangup_ms", sa.BigInteger),
        sa.Column("hangup_side", sa.String(16)),
        sa.Column("hangup_cause", sa.String(64)),
        sa.Column("exit_reason", sa.String(32), index=True),
        sa.Column("recording", sa.String(512)),
        sa.Column("transcript", sa.String),
        sa.Column("survey", sa.JSON),
    )
    op.create_table(
        "call_offers",
        sa.Column("call_id", sa.String(64), sa.ForeignKey("call_records.call_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("ring_start_ms", sa.BigInteger, nullable=False),
        sa.Column("ring_end_ms", sa.BigInteger),
        sa.Column("result", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("call_offers")
    op.drop_table("call_records")
