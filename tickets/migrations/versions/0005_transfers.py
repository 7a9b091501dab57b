"""Call control: the transfers an agent made, and calls that 110 transferred in (origin)."""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("call_records") as table:
        table.add_column(sa.Column("transfers", sa.JSON, nullable=False, server_default="[]"))
        table.add_column(sa.Column("origin", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as table:
        table.drop_column("origin")
        table.drop_column("transfers")
