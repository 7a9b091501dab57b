"""Supervisors: the audit log of their actions and forced states, and who force-ended a call."""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False, index=True),
        sa.Column("actor", sa.String(64), nullable=False, index=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("agent", sa.String(64), index=True),
        sa.Column("call_id", sa.String(64), index=True),
        sa.Column("result", sa.String(256), nullable=False),
        sa.Column("detail", sa.String(256), nullable=False, server_default=""),
    )
    with op.batch_alter_table("call_records") as table:
        table.add_column(sa.Column("forced_by", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as table:
        table.drop_column("forced_by")
    op.drop_table("audit_log")
