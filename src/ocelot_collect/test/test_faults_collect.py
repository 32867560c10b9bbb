"""Fault injection on collection (opt in: -m faults): killed mid-write, and a disk that fills up.

Nothing partial may be left and nothing finished may be lost; re-running the same command finishes the set.
"""

import contextlib
import os
import resource
import signal
import subprocess

import pytest
from ros_probe import run

from ocelot_common.processes import Proc, fresh_domain_id, wait_for
from ocelot_dataset.episode_io import complete_episodes, read_episode

pytestmark = pytest.mark.faults
FRAMES = 40


def collect_cmd(output, n):
    return [
        "ocelot",
        "collect",
        "--n-episodes",
        str(n),
        "--output",
        str(output),
        "--warmup-frames",
        "3",
        "--episode-frames",
        str(FRAMES),
        "--perturb-interval",
        "6",
        "--perturb-hold",
        "2",
        "--quiet",
    ]


def assert_whole(output, expected: list[int]) -> None:
    files = complete_episodes(output)
    assert sorted(files) == expected
    assert not list((output / "episodes").glob("*.tmp"))
    for path in files.values():
        assert read_episode(path).frames.shape[0] == FRAMES


def kill_session(proc: Proc) -> None:
    """SIGKILL the CLI and every node it launched: a power cut, as far as the files can tell."""
    for line in proc.lines:
        if " pid=" in line and "started " in line:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(line.rsplit("pid=", 1)[1]), signal.SIGKILL)
    proc.kill()


def test_collection_killed_mid_write_three_times_resumes_without_loss(tmp_path):
    output, n = tmp_path / "ds", 5
    for kill in range(3):
        proc = Proc(collect_cmd(output, n), fresh_domain_id())
        try:
            before = len(complete_episodes(output))
            # the moment a writer has a half-written file on disk
            wait_for(
                lambda: list((output / "episodes").glob("*.tmp")) if (output / "episodes").is_dir() else [],
                240,
                f"an episode being written (kill {kill + 1})",
                interval=0.01,
            )
        finally:
            kill_session(proc)
        assert len(complete_episodes(output)) >= before
    leftover = list((output / "episodes").glob("*.tmp"))
    done = run(collect_cmd(output, n), fresh_domain_id(), timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_whole(output, list(range(n)))
    print(f"killed three times mid-write ({len(leftover)} .tmp left by the last kill); resumed to {n} whole episodes")


@contextlib.contextmanager
def small_disk(path, size_mib: int):
    """A tmpfs of size_mib mounted at path; None where this machine may not mount (then the caller limits
    file size instead)."""
    path.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(path)], capture_output=True
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


def test_disk_full_stops_collection_cleanly_and_the_rerun_resumes(tmp_path):
    disk = tmp_path / "disk"
    with small_disk(disk, 5) as mounted:
        output = disk / "ds"
        if mounted:
            proc = Proc(collect_cmd(output, 6), fresh_domain_id())
        else:  # no mount here: every file the collection writes is limited to 256 KiB instead (EFBIG)
            limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))  # noqa: E731
            proc = Proc(collect_cmd(output, 6), fresh_domain_id(), preexec_fn=limit)
        try:
            code = proc.wait(400)
        finally:
            proc.kill()
        assert code == 1, proc.output
        assert "collection stopped: writing an episode failed" in proc.output
        assert "Free space and run the same command again" in proc.output
        kept = sorted(complete_episodes(output))
        assert_whole(output, kept)
        assert len(kept) < 6
        print(
            f"{'tmpfs 5 MiB' if mounted else 'RLIMIT_FSIZE 256 KiB'}: stopped with {len(kept)} whole episodes, "
            f"no partial file; stop line: {next(ln for ln in proc.lines if 'collection stopped' in ln)[-200:]}"
        )
        if mounted:
            subprocess.run(["mount", "-o", "remount,size=256m", str(disk)], check=True)  # space freed
        done = run(collect_cmd(output, 6), fresh_domain_id(), timeout=400)
        assert done.returncode == 0, done.stdout + done.stderr
        assert_whole(output, list(range(6)))
