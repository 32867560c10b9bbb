"""`ocelot collect` over real DDS: a few short episodes under a randomised pi4 robot, checked; then a SIGKILLed
collector resumed exactly; DAgger under a profile."""

import os
import signal

import numpy as np
import pytest
from ros_probe import run

from ocelot_common.processes import Proc, fresh_domain_id, wait_for
from ocelot_dataset.episode_io import complete_episodes, read_episode
from ocelot_dataset.index import read_split

SCENARIOS = """\
- {seed: 1, label_key: track, faces: [{motion: sine, speed: 0.3}]}
- {seed: 2, label_key: multi_left}
- {seed: 3, label_key: multi_attr}
- {seed: 4, label_key: multi_closest}
"""


ROBOT = ["--robot", "pi4", "--robot-randomise", "command_latency_s=0.05:0.15"]


def collect_cmd(output, n, scenarios=None, frames=20, extra=()):
    cmd = [
        "ocelot",
        "collect",
        "--n-episodes",
        str(n),
        "--output",
        str(output),
        "--warmup-frames",
        "3",
        "--episode-frames",
        str(frames),
        "--perturb-interval",
        "6",
        "--perturb-hold",
        "2",
        "--quiet",
        *extra,
    ]
    return cmd + (["--scenarios", str(scenarios)] if scenarios else [])


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    root = tmp_path_factory.mktemp("collect")
    scenarios = root / "scenarios.yaml"
    scenarios.write_text(SCENARIOS)
    result = run(collect_cmd(root / "ds", 4, scenarios, extra=[*ROBOT, "--record"]), fresh_domain_id(), timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "ds"


def check_recording(dataset, index: int, label_topic: str) -> dict:
    """An episode's recording read back with rosbags against its HDF5 file: one message per recorded frame on
    every per-frame topic, at the frames' stamps, and the label commands of the episode file."""
    from rosbags.rosbag2 import Reader

    from ocelot_dataset.recording import COLLECTION_TOPICS, episode_recording, ocelot_typestore

    store, ep = ocelot_typestore(), read_episode(complete_episodes(dataset)[index], frames=False)
    frames = [int(round(t * 1e9)) for t in ep.sim_time]
    with Reader(episode_recording(dataset, index)) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        assert topics == {**COLLECTION_TOPICS, label_topic: "geometry_msgs/msg/TwistStamped"}
        by_topic: dict = {}
        for connection, _, raw in reader.messages():
            msg = store.deserialize_cdr(raw, connection.msgtype)
            stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            by_topic.setdefault(connection.topic, []).append((stamp, msg))
    ((_, info),) = by_topic.pop("/episode/info")
    assert info.episode_index == index and info.label_key == ep.label_key
    for topic, messages in by_topic.items():
        assert [stamp for stamp, _ in messages] == frames, topic  # one per recorded frame
    labels = np.array([(m.twist.angular.z, m.twist.angular.y) for _, m in by_topic[label_topic]])
    np.testing.assert_allclose(labels, np.stack([ep.pan_vel, ep.tilt_vel], axis=1), atol=1e-6)
    return by_topic


def test_each_recorded_episode_has_its_recording(collected):
    for index in range(4):
        by_topic = check_recording(collected, index, "/cmd_vel_applied")
        _, image = by_topic["/camera/image_raw/compressed"][0]
        assert "jpeg" in image.format and bytes(image.data[:2]) == b"\xff\xd8"
    assert not list((collected / "recordings" / ".partial").glob("*"))


def test_episodes_have_the_schema(collected):
    files = complete_episodes(collected)
    assert sorted(files) == [0, 1, 2, 3]
    labels = []
    for path in files.values():
        ep = read_episode(path)
        assert ep.frames.shape == (20, 224, 224, 3) and ep.frames.dtype == np.uint8
        assert ep.pan_vel.dtype == np.float32 and ep.pan_vel.shape == (20,)
        assert np.isfinite(ep.pan_vel).all() and np.abs(ep.pan_vel).max() <= 1.0
        assert ep.perturbed.any()  # jumps every 6 frames
        # the target's image point agrees with its recorded distance from the centre, NaN where out of view
        assert ep.target_px.shape == (20, 2)
        seen = np.isfinite(ep.gt_error_px)
        assert seen.any() and (np.isfinite(ep.target_px).all(1) == seen).all()
        np.testing.assert_allclose(np.hypot(*(ep.target_px[seen] - [320, 240]).T), ep.gt_error_px[seen], rtol=1e-4)
        assert ep.cmd and ep.cmd == ep.metadata["command"]
        assert len(np.unique(ep.frames.reshape(20, -1)[:, ::997], axis=0)) > 1  # frames change
        labels.append(ep.label_key)
    assert sorted(labels) == sorted(["track", "multi_left", "multi_attr", "multi_closest"])
    # each episode records the robot it was collected under: pi4, with its own latency drawn
    robots = [read_episode(p, frames=False).metadata["robot"] for p in files.values()]
    latencies = [r["command_latency_s"] for r in robots]
    assert all(r["name"] == "pi4" and r["time_constant_s"] == [0.06, 0.04] for r in robots)
    assert all(0.05 <= x <= 0.15 for x in latencies) and len(set(latencies)) == 4
    assert read_episode(files[0], frames=False).metadata["collection"]["robot"] == "pi4"
    pan = np.concatenate([read_episode(p, frames=False).pan_vel for p in files.values()])
    assert pan.std() > 0.05  # the oracle commands motion


def test_splits_disjoint_and_complete(collected):
    splits = {n: read_split(collected, n) for n in ("train", "val", "test")}
    assert sorted(sum(splits.values(), [])) == [0, 1, 2, 3]
    scenario = {ep: read_episode(p, frames=False).scenario_id for ep, p in complete_episodes(collected).items()}
    sets = [{scenario[e] for e in eps} for eps in splits.values()]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])


def test_check_dataset_passes(collected):
    result = run(["ocelot", "check-dataset", "--dataset", str(collected), "--deep"], fresh_domain_id())
    assert result.returncode == 0, result.stdout
    assert "PASSED" in result.stdout and "recovery frames" in result.stdout


def test_killed_collector_resumes_without_loss_or_duplicates(tmp_path):
    output = tmp_path / "ds"
    domain = fresh_domain_id()
    first = Proc(collect_cmd(output, 6, frames=40), domain)
    try:
        line = first.wait_line("started collector pid=", 120)
        pid = int(line.rsplit("pid=", 1)[1])
        wait_for(lambda: len(complete_episodes(output)) >= 2, 180, "two finished episodes")
        os.kill(pid, signal.SIGKILL)  # mid-episode: the next one is being recorded or written
        assert first.wait(120) != 0
        assert "re-run the same command" in first.output
    finally:
        first.kill()
    partial = len(complete_episodes(output))
    assert 2 <= partial < 6
    second = run(collect_cmd(output, 6, frames=40), fresh_domain_id(), timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    files = complete_episodes(output)
    assert sorted(files) == list(range(6))
    assert not list((output / "episodes").glob("*.tmp"))
    for path in files.values():
        assert read_episode(path).frames.shape[0] == 40
    check = run(["ocelot", "check-dataset", "--dataset", str(output), "--deep"], fresh_domain_id())
    assert "ep_0000" not in "\n".join(ln for ln in check.stdout.splitlines() if "FAIL" in ln)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie no longer runs
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_terminated_collect_stops_its_nodes(tmp_path):
    collect = Proc(collect_cmd(tmp_path / "ds", 50, frames=40), fresh_domain_id())
    try:
        line = collect.wait_line("started collector pid=", 120)
        nodes = [int(line.rsplit("pid=", 1)[1])]
        nodes += [int(ln.rsplit("pid=", 1)[1]) for ln in collect.lines if "started sim pid=" in ln]
        collect.signal(signal.SIGTERM)
        assert collect.wait(90) != 0
        assert "re-run the same command" in collect.output
        wait_for(lambda: not any(_alive(pid) for pid in nodes), 30, "the sim and collector processes to exit")
    finally:
        collect.kill()


def test_with_a_policy_it_steers_and_the_oracle_labels(tmp_path):
    from tiny_models import export_tiny_model

    model = export_tiny_model(tmp_path)  # its head bias turns the camera at ~0.6 rad/s whatever it sees
    scenarios = tmp_path / "static.yaml"
    scenarios.write_text("- {seed: 1, label_key: track, faces: [{motion: static, distance_m: 2.0}]}\n")
    cmd = collect_cmd(
        tmp_path / "ds", 1, scenarios, frames=12, extra=["--policy", str(model), "--robot", "pi4", "--record"]
    )
    cmd[cmd.index("--warmup-frames") + 1] = "0"
    cmd[cmd.index("--perturb-interval") + 1] = "0"
    result = run(cmd, fresh_domain_id(), timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    ep = read_episode(complete_episodes(tmp_path / "ds")[0], frames=False)
    assert ep.metadata["collection"]["policy"]["path"] == str(model) and ep.metadata["robot"]["name"] == "pi4"
    seen = np.isfinite(ep.gt_error_px)
    # the policy drives the face off-centre (the oracle would hold it there) ...
    assert not seen[-1] or ep.gt_error_px[seen][-1] > ep.gt_error_px[0] + 50
    # ... and the labels are the oracle's, not the policy's steady +0.6: once the face has been driven off,
    # they turn back towards it
    assert np.abs(ep.pan_vel[seen] - 0.6).mean() > 0.5, ep.pan_vel
    assert ep.pan_vel[seen][-1] < -0.3, ep.pan_vel
    # what the sim applied is recorded beside the labels: the policy's steady turn (tanh of its bias)
    assert ep.applied.shape == (12, 2) and np.allclose(ep.applied[:, 0], 0.52, atol=0.03), ep.applied
    # its recording has the oracle's labels on their own topic, beside what was applied
    applied = check_recording(tmp_path / "ds", 0, "/oracle/cmd_vel_stamped")["/cmd_vel_applied"]
    np.testing.assert_allclose([m.twist.angular.z for _, m in applied], ep.applied[:, 0], atol=1e-6)
