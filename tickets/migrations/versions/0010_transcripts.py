"""Transcripts: each recording's dialogue from the ASR workers, and their backlog (rows waiting ``pending`` in
``seq`` order). The record's transcript is read from here; the column the first schema reserved for it goes."""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "transcripts",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("path", sa.String(512), nullable=False, unique=True),
        sa.Column("call_id", sa.String(64), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(8), nullable=False, index=True),
        sa.Column("queued_ms", sa.BigInteger, nullable=False),
        sa.Column("due_ms", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_ms", sa.BigInteger),
        sa.Column("done_ms", sa.BigInteger, index=True),
        sa.Column("error", sa.String(256)),
        sa.Column("dialogue", sa.JSON),
        sa.Column("text", sa.Text),
        sa.Column("flags", sa.JSON),
    )
    with op.batch_alter_table("call_records") as table:
        table.drop_column("transcript")


def downgrade() -> None:
    with op.batch_alter_table("call_records") as table:
        table.add_column(sa.Column("transcript", sa.String))
    op.drop_table("transcripts")
