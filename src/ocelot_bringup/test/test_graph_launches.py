"""Every graph under the real `ros2 launch` machinery (launch_testing): each node reaches active, the graph's
data flows, and launch's shutdown ends every process with exit code 0 (launch reports a non-zero exit as
"process has died").

Needs launch_testing: `make setup` installs it when ../shared/ros2-tooling is beside the project, and a full
ROS 2 install has it. Without it the test skips (ocelot launch's own tests cover the graphs there)."""

import os
import tempfile
import time
import unittest
from pathlib import Path

import pytest

pytest.importorskip(
    "launch_testing",
    reason="launch_testing is not installed: run `make setup` with ../shared/ros2-tooling beside "
    "the project, or use a full ROS 2 install",
)

import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402

from ocelot_common.processes import fresh_domain_id  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
MODEL = REPO / "models" / "default" / "model.onnx"
REPORT = REPO / "models" / "default" / "eval" / "standard" / "eval_results.json"
WORK = Path(tempfile.mkdtemp(prefix="ocelot-graph-launch-"))
SCENARIOS = WORK / "one.yaml"
SCENARIOS.write_text("scenarios:\n  - {seed: 10000, label_key: track}\n")
SHORT_COLLECTION = {"n_episodes": "1", "warmup_frames": "2", "episode_frames": "5"}
GRAPHS = {
    "sim": {},
    "collect": {**SHORT_COLLECTION, "output": str(WORK / "collect")},
    "collect_dagger": {**SHORT_COLLECTION, "output": str(WORK / "dagger"), "model_path": str(MODEL)},
    "eval": {
        "model_path": str(MODEL),
        "scenario_file": str(SCENARIOS),
        "output": str(WORK / "eval"),
        "episode_frames": "10",
    },
    "eval_oracle": {"scenario_file": str(SCENARIOS), "output": str(WORK / "eval_oracle"), "episode_frames": "10"},
    "eval_zero": {"scenario_file": str(SCENARIOS), "output": str(WORK / "eval_zero"), "episode_frames": "10"},
    "deploy": {"model_path": str(MODEL), "eval_report": str(REPORT), "intra_op_threads": "1"},
}
FINISHED = {
    "collect": "collection finished",
    "collect_dagger": "collection finished",
    "eval": "evaluation finished",
    "eval_oracle": "evaluation finished",
    "eval_zero": "evaluation finished",
}


@pytest.mark.launch_test
@launch_testing.parametrize("graph", list(GRAPHS))
def generate_test_description(graph):
    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription

    os.environ["ROS_DOMAIN_ID"] = str(fresh_domain_id())  # the graph and this test's probe, apart from others
    launch_file = Path(get_package_share_directory("ocelot_bringup")) / "launch" / f"{graph}_launch.py"
    include = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(launch_file)), launch_arguments=GRAPHS[graph].items()
    )
    return LaunchDescription([include, launch_testing.actions.ReadyToTest()])


def _receive(topic_types: dict, count: int, timeout: float, publish=None) -> dict:
    """Messages per topic on this test's domain (at least `count` of each), publishing `publish` meanwhile."""
    import rclpy
    from rclpy.qos import qos_profile_sensor_data

    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("graph_probe", context=context)
    got = {topic: [] for topic in topic_types}
    for topic, kind in topic_types.items():
        node.create_subscription(kind, topic, got[topic].append, 10)
    camera = None
    if publish is not None:
        camera = node.create_publisher(type(publish), "/camera/image_raw", qos_profile_sensor_data)
    executor = rclpy.executors.SingleThreadedExecutor(context=context)
    executor.add_node(node)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and any(len(v) < count for v in got.values()):
            if camera is not None:
                camera.publish(publish)
            executor.spin_once(timeout_sec=0.1)
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
    return got


class TestGraphRuns(unittest.TestCase):
    def test_nodes_active_and_data_flows(self, proc_output, graph):
        proc_output.assertWaitFor(f"graph '{graph}' active", timeout=120, strict_proc_matching=False)
        if graph in FINISHED:
            proc_output.assertWaitFor(FINISHED[graph], timeout=180, strict_proc_matching=False)
            if graph.startswith("collect"):
                self.assertEqual(len(list((Path(GRAPHS[graph]["output"]) / "episodes").glob("ep_*.h5"))), 1)
            else:
                lines = (Path(GRAPHS[graph]["output"]) / "episodes.jsonl").read_text().splitlines()
                self.assertEqual(len(lines), 1)
            return
        from geometry_msgs.msg import Twist, TwistStamped
        from sensor_msgs.msg import Image

        if graph == "sim":  # the sim's frames and the oracle's answers to them
            got = _receive({"/camera/image_raw": Image, "/cmd_vel_stamped": TwistStamped}, 3, 60)
        else:  # the robot: a best-effort camera in, commands out
            frame = Image(height=48, width=64, encoding="rgb8", step=64 * 3, data=bytes(48 * 64 * 3))
            got = _receive({"/cmd_vel": Twist}, 3, 60, publish=frame)
        for topic, messages in got.items():
            self.assertGreaterEqual(len(messages), 3, f"too few messages on {topic}")


@launch_testing.post_shutdown_test()
class TestGraphShutsDownCleanly(unittest.TestCase):
    def test_every_process_exits_0(self, proc_info, graph):
        launch_testing.asserts.assertExitCodes(proc_info)  # a non-zero exit is launch's "process has died"
