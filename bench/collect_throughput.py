"""Collection speed: episodes per hour with one and with two workers, and bytes per episode on disk.

    python bench/collect_throughput.py [--episodes 24] [--frames 100] [--warmup 10]

Target: >= 1,500 episodes per hour per process (100 recorded + 10 warm-up frames per episode).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ocelot_common.processes import fresh_domain_id, ros_environment
from ocelot_dataset.episode_io import complete_episodes


def collect(output: Path, episodes: int, frames: int, warmup: int, workers: int) -> float:
    cmd = [
        "ocelot",
        "collect",
        "--n-episodes",
        str(episodes),
        "--output",
        str(output),
        "--workers",
        str(workers),
        "--episode-frames",
        str(frames),
        "--warmup-frames",
        str(warmup),
        "--quiet",
    ]
    start = time.monotonic()
    result = subprocess.run(cmd, env=ros_environment(domain_id=fresh_domain_id()), capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"collection failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=24)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (int(w) for w in args.workers.split(",")):
            output = Path(tmp) / f"w{workers}"
            elapsed = collect(output, args.episodes, args.frames, args.warmup, workers)
            files = list(complete_episodes(output).values())
            size = sum(p.stat().st_size for p in files) / len(files)
            # steady state: from the first finished file to the last, so start-up is left out
            finished = sorted(p.stat().st_mtime for p in files)
            steady = (len(finished) - 1) * 3600 / max(finished[-1] - finished[0], 1e-6)
            print(
                f"{workers} worker(s): {len(files)} episodes in {elapsed:.1f} s wall = "
                f"{len(files) * 3600 / elapsed:.0f} episodes/hour with start-up, {steady:.0f}/hour steady state; "
                f"{size / 1e6:.2f} MB per episode ({args.frames} frames, {size / args.frames / 1e3:.0f} kB/frame)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
