"""Simulator speed: render and physics time per frame (in-process), and the real-time factor of the
`sim` graph (MuJoCo sim + oracle over ROS, lockstep) with the oracle's tracking error.

    python bench/sim_realtime.py [--seconds 30] [--frames 200]

Prints one line per figure. Target: >= 6x real time in lockstep with the oracle in the loop.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

EPISODE_S = 14.0
CAMERA_HZ = 10.0


def in_process(frames: int) -> None:
    from ocelot_sim.rig import PanTiltSim
    from ocelot_sim.scenario import generate

    sim = PanTiltSim()
    render_ms, step_ms = [], []
    for seed in range(4):
        sim.reset(generate(seed))
        sim.render()  # first frame of an episode uploads textures
        for _ in range(frames // 4):
            t0 = time.perf_counter()
            sim.step(0.2, -0.05)
            t1 = time.perf_counter()
            sim.render()
            t2 = time.perf_counter()
            step_ms.append((t1 - t0) * 1e3)
            render_ms.append((t2 - t1) * 1e3)
    sim.close()
    print(
        f"render 640x480 (with camera noise): mean {np.mean(render_ms):.1f} ms, "
        f"p95 {np.percentile(render_ms, 95):.1f} ms"
    )
    print(f"physics, one 0.1 s camera period: mean {np.mean(step_ms):.2f} ms")


def over_ros(seconds: float) -> None:
    from ocelot_common.processes import LaunchProc, fresh_domain_id

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "testing"))  # the probe node
    from ros_probe import RosProbe

    from ocelot_common.stamps import seconds as stamp_seconds
    from ocelot_msgs.msg import GroundTruthFaceArray
    from ocelot_sim.scenario import generate

    def moves(scenario):
        motion = scenario.faces[scenario.target].motion
        return motion.pattern != "static" and motion.speed > 0.25

    # a target that moves, so the error means something
    scenario = next(sc for sc in map(generate, range(1000)) if moves(sc))
    seed = scenario.seed
    domain = fresh_domain_id()
    graph = LaunchProc(["ocelot", "launch", "sim", f"seed:={seed}", "lockstep:=true"], domain)
    try:
        graph.wait_line("graph 'sim' active", 120)
        with RosProbe(domain, "bench_probe") as probe:
            stamps, errors = [], []

            def on_faces(msg):
                face = msg.faces[msg.target_index]
                stamps.append((time.monotonic(), stamp_seconds(msg.header.stamp)))
                errors.append(math.hypot(face.pixel_u - 320, face.pixel_v - 240))

            probe.node.create_subscription(GroundTruthFaceArray, "/ground_truth/faces", on_faces, 50)
            probe.spin_until(lambda: len(stamps) > 20, 60, "frames from the sim")
            start = len(stamps)
            deadline = time.monotonic() + seconds
            probe.spin_until(lambda: time.monotonic() > deadline, seconds + 5, "the measuring window")
        (w0, s0), (w1, s1) = stamps[start], stamps[-1]
        fps = (len(stamps) - 1 - start) / (w1 - w0)
        rtf = (s1 - s0) / (w1 - w0)
        tail = np.array(errors[start:])
        print(f"scenario seed {seed}: {scenario.label_key}, target {scenario.faces[scenario.target].motion.pattern}")
        print(
            f"lockstep sim + oracle over ROS: {fps:.1f} frames/s, real-time factor {rtf:.1f}x "
            f"(sim {s1 - s0:.1f} s in {w1 - w0:.1f} s wall)"
        )
        print(
            f"episodes per hour ({EPISODE_S:.0f} s episodes, one process pair): "
            f"{fps * 3600 / (EPISODE_S * CAMERA_HZ):.0f}"
        )
        print(f"oracle ground-truth error over ROS: mean {tail.mean():.2f} px, p95 {np.percentile(tail, 95):.2f} px")
    finally:
        graph.signal()
        graph.wait(60)
        graph.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="wall seconds to measure the ROS loop")
    parser.add_argument("--frames", type=int, default=200, help="frames for the in-process timing")
    args = parser.parse_args()
    in_process(args.frames)
    over_ros(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
