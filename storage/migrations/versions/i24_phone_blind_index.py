"""phone blind index: find a resident by phone in SQL; record looks at a phone outside issues

`person.phone_index` holds an HMAC of the person's phone number (storage/crypto.py), so /log
finds a resident by phone with one indexed equality instead of decrypting every resident's
phone. Existing rows are filled here when the caller handed over the key (the bot's start-up
and `python -m bot db upgrade` do), and otherwise at the bot's next start (`reseal_phones`).
`contact_look` records each time a worker reveals a resident's phone in /log's search.

Revision ID: i24_phone_blind_index
Revises: i22_verified_households
Create Date: 2026-12-08 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types
from storage.crypto import PhoneCipher, is_sealed

revision: str = "i24_phone_blind_index"
down_revision: str | None = "i25_constraint_names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cipher() -> PhoneCipher | None:
    cipher = op.get_context().config.attributes.get("phone_cipher")
    return cipher if isinstance(cipher, PhoneCipher) else None


def _back_fill(cipher: PhoneCipher) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, phone FROM person WHERE phone IS NOT NULL")).all()
    for person_id, value in rows:
        plain = cipher.open(str(value)) if is_sealed(str(value)) else str(value)
        bind.execute(
            sa.text("UPDATE person SET phone_index = :index WHERE id = :id"),
            {"index": cipher.index(plain), "id": person_id},
        )


def _begin() -> None:
    # Python's sqlite3 begins a transaction only at a data statement, and runs DDL before one
    # on its own: a statement that changes nothing first, so a failure leaves nothing half-done.
    op.execute("UPDATE alembic_version SET version_num = version_num")


def upgrade() -> None:
    _begin()
    # Plain ALTER TABLE, not a batch: SQLite would recreate `person`, which every table references.
    op.add_column(
        "person",
        sa.Column("phone_index", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.create_index("ix_person_phone_index", "person", ["phone_index"], unique=False)
    cipher = _cipher()
    if cipher is not None:
        _back_fill(cipher)
    op.create_table(
        "contact_look",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("via", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_contact_look_person_id", "contact_look", ["person_id"], unique=False)


def downgrade() -> None:
    _begin()
    op.drop_index("ix_contact_look_person_id", table_name="contact_look")
    op.drop_table("contact_look")
    op.drop_index("ix_person_phone_index", table_name="person")
    op.drop_column("person", "phone_index")  # SQLite 3.35+ drops a plain column in place
