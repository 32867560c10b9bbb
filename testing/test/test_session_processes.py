"""The suite's own leftover check: a run whose test leaves a process behind fails and names it."""

import os
import subprocess
import sys
from pathlib import Path

TESTING = Path(__file__).resolve().parents[1]


def test_a_run_that_leaves_a_process_behind_fails_and_the_process_is_ended(tmp_path):
    marker = f"leftover-{os.getpid()}"
    (tmp_path / "test_leaks.py").write_text(
        "import subprocess\n"
        f"def test_leaks():\n    subprocess.Popen(['sh', '-c', 'sleep 120; : {marker}'], start_new_session=True)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OCELOT_TEST_SESSION"}  # a session of its own
    env["PYTHONPATH"] = str(TESTING)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "session_processes",
            "-p",
            "no:cacheprovider",
            str(tmp_path / "test_leaks.py"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 1 and "process(es) of its own running" in result.stdout and marker in result.stdout, (
        result.stdout
    )
    alive = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    assert alive.returncode == 1, f"the leftover is still running: {alive.stdout}"
    (tmp_path / "test_leaks.py").write_text("def test_clean():\n    pass\n")
    clean = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "session_processes",
            "-p",
            "no:cacheprovider",
            str(tmp_path / "test_leaks.py"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert clean.returncode == 0, clean.stdout
