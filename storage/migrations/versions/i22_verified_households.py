"""verified households: a vote belongs to a household the community confirmed

A resident's household is confirmed by a worker or by a single-use household code
(`verified_home`, `household_code`); every logged vote says whether it was verified, the proxy
who gave it and the evidence the worker noted. Votes cast before this from the phone, for a
room anyone could type, are not verified and no longer count; votes a named worker recorded do.

Revision ID: i22_verified_households
Revises: i20_inbox_leases
Create Date: 2026-12-08 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "i22_verified_households"
down_revision: str | None = "i20_inbox_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "household_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("room", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_by_id", sa.Integer(), nullable=True),
        sa.Column("used_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["building_id"], ["building.id"]),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.ForeignKeyConstraint(["used_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    op.create_index(
        "ix_household_code_community_id", "household_code", ["community_id"], unique=False
    )
    op.create_table(
        "verified_home",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("room", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("via", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("verified_by_id", sa.Integer(), nullable=True),
        sa.Column("code_id", sa.Integer(), nullable=True),
        sa.Column("verified_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["building_id"], ["building.id"]),
        sa.ForeignKeyConstraint(["code_id"], ["household_code.id"]),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.ForeignKeyConstraint(["verified_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", "community_id"),
    )
    op.create_index("ix_verified_home_building", "verified_home", ["community_id", "building_id"])
    # Plain ALTER TABLE … ADD COLUMN, never a batch copy: on SQLite a copy drops and recreates
    # consent_household, which the vote log and mediations point to, and SQLite refuses that
    # once there are votes.
    op.add_column(
        "consent_household",
        sa.Column("vote_verified", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "consent_vote_log",
        sa.Column("proxy_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    )
    op.add_column("consent_vote_log", sa.Column("evidence", sa.Text(), nullable=True))
    op.add_column(
        "consent_vote_log",
        sa.Column("verified", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    # a vote a named worker recorded was checked by them; one typed from the phone was not
    op.execute("UPDATE consent_household SET vote_verified = recorded_by_id IS NOT NULL")
    op.execute("UPDATE consent_vote_log SET verified = recorded_by_id IS NOT NULL")
    if op.get_bind().dialect.name != "sqlite":  # SQLite keeps the default (a copy would fail)
        op.alter_column("consent_household", "vote_verified", server_default=None)
        op.alter_column("consent_vote_log", "verified", server_default=None)


def downgrade() -> None:
    # The older code knows no paper or proxy channel: such votes read as door to door.
    op.execute("UPDATE consent_vote_log SET channel = 'visit' WHERE channel IN ('paper', 'proxy')")
    op.execute(
        "UPDATE consent_household SET vote_channel = 'visit' "
        "WHERE vote_channel IN ('paper', 'proxy')"
    )
    # plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch copy of consent_household would
    # drop a table the vote log points to, which SQLite refuses once votes exist
    op.drop_column("consent_vote_log", "verified")
    op.drop_column("consent_vote_log", "evidence")
    op.drop_column("consent_vote_log", "proxy_name")
    op.drop_column("consent_household", "vote_verified")
    op.drop_index("ix_verified_home_building", table_name="verified_home")
    op.drop_table("verified_home")
    op.drop_index("ix_household_code_community_id", table_name="household_code")
    op.drop_table("household_code")
