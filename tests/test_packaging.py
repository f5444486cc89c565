"""`pip install .` without the checkout (issue #25, Must 1): the wheel carries the compiled
catalogs, so the installed bot speaks Chinese.

The test builds the wheel from a copy of the project's sources (offline: `--no-build-isolation`
with this environment's setuptools and babel, the build requirements), installs it into a fresh
venv in a temporary folder, and runs that venv's `python -m bot` from there, with no
PYTHONPATH: `--help`, then the real bot against the emulator, where a resident whose Telegram
speaks Chinese sends /start and must be greeted in Chinese. The fresh venv gets the
dependencies from this environment's site-packages (a .pth line, after its own), so the test
downloads nothing; the project itself comes only from the wheel.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from emulator import BotApiEmulator
from tests.bot.test_crash_recovery import _own_database
from tests.bot_process import BotProcess
from tests.factories import PHONE_KEY, TOKEN

ROOT = Path(__file__).resolve().parents[1]
GREETING = "Welcome! I am the community notebook. Which community do you live in?"
STEP = 180  # seconds any one step (build, install, a command) may take on a busy machine


def _zh(msgid: str) -> str:
    with (ROOT / "locales" / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        message = read_po(fh, locale="zh_Hans").get(msgid)
    assert message is not None and message.string, f"{msgid!r} has no Chinese translation"
    return str(message.string)


def _copy_sources(target: Path) -> Path:
    """What a release would contain: the packages pyproject.toml names, the catalogs' sources
    and the build files; no .venv, no compiled .mo, no data."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = config["tool"]["setuptools"]["packages"]["find"]["include"]
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo")
    for name in ["locales", *(p.rstrip("*") for p in packages)]:
        shutil.copytree(ROOT / name, target / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "babel.cfg"):
        shutil.copy2(ROOT / name, target / name)
    return target


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout with the wheel installed; its python."""
    base = tmp_path_factory.mktemp("installed")
    sources = _copy_sources(base / "src")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", "dist", "./src"],
        cwd=base,
    )
    (wheel,) = (base / "dist").glob("community_notebook-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for locale in ("zh_Hans", "en"):
        assert f"runtime/locales/{locale}/LC_MESSAGES/messages.mo" in names, names
    assert not any(n.startswith(("locales/", "tests/")) for n in names)
    shutil.rmtree(sources)  # from here on, nothing of the sources is left to fall back on

    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    python = venv / "bin" / "python"
    _run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], cwd=base
    )
    # the dependencies: this environment's, after the venv's own site-packages (which has the
    # project); a .pth directory is only added to sys.path, its own .pth files (the editable
    # install's finder) are not run
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=base,
        ).strip()
    )
    (site / "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "DATABASE_", "PYTHON", "VIRTUAL_ENV"))
    }
    return {**env, **extra}


def test_the_wheel_is_what_runs_and_it_carries_the_catalogs(installed: Path) -> None:
    where = _run(
        [
            str(installed),
            "-c",
            "import bot, runtime.i18n as i; print(bot.__file__); print(i.LOCALES_DIR)",
        ],
        cwd=installed.parent.parent,
        env=_env(),
    ).split()
    venv = installed.parent.parent
    assert all(Path(p).is_relative_to(venv) for p in where), where
    assert not any(Path(p).is_relative_to(ROOT) for p in where), where


def test_python_m_bot_help_runs_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    out = _run([str(installed), "-m", "bot", "--help"], cwd=tmp_path, env=_env())
    assert "usage:" in out and "sandbox" in out


async def test_the_installed_bot_greets_a_chinese_reader_in_chinese(
    installed: Path, emulator: BotApiEmulator, tmp_path: Path
) -> None:
    async with _own_database(tmp_path) as url:
        env = _env(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=emulator.base_url,
            DATABASE_URL=url,
            PHONE_ENCRYPTION_KEY=PHONE_KEY,
            LOG_LEVEL="WARNING",
        )
        community = "邢家桥社区"
        await asyncio.to_thread(
            _run,
            [str(installed), "-m", "bot", "community", "create", "--name", community],
            tmp_path,
            env,
        )
        bot = BotProcess(env, tmp_path)
        bot.proc = await asyncio.create_subprocess_exec(
            str(installed),
            "-m",
            "bot",
            env=env,
            cwd=tmp_path,
            stdout=bot.log_path.open("ab"),
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            resident = emulator.user(first_name="王阿姨", language_code="zh-hans")
            await resident.send("/start")
            greeting = await resident.expect_message(timeout=60)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{bot.log_tail()}") from None
        finally:
            await bot.close()
    assert greeting.text == _zh(GREETING), greeting.text
    assert greeting.text != GREETING
    assert community in greeting.button_texts()
