"""Agents' state changes, for the report's login time, not-ready time by reason and occupancy."""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "agent_states",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False, index=True),
        sa.Column("agent", sa.String(64), nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("agent_states")
