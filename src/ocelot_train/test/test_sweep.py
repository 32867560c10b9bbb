import json
import subprocess

import pytest

from ocelot_train.cli_sweep import grid_runs


def test_grid_is_the_cartesian_product():
    runs = grid_runs({"grid": {"train.lr": [1e-3, 3e-4], "model.n_fusion_layers": [1, 2, 4]}})
    assert len(runs) == 6 and {"train.lr": 3e-4, "model.n_fusion_layers": 4} in runs
    with pytest.raises(ValueError, match="non-empty lists"):
        grid_runs({"grid": {"train.lr": []}})


def test_sweep_runs_each_combination_and_sorts_by_val_loss(tmp_path, dataset_factory):
    dataset = dataset_factory(tmp_path / "ds", 8, frames=6)
    spec = tmp_path / "sweep.yaml"
    spec.write_text("grid: {train.lr: [1.0e-3, 3.0e-3]}\nfixed: {train.epochs: 1, train.batch_size: 16}\n")
    result = subprocess.run(
        [
            "ocelot",
            "sweep",
            "--config",
            str(spec),
            "--dataset",
            str(dataset),
            "--output",
            str(tmp_path / "sweep"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads((tmp_path / "sweep" / "sweep_results.json").read_text())
    assert len(rows) == 2 and rows[0]["val_mse"] <= rows[1]["val_mse"]
    assert (tmp_path / "sweep" / "mlflow.db").is_file()


def test_sweep_with_a_bad_combination_fails_before_training(tmp_path):
    spec = tmp_path / "sweep.yaml"
    spec.write_text("grid: {train.lr: [1.0e-3], model.n_heads: [3]}\n")
    result = subprocess.run(
        ["ocelot", "sweep", "--config", str(spec), "--dataset", str(tmp_path), "--output", str(tmp_path / "sweep")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "divisible" in result.stderr
