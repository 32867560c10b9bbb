"""One collection at a time per dataset folder: an exclusive lock that goes with the process holding it.

`ocelot collect` takes it before it starts a worker and hands it to its launchers, so it is held while any
of them runs; a second collection into the same folder is refused with the holder's pid. flock(2) locks
belong to open files, so a holder killed outright (SIGKILL, a crash) frees the folder without a stale lock
file to clean up. The kernel frees it only once the last process holding it has gone, though, and the
launchers and nodes of a killed collection die a moment after it: when the recorded holder is already dead,
the lock is waited for (a few seconds) instead of refused.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

LOCK_FILE = ".collect.lock"
DEAD_HOLDER_GRACE_S = 5.0  # how long the descendants of a killed holder may take to let go


class FolderBusy(RuntimeError):
    """Another live collection is writing into the folder."""


def lock_folder(root: Path, dead_holder_grace_s: float = DEAD_HOLDER_GRACE_S) -> int:
    """Take the folder's lock; returns its file descriptor (keep it open; close it to release)."""
    path = Path(root) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + dead_holder_grace_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            if _alive(holder) or time.monotonic() > deadline:
                os.close(fd)
                raise FolderBusy(
                    f"another collection (pid {holder}) is writing into {root}; wait for it to finish or "
                    "stop it, then run this command again (it resumes)"
                ) from None
            time.sleep(0.05)  # the holder is gone; its children are letting go
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _alive(pid: str) -> bool:
    """Whether the process is running (a zombie, killed and not yet reaped, is not); True when unknown."""
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except ValueError:
        return True  # no pid recorded: assume a live holder
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
