"""`ocelot collect` and friends refuse bad input before starting anything, naming the problem."""

from pathlib import Path

import pytest
from ros_probe import run

from ocelot_collect.cli_collect import shards
from ocelot_common.processes import fresh_domain_id


@pytest.mark.parametrize(
    "args, message",
    [
        (["--n-episodes", "0"], "--n-episodes must be > 0"),
        (["--n-episodes", "3", "--perturb-interval", "5", "--perturb-hold", "5"], "--perturb-hold must be shorter"),
        (["--n-episodes", "3", "--label-mix", "track:1,multi_up:2"], "label_mix: bad entry 'multi_up:2'"),
        (["--n-episodes", "3", "--scenarios", "/nonexistent.yaml"], "cannot read scenario file"),
        (
            ["--n-episodes", "3", "--policy", "/nonexistent/model.onnx"],
            "--policy: /nonexistent/model.onnx does not exist",
        ),
        (["--n-episodes", "3", "--robot", "pi5"], "--robot: no robot profile 'pi5'; profiles: ideal, pi4"),
        (
            ["--n-episodes", "3", "--robot-randomise", "latency=1:2"],
            "--robot-randomise: robot randomisation 'latency=1:2' must be VALUE=LOW:HIGH",
        ),
    ],
)
def test_collect_rejects(tmp_path, args, message):
    result = run(["ocelot", "collect", "--output", str(tmp_path / "ds"), *args], fresh_domain_id())
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "ds").exists()


CONFIG = Path(__file__).resolve().parents[2] / "ocelot_eval" / "config"


@pytest.mark.parametrize(
    "scenarios, message",
    [
        (CONFIG / "scenarios_unseen.yaml", "entry 0 (seed 300000) is kept out of training: its command"),
        (CONFIG / "scenarios_photo.yaml", "entry 0 (seed 20000) is kept out of training: its face 'photo:astronaut'"),
    ],
)
def test_collect_refuses_the_sets_kept_out_of_training(tmp_path, scenarios, message):
    command = ["ocelot", "collect", "--output", str(tmp_path / "ds"), "--n-episodes", "2"]
    command += ["--scenarios", str(scenarios)]
    result = run(command, fresh_domain_id())
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "ds").exists()


def test_check_dataset_on_a_missing_or_empty_directory(tmp_path):
    missing = run(["ocelot", "check-dataset", "--dataset", str(tmp_path / "nope")], fresh_domain_id())
    assert missing.returncode == 2 and "is not a directory" in missing.stderr
    empty = run(["ocelot", "check-dataset", "--dataset", str(tmp_path)], fresh_domain_id())
    assert empty.returncode == 1 and "metadata.json is missing" in empty.stdout


def test_shards_cover_the_range_without_overlap():
    parts = shards(10, 7, 3)
    assert parts == [(10, 3), (13, 2), (15, 2)]
    assert shards(0, 2, 5) == [(0, 1), (1, 1)]
