"""Refresh the lock files: `python3 scripts/lock.py` (after `python3 scripts/test.py` made .venv).

requirements/run.txt pins what `python -m bot` needs (pyproject.toml's dependencies), and
requirements/dev.txt that plus the `dev` extra, at the same versions, every file with its sha256
hashes; scripts/_setup.py installs from them with `--require-hashes`. Arguments go to both
pip-compile runs: `--upgrade` moves every pin to the newest release the floors allow,
`--upgrade-package aiohttp` only that one. See docs/dependencies.md.
"""

from __future__ import annotations

import os
import subprocess
import sys

from _setup import BIN, ROOT

COMMON = [
    "--quiet",
    "--generate-hashes",
    "--allow-unsafe",  # setuptools too: the lock is the whole environment
    "--strip-extras",
    "--no-emit-index-url",
    "--no-emit-find-links",
    "--pip-args=--isolated",  # the public index only, whatever this machine's pip.conf adds
]

if __name__ == "__main__":
    compile_ = BIN / "pip-compile"
    if not compile_.exists():
        sys.exit("No .venv/bin/pip-compile: run `python3 scripts/test.py --co -q` first.")
    os.chdir(ROOT)
    os.environ["CUSTOM_COMPILE_COMMAND"] = "python3 scripts/lock.py"
    extra = sys.argv[1:]
    subprocess.run(
        [str(compile_), *COMMON, *extra, "-o", "requirements/run.txt", "pyproject.toml"],
        check=True,
    )
    subprocess.run(
        [
            str(compile_),
            *COMMON,
            *extra,
            "--extra",
            "dev",
            "-c",
            "requirements/run.txt",
            "-o",
            "requirements/dev.txt",
            "pyproject.toml",
        ],
        check=True,
    )
