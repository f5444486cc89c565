"""The README's first command with no token: `python -m bot` starts the sandbox (a real
process, its one line, its page); `python -m bot sandbox` does so even when a token is set."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from sandbox.web import CLIENT_HEADER
from tests.sandbox_support import ID

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "DATABASE_", "SANDBOX_", "WEBHOOK_"))
    }
    return {**env, "PYTHONPATH": str(ROOT), **extra}


async def _start(args: list[str], env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _first_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    if not line:
        _, err = await process.communicate()
        raise AssertionError(f"the sandbox printed nothing: {err.decode()[-2000:]}")
    return line.decode().strip()


async def _stop(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()[-2000:]
    assert "Traceback" not in err.decode()
    return err.decode()


async def _ask_for_help_and_hear_back(http: aiohttp.ClientSession, url: str) -> None:
    """Act as 老许 on the page's API and wait for the bot's answer on the event stream."""
    xu = ID["老许"]
    async with http.get(f"{url}/api/events") as stream:
        async with http.post(
            f"{url}/api/send",
            json={"user_id": xu, "chat_id": xu, "text": "/help"},
            headers={CLIENT_HEADER: "1"},
        ) as sent:
            assert sent.status == 200
        async with asyncio.timeout(30):
            async for raw in stream.content:
                line = raw.decode()
                if line.startswith("data: ") and "您在邢家桥社区的身份是居民" in line:
                    message = json.loads(line.removeprefix("data: "))
                    assert message["from"]["is_bot"] and message["chat_id"] == xu
                    return


async def test_without_a_token_python_m_bot_opens_the_sandbox(tmp_path: Path) -> None:
    process = await _start([], _env(SANDBOX_PORT="0"), tmp_path)
    try:
        line = await _first_line(process)
        assert line.startswith("No TELEGRAM_BOT_TOKEN is set, so this is the sandbox")
        url = next(word for word in line.split() if word.startswith("http://127.0.0.1:"))
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as page:
                assert page.status == 200
                assert "从不连接真正的 Telegram" in await page.text()
            await _ask_for_help_and_hear_back(http, url)
    finally:
        await _stop(process)
    assert (tmp_path / "data" / "sandbox.db").exists()  # its own file, next to nothing real


async def test_the_sandbox_command_ignores_a_configured_token(tmp_path: Path) -> None:
    env = _env(
        TELEGRAM_BOT_TOKEN="123456:would-be-real",
        TELEGRAM_API_BASE_URL="https://api.telegram.org/bot",
    )
    args = ["sandbox", "--port", "0", "--database", str(tmp_path / "try.db")]
    process = await _start(args, env, tmp_path)
    try:
        line = await _first_line(process)
        assert line.startswith("Sandbox (it never talks to Telegram)")
        url = next(word for word in line.split() if word.startswith("http://127.0.0.1:"))
        async with aiohttp.ClientSession() as http:
            await _ask_for_help_and_hear_back(http, url)
    finally:
        await _stop(process)
    assert (tmp_path / "try.db").exists()


async def test_a_busy_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = await _start(["sandbox", "--port", str(port)], _env(), tmp_path)
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = err.decode().strip().splitlines()
    assert process.returncode == 1
    assert lines[-1].startswith(f"community-notebook: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in err.decode()


async def test_the_sandbox_refuses_a_database_file_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "notebook-copy.db"
    precious.write_bytes(b"SQLite format 3\x00 someone's notebook")
    args = ["sandbox", "--port", "0", "--database", str(precious)]
    process = await _start(args, _env(), tmp_path)
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1
    assert err.decode().strip().splitlines()[-1] == (
        f"community-notebook: {precious} was not made by the sandbox, so the sandbox neither "
        "uses nor deletes it; choose another file with --database (or move that one away)"
    )
    assert precious.read_bytes() == b"SQLite format 3\x00 someone's notebook"
