"""`ocelot eval-offline`: the exported policy against the oracle's labels on a dataset split."""

import json

import numpy as np
from dataset_fixtures import faces_metadata, split_by_tenth
from ros_probe import run
from tiny_models import export_tiny_model

from ocelot_common.processes import fresh_domain_id
from ocelot_dataset.episode_io import Episode, write_episode
from ocelot_dataset.index import finalize_dataset, read_split


def small_dataset(root, n_episodes=20, frames=6):
    rng = np.random.default_rng(0)
    for i in range(n_episodes):
        label, cmd = ("track", "track the face") if i % 2 else ("multi_left", "follow the person on the left")
        write_episode(
            root,
            Episode(
                index=i,
                frames=rng.integers(0, 255, (frames, 224, 224, 3), dtype=np.uint8),
                pan_vel=rng.uniform(-1, 1, frames).astype(np.float32),
                tilt_vel=np.zeros(frames, np.float32),
                gt_error_px=np.zeros(frames, np.float32),
                perturbed=np.zeros(frames, bool),
                sim_time=np.arange(frames) * 0.1,
                cmd=cmd,
                label_key=label,
                metadata={"scenario_id": f"s{i}", "command": cmd, "faces": faces_metadata(split_by_tenth(i), i)},
            ),
        )
    finalize_dataset(root, {})
    return root


def test_offline_report_and_gates(tmp_path):
    dataset = small_dataset(tmp_path / "ds")
    model = export_tiny_model(tmp_path / "tiny", previous_action=True)
    result = run(
        ["ocelot", "eval-offline", "--model", str(model), "--dataset", str(dataset), "--output", str(tmp_path / "out")],
        fresh_domain_id(),
        timeout=120,
    )
    report = json.loads((tmp_path / "out" / "offline_results.json").read_text())
    # random labels in [-1, 1] have MSE ~0.17 against any policy: above the 0.05 gate
    assert result.returncode == 1 and not report["pass"], result.stdout + result.stderr
    assert [row["episode"] for row in report["episodes"]] == read_split(dataset, "test")
    assert report["worst_label_mse"] == max(report["per_label_mse"].values())
    assert report["gates"]["overall_mse"]["value"] == report["overall_mse"] > 0.05


def test_offline_bad_input_exits_2(tmp_path):
    model = export_tiny_model(tmp_path / "tiny")
    missing = run(
        ["ocelot", "eval-offline", "--model", str(model), "--dataset", str(tmp_path / "none")], fresh_domain_id()
    )
    assert missing.returncode == 2 and "metadata.json is missing" in missing.stderr, missing.stderr
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"junk")
    bad = run(["ocelot", "eval-offline", "--model", str(junk), "--dataset", str(tmp_path)], fresh_domain_id())
    assert bad.returncode == 2 and "is not a loadable ONNX model" in bad.stderr, bad.stderr
