"""answers owed: the Bot API calls an update makes after its commit, until they went out

Revision ID: i9_answers
Revises: i10_operations
Create Date: 2026-11-29 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i9_answers"
down_revision: str | None = "i10_operations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("inbox_update", sa.Column("answers", sa.JSON(), nullable=True))
    op.create_index(
        "ix_inbox_answers_owed",
        "inbox_update",
        ["update_id"],
        sqlite_where=sa.text("answers IS NOT NULL"),
        postgresql_where=sa.text("answers IS NOT NULL"),
    )


def downgrade() -> None:
    # The older code does not send owed answers. This statement also opens the transaction on
    # SQLite (whose driver starts one only for data, not schema, changes), so that a later step
    # of the same downgrade that fails (i10_operations without the key) undoes this one too.
    op.execute("UPDATE inbox_update SET answers = NULL")
    op.drop_index("ix_inbox_answers_owed", table_name="inbox_update")
    op.drop_column("inbox_update", "answers")
