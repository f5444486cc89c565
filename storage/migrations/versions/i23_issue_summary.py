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
down_revision: str | None = "i22_verified_households"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issue") as batch:
        batch.add_column(
            sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("issue") as batch:
        batch.drop_column("summary")
