"""VLA node latency over DDS: 640x480 rgb8 image published -> Twist received, p50/p95, 1 and 2 threads.

    python bench/vla_latency.py [--model models/default/model.onnx] [--frames 200]

Without --model (and no shipped model) it exports an untrained policy of the default
configuration (same graph, same cost). Target: p95 <= 25 ms on one thread here.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def default_model(tmp: Path) -> Path:
    shipped = ROOT / "models" / "default" / "model.onnx"
    if shipped.is_file():
        return shipped
    sys.path.insert(0, str(ROOT / "bench"))
    from train_speed import export_random

    return export_random([], tmp / "default")


def measure(model: Path, threads: int, frames: int) -> list[float]:
    from geometry_msgs.msg import Twist
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState
    from sensor_msgs.msg import Image

    from ocelot_common.processes import Proc, fresh_domain_id

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "testing"))  # the probe node

    from ros_probe import RosProbe

    domain = fresh_domain_id()
    exe = ROOT / "install" / "ocelot_vla" / "lib" / "ocelot_vla" / "vla_node"
    node = Proc(
        [
            str(exe),
            "--ros-args",
            "-p",
            f"model_path:={model}",
            "-p",
            f"intra_op_threads:={threads}",
            "-p",
            "stale_image_timeout:=5.0",
            "-p",
            "max_acceleration:=1000.0",
        ],
        domain,
    )
    probe = RosProbe(domain)
    try:
        received = []
        probe.node.create_subscription(Twist, "/cmd_vel", lambda m: received.append(time.perf_counter()), 10)
        images = probe.node.create_publisher(Image, "/camera/image_raw", 10)
        change = probe.node.create_client(ChangeState, "/vla/change_state")
        probe.spin_until(change.service_is_ready, 60, "the VLA node")
        for label in ("configure", "activate"):
            future = change.call_async(ChangeState.Request(transition=Transition(label=label)))
            probe.spin_until(future.done, 60, f"{label}")
            if not future.result().success:
                raise SystemExit(f"{label} failed:\n{node.output}")
        probe.spin_until(lambda: images.get_subscription_count() > 0, 30, "the image subscription")
        rng = np.random.default_rng(0)
        latencies = []
        for i in range(frames + 10):
            msg = Image(height=480, width=640, encoding="rgb8", step=1920)
            msg.data = rng.integers(0, 255, 640 * 480 * 3, dtype=np.uint8).tobytes()
            before = len(received)
            sent = time.perf_counter()
            images.publish(msg)
            probe.spin_until(lambda before=before: len(received) > before, 10, "the command for an image")
            if i >= 10:  # warm-up frames left out
                latencies.append((received[-1] - sent) * 1e3)
        return latencies
    finally:
        probe.close()
        node.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model.onnx from `ocelot export`")
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("OCELOT_ROOT", str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(args.model) if args.model else default_model(Path(tmp))
        print(f"model {model}")
        for threads in (1, 2):
            lat = measure(model, threads, args.frames)
            print(
                f"{threads} intra-op thread(s): image in -> Twist out over DDS, {len(lat)} frames: "
                f"p50 {np.percentile(lat, 50):.1f} ms  p95 {np.percentile(lat, 95):.1f} ms  "
                f"max {max(lat):.1f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
