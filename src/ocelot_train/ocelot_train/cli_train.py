"""`ocelot train --dataset DIR --output DIR [--config training/FILE.yaml] [section.key=value ...]`.

Trains, keeps best.pt by validation loss, exports it to ONNX (parity-checked)
and logs params, per-epoch metrics, the model card and the ONNX files to
MLflow (sqlite store beside the output folder unless --tracking-uri).
Several GPUs or machines: `torchrun --nproc-per-node N -m ocelot_train.cli_train ...` (one process per
device; rank 0 tracks, saves and exports).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="a dataset folder made by `ocelot collect`")
    parser.add_argument("--output", required=True, help="run folder: best.pt, last.pt, history.json, model.onnx")
    parser.add_argument("--config", help="YAML with model: and train: sections (see training/)")
    parser.add_argument("overrides", nargs="*", help="section.key=value, e.g. train.lr=3e-4 model.n_fusion_layers=1")
    parser.add_argument("--tracking-uri", default="", help="MLflow store (default sqlite:///<output>/../mlflow.db)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not track the run")
    parser.add_argument("--no-export", action="store_true", help="skip the ONNX export of best.pt")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def train_and_export(args: argparse.Namespace, run_name: str | None = None) -> dict:
    """The whole run; returns the summary row (best epoch's metrics, paths). Raises on bad input."""
    from ocelot_train.configuration_vla import load_run_config
    from ocelot_train.distributed import is_main_process
    from ocelot_train.tracking import default_tracking_uri, flatten, mlflow_run
    from ocelot_train.train_loop import Trainer

    config = load_run_config(args.config, args.overrides)
    output = Path(args.output)
    main = is_main_process()
    trainer = Trainer(args.dataset, output, config, progress=not args.quiet and main)
    summary: dict[str, Any] = {"output": str(output), "config": config.to_dict()}
    if not main:  # the other ranks of a torchrun job only train
        summary["best"] = trainer.run().best
        return summary
    tracking: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if not args.no_mlflow:
        summary["tracking_uri"] = args.tracking_uri or config.train.tracking_uri or default_tracking_uri(output)
        tracking = mlflow_run(
            summary["tracking_uri"],
            config.train.experiment,
            run_name or output.name,
            output.resolve().parent / "mlartifacts",
        )
    with tracking as run:
        if run is not None:
            import mlflow

            mlflow.log_params({k: str(v) for k, v in flatten("", config.to_dict()).items()})
            mlflow.log_params(
                {
                    "dataset": str(Path(args.dataset).resolve()),
                    "dataset_fingerprint": trainer.data.fingerprint,
                    "train_samples": len(trainer.train_set),
                    "val_samples": len(trainer.val_set),
                }
            )
        result = trainer.run(mlflow_run=run)
        if not args.no_export:
            from ocelot_train.export import export_model

            summary["card"] = export_model(result.checkpoint, output / "export" / "model.onnx")
        if run is not None:
            if not args.no_export:
                mlflow.log_artifacts(str(output / "export"), artifact_path="model")
            mlflow.log_artifact(str(output / "history.json"))
    summary["best"] = result.best
    (output / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def run(args: argparse.Namespace) -> int:
    from ocelot_train.configuration_vla import ConfigError
    from ocelot_train.dataset import DatasetError
    from ocelot_train.export import ExportError
    from ocelot_train.hub import PretrainedUnavailable

    try:
        summary = train_and_export(args)
    except (ConfigError, DatasetError, PretrainedUnavailable, ExportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    best = summary["best"]
    if not best:  # a torchrun rank other than 0: rank 0 reports
        return 0
    print(
        f"best epoch {best['epoch']}: val MSE {best['val_mse']:.4f} (shuffled commands "
        f"{best['val_mse_shuffled_text']:.4f}); checkpoint {Path(args.output) / 'best.pt'}"
    )
    if "card" in summary:
        print(f"exported {Path(args.output) / 'export' / 'model.onnx'} (parity {summary['card']['parity_max_abs']})")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ocelot train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
