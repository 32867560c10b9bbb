"""The launch_testing gate can fail: a model that cannot track (its action head zeroed) fails it."""

import subprocess
import sys
from pathlib import Path

import pytest
from tiny_models import export_tiny_model

from ocelot_common.processes import fresh_domain_id
from ocelot_common.ros_env import ros_environment

pytest.importorskip(
    "launch_testing",
    reason="launch_testing is not installed: run `make setup` with "
    "../shared/ros2-tooling beside the project, or use a full ROS 2 install",
)
GATE_TEST = Path(__file__).with_name("test_gate_launch.py")


def test_a_model_that_cannot_track_fails_the_launch_gate(tmp_path):
    broken = export_tiny_model(tmp_path / "broken", zero_head=True)
    env = {
        **ros_environment(domain_id=fresh_domain_id()),
        "OCELOT_GATE_MODEL": str(broken),
        "OCELOT_GATE_OUTPUT": str(tmp_path / "gate"),
    }
    env.pop("OCELOT_TEST_SESSION", None)  # its own run: its processes are checked by that run
    # the repository's pytest.ini applies (its plugins, the leftover check): the gate run as `make test` runs it
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", str(GATE_TEST)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "test_gate" in result.stdout and "FAILED" in result.stdout, result.stdout[-3000:]
    assert len((tmp_path / "gate" / "episodes.jsonl").read_text().splitlines()) == 6  # it ran, and failed
