"""/summary N (handlers/staff/public_summary.py): a worker writes what open data shows of an
issue; the resident's words, a phone number, a resident or another community's issue are
refused, and nothing changes then."""

from __future__ import annotations

from emulator import BotApiEmulator
from storage.db import Database
from storage.models import Community, Issue, Person
from tests.factories import FakeClock, bot_errors, make_community, make_issue, running_bot
from tests.staffroom import staffroom

WORDS = "三楼楼道灯坏了三天了，晚上看不见路"


async def _summary(db: Database, issue_id: int) -> str | None:
    async with db.session() as session:
        issue = await session.get(Issue, issue_id)
        assert issue is not None
        return issue.public_summary


async def test_a_worker_writes_the_public_summary_and_residents_cannot(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock, locale="en", names=("Xie", "Wang", "Li", "Xu"))
    other = await make_community(db, clock, name="别的社区")
    async with db.session() as session:
        community = await session.get(Community, room.community.id)
        elsewhere = await session.get(Community, other.id)
        xu = await session.get(Person, room.pid(room.xu))
        assert community is not None and elsewhere is not None and xu is not None
        issue = await make_issue(session, community, xu, clock, WORDS)
        foreign = await make_issue(session, elsewhere, xu, clock, "别处的事")
        assert issue.id is not None and foreign.id is not None
        number, issue_id, foreign_id = issue.number, issue.id, foreign.id
    async with running_bot(emulator, db, clock):
        wang = room.wang
        await wang.send(f"/summary {number}")
        await wang.expect_message(contains=f"No. {number} has no public summary.")
        await wang.send(f"/summary {number} The stairwell light in building 1 <is> being fixed")
        done = await wang.expect_message(contains="Open data shows it")
        assert "<is>" in done.text  # escaped by the bot, shown as typed
        assert await _summary(db, issue_id) == "The stairwell light in building 1 <is> being fixed"

        await wang.send(f"/summary {number} 居民说：{WORDS}")
        await wang.expect_message(contains="the resident's words are never published")
        await wang.send(f"/summary {number} call 138 1234 5678")
        await wang.expect_message(contains="may not contain a phone number")
        assert await _summary(db, issue_id) == "The stairwell light in building 1 <is> being fixed"

        await wang.send("/summary 999 something")
        await wang.expect_message(contains="There is no No. 999")
        await wang.send("/summary")
        await wang.expect_message(contains="Send /summary, the issue's number")

        await room.xu.send(f"/summary {number} nothing to see")
        await room.xu.expect_message(contains="written by the community's staff")
        assert await _summary(db, issue_id) == "The stairwell light in building 1 <is> being fixed"
        assert await _summary(db, foreign_id) is None  # numbers are per community

        await wang.send(f"/summary {number} -")
        await wang.expect_message(contains="has no public summary now")
        assert await _summary(db, issue_id) is None
    assert bot_errors(emulator) == []
