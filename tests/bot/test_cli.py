"""`python -m bot` as an operator runs it: a real process talking HTTP to the emulator."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from emulator import BotApiEmulator
from tests.factories import TOKEN

ROOT = Path(__file__).resolve().parents[2]


def _env(emulator: BotApiEmulator, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": emulator.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        }
    )
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


async def test_community_create_then_the_running_bot_greets_in_each_language(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    env = _env(emulator, tmp_path)
    code, out, err = await _run(
        ["community", "create", "--name", "邢家桥社区", "--building", "1栋"], env, tmp_path
    )
    assert code == 0, err
    link = next(line for line in out.splitlines() if line.startswith("https://"))
    assert link.startswith("https://t.me/notebook_bot?start=")
    assert "it works once, until" in out
    token = link.rsplit("=", 1)[1]

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
        xu = emulator.user(first_name="老许", language_code="zh-hans")
        await xu.send("/start")
        await xu.expect_message(contains="您住在哪个社区", timeout=30)

        anna = emulator.user(first_name="Anna", language_code="en")
        await anna.send("/start")
        await anna.expect_message(contains="Which community do you live in?", timeout=30)

        xie = emulator.user(first_name="谢兰", language_code="zh-CN")
        await xie.send(f"/start {token}")
        await xie.expect_message(contains="您现在的身份是社区书记", timeout=30)
    finally:
        bot.send_signal(signal.SIGTERM)
        _, err_bytes = await asyncio.wait_for(bot.communicate(), timeout=30)
    assert bot.returncode == 0, err_bytes.decode()[-2000:]
    assert "Traceback" not in err_bytes.decode()


async def test_db_upgrade_reports_the_revision(emulator: BotApiEmulator, tmp_path: Path) -> None:
    code, out, err = await _run(["db", "upgrade"], _env(emulator, tmp_path), tmp_path)
    assert code == 0, err
    assert out.startswith("database at revision ")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_mode_with_a_secret_token(emulator: BotApiEmulator, tmp_path: Path) -> None:
    port, health_port = _free_port(), _free_port()
    env = _env(emulator, tmp_path) | {
        "HEALTH_PORT": str(health_port),
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram",
        "WEBHOOK_SECRET_TOKEN": "s3cret-token-of-at-least-32-characters",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_PATH": "telegram",
    }
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
        await anna.send("/start")  # delivered by POST to the bot's webhook, with the secret
        await anna.expect_message(contains="No community uses this notebook yet", timeout=30)
        assert emulator.webhook_url == f"http://127.0.0.1:{port}/telegram"
        # a caller without the secret token is refused
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"http://127.0.0.1:{port}/telegram", json={"update_id": 1}) as response,
        ):
            assert response.status == 403
        # the health endpoint beside the webhook (docs/operations.md, "Health and status")
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{health_port}/healthz") as response,
        ):
            health = await response.json()
        assert response.status == 200 and health["mode"] == "webhook"
        assert health["database"] == "reachable" and health["last_update_at"] is not None
    finally:
        bot.send_signal(signal.SIGTERM)
        _, err_bytes = await asyncio.wait_for(bot.communicate(), timeout=30)
    assert bot.returncode == 0, err_bytes.decode()[-2000:]
