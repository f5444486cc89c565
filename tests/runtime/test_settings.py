"""Settings: typed, validated once, and a bad value is one clear line with exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def _settings(**values: object):
    return load_settings(_env_file=None, **values)


def test_defaults_follow_the_design() -> None:
    s = _settings(telegram_bot_token="123:abc")
    assert s.database_url == "sqlite+aiosqlite:///./data/notebook.db"
    assert s.timezone == "Asia/Shanghai"
    assert s.default_locale == "zh_Hans"
    assert s.telegram_api_base_url == "https://api.telegram.org/bot"
    assert s.file_url == "https://api.telegram.org/file/bot"
    assert s.webhook_url is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sqlite:///data/x.db", "sqlite+aiosqlite:///data/x.db"),
        (
            "postgres://postgres@127.0.0.1:5432/test",
            "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        ),
        ("postgresql://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
    ],
)
def test_database_urls_get_async_drivers(raw: str, expected: str) -> None:
    assert _settings(database_url=raw).database_url == expected


@pytest.mark.parametrize(
    ("values", "line"),
    [
        ({"database_url": "nonsense"}, "DATABASE_URL: not a database URL: 'nonsense'"),
        ({"database_url": "mysql://x/y"}, "DATABASE_URL: unsupported database 'mysql'"),
        ({"timezone": "Mars/Olympus"}, "TIMEZONE: unknown time zone 'Mars/Olympus'"),
        ({"default_locale": "fr"}, "DEFAULT_LOCALE: must be one of zh_Hans, en"),
        ({"telegram_bot_token": "not-a-token"}, "TELEGRAM_BOT_TOKEN: expected the form"),
        ({"webhook_port": "99999"}, "WEBHOOK_PORT:"),
        ({"log_level": "loud"}, "LOG_LEVEL:"),
        ({"webhook_url": "ftp://x"}, "WEBHOOK_URL: must be an https:// URL"),
        ({"webhook_url": "https://x.example/t"}, "WEBHOOK_SECRET_TOKEN is required when"),
        ({"webhook_secret_token": "has space"}, "WEBHOOK_SECRET_TOKEN: use 1-256 letters"),
        ({"webhook_secret_token": "x"}, "WEBHOOK_SECRET_TOKEN: must be at least 32 characters"),
        (
            {"webhook_secret_token": "s" * 31, "webhook_url": "https://x.example/t"},
            "WEBHOOK_SECRET_TOKEN: must be at least 32 characters (it has 31)",
        ),
        ({"secretary_link_ttl_hours": "0"}, "SECRETARY_LINK_TTL_HOURS:"),
    ],
)
def test_a_bad_value_names_its_variable(values: dict[str, str], line: str) -> None:
    with pytest.raises(SettingsError) as err:
        _settings(**values)
    assert str(err.value).startswith(line)
    assert "\n" not in str(err.value)


def test_a_long_enough_webhook_secret_is_taken() -> None:
    secret = "A1_-" * 8
    settings = _settings(webhook_url="https://x.example/t", webhook_secret_token=secret)
    assert settings.webhook_secret_token is not None
    assert settings.webhook_secret_token.get_secret_value() == secret


def test_the_token_is_required_to_run_and_never_printed() -> None:
    s = _settings()
    with pytest.raises(SettingsError, match="TELEGRAM_BOT_TOKEN is not set"):
        s.token()
    s = _settings(telegram_bot_token="123:secret-part")
    assert "secret-part" not in repr(s)


def _run_bot(
    env_overrides: dict[str, str], tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,  # no .env there
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_database_url_exits_2_with_one_line(tmp_path: Path) -> None:
    result = _run_bot({"DATABASE_URL": "nonsense", "TELEGRAM_BOT_TOKEN": "1:a"}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DATABASE_URL" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [("run",), ("community", "create", "--name", "邢家桥社区")],
    ids=["run", "community-create"],
)
def test_commands_that_need_the_token_exit_2_with_one_line(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    # Plain `python -m bot` without a token starts the sandbox instead
    # (tests/sandbox/test_sandbox_cli.py);
    # asking explicitly for the real bot, or for a link only Telegram can resolve, still needs it.
    result = _run_bot({}, tmp_path, *args)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "community-notebook: TELEGRAM_BOT_TOKEN is not set (see .env.example)"
    )
