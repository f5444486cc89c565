"""Shared by scripts/run.py and scripts/test.py: make `.venv`, install the project, build catalogs.

Only the Python standard library here: this runs on a fresh machine with nothing but python3.
The install is redone only when pyproject.toml changes (a hash stamp in .venv).
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


def _say(text: str) -> None:
    print(f"[setup] {text}", flush=True)


def ensure_environment() -> Path:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script is what says so on an old Python
        sys.exit("Community Notebook needs Python 3.11 or newer.")
    if not PYTHON.exists():
        _say("creating .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        _say("installing dependencies (first run takes a minute or two)")
        pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True)
        stamp.write_text(wanted)
    subprocess.run(
        [str(BIN / "pybabel"), "-q", "compile", "-d", str(ROOT / "locales"), "-D", "messages"],
        check=True,
    )
    return PYTHON
