"""Quick start, part two: `python3 scripts/test.py` sets up .venv and runs the test suite.

Arguments go to pytest. Set TEST_DATABASE_URL=postgresql://… to run the suite on PostgreSQL.
"""

from __future__ import annotations

import os
import sys

from _setup import ROOT, ensure_environment

if __name__ == "__main__":
    python = ensure_environment()
    os.chdir(ROOT)
    os.execv(python, [str(python), "-m", "pytest", *sys.argv[1:]])
