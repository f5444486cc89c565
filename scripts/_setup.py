"""Shared by scripts/run.py and scripts/test.py: make `.venv`, install the project, build catalogs.

Only the Python standard library here: this runs on a fresh machine with nothing but python3.
What is installed comes from the lock files, every file checked against its hash:
requirements/run.txt for `scripts/run.py` (what the bot needs, nothing more), requirements/dev.txt
for `scripts/test.py` (that plus the `dev` extra: pytest, ruff, mypy, Playwright…). The project
itself is installed editable on top, without dependencies. The install is redone only when
pyproject.toml or the lock file changes (a stamp in .venv); a venv set up for the tests also
serves the bot.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
LOCKS = {"run": ROOT / "requirements" / "run.txt", "dev": ROOT / "requirements" / "dev.txt"}


def _say(text: str) -> None:
    print(f"[setup] {text}", flush=True)


def _stamp(kind: str) -> str:
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", LOCKS[kind]):
        digest.update(path.read_bytes())
    return f"{kind} {digest.hexdigest()}"


def ensure_environment(kind: str = "run") -> Path:
    """The venv's python, with `kind`'s lock installed ("run" for the bot, "dev" for tests)."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script is what says so on an old Python
        sys.exit("Community Notebook needs Python 3.11 or newer.")
    if not PYTHON.exists():
        _say("creating .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".installed"
    have = stamp.read_text() if stamp.exists() else ""
    if have not in {_stamp(kind), _stamp("dev")}:  # the dev lock holds the run lock's pins
        _say(f"installing {LOCKS[kind].relative_to(ROOT)} (first run takes a minute or two)")
        pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "install", "--require-hashes", "-r", str(LOCKS[kind])], check=True)
        subprocess.run([*pip, "install", "--no-deps", "-e", str(ROOT)], check=True)
        stamp.write_text(_stamp(kind))
    subprocess.run(
        [str(BIN / "pybabel"), "-q", "compile", "-d", str(ROOT / "locales"), "-D", "messages"],
        check=True,
    )
    return PYTHON
