"""constraint names: every primary key, unique constraint and foreign key gets its name

The metadata now names constraints by a convention (storage/models/naming.py): `pk_<table>`,
`uq_<table>_<columns>`, `fk_<table>_<columns>_<referred table>`. Databases made before it have
no names on SQLite and PostgreSQL's own (`<table>_pkey`, `<table>_<columns>_key`,
`<table>_<columns>_fkey`); this gives every one its convention name, so later migrations can drop
or change a constraint by name on both. A database whose earlier migrations already ran under the
convention has the names, and nothing changes.

PostgreSQL renames each constraint in place (ALTER TABLE … RENAME CONSTRAINT). SQLite has no
statement for it, and Alembic's batch mode (make a new table, copy the rows, drop the old one)
fails here: dropping a table that other tables' rows refer to fails while foreign keys are on
(storage/db.py turns them on, and SQLite cannot turn them off inside the migration's
transaction), and renaming it away first makes the other tables refer to the new name. A
constraint's name is only text in the schema, though: it changes nothing stored in the file. So
each table's CREATE TABLE text gets `CONSTRAINT <name>` before each unnamed table constraint, by
SQLite's documented procedure for such changes (`PRAGMA writable_schema`, the schema's version
moved on so every connection reads it again, then an integrity check); nothing else of the table
changes.

Revision ID: i25_constraint_names
Revises: i22_verified_households
Create Date: 2026-12-08 02:00:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i25_constraint_names"
down_revision: str | None = "i22_verified_households"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The convention as it was when this migration was written (storage/models/naming.py may change).
CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
PG_NAME_MAX = 63  # NAMEDATALEN - 1


def _name(kind: str, table: str, columns: list[str], referred: str | None = None) -> str:
    """The convention's name for a constraint, as SQLAlchemy makes it from the metadata."""
    meta = sa.MetaData(naming_convention=CONVENTION)
    owner = sa.Table(table, meta, *(sa.Column(c, sa.Integer) for c in {*columns, "id"}))
    constraint: sa.Constraint
    if kind == "pk":
        constraint = sa.PrimaryKeyConstraint(*columns)
    elif kind == "uq":
        constraint = sa.UniqueConstraint(*columns)
    else:
        assert referred is not None
        if referred != table:
            sa.Table(referred, meta, sa.Column("id", sa.Integer))
        constraint = sa.ForeignKeyConstraint(columns, [f"{referred}.id"] * len(columns))
    owner.append_constraint(constraint)
    name = str(constraint.name)
    assert len(name) <= PG_NAME_MAX, name  # the same name on both databases, never shortened
    return name


def _tables(bind: sa.engine.Connection) -> list[str]:
    return sorted(t for t in sa.inspect(bind).get_table_names() if t != "alembic_version")


# ---- PostgreSQL -------------------------------------------------------------------------------

_PG_CONSTRAINTS = sa.text(
    """
    SELECT c.conname::text AS conname, c.contype::text AS contype, r.relname::text AS referred,
           ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(num, pos)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num
                 ORDER BY k.pos) AS columns
    FROM pg_constraint c
    JOIN pg_class t ON t.oid = c.conrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    LEFT JOIN pg_class r ON r.oid = c.confrelid
    WHERE t.relname = :table AND n.nspname = current_schema() AND c.contype IN ('p', 'u', 'f')
    ORDER BY c.conname
    """
)
_KINDS = {"p": "pk", "u": "uq", "f": "fk"}


def _pg_default_name(table: str, columns: list[str], kind: str) -> str:
    """The name PostgreSQL gives an unnamed constraint (makeObjectName in its source)."""
    label = {"pk": "pkey", "uq": "key", "fk": "fkey"}[kind]
    first, second = table, "" if kind == "pk" else "_".join(columns)
    room = PG_NAME_MAX - len(label) - 1 - (1 if second else 0)
    a, b = len(first), len(second)
    while a + b > room:
        if a > b:
            a -= 1
        else:
            b -= 1
    return "_".join(part for part in (first[:a], second[:b], label) if part)


def _pg_rename(to_convention: bool) -> None:
    bind = op.get_bind()
    for table in _tables(bind):
        for row in bind.execute(_PG_CONSTRAINTS, {"table": table}).mappings():
            kind, columns = _KINDS[row["contype"]], list(row["columns"])
            if to_convention:
                new = _name(kind, table, columns, row["referred"])
            elif row["conname"] == _name(kind, table, columns, row["referred"]):
                new = _pg_default_name(table, columns, kind)
            else:
                continue  # a name this migration did not give
            if new != row["conname"]:
                op.execute(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{row["conname"]}" TO "{new}"')


# ---- SQLite -----------------------------------------------------------------------------------

_IDENT = r'(?:"[^"]+"|\w+)'
_CLAUSE = re.compile(
    rf"^(?P<indent>\s*)(?P<named>CONSTRAINT\s+(?P<name>{_IDENT})\s+)?"
    r"(?P<kind>PRIMARY KEY|UNIQUE|FOREIGN KEY)\s*\((?P<columns>[^)]*)\)"
    rf"(?:\s*REFERENCES\s+(?P<referred>{_IDENT}))?",
    re.IGNORECASE,
)
_SQLITE_KINDS = {"PRIMARY KEY": "pk", "UNIQUE": "uq", "FOREIGN KEY": "fk"}


def _unquote(identifier: str) -> str:
    return identifier.strip().strip('"')


def _renamed_sql(table: str, sql: str, to_convention: bool) -> str:
    """The table's CREATE TABLE text with each table constraint named (or unnamed) as asked."""
    lines = []
    for line in sql.split("\n"):
        match = _CLAUSE.match(line)
        if match is not None:
            kind = _SQLITE_KINDS[match["kind"].upper()]
            columns = [_unquote(c) for c in match["columns"].split(",")]
            referred = _unquote(match["referred"]) if match["referred"] else None
            rest = line[match.start("kind") :]
            if to_convention and not match["named"]:
                line = f"{match['indent']}CONSTRAINT {_name(kind, table, columns, referred)} {rest}"
            elif (
                not to_convention
                and match["named"]
                and _unquote(match["name"]) == _name(kind, table, columns, referred)
            ):
                line = f"{match['indent']}{rest}"  # a name this migration gave
        lines.append(line)
    return "\n".join(lines)


def _sqlite_rename(to_convention: bool) -> None:
    bind = op.get_bind()
    changed = {}
    for table in _tables(bind):
        (sql,) = bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).one()
        new_sql = _renamed_sql(table, sql, to_convention)
        if new_sql != sql:
            changed[table] = new_sql
    if not changed:
        return
    (version,) = bind.exec_driver_sql("PRAGMA schema_version").one()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    try:
        for table, new_sql in changed.items():
            bind.exec_driver_sql(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                (new_sql, table),
            )
        bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema=OFF")
    (check,) = bind.exec_driver_sql("PRAGMA integrity_check").one()
    if check != "ok":
        raise RuntimeError(f"SQLite's integrity check after naming constraints: {check}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _pg_rename(to_convention=True)
    else:
        _sqlite_rename(to_convention=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _pg_rename(to_convention=False)
    else:
        _sqlite_rename(to_convention=False)
