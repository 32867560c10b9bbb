"""A pytest plugin (pytest.ini: -p session_processes): a test run ends with no process of its own alive.

Every process the suite starts inherits OCELOT_TEST_SESSION (nodes, launchers, pip, multiprocessing
children and their resource trackers alike), even once it has been re-parented to init, so at the end
the run can find whatever a test left behind, name it, end it, and fail.
"""

import os
import signal
import time
import uuid

import process_table

MARK = "OCELOT_TEST_SESSION"
GRACE_S = 15.0  # finalizers that signal a process do not wait for the last of its children


def pytest_configure(config):
    os.environ.setdefault(MARK, uuid.uuid4().hex)


def session_processes() -> dict[int, str]:
    """pid -> command line of every live process (not this one) that carries this session's mark."""
    needle = f"{MARK}={os.environ[MARK]}".encode()
    found = {}
    for pid in process_table.pids():
        if pid == os.getpid():
            continue
        try:
            marked = needle in (process_table.PROC / str(pid) / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marked and process_table.alive(pid):
            found[pid] = process_table.cmdline(pid)
    return found


def pytest_sessionfinish(session, exitstatus):
    deadline = time.monotonic() + GRACE_S
    left = session_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = session_processes()
    if not left:
        return
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    listing = "\n".join(f"  pid {pid}: {cmd[:200]}" for pid, cmd in sorted(left.items()))
    print(f"\nerror: the test run left {len(left)} process(es) of its own running (now killed):\n{listing}")
    session.exitstatus = 1
