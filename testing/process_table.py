"""The machine's processes as /proc shows them, for tests that check what is left running."""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses)."""
    return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    """Running, or sleeping: not gone and not a zombie waiting to be reaped."""
    try:
        return _stat(pid)[0] != "Z"
    except (OSError, IndexError):
        return False


def cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(pid: int) -> set[int]:
    """Every live process started, directly or not, by `pid` (by parent pid)."""
    children: dict[int, list[int]] = {}
    for child in pids():
        try:
            children.setdefault(int(_stat(child)[1]), []).append(child)
        except (OSError, IndexError, ValueError):
            continue
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found
