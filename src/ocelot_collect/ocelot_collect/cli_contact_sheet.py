"""`ocelot contact-sheet`: frames of several scenarios side by side in one PNG, to look at the world.

Each tile is the camera's view after the oracle law has tracked the target for
--frame frames (in-process, no ROS), captioned with seed, label and command;
a cross marks the target's ground-truth point.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

TILE = (320, 240)


def parse_seeds(text: str) -> list[int]:
    seeds = []
    for part in text.split(","):
        lo, sep, hi = part.partition("-")
        try:
            seeds += list(range(int(lo), int(hi) + 1)) if sep else [int(lo)]
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad --seeds '{text}': use e.g. 0-7 or 1,5,9") from None
    return seeds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-7"), help="e.g. 0-7 or 1,5,9")
    parser.add_argument("--scenarios", metavar="FILE", help="scenario YAML file (its entries replace --seeds)")
    parser.add_argument("--frame", type=int, default=20, help="frames of tracking before the snapshot")
    parser.add_argument("--columns", type=int, default=4)
    parser.add_argument("--output", default="contact_sheet.png", help="PNG to write")


def tile(image: np.ndarray, caption: list[str], target_px: tuple[float, float]) -> np.ndarray:
    import cv2

    small = cv2.resize(image, TILE, interpolation=cv2.INTER_AREA)
    sx, sy = TILE[0] / image.shape[1], TILE[1] / image.shape[0]
    if all(np.isfinite(target_px)):
        cv2.drawMarker(small, (int(target_px[0] * sx), int(target_px[1] * sy)), (255, 255, 0), cv2.MARKER_CROSS, 12, 1)
    band = np.full((16 * len(caption) + 6, TILE[0], 3), 24, np.uint8)
    for i, line in enumerate(caption):
        cv2.putText(band, line[:48], (4, 15 + 16 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (235, 235, 235), 1, cv2.LINE_AA)
    return np.concatenate([small, band], axis=0)


def run(args: argparse.Namespace) -> int:
    import cv2

    from ocelot_oracle.oracle_law import OracleLaw
    from ocelot_sim.rig import PanTiltSim
    from ocelot_sim.scenario import ScenarioError, from_entry, generate, load_scenario_file

    try:
        scenarios = (
            [from_entry(e) for e in load_scenario_file(args.scenarios)]
            if args.scenarios
            else [generate(s) for s in args.seeds]
        )
    except ScenarioError as exc:
        print(f"error: {exc}")
        return 2
    sim = PanTiltSim()
    tiles = []
    for scenario in scenarios:
        sim.reset(scenario)
        law = OracleLaw()
        for _ in range(args.frame):
            truth = sim.ground_truth()[scenario.target]
            (pan, tilt), _ = sim.joints()
            sim.step(*law.command(sim.time, *truth.pixel, pan, tilt, truth.rates))
        truth = sim.ground_truth()[scenario.target]
        tiles.append(tile(sim.render(), [f"seed {scenario.seed}  {scenario.label_key}", scenario.command], truth.pixel))
    sim.close()
    blank = np.zeros_like(tiles[0])
    rows = [tiles[i : i + args.columns] for i in range(0, len(tiles), args.columns)]
    sheet = np.concatenate([np.concatenate(r + [blank] * (args.columns - len(r)), axis=1) for r in rows], axis=0)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {out} ({len(tiles)} scenarios, frame {args.frame})")
    return 0
