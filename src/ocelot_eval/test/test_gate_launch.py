"""The deploy gate as a launch_testing test (`launch_test`, pytest, `colcon test`).

It launches the same 'eval' graph as `ocelot eval` (through ocelot_bringup's
launch translation), waits for the evaluator to finish the CI scenario set,
and checks the episodes against the same gates file, under the deploy gate's
robot profile (DEPLOY_ROBOT). OCELOT_GATE_MODEL names
another model to gate (test_gate_launch_rejects.py shows a model that cannot
track failing it). Where launch_testing is not installed (a pip-only workspace
without ../shared/ros2-tooling) it is skipped; `ocelot eval` runs the same gate
there (test_shipped_model_gate.py).
"""

import json
import os
import tempfile
import unittest
from pathlib import Path

import pytest

pytest.importorskip(
    "launch_testing",
    reason="launch_testing is not installed: run `make setup` with ../shared/ros2-tooling beside "
    "the project, or use a full ROS 2 install; `ocelot eval` runs the same gate meanwhile",
)

import launch_testing.actions  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402

from ocelot_common.gate_binding import DEPLOY_ROBOT  # noqa: E402
from ocelot_eval.evaluator_node import EPISODES_FILE  # noqa: E402
from ocelot_eval.gates import check_gates, load_gates  # noqa: E402
from ocelot_eval.metrics import EpisodeScore, aggregate  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
MODEL = Path(os.environ.get("OCELOT_GATE_MODEL", REPO / "models" / "default" / "model.onnx"))
SCENARIOS = Path(__file__).resolve().parents[1] / "config" / "scenarios_ci.yaml"
OUTPUT = Path(os.environ.get("OCELOT_GATE_OUTPUT", tempfile.mkdtemp(prefix="ocelot-gate-")))


@pytest.mark.launch_test
def generate_test_description():
    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription

    eval_launch = Path(get_package_share_directory("ocelot_bringup")) / "launch" / "eval_launch.py"
    include = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(eval_launch)),
        launch_arguments={
            "model_path": str(MODEL),
            "scenario_file": str(SCENARIOS),
            "output": str(OUTPUT),
            "robot_profile": DEPLOY_ROBOT,
        }.items(),
    )
    return LaunchDescription([include, launch_testing.actions.ReadyToTest()])


class TestGateRuns(unittest.TestCase):
    def test_evaluator_finishes(self, proc_output):
        proc_output.assertWaitFor("evaluation finished", timeout=600, strict_proc_matching=False)


@launch_testing.post_shutdown_test()
class TestGatePasses(unittest.TestCase):
    def test_gate(self):
        lines = (OUTPUT / EPISODES_FILE).read_text().splitlines()
        metrics = aggregate([EpisodeScore.from_dict(json.loads(line)) for line in lines])
        passed, gates = check_gates(load_gates(), metrics)
        self.assertTrue(passed, json.dumps(gates, indent=1))
