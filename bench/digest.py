"""Digest and export times for a community with 100,000 issues and 1,000,000 events (SQLite),
against the same work for a community of 10,000 issues in the same database (the baseline).

    .venv/bin/python -m bench.digest [--issues 100000] [--events-per-issue 10] [--repeat 5]

Two years of history end on Monday 30 November 2026, the weekly digest's slot. The tables are
filled with plain `executemany` inserts in one transaction (minutes of ORM work otherwise);
everything measured then runs through the bot's own code: `build_digest` + `digest_text`
(the weekly message), the chart, a notebook page, and the CSV, XLSX and PDF exports.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from handlers.secretary.charts import digest_chart
from handlers.secretary.digest import digest_text
from handlers.secretary.documents import notebook_pdf
from handlers.secretary.export import printed_notebook, spreadsheet
from handlers.secretary.notebook_page import View, render_view
from runtime.i18n import I18n
from storage import migrate
from storage.categories import COMMUNITY_CATEGORIES
from storage.db import Database
from storage.digest import DigestPolicy, build_digest
from storage.models import Community
from storage.periods import Period

TZ = ZoneInfo("Asia/Shanghai")
SLOT = datetime(2026, 11, 30, 8, 0, tzinfo=TZ).astimezone(UTC)  # Monday 08:00
SPAN = timedelta(weeks=104)
WORKERS = 30
BUILDINGS = 24
RESIDENTS = 3000
CATEGORIES = list(COMMUNITY_CATEGORIES)


def stamp(moment: datetime) -> str:
    """How SQLAlchemy stores a UTC datetime in SQLite (storage/types.py drops the zone)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class Filler:
    """Writes one community's people, buildings, issues, events and follow-ups."""

    def __init__(self, conn: sqlite3.Connection, rng: random.Random) -> None:
        self.conn = conn
        self.rng = rng
        self.next_person = self._max("person") + 1

    def _max(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0])

    def community(self, name: str, issues: int, events_per_issue: int) -> int:
        now = stamp(SLOT - SPAN)
        cursor = self.conn.execute(
            "INSERT INTO community (name, timezone, default_locale, next_issue_number,"
            " created_at) VALUES (?, 'Asia/Shanghai', 'zh_Hans', ?, ?)",
            (name, issues + 1, now),
        )
        community_id = int(cursor.lastrowid or 0)
        buildings = []
        for n in range(BUILDINGS):
            cursor = self.conn.execute(
                "INSERT INTO building (community_id, name, sort_order) VALUES (?, ?, ?)",
                (community_id, f"{n + 1}栋", n),
            )
            buildings.append(int(cursor.lastrowid or 0))
        workers = self._people(community_id, WORKERS, "worker", "网格员")
        residents = self._people(community_id, RESIDENTS, "resident", "居民")
        self._issues(community_id, issues, events_per_issue, buildings, workers, residents)
        return community_id

    def _people(self, community_id: int, count: int, role: str, name: str) -> list[int]:
        ids = list(range(self.next_person, self.next_person + count))
        self.next_person += count
        created = stamp(SLOT - SPAN)
        self.conn.executemany(
            "INSERT INTO person (id, telegram_user_id, full_name, created_at) VALUES (?, ?, ?, ?)",
            [(pid, 10_000_000 + pid, f"{name}{pid}", created) for pid in ids],
        )
        self.conn.executemany(
            "INSERT INTO membership (person_id, community_id, role, active, created_at)"
            " VALUES (?, ?, ?, 1, ?)",
            [(pid, community_id, role, created) for pid in ids],
        )
        return ids

    def _issues(
        self,
        community_id: int,
        count: int,
        events_per_issue: int,
        buildings: list[int],
        workers: list[int],
        residents: list[int],
    ) -> None:
        rng = self.rng
        first_issue = self._max("issue") + 1
        issues: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        follow_ups: list[tuple[Any, ...]] = []
        span_seconds = SPAN.total_seconds()
        for number in range(1, count + 1):
            issue_id = first_issue + number - 1
            created = SLOT - timedelta(seconds=rng.random() * span_seconds)
            age = SLOT - created
            hours = rng.choice((24, 168, 168, 168, 360))
            respond_by = created + timedelta(hours=hours)
            accepted = created + timedelta(hours=rng.uniform(0.2, 30))
            owner = rng.choice(workers)
            due = accepted + timedelta(days=rng.uniform(1, 10))
            resolved = closed = None
            satisfaction = result = None
            roll = rng.random()
            if age > timedelta(days=14) and roll < 0.9:
                resolved = accepted + timedelta(hours=rng.uniform(2, 240))
                closed = resolved + timedelta(days=rng.uniform(1, 4))
                status = "closed"
                result = rng.choices(("solved", "partly", "not_solved"), (8, 1, 1))[0]
                satisfaction = rng.choices(("satisfied", "basic", "dissatisfied"), (6, 3, 1))[0]
                if result == "not_solved":
                    result, satisfaction = "solved", "basic"  # answered again after 重办
            elif roll < 0.93:
                status = "withdrawn"
                closed = created + timedelta(hours=rng.uniform(1, 48))
            else:
                status = rng.choice(("new", "accepted", "assigned", "in_progress"))
            open_now = status in ("new", "accepted", "assigned", "in_progress")
            end = min(closed or SLOT, SLOT)
            issues.append(
                (
                    issue_id,
                    community_id,
                    number,
                    rng.choice(residents),
                    "telegram",
                    rng.choice(CATEGORIES),
                    "楼道灯坏了，麻烦看看" * rng.randint(1, 4),
                    rng.choice(buildings),
                    "normal",
                    status,
                    hours,
                    stamp(respond_by),
                    owner if status != "new" else None,
                    "联系物业处理" if status != "new" else None,
                    stamp(due) if open_now and status != "new" else None,
                    rng.randint(0, 3),
                    1 if result == "solved" and rng.random() < 0.1 else 0,
                    result,
                    satisfaction,
                    stamp(created),
                    stamp(accepted) if status != "new" else None,
                    stamp(accepted) if status != "new" else None,
                    stamp(resolved) if resolved else None,
                    stamp(closed) if closed else None,
                    stamp(end),
                )
            )
            if result:
                follow_ups.append(
                    (issue_id, community_id, stamp(closed or end), result, satisfaction)
                )
            kinds = ["reported", "accepted", "claimed", "planned"]
            kinds += ["progress"] * max(events_per_issue - 6, 0)
            kinds += ["resolved", "followed_up"]
            window = max((end - created).total_seconds(), 60)
            for index, kind in enumerate(kinds):
                at = created + timedelta(seconds=window * index / len(kinds))
                events.append((issue_id, stamp(at), owner, kind, 1, "进展：已联系", "{}"))
        self.conn.executemany(
            "INSERT INTO issue (id, community_id, number, reporter_id, channel, category,"
            " description, building_id, urgency, status, time_limit_hours, respond_by,"
            " owner_id, plan, due_at, support_count, reopened_count, followup_result,"
            " satisfaction, created_at, accepted_at, first_response_at, resolved_at, closed_at,"
            " last_activity_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            issues,
        )
        self.conn.executemany(
            "INSERT INTO issue_event (issue_id, at, actor_id, kind, public, text, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            events,
        )
        self.conn.executemany(
            "INSERT INTO follow_up (issue_id, community_id, at, result, satisfaction)"
            " VALUES (?, ?, ?, ?, ?)",
            follow_ups,
        )


async def timed(work: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, Any]:
    """Median seconds of `repeat` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = await work()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


async def measure(issues: int, events_per_issue: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        db = Database(f"sqlite+aiosqlite:///{path}")
        await migrate.upgrade(db)
        await db.dispose()
        began = time.perf_counter()
        conn = sqlite3.connect(path)
        # A throwaway file: no journal and no fsync while filling (the bot's own connections
        # run with WAL again afterwards, see storage/db.py).
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        filler = Filler(conn, random.Random(6))
        big = filler.community("大社区", issues, events_per_issue)
        small = filler.community("小社区", issues // 10, events_per_issue)
        conn.commit()
        counts = {
            table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("issue", "issue_event", "follow_up")
        }
        conn.close()
        print(
            f"filled in {time.perf_counter() - began:.1f} s: {counts['issue']:,} issues, "
            f"{counts['issue_event']:,} events, {counts['follow_up']:,} follow-up answers"
        )

        db = Database(f"sqlite+aiosqlite:///{path}")
        tr = I18n(default_locale="zh_Hans").translator("zh_Hans", TZ)
        policy = DigestPolicy()
        week = Period.week_before(SLOT, TZ)
        month = Period.month(2026, 11, TZ)

        async def weekly(community_id: int) -> str:
            async with db.session() as session:
                digest = await build_digest(
                    session, community_id=community_id, period=week, now=SLOT, policy=policy
                )
            return digest_text(tr, digest, "社区", weekly=True)

        async def monthly() -> Any:
            async with db.session() as session:
                return await build_digest(
                    session, community_id=big, period=month, now=SLOT, policy=policy
                )

        def report(label: str, seconds: float, runs: int = repeat) -> None:
            print(f"{label:<52}{seconds * 1000:9.1f} ms (median of {runs})")

        await weekly(small)  # warm up: connections, statement cache, the file in the OS cache
        await weekly(big)
        baseline, _ = await timed(lambda: weekly(small), repeat)
        large, text = await timed(lambda: weekly(big), repeat)
        report(f"weekly digest, {issues // 10:,} issues (baseline)", baseline)
        report(f"weekly digest, {issues:,} issues", large)
        print(
            f"ratio: {large / baseline:.2f}x the baseline; the message is {len(text):,} characters"
        )
        month_time, month_digest = await timed(monthly, repeat)
        report(f"monthly digest, {issues:,} issues (figures only)", month_time)

        async def chart() -> bytes:
            return (await asyncio.to_thread(digest_chart, tr, month_digest, "大社区")).png

        chart_time, png = await timed(chart, repeat)
        report(f"the chart ({len(png) / 1024:.0f} KB PNG)", chart_time)

        async def page() -> str:
            async with db.session() as session:
                community = await session.get(Community, big)
                assert community is not None
                text, _markup = await render_view(
                    session, tr, community, View(week.last_day, week=True)
                )
            return text

        page_time, _ = await timed(page, repeat)
        report("/notebook, first page of the last week", page_time)

        async def export(kind: str, period: Period) -> bytes:
            async with db.session() as session:
                community = await session.get(Community, big)
                assert community is not None
                if kind == "pdf":
                    printed = await printed_notebook(session, community, period)
                    return await asyncio.to_thread(notebook_pdf, tr, printed)
                return await spreadsheet(session, tr, community, period, kind)

        runs = max(repeat // 2, 1)
        for kind, period, what in (
            ("csv", month, f"November, {month_digest.new:,} issues"),
            ("xlsx", month, f"November, {month_digest.new:,} issues"),
            ("pdf", week, "the last week, 3,000 entries"),
        ):
            seconds, data = await timed(partial(export, kind, period), runs)
            report(f"export {kind.upper()} ({what}, {len(data) / 1024:,.0f} KB)", seconds, runs)
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--events-per-issue", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.issues, args.events_per_issue, args.repeat))


if __name__ == "__main__":
    main()
