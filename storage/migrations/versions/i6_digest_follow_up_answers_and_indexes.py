"""digest: follow-up answers kept in their own table, indexes for period aggregates

Every answer to a follow-up becomes a `follow_up` row (the three rates are computed from them);
answers already on issues are copied over. Indexes let the digest range over each lifecycle
column of one community, reopenings by time, and a day's events; (community, status) gains
created_at for the notebook page's to-dos carried over from before a day.

Revision ID: i6_digest
Revises: 0003_card_digest
Create Date: 2026-11-28 13:38:49.718051
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "i6_digest"
down_revision: str | None = "0003_card_digest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "follow_up",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("result", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("satisfaction", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["issue_id"], ["issue.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.create_index("ix_follow_up_community_at", ["community_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_follow_up_issue_id"), ["issue_id"], unique=False)

    # Answers recorded before this table existed: the verdict still on a closed issue.
    op.execute(
        "INSERT INTO follow_up (issue_id, community_id, at, result, satisfaction) "
        "SELECT id, community_id, closed_at, followup_result, satisfaction FROM issue "
        "WHERE followup_result IS NOT NULL AND closed_at IS NOT NULL"
    )

    with op.batch_alter_table("issue", schema=None) as batch_op:
        # (community, status) grows a third column: open issues reported before a given day.
        batch_op.drop_index("ix_issue_community_status")
        batch_op.create_index(
            "ix_issue_community_status_created",
            ["community_id", "status", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_issue_community_accepted", ["community_id", "accepted_at"], unique=False
        )
        batch_op.create_index(
            "ix_issue_community_closed", ["community_id", "closed_at"], unique=False
        )
        batch_op.create_index(
            "ix_issue_community_first_response", ["community_id", "first_response_at"], unique=False
        )
        batch_op.create_index(
            "ix_issue_community_resolved", ["community_id", "resolved_at"], unique=False
        )

    with op.batch_alter_table("issue_event", schema=None) as batch_op:
        batch_op.create_index("ix_issue_event_at", ["at"], unique=False)
        batch_op.create_index("ix_issue_event_kind_at", ["kind", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("issue_event", schema=None) as batch_op:
        batch_op.drop_index("ix_issue_event_kind_at")
        batch_op.drop_index("ix_issue_event_at")

    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_index("ix_issue_community_resolved")
        batch_op.drop_index("ix_issue_community_first_response")
        batch_op.drop_index("ix_issue_community_closed")
        batch_op.drop_index("ix_issue_community_accepted")
        batch_op.drop_index("ix_issue_community_status_created")
        batch_op.create_index(
            "ix_issue_community_status", ["community_id", "status"], unique=False
        )

    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_up_issue_id"))
        batch_op.drop_index("ix_follow_up_community_at")

    op.drop_table("follow_up")
