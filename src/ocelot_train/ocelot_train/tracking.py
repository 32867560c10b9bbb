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
