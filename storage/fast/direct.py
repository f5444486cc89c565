"""The hot path past SQLAlchemy's machinery: statements run on SQLite's own connection, and
rows made into the session's objects without the ORM's loading.

Every update runs a few statements that never change shape: who is writing, their conversation
state, the inbox row marked done; a report adds its issue, event and messages. Through the
session each cost SQLAlchemy 100 to 400 µs of Python (an execution context, parameters,
results, ORM loading and flushing, events); SQLite itself answers in 10 to 50 µs. Under load
(bench/load.py) that Python was a third of the bot's CPU.

- `Direct`: a Core statement compiled once for SQLite and run on the sqlite3 connection the
  session's transaction holds (the same connection and transaction SQLAlchemy would use, so it
  commits or rolls back with everything else). Parameters and results go through the column
  types' own processors, so what is stored and read is exactly what the session would store
  and read. On PostgreSQL it runs on the session's connection through SQLAlchemy Core.
- `adopt`: the session's object for a row read that way, made as loading would make it
  (persistent, unchanged), or the one the session already holds.
- `get` (`DirectSession.get`, the notebook's `session.get`) and `insert_new` build on both.

What the session would do around a statement is done here too: a query first flushes what is
pending (autoflush); an UPDATE or DELETE of issues or outbox rows notes that held objects may
be stale (storage/db.py: `note_bulk_change`); adopted objects are kept alive and name their
issue in the logs (both listen for `detached_to_persistent`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar, cast
from weakref import WeakKeyDictionary

from pydantic_core import PydanticUndefined
from sqlalchemy import (
    BindParameter,
    Delete,
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper, configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.fast import sqlite_inline
from storage.fast.notes import dialect_of, note_bulk_change

Processor = Callable[[Any], Any] | None


class _Compiled:
    """The statement's SQL for one dialect, its parameters in order with their processors,
    and its result columns' processors."""

    def __init__(self, statement: Select[Any] | Insert | Update | Delete, dialect: Dialect):
        self.statement = statement
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if compiled.positiontup is None:
            raise ValueError("a Direct statement needs a positional paramstyle (SQLite's)")
        self.sql = compiled.string
        processors = compiled._bind_processors
        # An INSERT binds the columns it does not name to their scalar defaults, which
        # SQLAlchemy would fill in when it executes the statement.
        defaults: dict[str, Any] = {}
        if isinstance(statement, Insert):
            for column in statement.table.columns:
                default = column.default
                if default is not None and getattr(default, "is_scalar", False):
                    defaults[column.key] = getattr(default, "arg", None)
        self.binds: list[tuple[str, Any, Processor]] = []
        for name in compiled.positiontup:
            bind: BindParameter[Any] = compiled.binds[name]
            if bind.expanding:
                raise ValueError("a Direct statement cannot expand IN lists")
            value = bind.value if not bind.required else _REQUIRED
            if value is None and bind.key in defaults:
                value = defaults[bind.key]
            process = processors.get(name)
            if process is not None and not callable(process):
                raise ValueError("a Direct statement cannot bind tuples")
            self.binds.append((bind.key, value, process))
        self.results: list[Processor] = [
            column.type._cached_result_processor(dialect, None)
            for column in statement.exported_columns  # a SELECT's, or what RETURNING returns
        ]

    def parameters(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for key, default, process in self.binds:
            value = params.get(key, default)
            if value is _REQUIRED:
                raise KeyError(f"parameter {key!r} is missing")
            values.append(process(value) if process is not None else value)
        return values

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            process(value) if process is not None else value
            for process, value in zip(self.results, raw, strict=True)
        )


_REQUIRED = object()


Statement = Select[Any] | Insert | Update | Delete


class Direct:
    """A Core statement, compiled once for SQLite and run on its connection directly.

    `statement` is one statement, or one per database (INSERT … ON CONFLICT is spelt apart:
    storage/db.py's INSERTS). An UPDATE or DELETE of issues or outbox rows notes that the
    session's objects may be stale, as the session itself would (storage/db.py:
    `note_bulk_change`); a query first flushes what the session has pending, as the session's
    autoflush would."""

    def __init__(self, statement: Statement | Mapping[str, Statement]) -> None:
        self.statements: Mapping[str, Statement] = (
            statement if isinstance(statement, Mapping) else {}
        )
        self.statement = statement if not isinstance(statement, Mapping) else None
        # per engine's dialect: a type's processors may depend on the engine (the phone cipher)
        self._compiled: WeakKeyDictionary[Dialect, _Compiled] = WeakKeyDictionary()

    def _statement(self, dialect: str) -> Statement:
        statement = self.statements.get(dialect, self.statement)
        if statement is None:
            raise ValueError(f"no statement for {dialect}")
        return statement

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect)
        if compiled is None:
            compiled = self._compiled[dialect] = _Compiled(self._statement(dialect.name), dialect)
        return compiled

    async def execute(self, session: AsyncSession, params: Mapping[str, Any]) -> int:
        """Run an INSERT, UPDATE or DELETE; the number of rows it changed."""
        statement = self._statement(dialect_of(session))
        note_bulk_change(session.sync_session, statement, statement.get_execution_options())
        connection = await _sqlite_connection(session)
        if connection is None:
            result = await (await session.connection()).execute(statement, dict(params))
            return int(result.rowcount)
        compiled = self._for(_dialect(session))
        return await connection.run(compiled.sql, compiled.parameters(params))

    async def rows(self, session: AsyncSession, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run a SELECT, or an INSERT, UPDATE or DELETE … RETURNING; its rows as tuples, values
        converted as the session would."""
        statement = self._statement(dialect_of(session))
        if statement.is_dml:
            note_bulk_change(session.sync_session, statement, statement.get_execution_options())
        elif session.new or session.dirty or session.deleted:
            await session.flush()  # what a query through the session would flush first
        connection = await _sqlite_connection(session)
        if connection is None:
            result = await (await session.connection()).execute(statement, dict(params))
            return [tuple(row) for row in result.all()]
        compiled = self._for(_dialect(session))
        rows = await connection.fetch(compiled.sql, compiled.parameters(params))
        return [compiled.row(raw) for raw in rows]


Model = TypeVar("Model")


class DirectSession(AsyncSession):
    """The notebook's AsyncSession (storage/db.py): `get` by a one-column primary key reads a
    row it does not hold directly and adopts it (`get` below), at a fraction of the ORM's cost;
    a get with options, or by a composite key, goes the ORM's way."""

    async def get(  # type: ignore[override]
        self, entity: type[Model], ident: Any, **options: Any
    ) -> Model | None:
        if options or not isinstance(ident, int):
            found: Model | None = await super().get(entity, ident, **options)
            return found
        return await get(self, entity, ident)


async def get(session: AsyncSession, model: type[Model], ident: int) -> Model | None:
    """`session.get(model, ident)`: the object the session holds (nothing read), else the row
    read directly and adopted, else None."""
    mapper = inspect(model)
    if len(mapper.primary_key) != 1:
        found: Model | None = await AsyncSession.get(session, model, ident)
        return found
    sync = session.sync_session
    held = sync.identity_map.get(mapper.identity_key_from_primary_key((ident,)))
    if held is not None:
        if held in sync.deleted:  # the ORM knows what a deleted object's get returns
            deleted: Model | None = await AsyncSession.get(session, model, ident)
            return deleted
        if not instance_state(held).unloaded:
            return cast(Model, held)
    rows = await _by_primary_key(mapper).rows(session, {"ident": ident})
    return adopt(session, model, rows[0]) if rows else None


@cache
def _by_primary_key(mapper: Mapper[Any]) -> Direct:
    table = mapper.local_table
    (key,) = mapper.primary_key
    return Direct(select(*table.c).where(key == bindparam("ident")))


def adopt(session: AsyncSession, model: type[Model], values: Sequence[Any]) -> Model:
    """The session's object for a row of `model`'s table read directly (`values` in the order
    of the table's columns): the one the session holds already (its changes kept, anything
    expired filled in from `values`), or a new one the session now holds exactly as if it had
    loaded it: persistent, unchanged, kept alive with the rest (storage/db.py). Made this way
    it costs a fraction of the ORM's loading."""
    mapper = inspect(model)
    if not mapper.configured:  # as the ORM does before its first load of a newly mapped class
        configure_mappers()
    names = _attribute_names(mapper)
    sync = session.sync_session
    key = mapper.identity_key_from_primary_key(
        [values[index] for index in _primary_key_indexes(mapper)]
    )
    held = sync.identity_map.get(key)
    if held is not None:
        state = instance_state(held)
        unloaded = state.unloaded
        if unloaded:
            for name, value in zip(names, values, strict=True):
                if name in unloaded:
                    set_committed_value(held, name, value)
        return cast(Model, held)
    instance = mapper.class_manager.new_instance()
    instance_state(instance).dict.update(zip(names, values, strict=True))
    make_transient_to_detached(instance)  # as if loaded: nothing to write
    sync.add(instance)
    return cast(Model, instance)


async def insert_new(session: AsyncSession, model: type[Model], values: Mapping[str, Any]) -> Model:
    """A new row of `model`, inserted directly and adopted (instead of `session.add` and a
    flush, which cost the ORM several hundred microseconds): the model's defaults fill what
    `values` leaves out, as making the object would; the database gives the id."""
    mapper = inspect(model)
    (key,) = mapper.primary_key
    row = _defaults(model) | dict(values)
    row.pop(str(key.key), None)  # the database's to give (Core would insert a None given)
    [(new_id,)] = await _inserting(mapper).rows(session, row)
    row[str(key.key)] = new_id
    return adopt(session, model, [row[name] for name in _attribute_names(mapper)])


def _defaults(model: type[Any]) -> dict[str, Any]:
    fields = model.model_fields
    found: dict[str, Any] = {}
    for name, field in fields.items():
        if field.default_factory is not None:
            found[name] = field.default_factory()
        elif field.default is not PydanticUndefined:
            found[name] = field.default
    return found


@cache
def _inserting(mapper: Mapper[Any]) -> Direct:
    table = mapper.local_table
    assert isinstance(table, Table)
    (key,) = mapper.primary_key
    return Direct(
        insert(table)
        .values({c.name: bindparam(c.name) for c in table.c if c.key != key.key})
        .returning(key)
    )


@cache
def _attribute_names(mapper: Mapper[Any]) -> tuple[str, ...]:
    return tuple(mapper.get_property_by_column(column).key for column in mapper.local_table.c)


@cache
def _primary_key_indexes(mapper: Mapper[Any]) -> tuple[int, ...]:
    keys = [column.key for column in mapper.local_table.c]
    return tuple(keys.index(str(column.key)) for column in mapper.primary_key)


def _dialect(session: AsyncSession) -> Dialect:
    assert session.bind is not None
    return session.bind.dialect


_HELD = "direct_connection"  # session.info: (the transaction, its SQLite connection)


async def _sqlite_connection(session: AsyncSession) -> sqlite_inline.InlineConnection | None:
    """The inline SQLite connection of the session's transaction (begun if need be), or None
    on any other database. Found once per transaction: asking the session costs more than
    most statements here."""
    if session.bind is None or session.bind.dialect.name != "sqlite":
        return None
    sync = session.sync_session
    # the innermost transaction: a savepoint (begin_nested) is begun on the connection only
    # when the session is asked for it, so a new savepoint must go the slow way below once
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    held = sync.info.get(_HELD)
    # the same transaction, not ended: its connection is the one held
    if (
        held is not None
        and transaction is not None
        and held[0] is transaction
        and transaction.is_active
    ):
        driver: sqlite_inline.InlineConnection = held[1]
        return driver
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    found = raw.driver_connection
    if not isinstance(found, sqlite_inline.InlineConnection):
        return None
    sync.info[_HELD] = (sync.get_nested_transaction() or sync.get_transaction(), found)
    return found
