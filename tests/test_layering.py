"""The layering is a checked contract, not a hope (pyproject.toml, [tool.importlinter]):
bot/ wires; handlers/ use runtime/ and storage/ and never delivery/; storage/ knows nothing of
Telegram; the emulator imports nothing of the notebook; no package has an import cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_import_contract_is_kept() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
