"""Statements every update runs read by index what they need, whatever the size of the history.

SQLite keeps no statistics (nothing runs ANALYZE), so its planner chooses among indexes by
their shape alone; an index that also serves ORDER BY can win over one that finds exactly the
rows asked for, and then a statement about one issue walks every issue's rows. These tests read
SQLite's plan for such statements; PostgreSQL plans by its statistics.
"""

from __future__ import annotations

import os
import sqlite3

import pytest
from sqlalchemy.dialects import sqlite

from storage.db import Database
from storage.staff import _CARD_COUNTS

pytestmark = pytest.mark.skipif(
    os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"), reason="SQLite's planner"
)


def plan(db: Database, sql: str, parameters: int) -> list[str]:
    assert db.sqlite_path is not None
    connection = sqlite3.connect(db.sqlite_path)
    try:
        rows = connection.execute(f"EXPLAIN QUERY PLAN {sql}", [1] * parameters).fetchall()
    finally:
        connection.close()
    return [str(row[-1]) for row in rows]


async def test_a_card_reads_only_its_own_issues_events_and_attachments(db: Database) -> None:
    """A card's photos, media and latest progress note and reopening (storage/staff.py:
    `card_facts`, run for every card posted or refreshed): each found through its issue."""
    statement = _CARD_COUNTS.statement
    assert statement is not None
    compiled = statement.compile(dialect=sqlite.dialect())
    steps = plan(db, str(compiled), len(compiled.positiontup or ()))
    reads = [s for s in steps if s.startswith(("SEARCH", "SCAN")) and "CONSTANT ROW" not in s]
    assert reads, steps
    assert all(s.startswith("SEARCH") for s in reads), steps  # no table walked
    events = [s for s in reads if " issue_event " in s]
    assert len(events) == 2, steps
    assert all("(issue_id=? AND kind=?)" in s for s in events), steps
    assert all("(issue_id=?)" in s for s in reads if " attachment " in s), steps
