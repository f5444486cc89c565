"""`python -m bot backup | restore | status | db downgrade | keygen` as an operator runs them:
real processes, one-line refusals, exit status 2 for bad settings."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from sqlmodel import select

from bot import cli
from emulator import BotApiEmulator
from runtime.settings import SettingsError, load_settings
from storage import health, migrate
from storage import issues as rules
from storage.categories import TimeLimits
from storage.db import Database
from storage.models import InboxUpdate, Issue
from storage.types import utcnow
from tests.factories import PHONE_KEY, TOKEN, FakeClock, make_community, make_member

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "DATABASE_", "PHONE_", "BACKUP_", "LOG_", "HEALTH_"))
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'notebook.db'}",
            "PHONE_ENCRYPTION_KEY": PHONE_KEY,
        }
    )
    env.update(extra)
    return env


async def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


async def _seed(tmp_path: Path, clock: FakeClock) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'notebook.db'}")
    db.set_phone_key(PHONE_KEY)
    await migrate.upgrade(db)
    community = await make_community(db, clock)
    async with db.session() as session:
        xu = await make_member(session, community, name="老许")
        xu.phone = "13812345678"
        for n in range(2):
            await rules.create_issue(
                session,
                community_id=community.id,
                reporter_id=xu.id,
                category="noise",
                description=f"问题{n}",
                now=clock(),
                limits=TimeLimits(),
            )
    return db


async def test_backup_then_restore_from_the_command_line(tmp_path: Path, clock: FakeClock) -> None:
    db = await _seed(tmp_path, clock)
    env = _env(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir()
    code, out, err = await _run(["backup", str(backups)], env, tmp_path)
    assert code == 0, err
    assert out.startswith(f"backup written: {backups}/notebook-") and "2 issues" in out
    copy = next(backups.iterdir())
    with sqlite3.connect(copy) as conn:  # the copy reveals no phone number
        raw = conn.execute("SELECT phone FROM person").fetchone()[0]
    assert raw.startswith("enc1:") and "13812345678" not in raw

    async with db.session() as session:  # after the backup, an issue is spoiled by mistake
        spoiled = (await session.exec(select(Issue).where(Issue.number == 2))).one()
        spoiled.description = "弄错了"
        await health.beat(session, health.INSTANCE_PREFIX + "bot-host:1:a", now=utcnow())
    await db.dispose()
    code, out, err = await _run(["restore", str(copy)], env, tmp_path)
    assert code == 1 and out == ""
    assert err.strip() == (
        "community-notebook: the bot is running (bot-host:1:a); stop every instance first, "
        "then restore"
    )
    async with db.session() as session:  # the instance stopped cleanly
        await health.forget_beat(session, health.INSTANCE_PREFIX + "bot-host:1:a")
    await db.dispose()
    code, out, err = await _run(["restore", str(copy)], env, tmp_path)
    assert code == 0, err
    assert out.startswith("restored: ") and "2 issues" in out
    assert "the database it replaced is kept at" in out
    async with db.session() as session:
        issues = (await session.exec(select(Issue))).all()
    await db.dispose()
    assert sorted((i.number, i.description) for i in issues) == [(1, "问题0"), (2, "问题1")]

    code, _out, err = await _run(["restore", str(tmp_path / "nothing.db")], env, tmp_path)
    assert code == 1 and err.strip().endswith("nothing.db: no such file")


async def test_postgresql_backup_says_use_pg_dump(tmp_path: Path) -> None:
    env = _env(tmp_path, DATABASE_URL="postgresql://notebook:hunter2@db.example:5432/notebook")
    code, out, err = await _run(["backup", "notebook.dump"], env, tmp_path)
    assert code == 1 and out == ""
    line = err.strip()
    assert "\n" not in line and "hunter2" not in line
    assert line.startswith("community-notebook: PostgreSQL is backed up with pg_dump")
    assert "pg_dump --format=custom --file=notebook.dump 'postgresql://notebook@db.example" in line
    code, _out, err = await _run(["restore", "notebook.dump"], env, tmp_path)
    assert code == 1 and "pg_restore" in err


async def test_status_prints_the_health_report(
    tmp_path: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _seed(tmp_path, clock)
    async with db.session() as session:
        await health.beat(session, health.LAST_UPDATE, now=utcnow())
        await health.beat(
            session, health.INSTANCE_PREFIX + "bot-host:7:b", now=utcnow(), mode="webhook"
        )
    await db.dispose()
    code, out, err = await _run(["status"], _env(tmp_path), tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "status: ok"
    [head] = migrate.head_revisions()
    assert lines[1] == f"database: reachable, revision {head}"
    assert lines[2].startswith("last update processed: ") and " s ago)" in lines[2]
    assert lines[3] == "outbox: 0 waiting; 0 failed in the last 24 h"
    assert lines[4].startswith("instance: bot-host:7:b (webhook), seen ")
    json_settings = load_settings(_env_file=None, database_url=_env(tmp_path)["DATABASE_URL"])
    assert await cli.status(json_settings, as_json=True) == 0
    assert '"database": "reachable"' in capsys.readouterr().out

    unreachable = load_settings(_env_file=None, database_url="postgresql://nobody@127.0.0.1:1/none")
    assert await cli.status(unreachable, as_json=False) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "status: degraded",
        "degraded: database: unreachable (ConnectionRefusedError)",
        "database: unreachable (ConnectionRefusedError)",
    ]


async def test_status_exits_1_with_a_line_per_reason_when_degraded(
    tmp_path: Path, clock: FakeClock
) -> None:
    """As a monitor runs it (the real clock: a separate process reads the database)."""
    db = await _seed(tmp_path, clock)
    now = utcnow()
    async with db.session() as session:
        session.add(
            InboxUpdate(
                update_id=1, payload={"update_id": 1}, received_at=now - timedelta(minutes=5)
            )
        )
    await db.dispose()
    code, out, err = await _run(["status"], _env(tmp_path), tmp_path)
    assert code == 1, err
    lines = out.splitlines()
    assert lines[:3] == [
        "status: degraded",
        "degraded: updates: no bot instance has been seen for 90 s: is the bot running?",
        "degraded: inbox: 1 update waiting for more than a minute (oldest 5 min)",
    ]
    assert "instances: none running" in lines


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("phone_encryption_key", "not-a-key", "PHONE_ENCRYPTION_KEY: not a Fernet key"),
        ("backup_time", "25h", "BACKUP_TIME: expected HH:MM"),
        ("log_format", "xml", "LOG_FORMAT:"),
        ("health_port", "70000", "HEALTH_PORT:"),
        ("retention_days", "0", "RETENTION_DAYS:"),
        ("backup_keep", "0", "BACKUP_KEEP:"),
    ],
)
def test_a_bad_operations_setting_names_its_variable(name: str, value: str, line: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None, **{name: value})
    assert str(err.value).startswith(line) and "\n" not in str(err.value)


async def test_a_bad_setting_exits_2_with_one_line(tmp_path: Path) -> None:
    code, _out, err = await _run(["status"], _env(tmp_path, BACKUP_TIME="25h"), tmp_path)
    assert code == 2
    assert err.strip() == "community-notebook: BACKUP_TIME: expected HH:MM, got '25h'"


async def test_postgresql_without_a_phone_key_refuses_to_start(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        DATABASE_URL="postgresql://notebook@127.0.0.1:1/notebook",
        TELEGRAM_BOT_TOKEN=TOKEN,
        PHONE_ENCRYPTION_KEY="",
    )
    code, _out, err = await _run([], env, tmp_path)
    assert code == 2
    assert err.strip() == (
        "community-notebook: PHONE_ENCRYPTION_KEY is not set: with PostgreSQL every instance "
        "needs the same key (make one with `python -m bot keygen`)"
    )


async def test_a_wrong_phone_key_stops_the_bot_with_one_line(
    emulator: BotApiEmulator, tmp_path: Path, clock: FakeClock
) -> None:
    db = await _seed(tmp_path, clock)
    await db.dispose()
    wrong = Fernet.generate_key().decode()
    env = _env(
        tmp_path,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=emulator.base_url,
        PHONE_ENCRYPTION_KEY=wrong,
    )
    code, _out, err = await _run([], env, tmp_path)
    assert code == 2, err[-2000:]
    assert err.strip().splitlines()[-1] == (
        "community-notebook: PHONE_ENCRYPTION_KEY does not decrypt the stored phone numbers "
        "(wrong key?)"
    )
    assert "Traceback" not in err


async def test_without_a_key_sqlite_generates_one_beside_the_database(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    env = _env(
        tmp_path,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=emulator.base_url,
        PHONE_ENCRYPTION_KEY="",
    )
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        anna = emulator.user(first_name="Anna", language_code="en")
        await anna.send("/start")
        await anna.expect_message(contains="No community uses this notebook yet", timeout=30)
    finally:
        bot.send_signal(signal.SIGTERM)
        _, err_bytes = await asyncio.wait_for(bot.communicate(), timeout=30)
    assert bot.returncode == 0, err_bytes.decode()[-2000:]
    key_file = tmp_path / "data" / "phone-encryption.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    Fernet(key_file.read_text().strip().encode())  # a usable key
    assert "generated" in err_bytes.decode() and "Back it up apart from the database" in (
        err_bytes.decode()
    )
    code, out, _err = await _run(["keygen"], env, tmp_path)
    assert code == 0 and Fernet(out.strip().encode())


async def test_db_downgrade_rolls_back_and_says_where_it_stands(
    tmp_path: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _seed(tmp_path, clock)
    await db.dispose()
    settings = load_settings(
        _env_file=None, database_url=_env(tmp_path)["DATABASE_URL"], phone_encryption_key=PHONE_KEY
    )
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    head = scripts.get_revision(scripts.get_current_head())
    await cli.db_downgrade(settings, "-1")
    assert capsys.readouterr().out == f"database at revision {head.down_revision}\n"
    await cli.db_upgrade(settings)
    assert capsys.readouterr().out == f"database at revision {head.revision}\n"
    keyless = load_settings(_env_file=None, database_url=_env(tmp_path)["DATABASE_URL"])
    with pytest.raises(cli.CommandRefused, match="set PHONE_ENCRYPTION_KEY"):
        await cli.db_downgrade(keyless, "base")
