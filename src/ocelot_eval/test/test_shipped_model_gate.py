"""The deploy gate on the shipped default model: the short CI scenario set in every run, the standard, photo
and unseen-phrasing sets behind the `gate` marker (CI's deploy-gate job, `make test PYTEST_ARGS="-m gate"`).

A FAIL verdict fails the test: a change to training, the VLA node or the simulator that makes the shipped
model fail its gate does not land, and the deploy-gate job is what blocks deployment."""

import json
from pathlib import Path

import pytest
import yaml
from ros_probe import run

from ocelot_common.gate_binding import DEPLOY_GATE
from ocelot_common.model_files import model_files, sha256_of
from ocelot_common.processes import fresh_domain_id
from ocelot_eval.report import RECORDING_DIR, RESULTS_FILE

REPO = Path(__file__).resolve().parents[3]
MODEL = REPO / "models" / "default" / "model.onnx"
CONFIG = Path(__file__).resolve().parents[1] / "config"


def gate(scenarios: Path, output: Path, timeout: float, *options: str) -> tuple[int, dict]:
    result = run(
        ["ocelot", "eval", "--model", str(MODEL), "--scenarios", str(scenarios), "--output", str(output), "--quiet"]
        + list(options),
        fresh_domain_id(),
        timeout=timeout,
    )
    assert result.returncode in (0, 1), f"the gate did not run to a verdict:\n{result.stdout}\n{result.stderr}"
    report = json.loads((output / RESULTS_FILE).read_text())
    assert report["pass"] == (result.returncode == 0)
    return result, report


def test_shipped_model_files_match_its_card():
    card = json.loads(model_files(MODEL)["card"].read_text())
    for kind, entry in card["files"].items():
        assert sha256_of(model_files(MODEL)[kind]) == entry["sha256"], f"{kind} differs from the card"
    assert sum(p.stat().st_size for p in MODEL.parent.iterdir()) < 32 * 2**20  # the repo stays lean


def test_shipped_model_passes_the_ci_gate_and_its_recording_matches_the_report(tmp_path):
    result, report = gate(CONFIG / "scenarios_ci.yaml", tmp_path, 300, "--record")
    assert report["model_sha256"] == sha256_of(MODEL) and report["aggregate"]["episodes"] == 6
    files = model_files(MODEL)
    assert report["model_files"] == {kind: sha256_of(files[kind]) for kind in ("policy", "text", "tokenizer")}
    assert report["binding"]["gates_sha256"] == DEPLOY_GATE["gates_sha256"]  # the deploy gate's thresholds
    failed = {name: g["value"] for name, g in report["gates"].items() if not g["pass"]}
    assert report["pass"] and not failed, f"the shipped model fails the CI gate ({failed}):\n{result.stdout}"
    check_recording(tmp_path / RECORDING_DIR, report)
    assert "MiB per episode" in result.stdout


def check_recording(folder: Path, report: dict) -> None:
    """Read the recording back with rosbags: every topic, one message per scored frame (one per episode for
    the episode topics), the recorded types, and stamps and figures that agree with the report."""
    from rosbags.rosbag2 import Reader

    from ocelot_dataset.recording import EVALUATION_TOPICS, ocelot_typestore

    metadata = yaml.safe_load((folder / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert metadata["storage_identifier"] == "mcap"
    (name,) = metadata["relative_file_paths"]
    assert (folder / name).read_bytes()[:8] == b"\x89MCAP0\r\n"  # MCAP's magic
    store = ocelot_typestore()
    rows = report["episodes"]
    frames = sum(row["num_frames"] for row in rows)
    with Reader(folder) as reader:
        assert {c.topic: c.msgtype for c in reader.connections} == EVALUATION_TOPICS
        counts = {c.topic: c.msgcount for c in reader.connections}
        per_episode = {"/episode/info", "/evaluator/episode"}
        assert counts == {t: len(rows) if t in per_episode else frames for t in EVALUATION_TOPICS}, counts
        episodes: list[dict] = []
        last_log_time = -1
        for connection, log_time, raw in reader.messages():
            assert log_time >= last_log_time  # episodes one after another
            last_log_time = log_time
            msg = store.deserialize_cdr(raw, connection.msgtype)
            if connection.topic == "/episode/info":
                episodes.append({})
            stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            episodes[-1].setdefault(connection.topic, []).append((stamp, msg))
    assert len(episodes) == len(rows)
    for row, recorded in zip(rows, episodes):
        ((_, info),) = recorded["/episode/info"]
        assert (info.episode_index, info.seed, info.label_key) == (row["index"], row["seed"], row["label_key"])
        image_stamps = [stamp for stamp, _ in recorded["/camera/image_raw/compressed"]]
        assert len(image_stamps) == row["num_frames"] and image_stamps[0] == 0  # one image per frame
        assert image_stamps == sorted(set(image_stamps))
        for topic in ("/ground_truth/faces", "/cmd_vel_applied", "/vla/status", "/evaluator/tracking"):
            assert [stamp for stamp, _ in recorded[topic]] == image_stamps, topic  # each frame's, by its stamp
        scores = [msg for _, msg in recorded["/evaluator/tracking"]]
        assert [m.frame_index for m in scores] == list(range(row["num_frames"]))
        assert {m.episode_index for m in scores} == {row["index"]}
        ((stamp, metrics),) = recorded["/evaluator/episode"]
        assert stamp == image_stamps[-1] and metrics.num_frames == row["num_frames"]
        assert metrics.mean_error_px == pytest.approx(row["mean_error_px"], rel=1e-6)
        _, first = recorded["/camera/image_raw/compressed"][0]
        assert "jpeg" in first.format and bytes(first.data[:2]) == b"\xff\xd8"  # a JPEG


@pytest.mark.gate
@pytest.mark.parametrize(
    "scenario_set",
    [
        "scenarios_standard.yaml",
        "scenarios_photo.yaml",
        "scenarios_unseen.yaml",  # held-out phrasings on unseen faces
    ],
)
def test_shipped_model_passes_the_full_gate(tmp_path, scenario_set):
    result, report = gate(CONFIG / scenario_set, tmp_path, timeout=900)
    assert report["pass"], f"the shipped model fails the deploy gate:\n{result.stdout}"
    if scenario_set == "scenarios_standard.yaml":
        assert report["binding"] == DEPLOY_GATE  # what the robot accepts
