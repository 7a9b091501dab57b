"""Recordings kept like evidence: each archived file with its size, duration and SHA-256."""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("path", sa.String(512), primary_key=True),
        sa.Column("call_id", sa.String(64), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(32)),
        sa.Column("codec", sa.String(16), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("duration_ms", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("archived_ms", sa.BigInteger, nullable=False, index=True),
        sa.Column("problem", sa.String(256)),
        sa.Column("purged_ms", sa.BigInteger),
    )


def downgrade() -> None:
    op.drop_table("recordings")
