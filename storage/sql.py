"""Portable SQL pieces for aggregates that SQLite and PostgreSQL spell differently.

`seconds_between(later, earlier)` is a duration in seconds (SQLite: julianday arithmetic;
PostgreSQL: extract(epoch …)). `median` finds the middle value with ORDER BY … LIMIT/OFFSET, so
only one or two rows ever reach Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Executable, Float, Select, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel.ext.asyncio.session import AsyncSession


class seconds_between(FunctionElement[float]):  # named like the SQL function it stands for
    """`later - earlier` in seconds, as a float."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True

    def __init__(self, later: Any, earlier: Any) -> None:
        super().__init__(later, earlier)


def _operands(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    later, earlier = list(element.clauses)
    return compiler.process(later, **kw), compiler.process(earlier, **kw)


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _operands(element, compiler, **kw)
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _operands(element, compiler, **kw)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


async def fetch_rows(session: AsyncSession, statement: Executable) -> Sequence[Any]:
    """Rows of a Core statement with any number of columns (sqlmodel's `exec` is typed for a
    few columns only; at run time it runs Core statements as they are)."""
    result = await session.exec(statement)  # type: ignore[call-overload]
    return list(result.all())


async def fetch_one(session: AsyncSession, statement: Executable) -> Any:
    result = await session.exec(statement)  # type: ignore[call-overload]
    return result.one()


async def fetch_value(session: AsyncSession, statement: Executable) -> Any:
    return (await fetch_one(session, statement))[0]


async def median(session: AsyncSession, values: Select[Any]) -> float | None:
    """The median of the single column `values` selects (None when it selects no rows):
    count, then read the middle row (or the two middle rows) in SQL order."""
    rows = values.subquery()
    column = rows.c[0]
    count = int(await fetch_value(session, select(func.count()).select_from(rows)))
    if not count:
        return None
    middle = select(column).order_by(column).offset((count - 1) // 2).limit(2 - count % 2)
    found = [float(row[0]) for row in await fetch_rows(session, middle)]
    return sum(found) / len(found)
