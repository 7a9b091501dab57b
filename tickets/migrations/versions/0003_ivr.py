"""IVR: the tenant on each call record, the blacklist, and ticket statuses for self-service lookup."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("call_records") as table:
        table.add_column(sa.Column("tenant", sa.String(32)))
    op.create_table(
        "blacklist",
        sa.Column("number", sa.String(64), primary_key=True),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("added_ms", sa.BigInteger, nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("expires_ms", sa.BigInteger),
    )
    op.create_table(
        "ticket_status",
        sa.Column("ticket", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ticket_status")
    op.drop_table("blacklist")
    with op.batch_alter_table("call_records") as table:
        table.drop_column("tenant")
