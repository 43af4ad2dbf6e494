"""Files at rest: the data dir and what is in it are private to the user running Convoflow.

``memory.db`` holds every tenant's conversations in plaintext and ``temporal.db`` the dev
server's histories, so neither may be readable by group or others, whatever the umask.
"""

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("convoflow.storage")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) ``0700`` whatever the umask if missing; return it.

    An existing directory keeps its mode: it may be the user's own (``--data-dir ~``).
    """
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        os.chmod(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if missing, in a private dir, and make it ``0600``; return it.

    SQLite gives its ``-wal``/``-shm`` files the database file's mode, so creating the
    database file private first keeps all three private.
    """
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    os.close(fd)
    os.chmod(path, PRIVATE_FILE)
    return path


def warn_if_shared(path: Path, what: str) -> bool:
    """Log a warning when ``path`` is readable or writable by group or others; True if so."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return False
    if mode & 0o077:
        log.warning(
            "%s %s is accessible by group or others (mode %04o): run chmod 600 %s",
            what,
            path,
            mode,
            path,
        )
        return True
    return False
