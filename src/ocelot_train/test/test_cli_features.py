"""`ocelot cache-features`: a frozen encoder's tokens cached ahead of training, by one process or by Ray tasks
that share the work (the same files either way), and its bad input."""

import json
import subprocess

import pytest

MOBILENET = "model.vision.backend=mobilenet_v2"


def cache(dataset, cache_dir, *extra):
    return subprocess.run(
        ["ocelot", "cache-features", "--dataset", str(dataset), "--cache-dir", str(cache_dir), "--quiet", *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )


def files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.f16"))}


def test_ray_tasks_cache_the_same_files_as_one_process(dataset_factory, tmp_path):
    dataset = dataset_factory(tmp_path / "ds", n_episodes=6, frames=4)
    overrides = [MOBILENET, "model.vision.frozen=true", "train.augment=false"]
    one = cache(dataset, tmp_path / "one", *overrides)
    assert one.returncode == 0, one.stdout + one.stderr
    on_ray = cache(dataset, tmp_path / "ray", "--ray", "local", "--workers", "2", *overrides)
    assert on_ray.returncode == 0, on_ray.stdout + on_ray.stderr
    ours, theirs = files(tmp_path / "one"), files(tmp_path / "ray")
    assert len(ours) == 6 and ours.keys() == theirs.keys()
    different = [name for name in ours if ours[name] != theirs[name]]
    assert not different, f"tokens differ: {different}"
    summary = json.loads((tmp_path / "ray" / "features.json").read_text())
    assert (
        summary["cached"]
        and summary["episodes"] == json.loads((tmp_path / "one" / "features.json").read_text())["episodes"]
    )


def test_a_trainable_encoder_has_nothing_to_cache(dataset_factory, tmp_path):
    result = cache(dataset_factory(tmp_path / "ds", n_episodes=6, frames=4), tmp_path / "c")
    assert result.returncode == 0 and "nothing to cache" in result.stdout
    assert not json.loads((tmp_path / "c" / "features.json").read_text())["cached"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--shard", "2/2"], "want K/N with 0 <= K < N"),
        (["--shard", "x"], "want K/N"),
        (["--ray", "local", "--shard", "0/2"], "no --shard"),
    ],
)
def test_bad_shards_are_refused(tmp_path, extra, message):
    result = cache(tmp_path / "nowhere", tmp_path / "c", *extra)
    assert result.returncode == 2 and message in result.stderr
