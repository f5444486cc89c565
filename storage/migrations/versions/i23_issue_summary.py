"""issue summary: one line naming a report that has nothing in words

A voice message or photos alone say nothing in the notebook, the exports or the digest; a
worker (from the card) or the resident (by typing) gives such a report a one-line summary,
which is its title from then on.

Revision ID: i23_issue_summary
Revises: i22_verified_households
Create Date: 2026-12-08 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "i23_issue_summary"
down_revision: str | None = "i23_meeting_replies_and_walk_ins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A plain nullable column: added and dropped in place on both databases (SQLite has DROP
# COLUMN since 3.35), without copying the issue table as a batch operation would.


def upgrade() -> None:
    op.add_column(
        "issue", sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
    )


def downgrade() -> None:
    # The summaries go first, as a statement that changes rows: on SQLite it is what opens the
    # downgrade's transaction (Python's sqlite3 leaves a schema change before any such
    # statement outside it), so a later step that fails takes the dropped column back too.
    op.execute("UPDATE issue SET summary = NULL WHERE summary IS NOT NULL")
    op.drop_column("issue", "summary")
