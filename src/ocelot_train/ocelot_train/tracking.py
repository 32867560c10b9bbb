"""MLflow tracking to a local sqlite store (no server), with artifacts beside it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def default_tracking_uri(output: Path) -> str:
    """Runs under the same parent folder share one store: parent/mlflow.db."""
    return f"sqlite:///{Path(output).resolve().parent / 'mlflow.db'}"


@contextlib.contextmanager
def mlflow_run(tracking_uri: str, experiment: str, run_name: str, artifact_root: Path):
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import logging

    import mlflow

    logging.getLogger("alembic").setLevel(logging.WARNING)  # schema migrations of a new store are routine
    mlflow.set_tracking_uri(tracking_uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=Path(artifact_root).resolve().as_uri())
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        yield run


def flatten(prefix: str, values: dict) -> dict:
    flat = {}
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else key
        flat.update(flatten(name, value) if isinstance(value, dict) else {name: value})
    return flat


def report_epoch(row: dict, mlflow_run, progress: bool) -> None:
    """An epoch's figures on the terminal (when `progress`) and in the MLflow run (when there is one)."""
    import math

    per_label = " ".join(f"{k}={v:.4f}" for k, v in row["val_mse_per_label"].items())
    if progress:
        print(
            f"epoch {row['epoch']}: train {row['train_loss']:.4f}  val {row['val_mse']:.4f}  "
            f"shuffled-text {row['val_mse_shuffled_text']:.4f}  ({per_label})  "
            + (f"target {row['val_target_error_px']:.1f} px  " if math.isfinite(row["val_target_error_px"]) else "")
            + "".join(f"{k} {v:.0%}  " for k, v in row.get("val_attribute_accuracy", {}).items())
            + f"{row['samples_per_s']:.0f} samples/s",
            flush=True,
        )
    if mlflow_run is not None:
        import mlflow

        metrics = {k: v for k, v in row.items() if isinstance(v, float) and math.isfinite(v)}
        metrics.update({f"val_mse_{k}": v for k, v in row["val_mse_per_label"].items()})
        metrics.update({f"val_target_error_px_{k}": v for k, v in row["val_target_error_px_per_label"].items()})
        per_attribute = row["val_target_error_px_per_attribute"]
        metrics.update({f"val_target_error_px_attribute_{k}": v for k, v in per_attribute.items()})
        accuracy = row.get("val_attribute_accuracy", {})
        metrics.update({f"val_attribute_accuracy_{k}": v for k, v in accuracy.items()})
        mlflow.log_metrics(metrics, step=row["epoch"])
