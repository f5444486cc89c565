"""Quick start, part one: `python3 scripts/run.py` sets up .venv and runs the bot.

The venv gets requirements/run.txt, only what the bot needs (docs/dependencies.md).

Arguments go to `python -m bot` (e.g. `python3 scripts/run.py community create --name 邢家桥社区`).
"""

from __future__ import annotations

import os
import sys

from _setup import ROOT, ensure_environment

if __name__ == "__main__":
    python = ensure_environment()
    os.chdir(ROOT)
    os.execv(python, [str(python), "-m", "bot", *sys.argv[1:]])
