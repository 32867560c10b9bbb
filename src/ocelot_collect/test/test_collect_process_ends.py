"""A collection killed outright takes its whole graph with it, and one folder takes one live collection."""

import os
import signal
import subprocess
import threading

from process_table import alive, cmdline, descendants
from ros_probe import run

from ocelot_common.processes import Proc, fresh_domain_id, wait_for
from ocelot_dataset.folder_lock import FolderBusy, lock_folder


def test_sigkill_of_collect_stops_its_graph_and_a_second_collection_is_refused_meanwhile(tmp_path):
    output = tmp_path / "data"
    cmd = [
        "ocelot",
        "collect",
        "--n-episodes",
        "50",
        "--output",
        str(output),
        "--warmup-frames",
        "2",
        "--episode-frames",
        "30",
        "--quiet",
    ]
    first = Proc(cmd, fresh_domain_id())
    try:
        graph = wait_for(
            lambda: (lambda d: d if any("collector_node" in cmdline(p) for p in d) else None)(
                descendants(first.popen.pid)
            ),
            60,
            "the collection's nodes to start",
        )
        second = run(cmd, fresh_domain_id(), timeout=60)
        assert second.returncode == 2 and "another collection" in second.stderr, second.stderr
        assert str(first.popen.pid) in second.stderr  # names the holder
        graph |= descendants(first.popen.pid)
        os.kill(first.popen.pid, signal.SIGKILL)  # no clean-up of its own can run
        wait_for(
            lambda: not any(alive(pid) for pid in graph),
            60,
            f"the graph to stop after its command was killed (left: {[cmdline(p) for p in graph if alive(p)]})",
        )
        os.close(lock_folder(output))  # the folder is free again
    finally:
        first.kill()


def test_the_folder_lock_is_exclusive_and_released_with_its_holder(tmp_path):
    fd = lock_folder(tmp_path)
    try:
        try:
            lock_folder(tmp_path)
        except FolderBusy as exc:
            assert f"pid {os.getpid()}" in str(exc)
        else:
            raise AssertionError("a second lock on a held folder was granted")
    finally:
        os.close(fd)
    os.close(lock_folder(tmp_path))


def test_a_killed_holders_lock_is_waited_for_while_its_children_let_go(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs: the holder was killed, its children still hold the lock
    fd = lock_folder(tmp_path)
    os.pwrite(fd, f"{gone.pid}\n".encode(), 0)
    threading.Timer(0.3, os.close, (fd,)).start()  # the last child lets go
    os.close(lock_folder(tmp_path))
    fd = lock_folder(tmp_path)
    os.pwrite(fd, f"{gone.pid}\n".encode(), 0)
    try:
        try:
            lock_folder(tmp_path, dead_holder_grace_s=0.2)  # held for longer than the grace: refused after it
        except FolderBusy as exc:
            assert f"pid {gone.pid}" in str(exc)
        else:
            raise AssertionError("a lock still held was granted")
    finally:
        os.close(fd)
