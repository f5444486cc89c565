"""feeds and open data: secret calendar addresses, and an issue's public summary

`calendar_feed` holds the secret addresses of the iCalendar feeds (a community's, a worker's),
revocable; `issue.public_summary` is the only description Open311 publishes, written by a worker.

Revision ID: i25_feeds_open311
Revises: i22_verified_households
Create Date: 2026-12-08 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "i25_feeds_open311"
down_revision: str | None = "i22_trusted_record"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _begin() -> None:
    """Python's sqlite3 opens the transaction at the first INSERT/UPDATE/DELETE: DDL before one
    would commit on its own, and a later step's failure could not undo it. A write that
    changes nothing opens it first, so the whole run stays one transaction."""
    op.execute("UPDATE alembic_version SET version_num = version_num")


def upgrade() -> None:
    _begin()
    op.create_table(
        "calendar_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_calendar_feed_token", "calendar_feed", ["token"], unique=True)
    with op.batch_alter_table("issue") as batch:
        batch.add_column(
            sa.Column(
                "public_summary", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True
            )
        )
        batch.add_column(
            sa.Column(
                "public_summary_at", storage.types.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    _begin()
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): recreating `issue` would trip over the
    # rows that reference it while SQLite's foreign keys are on.
    with op.batch_alter_table("issue", recreate="never") as batch:
        batch.drop_column("public_summary_at")
        batch.drop_column("public_summary")
    op.drop_index("ix_calendar_feed_token", table_name="calendar_feed")
    op.drop_table("calendar_feed")
