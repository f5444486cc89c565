"""The container (Dockerfile, deploy/compose.yaml, docs/deployment.md).

No container runtime is needed: the image's install steps are checked to be the README's, word
for word, and the image to be what docs/deployment.md promises (runtime only, non-root, the
catalogs compiled, the font with the dependencies, every package of the project copied in).
With DOCKER_BUILD=1 and a Docker daemon, the image is also built and asked for `--help` as the
user it runs as."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from runtime import fonts

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = (ROOT / "deploy" / "compose.yaml").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _sep, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions(DOCKERFILE)
    last_from = max(i for i, (keyword, _rest) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _readme_install_steps() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.DOTALL)
    install = [b for b in blocks if "pip install" in b]
    assert len(install) == 1, "the README gives one block of install steps"
    return [line.strip() for line in install[0].splitlines() if line.strip()]


def _image_install_steps() -> list[str]:
    block = DOCKERFILE.split("# install: begin", 1)[1].split("# install: end", 1)[0]
    return [rest for keyword, rest in _instructions(block) if keyword == "RUN"]


def test_the_images_install_steps_are_the_readmes() -> None:
    assert _image_install_steps() == _readme_install_steps()
    # and nothing else in the image installs Python packages
    installs = [rest for k, rest in _instructions(DOCKERFILE) if k == "RUN" and "pip " in rest]
    assert installs == [s for s in _readme_install_steps() if "pip " in s]


def test_runtime_only() -> None:
    for step in _image_install_steps():
        assert "[dev]" not in step and " -e " not in step and "--editable" not in step
    assert "playwright" not in DOCKERFILE.lower()
    runtime_dependencies = " ".join(PYPROJECT["project"]["dependencies"])
    for tool in ("pytest", "ruff", "mypy", "playwright"):
        assert tool not in runtime_dependencies


def test_the_image_runs_as_an_unprivileged_user() -> None:
    stage = _final_stage()
    users = [rest for keyword, rest in stage if keyword == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    last_user = max(i for i, (keyword, _rest) in enumerate(stage) if keyword == "USER")
    cmd = max(i for i, (keyword, _rest) in enumerate(stage) if keyword in ("CMD", "ENTRYPOINT"))
    assert last_user < cmd
    assert any(k == "HEALTHCHECK" and "/healthz" in rest for k, rest in stage)


def test_the_image_has_every_package_the_catalogs_and_the_font() -> None:
    copied = " ".join(rest for keyword, rest in _instructions(DOCKERFILE) if keyword == "COPY")
    for package in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert f"{package.rstrip('*')}/" in copied, f"{package} is not copied into the image"
    # the catalogs are compiled into the package as it installs (setup.py; tests/test_packaging.py)
    assert "locales/" in copied and "setup.py" in copied
    # the tested versions: the lock file, hashes checked, then the project without resolving again
    steps = _image_install_steps()
    assert any("--require-hashes -r requirements/run.txt" in step for step in steps)
    assert any("--no-deps ." in step for step in steps)
    # the Chinese font is a Python dependency, installed with the others
    declared = PYPROJECT["project"]["dependencies"]
    dependencies = [re.split(r"[\[<>=;! ]", d)[0].replace("-", "_") for d in declared]
    assert fonts.CJK_FONT_PACKAGE in dependencies
    final = dict((k, rest) for k, rest in _final_stage() if k == "ENV")
    assert "LANG=C.UTF-8" in final.get("ENV", "")


def test_compose_runs_the_bot_postgresql_and_a_backup() -> None:
    services = re.search(r"^services:\n(.*?)^\S", COMPOSE, re.DOTALL | re.MULTILINE)
    assert services is not None
    names = re.findall(r"^  ([a-z-]+):$", services.group(1), re.MULTILINE)
    assert names == ["db", "bot", "backup"]
    assert "dockerfile: Dockerfile" in COMPOSE and "image: postgres:" in COMPOSE
    assert "DATABASE_URL: postgresql://" in COMPOSE
    assert "pg_dump --format=custom" in COMPOSE
    assert "condition: service_healthy" in COMPOSE
    assert "\t" not in COMPOSE  # YAML forbids tabs


@pytest.mark.skipif(
    os.environ.get("DOCKER_BUILD") != "1" or shutil.which("docker") is None,
    reason="builds the image only with DOCKER_BUILD=1 and a Docker daemon",
)
def test_the_image_builds_and_starts() -> None:  # pragma: no cover - needs a daemon
    subprocess.run(["docker", "build", "-t", "community-notebook:test", str(ROOT)], check=True)
    who = subprocess.run(
        ["docker", "run", "--rm", "community-notebook:test", "id", "-u"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert who.stdout.strip() != "0"
    subprocess.run(
        ["docker", "run", "--rm", "community-notebook:test", "python", "-m", "bot", "--help"],
        check=True,
    )
