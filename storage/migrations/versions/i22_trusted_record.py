"""a record to trust: prompts apart from chat state, the transfer's answer date, the plan's
start, and the history of verified households

- `flow_prompt`: the message id of a question the bot asked, written by the after-send hook
  alone, so the hook and the worker's next update never overwrite each other's `chat_state`.
- `issue.transfer_answer_by`: the date the body an issue was transferred to (转办) should answer
  by, no longer kept in `due_at` (the completion date); moved over for transferred issues.
- `issue.planned_at`: when the due date was set (the completion clock's start, from which its
  "due soon" reminder is measured); the last plan event's time for issues planned before.
- `household_event`: every verification of a household and every undoing of one.

Revision ID: i22_trusted_record
Revises: i22_verified_households
Create Date: 2026-12-08 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "i22_trusted_record"
down_revision: str | None = "i24_phone_blind_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flow_prompt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("sending", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("sent_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_flow_prompt_key", "flow_prompt", ["chat_id", "user_id"])
    op.create_table(
        "household_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("room", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("via", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["building_id"], ["building.id"]),
        sa.ForeignKeyConstraint(["by_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_household_event_person", "household_event", ["community_id", "person_id"]
    )
    # the verifications made so far, as the history's first lines
    op.execute(
        "INSERT INTO household_event "
        "(community_id, person_id, kind, building_id, unit_id, room, via, by_id, at) "
        "SELECT community_id, person_id, 'verified', building_id, unit_id, room, via, "
        "verified_by_id, verified_at FROM verified_home"
    )
    op.add_column(
        "issue", sa.Column("planned_at", storage.types.UTCDateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "issue",
        sa.Column("transfer_answer_by", storage.types.UTCDateTime(timezone=True), nullable=True),
    )
    op.execute(
        "UPDATE issue SET transfer_answer_by = due_at, due_at = NULL "
        "WHERE status = 'transferred' AND due_at IS NOT NULL"
    )
    op.execute(
        "UPDATE issue SET planned_at = (SELECT MAX(e.at) FROM issue_event e "
        "WHERE e.issue_id = issue.id AND e.kind = 'planned') WHERE due_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE issue SET due_at = transfer_answer_by "
        "WHERE status = 'transferred' AND transfer_answer_by IS NOT NULL"
    )
    # plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch copy of `issue` would drop the
    # table its events and follow-ups point to
    op.drop_column("issue", "transfer_answer_by")
    op.drop_column("issue", "planned_at")
    op.drop_index("ix_household_event_person", table_name="household_event")
    op.drop_table("household_event")
    op.drop_index("ix_flow_prompt_key", table_name="flow_prompt")
    op.drop_table("flow_prompt")
