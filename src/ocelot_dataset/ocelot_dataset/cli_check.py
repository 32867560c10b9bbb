"""`ocelot check-dataset`: the dataset checks, and optionally sample frames as PNGs to look at."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ocelot_dataset.check import RECOVERY_THRESHOLD, check_dataset
from ocelot_dataset.episode_io import EpisodeError, complete_episodes, read_episode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--deep", action="store_true", help="open every file (default: counts from metadata.json)")
    parser.add_argument("--sample-frames", type=int, default=0, metavar="K", help="write K PNGs with command arrows")
    parser.add_argument("--recovery-threshold", type=float, default=RECOVERY_THRESHOLD)


def run(args: argparse.Namespace) -> int:
    root = Path(args.dataset)
    if not root.is_dir():
        print(f"error: {root} is not a directory", file=sys.stderr)
        return 2
    report = check_dataset(root, deep=args.deep, recovery_threshold=args.recovery_threshold)
    for level, text in report.lines:
        print(f"  [{level}] {text}" if level != "info" else f"  {text}")
    if args.sample_frames:
        out = root / "samples"
        written = write_samples(root, out, args.sample_frames)
        print(f"  wrote {written} sample frames to {out}")
    print("FAILED" if report.failed else "PASSED")
    return 1 if report.failed else 0


def write_samples(root: Path, out: Path, k: int) -> int:
    """K frames spread over the dataset, upscaled, with the oracle's command drawn as an arrow."""
    import cv2

    out.mkdir(exist_ok=True)
    files = list(complete_episodes(root).values())
    rng = np.random.default_rng(0)
    written = 0
    for path in [files[i] for i in rng.choice(len(files), size=min(k, len(files)), replace=False)]:
        try:
            episode = read_episode(path)
        except EpisodeError:
            continue
        i = int(rng.integers(len(episode.frames)))
        image = cv2.resize(episode.frames[i], (448, 448), interpolation=cv2.INTER_NEAREST)
        pan, tilt = float(episode.pan_vel[i]), float(episode.tilt_vel[i])
        tip = (int(224 - pan * 180), int(224 - tilt * 180))  # + pan turns left, + tilt looks up
        cv2.arrowedLine(image, (224, 224), tip, (255, 255, 0), 3, tipLength=0.25)
        cv2.putText(image, f"{episode.cmd[:40]}", (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        cv2.putText(
            image, f"pan {pan:+.2f} tilt {tilt:+.2f}", (6, 440), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1
        )
        cv2.imwrite(str(out / f"{Path(path).stem}_f{i:03d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        written += 1
    return written
