"""The robot's footprint: ocelot_vla + ocelot_bringup built into a fresh venv that has no torch and no MuJoCo,
then the robot's packages' own tests run there, and the deploy graph run from there against images published by
this test process.

Builds with scripts/setup_deploy_venv.sh (the README's Pi steps with wheels in place of apt): a couple of
minutes, most of it the message package.
"""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gate_reports import write_gate_report
from geometry_msgs.msg import Twist
from ros_probe import RosProbe
from sensor_msgs.msg import Image
from tiny_models import export_tiny_model

from ocelot_common.processes import Proc, fresh_domain_id

ROOT = Path(__file__).resolve().parents[3]
TRAINING_STACK = ("torch", "mujoco", "h5py", "transformers", "mlflow", "matplotlib", "skimage")


@pytest.fixture(scope="module")
def deploy(tmp_path_factory):
    target = tmp_path_factory.mktemp("deploy")
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup_deploy_venv.sh"), str(target), "--with-tests"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return target


def deploy_env(target: Path) -> dict:
    """Nothing of the development venv or workspace: the deploy venv first on PATH, then the system."""
    return {
        "PATH": f"{target / 'venv' / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "VIRTUAL_ENV": str(target / "venv"),
        "LANG": "C.UTF-8",
    }


def test_deploy_venv_holds_no_training_stack(deploy):
    code = "import importlib.util as u; print(' '.join(m for m in " + repr(TRAINING_STACK) + " if u.find_spec(m)))"
    found = subprocess.run(
        [str(deploy / "venv" / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        env=deploy_env(deploy),
        timeout=60,
    )
    assert found.returncode == 0 and found.stdout.strip() == "", found.stdout + found.stderr
    packages = sorted(p.name for p in (deploy / "install").iterdir() if (p / "share").is_dir())
    assert packages == ["ocelot_bringup", "ocelot_common", "ocelot_msgs", "ocelot_vla"]


# the tests of the packages that go to the robot: they import nothing of the training stack, which is not there
ROBOT_TESTS = ("src/ocelot_common/test", "src/ocelot_msgs/test", "src/ocelot_vla/test")


def test_the_robot_packages_tests_pass_on_the_robot_footprint(deploy):
    command = f". {deploy / 'install' / 'setup.sh'} && exec python -m pytest -q {' '.join(ROBOT_TESTS)}"
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=deploy_env(deploy),
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in summary and "skipped" not in summary, summary


def test_deploy_graph_from_the_deploy_venv_steers_on_published_images(deploy, tmp_path):
    model = export_tiny_model(tmp_path)
    report = write_gate_report(tmp_path / "eval_results.json", model, True)
    domain = fresh_domain_id()
    launch = (
        f". {deploy / 'install' / 'setup.sh'} && exec ocelot launch deploy model_path:={model} "
        f"eval_report:={report} image_topic:=/robot/camera intra_op_threads:=1"
    )
    graph = Proc(["bash", "-c", launch], domain, env=deploy_env(deploy), cwd=tmp_path)
    probe = RosProbe(domain)
    try:
        commands = []
        probe.node.create_subscription(Twist, "/cmd_vel", commands.append, 50)
        images = probe.node.create_publisher(Image, "/robot/camera", 10)
        graph.wait_line("graph 'deploy' active: vla", 90)
        assert "gated by" in graph.output
        probe.spin_until(lambda: images.get_subscription_count() > 0, 30, "the node on the remapped camera topic")
        rng = np.random.default_rng(0)
        for _ in range(5):
            msg = Image(height=480, width=640, encoding="rgb8", step=1920)
            msg.data = rng.integers(0, 255, 640 * 480 * 3, dtype=np.uint8).tobytes()
            images.publish(msg)
            before = len(commands)
            probe.spin_until(lambda before=before: len(commands) > before, 20, "a command for the image")
        assert any(abs(c.angular.z) > 1e-3 for c in commands)  # the tiny model's head bias: it steers
        # the node runs the deploy venv's interpreter, not this one
        vla_pid = next(ln for ln in graph.lines if "started vla pid=" in ln).split("pid=")[1]
        exe = Path(f"/proc/{vla_pid.strip()}/exe").resolve()
        cmdline = Path(f"/proc/{vla_pid.strip()}/cmdline").read_text().split("\0")
        assert any(str(deploy) in part for part in cmdline), (exe, cmdline)
    finally:
        probe.close()
        graph.signal()
        graph.wait(60)


def test_deploy_refuses_a_model_whose_report_fails(deploy, tmp_path):
    model = export_tiny_model(tmp_path)
    report = write_gate_report(tmp_path / "eval_results.json", model, False)
    launch = (
        f". {deploy / 'install' / 'setup.sh'} && exec ocelot launch deploy model_path:={model} eval_report:={report}"
    )
    graph = Proc(["bash", "-c", launch], fresh_domain_id(), env=deploy_env(deploy), cwd=tmp_path)
    try:
        graph.wait_line("failed its gate", 90)
        graph.wait_line("bring-up of graph 'deploy' stopped", 30)
    finally:
        graph.signal()
        graph.wait(60)
