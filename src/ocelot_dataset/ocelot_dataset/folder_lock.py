"""One collection at a time per dataset folder: an exclusive lock that goes with the process holding it.

`ocelot collect` takes it before it starts a worker and hands it to its launchers, so it is held while any
of them runs; a second collection into the same folder is refused with the holder's pid. flock(2) locks
belong to open files, so a holder killed outright (SIGKILL, a crash) frees the folder without a stale lock
file to clean up.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = ".collect.lock"


class FolderBusy(RuntimeError):
    """Another live collection is writing into the folder."""


def lock_folder(root: Path) -> int:
    """Take the folder's lock; returns its file descriptor (keep it open; close it to release)."""
    path = Path(root) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise FolderBusy(
            f"another collection (pid {holder}) is writing into {root}; wait for it to finish or "
            "stop it, then run this command again (it resumes)"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
