"""`ocelot tune-law --robot PROFILE`: the structured head's gains for a robot profile (ocelot_eval.law_tuning).

Prints the gains as the `model.law_gains=...` override of `ocelot train` (with `--law predictive`: the
`model.predictive_law=...` of the predictive head, its gain, filter and the profile's actuation) and the fast
loop model's mean error before and after; `--output FILE` also writes them with the settings as JSON. The scenarios are
seeded apart from the gate's sets (base seed 500000), so the gate does not judge gains tuned on its own
episodes. Exits 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--law",
        default="linear",
        choices=("linear", "predictive"),
        help="the law to tune: linear (model.head: law) or predictive (model.head: predictive); default linear",
    )
    parser.add_argument("--robot", default="pi4", help="robot profile: ideal, pi4 or a YAML path (default pi4)")
    parser.add_argument("--episodes", type=int, default=24, help="scenarios in the loop model (default 24)")
    parser.add_argument("--base-seed", type=int, default=500000, help="scenario seed of the first episode")
    parser.add_argument("--frames", type=int, default=100, help="frames per episode (default 100)")
    parser.add_argument("--noise-px", type=float, default=5.0, help="read-out noise per frame and axis, px")
    parser.add_argument("--iterations", type=int, default=150, help="search steps (default 150)")
    parser.add_argument("--seed", type=int, default=0, help="the search's seed")
    parser.add_argument(
        "--start",
        help="gains to start from, JSON [[kp, kp], [kd, kd], [k1, k1], [k2, k2]] (default: the oracle's law for an "
        "instant loop, a slower latency-aware one otherwise: ocelot_eval.law_tuning.start_gains); with --law "
        "predictive [[gain, gain], [alpha, alpha], [beta, beta]] (default ocelot_train.predictive_law.START)",
    )
    parser.add_argument(
        "--fold-margin",
        type=float,
        default=0.0,
        metavar="RAD",
        help="with --law predictive: fold the head's prediction and forecast at the ends a face has turned at, once "
        "it is this far back from one (model.predictive_law.fold_margin_rad; ocelot_train.predictive_law); "
        "default 0, no folding",
    )
    parser.add_argument(
        "--swing-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="with --law predictive and --fold-margin: forecast a face within F of its lane's half-width from the "
        "lane's middle on the harmonic swing between the ends it has turned at (model.predictive_law.swing_fraction); "
        "default 0, none",
    )
    parser.add_argument("--output", help="write the gains and the settings to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from ocelot_eval.law_tuning import LoopModel, bounded, start_gains, tune
    from ocelot_sim.robot_profile import RobotProfileError, load_profile
    from ocelot_train.law_head import GAIN_NAMES, check_gains
    from ocelot_train.predictive_law import PARAMETERS, START, predictive_law_for

    problems = [
        f"--{name.replace('_', '-')} must be >= {low}, got {getattr(args, name)}"
        for name, low in (("episodes", 1), ("frames", 2), ("iterations", 0), ("noise_px", 0), ("base_seed", 0))
        if not getattr(args, name) >= low
    ]
    options = {"fold_margin_rad": args.fold_margin, "swing_fraction": args.swing_fraction}
    for flag, value in (("--fold-margin", args.fold_margin), ("--swing-fraction", args.swing_fraction)):
        if value and args.law != "predictive":
            problems.append(f"{flag} is a setting of the predictive law: add --law predictive")
    names = PARAMETERS if args.law == "predictive" else GAIN_NAMES
    try:
        profile = load_profile(args.robot)
        if args.law == "linear":
            start = start_gains(profile) if args.start is None else check_gains(json.loads(args.start))
        else:
            given = [START[name] for name in PARAMETERS] if args.start is None else json.loads(args.start)
            if not (isinstance(given, list) and len(given) == len(PARAMETERS)):
                raise ValueError(f"--start for the predictive law is [[gain]*2, [alpha]*2, [beta]*2], got {given}")
            # its own checks, naming the value
            predictive_law_for(profile, **options, **dict(zip(PARAMETERS, given)))
            start = np.asarray(given, np.float64)
    except (RobotProfileError, ValueError) as exc:
        problems.append(f"{exc}")
    if problems:
        print("error: " + "; ".join(problems), file=sys.stderr)
        return 2
    model = LoopModel(
        profile, tuple(range(args.base_seed, args.base_seed + args.episodes)), args.frames, args.noise_px, args.seed
    )
    with tqdm(total=args.iterations, desc="tuning", unit="step", disable=args.quiet) as bar:

        def step(error: float) -> None:
            bar.update()
            bar.set_postfix(error_px=f"{error:.2f}")

        result = tune(model, start, args.iterations, args.seed, step, args.law, options)
    gains = np.round(bounded(args.law, result.gains.astype(np.float64)), 4).tolist()
    for name, row in zip(names, gains):
        print(f"{name}: pan {row[0]:.4f}, tilt {row[1]:.4f}")
    print(
        f"loop model under {profile.name}, {args.episodes} episodes, read-out noise {args.noise_px} px: "
        f"mean error {result.start_error_px:.2f} px -> {result.error_px:.2f} px"
    )
    if args.law == "linear":
        setting = {"law_gains": gains}
        print(f"model.law_gains={json.dumps(gains, separators=(',', ':'))}")
    else:
        setting = {"predictive_law": predictive_law_for(profile, **options, **dict(zip(PARAMETERS, gains)))}
        print(f"model.predictive_law={json.dumps(setting['predictive_law'], separators=(',', ':'))}")
    if args.output:
        record = {
            **setting,
            "law": args.law,
            "robot": profile.values(),
            "episodes": args.episodes,
            "base_seed": args.base_seed,
            "frames": args.frames,
            "noise_px": args.noise_px,
            "iterations": args.iterations,
            "seed": args.seed,
            "start_gains": np.asarray(start, np.float64).tolist(),
            "start_error_px": result.start_error_px,
            "error_px": result.error_px,
        }
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(record, indent=1))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ocelot tune-law", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
