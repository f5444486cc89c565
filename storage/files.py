"""Files the notebook writes hold residents' data (the SQLite database and its write-ahead log,
backups, the phone key): each is made readable and writable by its owner only (0600), whatever
the umask of the shell or service that started the bot.

SQLite gives a database's `-wal`, `-shm` and `-journal` files the permissions of the database
file, so a database made private here keeps its companions private too.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_file(path: Path) -> Path:
    """`path`, created empty if it is missing, with mode 0600 (an existing file is narrowed to
    it too: an older version of the bot left its files readable by everyone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    narrow(path)
    return path


def narrow(path: Path) -> None:
    """Mode 0600 for an existing file; nothing when it is missing or not ours to change."""
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if os.stat(path).st_mode & 0o777 != PRIVATE:
            os.chmod(path, PRIVATE)


def private_database(path: Path) -> Path:
    """An SQLite database file (and any companion file it already has) made private."""
    private_file(path)
    for suffix in SQLITE_COMPANIONS:
        narrow(path.with_name(path.name + suffix))
    return path


def write_private(path: Path, text: str) -> None:
    """A new file holding `text`, mode 0600 from the moment it exists (a key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    os.fchmod(descriptor, PRIVATE)
    with os.fdopen(descriptor, "w") as fh:
        fh.write(text)
