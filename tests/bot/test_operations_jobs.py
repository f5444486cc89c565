"""The periodic operations jobs are thin wrappers around plain functions: retention (closed
issues' personal data, sent outbox rows), the daily backup (SQLite only), and this instance's
presence."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from bot import operations
from emulator import BotApiEmulator
from storage import health, outbox
from storage import issues as rules
from storage.categories import TimeLimits
from storage.db import Database
from storage.followups import follow_up
from storage.models import FollowUpResult, Heartbeat, Issue, Outbox, Role, Satisfaction
from tests.factories import FakeClock, make_community, make_member, running_bot


async def test_retention_backup_and_presence_jobs(
    emulator: BotApiEmulator, db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        xu = await make_member(session, community, name="老许")
        wang = await make_member(session, community, Role.WORKER, name="王网格")
        issue = await rules.create_issue(
            session,
            community_id=community.id,
            reporter_id=xu.id,
            category="noise",
            description="老许说楼上太吵",
            now=clock(),
            limits=TimeLimits(),
        )
        await rules.claim(session, issue, actor_id=wang.id, now=clock())
        await rules.resolve(session, issue, note="已协调", actor_id=wang.id, now=clock())
        await follow_up(
            session,
            issue,
            result=FollowUpResult.SOLVED,
            satisfaction=Satisfaction.BASIC,
            comment=None,
            actor_id=xu.id,
            now=clock(),
        )
        await outbox.enqueue(  # a message about it, sent today
            session,
            chat_id=7,
            kind="test",
            dedupe_key="sent today",
            due_at=clock(),
            payload={"issue_id": issue.id},
            now=clock(),
        )
        [row] = await outbox.claim_due(session, now=clock())
        await outbox.mark_sent(session, row, now=clock())
    backups = tmp_path / "backups"
    async with running_bot(
        emulator, db, clock, backup_dir=str(backups), backup_keep=2, retention_days=30
    ) as app:
        assert app.job_queue is not None
        names = {job.name for job in app.job_queue.jobs()}
        assert {"presence", "retention", "outbox", "reminders"} <= names
        assert ("checkpoint" in names) is db.is_sqlite  # the write-ahead log, off the loop
        async with db.session() as session:
            beats = (await session.exec(select(Heartbeat))).all()
        assert [b.name for b in beats] == [health.INSTANCE_PREFIX + app.operations.instance]

        assert await operations.run_retention(app) == 0  # closed today: kept
        async with db.session() as session:
            assert len((await session.exec(select(Outbox))).all()) == 1
        clock.advance(days=31)
        assert await operations.run_retention(app) == 1
        async with db.session() as session:
            kept = (await session.exec(select(Issue))).one()
            # OUTBOX_RETENTION_DAYS (30) after it was sent, the outbox forgets the message
            assert (await session.exec(select(Outbox))).all() == []
        assert kept.reporter_id is None and kept.description == "***说楼上太吵"

        if db.is_sqlite:  # a daily copy, and only BACKUP_KEEP of them
            assert "backup" in names
            for _day in range(3):
                path = await operations.run_daily_backup(app)
                assert path is not None and path.exists()
                clock.advance(days=1)
            assert len(list(backups.iterdir())) == 2
        else:  # PostgreSQL: pg_dump's job (docs/operations.md), not the bot's
            assert "backup" not in names
            assert await operations.run_daily_backup(app) is None
        await operations.stop(app)
        async with db.session() as session:  # a clean stop: restore may run now
            assert (await session.exec(select(Heartbeat))).all() == []
