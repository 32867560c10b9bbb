"""`ocelot sweep --config training/sweep.yaml --dataset DIR --output DIR`: a grid, one MLflow run each.

sweep.yaml:  base: training/default.yaml   (optional run config)
             grid: {train.lr: [1e-4, 3e-4, 1e-3], model.n_fusion_layers: [1, 2, 4], train.batch_size: [32, 64]}
             fixed: {train.epochs: 5}        (optional overrides for every run)
Prints a table sorted by validation loss and writes sweep_results.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import yaml


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="sweep YAML (base, grid, fixed)")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--output", required=True, help="one sub-folder per run, and the shared MLflow store")
    parser.add_argument("--quiet", action="store_true")


def grid_runs(spec: dict) -> list[dict[str, object]]:
    grid = spec.get("grid") or {}
    if not isinstance(grid, dict) or not grid or not all(isinstance(v, list) and v for v in grid.values()):
        raise ValueError("the sweep's grid: must map keys like train.lr to non-empty lists of values")
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def run(args: argparse.Namespace) -> int:
    from ocelot_train.cli_train import train_and_export
    from ocelot_train.configuration_vla import ConfigError, load_run_config
    from ocelot_train.dataset import DatasetError

    try:
        spec = yaml.safe_load(Path(args.config).read_text()) or {}
        runs = grid_runs(spec)
        base = spec.get("base")
        fixed = [f"{k}={v}" for k, v in (spec.get("fixed") or {}).items()]
        for values in runs:  # every combination must be a valid config before the first run starts
            load_run_config(base, fixed + [f"{k}={v}" for k, v in values.items()])
    except (OSError, yaml.YAMLError, ValueError, ConfigError) as exc:
        print(f"error: sweep config {args.config}: {exc}", file=sys.stderr)
        return 2
    rows = []
    for i, values in enumerate(runs, 1):
        name = "_".join(f"{k.split('.')[-1]}{v}" for k, v in values.items())
        print(f"[{i}/{len(runs)}] {name}", flush=True)
        run_args = argparse.Namespace(
            dataset=args.dataset,
            output=str(Path(args.output) / name),
            config=base,
            overrides=fixed + [f"{k}={v}" for k, v in values.items()],
            tracking_uri="",
            no_mlflow=False,
            no_export=True,
            quiet=args.quiet,
        )
        try:
            best = train_and_export(run_args, run_name=name)["best"]
        except DatasetError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        rows.append(
            {
                "run": name,
                **values,
                "val_mse": best["val_mse"],
                "val_mse_shuffled_text": best["val_mse_shuffled_text"],
                "epoch": best["epoch"],
            }
        )
    rows.sort(key=lambda r: r["val_mse"])
    (Path(args.output) / "sweep_results.json").write_text(json.dumps(rows, indent=1))
    keys = list(rows[0])
    print("  ".join(f"{k:>12s}" for k in keys))
    for row in rows:
        print("  ".join(f"{v:12.4f}" if isinstance(v, float) else f"{str(v):>12s}" for v in row.values()))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ocelot sweep", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
