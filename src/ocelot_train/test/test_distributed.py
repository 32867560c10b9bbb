"""Training across processes: the distributed draw is the single-process draw, and a world-size-2 run under
torchrun (CPU, gloo) trains, honours max_train_samples and the draw weights, and only rank 0 writes."""

import json
import os
import subprocess
import sys

import pytest
import torch

from ocelot_train.distributed import DistributedDrawSampler, placement


@pytest.mark.parametrize("weighted", [True, False])
def test_the_ranks_share_out_exactly_the_single_process_draw(weighted):
    weights = torch.tensor([1.0] * 90 + [30.0] * 10) if weighted else None
    one = DistributedDrawSampler(100, 64, weights, seed=3)
    ranks = [DistributedDrawSampler(100, 64, weights, seed=3, rank=r, world_size=2) for r in (0, 1)]
    for sampler in (one, *ranks):
        sampler.set_epoch(2)
    shares = [list(r) for r in ranks]
    assert len(shares[0]) == len(shares[1]) == 32
    assert sorted(shares[0] + shares[1]) == sorted(one)  # nothing dropped, nothing repeated beyond the draw
    if weighted:  # a weight of 30 on 10 of 100 items: about 77 % of the draws
        assert sum(i >= 90 for i in one) > 32
    else:
        assert len(set(one)) == 64  # a subset without repeats
    one.set_epoch(3)
    assert list(one) != sorted(one) and list(one) != shares[0] + shares[1]  # a new epoch, a new draw


def test_an_odd_draw_is_padded_so_every_rank_takes_the_same_steps():
    ranks = [DistributedDrawSampler(10, 7, None, seed=0, rank=r, world_size=2) for r in (0, 1)]
    assert [len(list(r)) for r in ranks] == [4, 4]


def test_device_selection():
    assert placement("cpu").device.type == "cpu" and placement("cpu").backend == "gloo"
    if not torch.cuda.is_available():
        assert placement("auto").device.type == "cpu"
        with pytest.raises(ValueError, match="no GPU"):
            placement("cuda")


def test_torchrun_world_size_2_trains_with_the_weighted_draw_and_rank_0_writes(tiny_dataset, tmp_path):
    output = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "ocelot_train.cli_train",
            "--dataset",
            str(tiny_dataset),
            "--output",
            str(output),
            "--no-mlflow",
            "--no-export",
            "--quiet",
            "train.epochs=2",
            "train.batch_size=8",
            "train.augment=false",
            "train.max_train_samples=48",
            "train.label_weights={multi_left: 3}",
            "train.device=cpu",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    history = json.loads((output / "history.json").read_text())
    assert [row["world_size"] for row in history] == [2, 2]
    assert [row["samples"] for row in history] == [48, 48]  # max_train_samples holds across the ranks
    assert (output / "best.pt").is_file() and (output / "summary.json").is_file()
    assert result.stdout.count("best epoch") == 1  # one report, from rank 0
