"""Mid-episode perturbation vs none, same seeds: pan_vel p95 and the share of recovery frames.

    python bench/perturbation_effect.py [--episodes 100] [--workers 2]

Expectation (issue): clean p95 ~0.17 rad/s, perturbed >= 0.4 rad/s with >= 25 % recovery frames.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ocelot_common.processes import fresh_domain_id, ros_environment
from ocelot_dataset.check import RECOVERY_THRESHOLD
from ocelot_dataset.episode_io import complete_episodes, read_episode


def stats(root: Path) -> tuple[float, float, float]:
    pans, tilts = [], []
    for path in complete_episodes(root).values():
        ep = read_episode(path, frames=False)
        pans.append(ep.pan_vel)
        tilts.append(ep.tilt_vel)
    pan, tilt = np.concatenate(pans), np.concatenate(tilts)
    recovery = np.mean(np.maximum(np.abs(pan), np.abs(tilt)) > RECOVERY_THRESHOLD)
    return float(np.percentile(np.abs(pan), 95)), float(pan.std()), float(recovery)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", help="keep the datasets here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.output or tmp)
        for name, interval in (("clean", 0), ("perturbed", 15)):
            start = time.monotonic()
            cmd = [
                "ocelot",
                "collect",
                "--n-episodes",
                str(args.episodes),
                "--output",
                str(base / name),
                "--workers",
                str(args.workers),
                "--perturb-interval",
                str(interval),
                "--quiet",
            ]
            result = subprocess.run(
                cmd, env=ros_environment(domain_id=fresh_domain_id()), capture_output=True, text=True
            )
            if result.returncode != 0:
                sys.exit(f"{name} collection failed:\n{result.stdout}\n{result.stderr}")
            p95, std, recovery = stats(base / name)
            print(
                f"{name:>9}: {args.episodes} episodes in {time.monotonic() - start:.0f} s; |pan_vel| p95 {p95:.3f} "
                f"rad/s, std {std:.3f}; recovery frames (|cmd| > {RECOVERY_THRESHOLD}) {recovery:.1%}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
