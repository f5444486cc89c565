"""A private PostgreSQL cluster for fault tests: initdb into a temporary folder, its own port on
127.0.0.1, stopped with `pg_ctl -m immediate` to make an outage and started again on the same
port and data.

The shared server of TEST_DATABASE_URL is never touched: stopping it would break every other
test running beside this one. The cluster trusts local connections and runs with fsync off
(only the server process is stopped, never the machine); its unix socket lives in its own
folder. As root (the tests run as root in CI) initdb and pg_ctl run as the `postgres` OS user,
since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest


def postgres_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin with initdb and pg_ctl (Debian's layout), else the
    folder of initdb on PATH."""
    found = [
        Path(d)
        for d in glob.glob("/usr/lib/postgresql/*/bin")
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists()
    ]
    if found:
        return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def require_postgres_binaries() -> Path:
    """The binaries' folder; skips the test without them, or fails it in CI (CI=true), where a
    fault test quietly skipped would look like a pass."""
    bindir = postgres_bindir()
    if bindir is not None:
        return bindir
    reason = (
        "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: "
        "apt-get install postgresql"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (CI=true: a fault test may not be skipped)")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """One cluster in `root` (a folder of its own, short so the socket path fits)."""

    def __init__(self, bindir: Path, root: Path, port: int) -> None:
        self.bindir, self.root, self.port = bindir, root, port
        self.data = root / "data"
        self.log = root / "server.log"
        self.running = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, program: str, *args: str) -> list[str]:
        command = [str(self.bindir / program), *args]
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *command]
        return command

    async def _run(self, program: str, *args: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self._as_owner(program, *args),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self.root,
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args)} failed ({proc.returncode}):\n"
                f"{out.decode(errors='replace')}\n{self.server_log()}"
            )

    async def init(self) -> None:
        await self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            # Safe to skip: the files reach the kernel at each commit, and only the server
            # process is stopped, never the machine. (synchronous_commit=off would not be: an
            # immediate stop loses commits the bot was told had happened.)
            "fsync": "off",
            "full_page_writes": "off",
            "max_connections": "50",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# a fault test's private cluster (tests/pg_cluster.py)\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    async def start(self) -> None:
        await self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"
        )
        self.running = True

    async def stop(self) -> None:
        """An outage as abrupt as a crash: no checkpoint, connections cut."""
        await self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "60", "stop")
        self.running = False

    @asynccontextmanager
    async def stopped(self) -> AsyncIterator[None]:
        """Down while the block runs, then up again on the same port and data."""
        await self.stop()
        try:
            yield
        finally:
            await self.start()

    def server_log(self, lines: int = 20) -> str:
        try:
            tail = self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "server log:\n" + "\n".join(tail)


async def start_private_cluster() -> PostgresCluster:
    """initdb and start a cluster in a fresh folder under the temp dir, owned by `postgres`."""
    bindir = require_postgres_binaries()
    root = Path(tempfile.mkdtemp(prefix="nb-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = PostgresCluster(bindir, root, free_port())
    try:
        await cluster.init()
        await cluster.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster


async def remove_cluster(cluster: PostgresCluster) -> None:
    if cluster.running:
        await cluster.stop()
    shutil.rmtree(cluster.root, ignore_errors=True)
