"""What gets installed (issue #25, Must 2): `scripts/run.py` installs requirements/run.txt, only
what the bot needs; `scripts/test.py` requirements/dev.txt, that plus the `dev` extra; both
files pin every package with its hashes, agree with pyproject.toml, and hold no release with a
known advisory. How to update them: docs/dependencies.md."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# the first release past each advisory named in issue #25
ADVISORIES = {"aiohttp": "3.12.14", "cryptography": "44.0.1", "pillow": "11.3", "tornado": "6.5"}
DEV_ONLY = {"pytest", "pytest-xdist", "ruff", "mypy", "playwright", "pip-tools", "import-linter"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def _pins(name: str) -> dict[str, Version]:
    """The lock file's pins; each must carry at least one sha256 hash."""
    text = (ROOT / "requirements" / name).read_text()
    pins: dict[str, Version] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = PIN.match(block)
        if match is None:
            continue
        assert "--hash=sha256:" in block, f"{match[1]} has no hash in {name}"
        pins[canonicalize_name(match[1])] = Version(match[2])
    return pins


def _requirements(group: list[str]) -> list[Requirement]:
    return [Requirement(r) for r in group]


def test_the_run_lock_pins_every_dependency_within_pyproject_and_nothing_for_tests() -> None:
    pins = _pins("run.txt")
    for req in _requirements(PYPROJECT["project"]["dependencies"]):
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements/run.txt: run scripts/lock.py"
        assert req.specifier.contains(pins[name]), f"{req} but run.txt pins {pins[name]}"
    assert not DEV_ONLY & set(pins), "the bot's lock holds tools for tests"


def test_the_dev_lock_is_the_run_lock_plus_the_dev_extra() -> None:
    run, dev = _pins("run.txt"), _pins("dev.txt")
    assert {name: dev.get(name) for name in run} == run
    for req in _requirements(PYPROJECT["project"]["optional-dependencies"]["dev"]):
        name = canonicalize_name(req.name)
        assert name in dev and req.specifier.contains(dev[name]), f"{req}: {dev.get(name)}"


@pytest.mark.parametrize("package", sorted(ADVISORIES))
def test_no_release_with_a_known_advisory_is_allowed_or_pinned(package: str) -> None:
    fixed = Version(ADVISORIES[package])
    floors = [
        req.specifier
        for req in _requirements(PYPROJECT["project"]["dependencies"])
        if canonicalize_name(req.name) == package
    ]
    assert floors, f"{package} has no floor of its own in pyproject.toml"
    before = _just_before(fixed)
    assert all(not s.contains(before) for s in floors), f"{package} {before} is allowed"
    for lock in ("run.txt", "dev.txt"):
        assert _pins(lock)[package] >= fixed


def _just_before(version: Version) -> Version:
    major, minor, micro = (*version.release, 0, 0)[:3]
    if micro:
        return Version(f"{major}.{minor}.{micro - 1}")
    return Version(f"{major}.{minor - 1}.99") if minor else Version(f"{major - 1}.99")


def _setup_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, list[Any]]:
    """scripts/_setup.py with its venv in tmp_path and every command recorded, not run."""
    spec = importlib.util.spec_from_file_location("_setup_under_test", ROOT / "scripts/_setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    monkeypatch.setattr(module, "VENV", venv)
    monkeypatch.setattr(module, "BIN", venv / "bin")
    monkeypatch.setattr(module, "PYTHON", venv / "bin" / "python")
    commands: list[Any] = []
    monkeypatch.setattr(module.subprocess, "run", lambda args, **kw: commands.append(args))
    return module, commands


def _installs(commands: list[Any]) -> list[str]:
    return [" ".join(c[c.index("install") :]) for c in commands if "install" in c]


def test_the_run_command_installs_the_run_lock_and_the_test_command_the_dev_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup, commands = _setup_module(tmp_path, monkeypatch)
    setup.ensure_environment("run")
    run_lock, dev_lock = setup.LOCKS["run"], setup.LOCKS["dev"]
    assert _installs(commands) == [
        "install --upgrade pip",
        f"install --require-hashes -r {run_lock}",
        f"install --no-deps -e {ROOT}",
    ]
    commands.clear()
    setup.ensure_environment("run")  # set up already: nothing installed again
    assert _installs(commands) == []
    setup.ensure_environment("dev")  # the tests need more
    assert f"install --require-hashes -r {dev_lock}" in _installs(commands)
    commands.clear()
    setup.ensure_environment("run")  # and the dev environment serves the bot as it is
    setup.ensure_environment("dev")
    assert _installs(commands) == []
    assert any("compile" in c for c in commands)  # the catalogs, every time
