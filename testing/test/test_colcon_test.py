"""`colcon test` runs a package's pytest tests (each setup.py declares its test extra, which colcon looks for)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    shutil.which("colcon") is None or not (REPO / "build" / "ocelot_common").is_dir(),
    reason="needs colcon and the workspace built by `make setup`",
)
def test_colcon_test_runs_the_package_tests(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OCELOT_TEST_SESSION"}  # the inner run checks its own
    run = subprocess.run(
        [
            "colcon",
            "--log-base",
            str(tmp_path / "log"),
            "test",
            "--packages-select",
            "ocelot_common",
            "--test-result-base",
            str(tmp_path / "results"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = subprocess.run(
        ["colcon", "test-result", "--test-result-base", str(tmp_path / "results")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    summary = result.stdout.strip().splitlines()[-1]
    tests = int(summary.split("Summary: ")[1].split(" tests")[0])
    assert tests >= 5 and "0 errors, 0 failures" in summary, result.stdout
