"""the inbox remembers that a failed try answered the update's button press

A try that fails (the database locked or down, a handler's bug) still answers the press, so
that its button stops spinning; the try that later succeeds must not answer it again, since
Telegram takes one answer per press. `press_answered` says so, for whichever instance retries.

Revision ID: i21_inbox_press_answered
Revises: i21_issue_event_issue_kind_at
Create Date: 2026-12-08 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i21_inbox_press_answered"
down_revision: str | None = "i21_issue_event_issue_kind_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_update", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("press_answered", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    # A statement on data opens the transaction on SQLite (whose driver starts one only for
    # data, not schema, changes), so that a later step of the same downgrade that fails
    # (i10_operations without the key) undoes this one too.
    op.execute("UPDATE inbox_update SET press_answered = FALSE WHERE press_answered")
    with op.batch_alter_table("inbox_update", schema=None) as batch_op:
        batch_op.drop_column("press_answered")
