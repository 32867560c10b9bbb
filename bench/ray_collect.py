"""Collection on a local Ray instance: episodes per hour with 1 and with 2 Ray workers on this machine, and
the scaling between them (`ocelot collect --ray local --workers N`, Ray's start-up included).

    python bench/ray_collect.py [--episodes 8] [--frames 100]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path


def collect(output: Path, workers: int, episodes: int, frames: int) -> float:
    cmd = ["ocelot", "collect", "--n-episodes", str(episodes), "--output", str(output), "--episode-frames", str(frames)]
    started = time.monotonic()
    subprocess.run([*cmd, "--ray", "local", "--workers", str(workers), "--quiet"], check=True, capture_output=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--frames", type=int, default=100)
    args = parser.parse_args()
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            seconds = collect(Path(tmp) / f"w{workers}", workers, args.episodes, args.frames)
            rates[workers] = args.episodes / seconds * 3600
            print(
                f"{workers} Ray worker(s): {args.episodes} episodes of {args.frames} frames in {seconds:.1f} s = "
                f"{rates[workers]:.0f} episodes/hour"
            )
    print(f"scaling 1 -> 2 workers: x{rates[2] / rates[1]:.2f} (linear would be x2.00)")


if __name__ == "__main__":
    main()
