"""Child processes with their own ROS domains, waits on facts, clean ends (the CLIs; tests use them too).

Every child runs in its own session so that whoever started it can end it and
whatever it spawned; every wait has a timeout that fails (WaitTimeout) with a
message saying what never happened. Every child is also told to die with its
parent (Linux's PR_SET_PDEATHSIG): a command killed with SIGKILL, which can
run no clean-up of its own, still takes its processes with it.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence

from ocelot_common.ros_env import MAX_DOMAIN_ID, ros_environment

_counter = itertools.count()


def fresh_domain_id() -> int:
    """A domain for one test: spread by process id so parallel runs rarely share one."""
    return 1 + (os.getpid() * 7 + next(_counter)) % MAX_DOMAIN_ID


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _set_parent_death_signal(sig: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        os._exit(126)


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A preexec_fn: the child gets `sig` when the process that started it ends, however it ends. If that
    process is already gone by the time the child runs (a race with the fork), the child exits at once."""
    parent = os.getpid()

    def preexec() -> None:
        _set_parent_death_signal(sig)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def exit_with_parent() -> None:
    """For a child that is already running (a process pool's initializer): SIGKILL when its parent ends."""
    _set_parent_death_signal(signal.SIGKILL)
    if os.getppid() == 1:
        os._exit(1)


class WaitTimeout(TimeoutError):
    """What was waited for did not happen in time; the message says what it was."""


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05):
    """Poll `predicate` until it returns something true (returned) or `timeout` s pass (WaitTimeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


class Proc:
    """A child process whose combined output is collected line by line."""

    def __init__(
        self,
        cmd: Sequence[str],
        domain_id: int,
        env: dict | None = None,
        cwd=None,
        preexec_fn: Callable[[], None] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        full_env = ros_environment(env, domain_id=domain_id)
        full_env["PYTHONUNBUFFERED"] = "1"
        orphan_guard = die_with_parent()

        def preexec() -> None:
            orphan_guard()
            # ignored and blocked signals stay so across exec: a parent that ignores or blocks them (a Ray
            # worker's threads block them; nohup ignores SIGINT) would leave the child deaf to `signal()`
            stop_signals = {signal.SIGINT, signal.SIGTERM}
            for sig in stop_signals:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
            if preexec_fn is not None:
                preexec_fn()

        self.popen = subprocess.Popen(
            list(cmd),
            env=full_env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=preexec,
            start_new_session=True,
            text=True,
            errors="replace",
            pass_fds=pass_fds,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_line(self, needle: str, timeout: float) -> str:
        try:
            return wait_for(
                lambda: next((ln for ln in self.lines if needle in ln), None),
                timeout,
                f"an output line containing {needle!r}",
            )
        except WaitTimeout as exc:
            raise WaitTimeout(f"{exc}; exit code {self.popen.poll()}, output:\n{self.output}") from None

    def signal(self, sig: int = signal.SIGINT) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, sig)

    def wait(self, timeout: float) -> int:
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise WaitTimeout(f"process did not exit within {timeout:.1f} s; output:\n{self.output}") from None
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        """End the process's whole session (its children too); safe to call twice."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(10)
        self._reader.join(timeout=5)


def sigterm_as_interrupt() -> None:
    """Treat SIGTERM like Ctrl-C, so a terminated CLI still stops the node processes it started."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


class LaunchProc(Proc):
    """`ocelot launch ...`; its nodes run in sessions of their own, so kill() ends them too."""

    def node_pids(self) -> dict[str, int]:
        pids = {}
        for line in self.lines:
            if line.startswith("[ocelot launch] started ") and " pid=" in line:
                name, _, pid = line[len("[ocelot launch] started ") :].partition(" pid=")
                pids[name] = int(pid)
        return pids

    def kill(self) -> None:
        for pid in self.node_pids().values():
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        super().kill()
