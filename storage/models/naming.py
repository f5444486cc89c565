"""How constraints are named: every primary key, unique constraint, foreign key and check gets a
name from its table and columns, the same on SQLite and PostgreSQL, so a later migration can
drop or change one by name on both (SQLite's batch mode finds a constraint only by its name).

Set on `SQLModel.metadata` before any table is defined (`storage/models/__init__.py`); Alembic
takes it from there for every migration's `op.create_table` and friends. A check constraint
needs a name of its own (`CheckConstraint(..., name="…")`): SQLAlchemy refuses an unnamed one.
The migration `i25_constraint_names` gave the constraints made before this their names.
"""

from __future__ import annotations

from sqlmodel import SQLModel

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",  # SQLAlchemy's own default, which every index already has
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLModel.metadata.naming_convention = NAMING_CONVENTION
