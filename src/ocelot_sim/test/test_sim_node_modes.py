"""Real-time mode keeps time with the wall clock without a controller; perturbation jumps show in the ground truth."""

import time
from pathlib import Path

from ros_probe import RosProbe

from ocelot_common.processes import LaunchProc, fresh_domain_id
from ocelot_msgs.msg import GroundTruthFaceArray

GRAPHS = str(Path(__file__).with_name("graphs_sim_only.yaml"))


def record(args, n):
    domain = fresh_domain_id()
    graph = LaunchProc(["ocelot", "launch", "sim_only", "--graphs", GRAPHS, *args], domain)
    try:
        graph.wait_line("graph 'sim_only' active", 90)
        with RosProbe(domain) as probe:
            got = []
            probe.node.create_subscription(
                GroundTruthFaceArray, "/ground_truth/faces", lambda m: got.append((time.monotonic(), m)), 50
            )
            probe.spin_until(lambda: len(got) >= n, 60, f"{n} ground-truth messages")
        return got
    finally:
        graph.kill()


def sim_seconds(msg):
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def test_real_time_mode_runs_at_camera_rate_without_a_controller():
    got = record(["lockstep:=false"], 25)
    (w0, m0), (w1, m1) = got[2], got[-1]
    ratio = (sim_seconds(m1) - sim_seconds(m0)) / (w1 - w0)
    assert 0.5 < ratio < 1.5, ratio  # sim time follows the wall clock
    steps = {round(sim_seconds(b) - sim_seconds(a), 3) for (_, a), (_, b) in zip(got[2:], got[3:])}
    assert steps == {0.1}  # one camera period per frame


def test_perturbation_jumps_show_in_ground_truth():
    got = record(["perturb_interval:=5"], 22)
    flags = {int(round(sim_seconds(m) * 10)): m.faces[m.target_index].perturbed for _, m in got}
    held = sorted(frame for frame, flag in flags.items() if flag)
    assert held and all(frame % 5 < 2 and frame >= 5 for frame in held)
    assert all(not flag for frame, flag in flags.items() if frame % 5 >= 2)
