"""meeting replies and walk-ins: an invitation's 能来 / 不能来, and people signed in at the door

`meeting_participant.reply` / `replied_at` keep the answer to the invitation's buttons;
`household` is what a walk-in signed in by a worker gave as their household (reason
`walk_in`).

Revision ID: i23_meeting_replies_and_walk_ins
Revises: i22_verified_households
Create Date: 2026-12-08 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "i23_meeting_replies_and_walk_ins"
down_revision: str | None = "i25_feeds_open311"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _open_the_transaction() -> None:
    """SQLite's driver begins its transaction at the first data statement, not at DDL: without
    one first, rebuilding the table would run outside the transaction, and a later step's
    failure could not roll it back."""
    op.execute("UPDATE meeting_participant SET reason = reason WHERE 1 = 0")


def upgrade() -> None:
    _open_the_transaction()
    with op.batch_alter_table("meeting_participant") as batch:
        batch.add_column(
            sa.Column("reply", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True)
        )
        batch.add_column(
            sa.Column("replied_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("household", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )


def downgrade() -> None:
    _open_the_transaction()
    with op.batch_alter_table("meeting_participant") as batch:
        batch.drop_column("household")
        batch.drop_column("replied_at")
        batch.drop_column("reply")
