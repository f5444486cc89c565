"""What the command line hands out and leaves on disk: the secretary link expires and a new one
revokes the old; the files the bot writes (database, write-ahead log, backups, the phone key)
are private (0600) whatever the umask."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot import cli
from bot.operations import KEY_FILE_NAME, resolve_phone_key
from runtime.settings import load_settings
from storage import migrate
from storage.backup import backup_sqlite, restore_sqlite
from storage.communities import RedeemOutcome, new_secretary_link, redeem_invite
from storage.db import Database
from storage.models import InviteLink, Person, Role
from storage.types import utcnow
from tests.factories import PHONE_KEY, FakeClock, make_community

ROOT = Path(__file__).resolve().parents[2]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the secretary link ------------------------------------------------------------------------


async def _redeem(db: Database, token: str, name: str, now) -> RedeemOutcome:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        person = Person(full_name=name, telegram_user_id=abs(hash(name)) % 10**9)
        session.add(person)
        await session.flush()
        return (await redeem_invite(session, token=token, person=person, now=now)).outcome


async def test_a_secretary_link_expires_and_a_new_one_revokes_the_old(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    ttl = timedelta(hours=72)
    async with db.session() as session:
        first, revoked = await new_secretary_link(
            session, community_id=community.id or 0, now=clock(), ttl=ttl
        )
        assert revoked == 0 and first.expires_at == clock() + ttl and first.max_uses == 1
    late = clock() + ttl + timedelta(seconds=1)
    assert await _redeem(db, first.token, "迟到者", late) is RedeemOutcome.EXPIRED

    async with db.session() as session:
        second, revoked = await new_secretary_link(
            session, community_id=community.id or 0, now=clock(), ttl=ttl
        )
        assert revoked == 1
    async with db.session() as session:
        third, revoked = await new_secretary_link(
            session, community_id=community.id or 0, now=clock(), ttl=ttl
        )
        assert revoked == 1  # only the second was still open
    assert await _redeem(db, second.token, "捡到旧链接的人", clock()) is RedeemOutcome.REVOKED
    assert await _redeem(db, third.token, "谢兰", clock()) is RedeemOutcome.JOINED
    async with db.session() as session:  # a used link is history, not revoked by the next one
        _fourth, revoked = await new_secretary_link(
            session, community_id=community.id or 0, now=clock(), ttl=ttl
        )
        assert revoked == 0
        used = await session.get(InviteLink, third.id)
        assert used is not None and used.revoked_at is None and used.use_count == 1


async def test_the_cli_prints_an_expiring_link_and_issues_a_new_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    settings = load_settings(
        _env_file=None,
        database_url=url,
        telegram_bot_username="nb_bot",
        secretary_link_ttl_hours=24,
    )
    before = utcnow()
    await cli.community_create(settings, "邢家桥社区", ["1栋"])
    out = capsys.readouterr().out
    assert "it works once, until " in out
    assert "python -m bot community secretary-link" in out
    old = next(line for line in out.splitlines() if line.startswith("https://t.me/nb_bot?start="))

    await cli.community_secretary_link(settings, 1)
    out = capsys.readouterr().out
    assert "1 older secretary link(s) no longer work." in out
    new = next(line for line in out.splitlines() if line.startswith("https://t.me/nb_bot?start="))
    assert new != old
    with pytest.raises(cli.CommandRefused, match="there is no community 7"):
        await cli.community_secretary_link(settings, 7)

    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            links = (await session.exec(select(InviteLink).order_by(InviteLink.id))).all()  # type: ignore[arg-type]
    finally:
        await db.dispose()
    assert [(link.role, link.revoked_at is not None) for link in links] == [
        (Role.SECRETARY, True),
        (Role.SECRETARY, False),
    ]
    expires = links[1].expires_at
    assert expires is not None
    assert timedelta(hours=24) <= expires - before <= timedelta(hours=24, minutes=5)


async def test_a_secretary_link_for_a_missing_community_is_one_line_and_exit_1(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    env |= {
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}",
        "TELEGRAM_BOT_USERNAME": "nb_bot",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "community",
        "secretary-link",
        "3",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 1
    assert err.decode().strip().splitlines()[-1] == "community-notebook: there is no community 3"
    assert "Traceback" not in err.decode()


# --- private files ---------------------------------------------------------------------------


@pytest.fixture
def open_umask():  # type: ignore[no-untyped-def]
    """The most careless umask: every file readable and writable by everyone unless the bot
    says otherwise."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("open_umask")
async def test_the_database_its_log_backups_and_key_are_private(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "data" / "notebook.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    db.set_phone_key(PHONE_KEY)
    try:
        await migrate.upgrade(db)
        await make_community(db, clock)
        async with db.session() as session:  # something in the write-ahead log
            session.add(Person(full_name="老许", phone="13812345678"))
        companions = [p for p in path.parent.iterdir() if p.name.startswith("notebook.db-")]
        assert companions  # -wal and -shm, while the engine is open
        for file in [path, *companions]:
            assert _mode(file) == 0o600, file

        copy = backup_sqlite(path, tmp_path / "backups", now=clock()).path
        assert _mode(copy) == 0o600
    finally:
        await db.dispose()

    restored = tmp_path / "restored" / "notebook.db"
    restore_sqlite(
        copy, restored, now=clock(), known_revisions=migrate.known_revisions(), fresh=timedelta(0)
    )
    assert _mode(restored) == 0o600

    settings = load_settings(_env_file=None, database_url=f"sqlite:///{path}")
    resolve_phone_key(settings, create=True)
    assert _mode(path.parent / KEY_FILE_NAME) == 0o600


async def test_a_database_left_readable_by_an_older_version_is_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "notebook.db"
    path.touch()
    path.chmod(0o644)
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()
    assert _mode(path) == 0o600


async def test_the_command_line_writes_private_files_whatever_the_umask(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "PHONE_"))}
    env |= {"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'notebook.db'}"}

    async def run(*args: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=lambda: os.umask(0),
        )
        _out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, err.decode()

    await run("db", "upgrade")
    await run("backup", str(tmp_path / "copy.db"))
    assert _mode(tmp_path / "notebook.db") == 0o600
    assert _mode(tmp_path / "copy.db") == 0o600
