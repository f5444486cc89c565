"""Quick start, part two: `python3 scripts/test.py` sets up .venv and runs the test suite.

The venv gets requirements/dev.txt: the bot's pins and the `dev` extra (docs/dependencies.md).

Arguments go to pytest. Set TEST_DATABASE_URL=postgresql://… to run the suite on PostgreSQL.
The tests are spread over the machine's CPUs (pytest-xdist's `-n auto`: every test has its own
database and emulator); pass `-n 0` to run them one after the other, e.g. with `-x` or `--pdb`.
"""

from __future__ import annotations

import os
import sys

from _setup import ROOT, ensure_environment

if __name__ == "__main__":
    python = ensure_environment("dev")
    os.chdir(ROOT)
    args = sys.argv[1:]
    if not any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in args):
        args = ["-n", "auto", *args]
    os.execv(python, [str(python), "-m", "pytest", *args])
