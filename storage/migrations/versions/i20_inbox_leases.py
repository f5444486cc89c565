"""inbox leases: a pending update is retried while the bot runs, by one instance at a time

Revision ID: i20_inbox_leases
Revises: i9_answers
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "i20_inbox_leases"
down_revision: str | None = "i9_answers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_update") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("owner", sa.String(length=100), nullable=True))
        batch.add_column(
            sa.Column("lease_until", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index("ix_inbox_status_lease", "inbox_update", ["status", "lease_until"])


def downgrade() -> None:
    # The older code knows no leases. This statement also opens the transaction on SQLite
    # (whose driver starts one only for data, not schema, changes), so that a later step of the
    # same downgrade that fails (i10_operations without the key) undoes this one too.
    op.execute("UPDATE inbox_update SET owner = NULL, lease_until = NULL")
    op.drop_index("ix_inbox_status_lease", table_name="inbox_update")
    with op.batch_alter_table("inbox_update") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("owner")
        batch.drop_column("last_error")
        batch.drop_column("attempts")
