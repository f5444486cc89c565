"""resident side: which bot message speaks of which issue (replies add to that issue)

Revision ID: i3_resident_side
Revises: 0002_inbox
Create Date: 2026-11-28 13:31:27.849362
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "i3_resident_side"
down_revision: str | None = "0002_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "issue_message",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["issue_id"], ["issue.id"]),
        sa.PrimaryKeyConstraint("chat_id", "message_id"),
    )
    with op.batch_alter_table("issue_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issue_message_issue_id"), ["issue_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("issue_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issue_message_issue_id"))
    op.drop_table("issue_message")
