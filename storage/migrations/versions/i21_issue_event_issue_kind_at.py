"""an issue's events by kind: one index on (issue_id, kind, at)

A card asks for its issue's latest progress note and reopening (storage/staff.py:
`card_facts`). With an index on `issue_id` alone beside one on (kind, at), SQLite, which keeps
no statistics, chose the latter and read every issue's events of that kind to find one
issue's: seconds per card over a million events, on the event loop's thread. The new index
answers it exactly and serves every lookup by issue as the old one did, which it replaces.

Revision ID: i21_issue_event_issue_kind_at
Revises: i22_verified_households
Create Date: 2026-12-08 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "i21_issue_event_issue_kind_at"
down_revision: str | None = "i23_issue_summary"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_issue_event_issue_kind_at", "issue_event", ["issue_id", "kind", "at"], unique=False
    )
    op.drop_index("ix_issue_event_issue_id", table_name="issue_event")


def downgrade() -> None:
    op.create_index("ix_issue_event_issue_id", "issue_event", ["issue_id"], unique=False)
    op.drop_index("ix_issue_event_issue_kind_at", table_name="issue_event")
