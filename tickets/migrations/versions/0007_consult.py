"""Call control: the time a caller spent aside while their agent consulted someone, reported apart."""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("call_records") as table:
        table.add_column(sa.Column("consult_ms", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as table:
        table.drop_column("consult_ms")
