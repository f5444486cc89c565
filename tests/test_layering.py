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


# The only places that may reach into another library's private modules (a name starting with
# "_"): the fast path's fence (storage/fast/, rules in its __init__) and the Bot API transport.
PRIVATE_IMPORTS_ALLOWED = ("storage/fast/", "delivery/telegram_http.py")
OURS = ("bot", "runtime", "delivery", "handlers", "storage", "emulator", "sandbox", "bench")


def test_private_modules_of_other_libraries_are_imported_only_behind_the_fence() -> None:
    import ast

    found: list[str] = []
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            if where.startswith(PRIVATE_IMPORTS_ALLOWED) or "/migrations/versions/" in where:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=where)):
                names: list[str] = []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                for name in names:
                    parts = name.split(".")
                    private = any(p.startswith("_") for p in parts) and name != "__future__"
                    if parts[0] not in OURS and private:
                        found.append(f"{where}:{node.lineno} {name}")
    assert found == []
