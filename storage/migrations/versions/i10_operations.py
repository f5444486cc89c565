"""operations: heartbeats, the secretary's handover, anonymisation marks, encrypted phones

Revision ID: i10_operations
Revises: i7_council
Create Date: 2026-11-28 14:00:00

`person.phone` becomes TEXT holding `enc1:<Fernet token>` (storage/crypto.py). The column is
rebuilt by add / copy / drop / rename rather than ALTER TYPE, so SQLite (3.35+) does it in
place without recreating `person`, which every other table references. Values are encrypted
here when the caller handed over the key, and in any case at the bot's next start; the
downgrade decrypts them again, so it needs the key whenever encrypted phones are stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types
from storage.crypto import PhoneCipher, is_sealed

revision: str = "i10_operations"
down_revision: str | None = "i7_council"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cipher() -> PhoneCipher | None:
    cipher = op.get_context().config.attributes.get("phone_cipher")
    return cipher if isinstance(cipher, PhoneCipher) else None


def _phones() -> list[tuple[int, str]]:
    rows = op.get_bind().execute(sa.text("SELECT id, phone FROM person WHERE phone IS NOT NULL"))
    return [(int(r[0]), str(r[1])) for r in rows]


def _rebuild_phone_column(new_type: sa.types.TypeEngine, convert) -> None:  # type: ignore[no-untyped-def]
    values = _phones()
    op.add_column("person", sa.Column("phone_next", new_type, nullable=True))
    bind = op.get_bind()
    for person_id, value in values:
        bind.execute(
            sa.text("UPDATE person SET phone_next = :value WHERE id = :id"),
            {"value": convert(value), "id": person_id},
        )
    op.drop_column("person", "phone")
    op.execute("ALTER TABLE person RENAME COLUMN phone_next TO phone")


def upgrade() -> None:
    op.create_table(
        "heartbeat",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "role_handover",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("from_person_id", sa.Integer(), nullable=False),
        sa.Column("to_person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("declined_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["from_person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["to_person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_role_handover_community_id"), "role_handover", ["community_id"], unique=False
    )
    op.add_column(
        "person",
        sa.Column("anonymised_at", storage.types.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "issue",
        sa.Column("anonymised_at", storage.types.UTCDateTime(timezone=True), nullable=True),
    )
    cipher = _cipher()

    def seal(value: str) -> str:
        return cipher.seal(value) if cipher is not None and not is_sealed(value) else value

    _rebuild_phone_column(sa.Text(), seal)


def downgrade() -> None:
    cipher = _cipher()
    if cipher is None and any(is_sealed(value) for _, value in _phones()):
        raise RuntimeError(
            "downgrading below i10_operations decrypts the stored phone numbers: "
            "set PHONE_ENCRYPTION_KEY"
        )

    def unseal(value: str) -> str:
        return cipher.open(value) if cipher is not None and is_sealed(value) else value

    _rebuild_phone_column(sqlmodel.sql.sqltypes.AutoString(length=64), unseal)
    op.drop_column("issue", "anonymised_at")
    op.drop_column("person", "anonymised_at")
    op.drop_index(op.f("ix_role_handover_community_id"), table_name="role_handover")
    op.drop_table("role_handover")
    op.drop_table("heartbeat")
