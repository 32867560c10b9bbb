"""Episode files, the dataset index and the checker, on files the tests write themselves."""

import json

import numpy as np
import pytest
from dataset_fixtures import face_in, faces_metadata, split_by_tenth

from ocelot_dataset.check import check_dataset
from ocelot_dataset.cli_merge import merge
from ocelot_dataset.episode_io import (
    Episode,
    EpisodeError,
    complete_episodes,
    episode_path,
    read_episode,
    read_summary,
    remove_partial,
    write_episode,
)
from ocelot_dataset.index import finalize_dataset, read_split
from ocelot_dataset.splits import assign_splits

LABELS = ["track", "multi_left", "multi_right", "multi_closest", "multi_attr"]


def make_episode(index, scenario=None, n=12, label=None, faces=None):
    rng = np.random.default_rng(index)
    label = label or LABELS[index % len(LABELS)]
    return Episode(
        index=index,
        frames=rng.integers(0, 255, (n, 224, 224, 3), dtype=np.uint8),
        pan_vel=rng.normal(0, 0.4, n).astype(np.float32),
        tilt_vel=rng.normal(0, 0.1, n).astype(np.float32),
        gt_error_px=rng.uniform(0, 30, n).astype(np.float32),
        perturbed=rng.random(n) < 0.3,
        sim_time=np.arange(n) * 0.1,
        cmd=f"command {index}",
        label_key=label,
        metadata={
            "scenario_id": scenario or f"s{index}",
            "seed": index,
            **({"faces": faces} if faces is not None else {}),
        },
    )


@pytest.fixture
def dataset(tmp_path):
    for i in range(20):  # two episodes per scenario (and face); scenario j's face from partition split_by_tenth(j)
        write_episode(
            tmp_path, make_episode(i, scenario=f"s{i // 2}", faces=faces_metadata(split_by_tenth(i // 2), i // 2))
        )
    finalize_dataset(tmp_path, {"label_mix": ""})
    return tmp_path


def test_round_trip(tmp_path):
    original = make_episode(3)
    path = write_episode(tmp_path, original)
    assert path == episode_path(tmp_path, 3) and path.name == "ep_000003.h5"
    back = read_episode(path)
    assert np.array_equal(back.frames, original.frames) and back.frames.dtype == np.uint8
    assert np.allclose(back.pan_vel, original.pan_vel) and back.cmd == "command 3"
    assert back.metadata["scenario_id"] == "s3" and read_summary(path)["n_frames"] == 12
    assert back.applied is None and back.target_px is None  # optional arrays stay absent
    original.target_px = np.full((12, 2), np.nan, np.float32)
    original.target_px[3:] = [320.5, 100.0]
    back = read_episode(write_episode(tmp_path, original))
    np.testing.assert_array_equal(back.target_px, original.target_px)
    import h5py

    with h5py.File(path) as f:
        assert f["frames"].chunks == (1, 224, 224, 3) and f["frames"].compression == "gzip"


def test_splits_follow_the_faces(dataset):
    splits = {name: read_split(dataset, name) for name in ("train", "val", "test")}
    assert sorted(sum(splits.values(), [])) == list(range(20))
    for name, eps in splits.items():
        for ep in eps:
            assert ep ^ 1 in eps  # its twin (same scenario and face) is in the same split
            assert split_by_tenth(ep // 2) == name  # the partition its face was drawn from
    assert len(splits["train"]) == 16 and len(splits["val"]) == 2 and len(splits["test"]) == 2


def test_splits_are_stable_under_merge_order():
    a = assign_splits({i: f"s{i % 7}" for i in range(30)})
    b = assign_splits({i: f"s{i % 7}" for i in reversed(range(30))})
    assert a == b


def test_growing_a_dataset_moves_no_episode(dataset):
    before = {name: set(read_split(dataset, name)) for name in ("train", "val", "test")}
    for i in range(20, 60):  # a DAgger round: new episodes, new faces, other partitions' shares
        write_episode(dataset, make_episode(i, faces=faces_metadata(("val", "test", "train")[i % 3], 100 + i)))
    finalize_dataset(dataset, {"label_mix": ""})
    after = {name: set(read_split(dataset, name)) for name in ("train", "val", "test")}
    assert all(before[name] <= after[name] for name in before)
    assert after["val"] - before["val"] and after["test"] - before["test"]  # the new ones went where their faces say
    legacy = {i: f"s{i}" for i in range(200)}  # episodes that record no faces: hashed by scenario id, as stably
    small, big = assign_splits(dict(list(legacy.items())[:50])), assign_splits(legacy)
    assert all(set(small[name]) <= set(big[name]) for name in small)


def test_check_names_episodes_out_of_their_split_and_held_out_faces_that_were_trained_on(dataset):
    train = read_split(dataset, "train")
    (dataset / "train.txt").write_text("".join(f"{ep:06d}\n" for ep in train if ep != train[0]))
    (dataset / "test.txt").write_text((dataset / "test.txt").read_text() + f"{train[0]:06d}\n")
    text = "\n".join(t for level, t in check_dataset(dataset, deep=True).lines if level == "FAIL")
    assert f"{train[0]} in test, belongs in train" in text
    finalize_dataset(dataset, {"label_mix": ""})
    trained_face = face_in("train", 0)  # episode 0's face
    write_episode(dataset, make_episode(40, faces=[{"texture": trained_face}, {"texture": face_in("test", 500)}]))
    finalize_dataset(dataset, {"label_mix": ""})
    assert 40 in read_split(dataset, "test")  # a mix goes to the most held-out partition among its faces
    report = check_dataset(dataset, deep=True)
    text = "\n".join(t for level, t in report.lines if level == "FAIL")
    assert report.failed and f"test episode 40 holds {trained_face}, which training episode 0 holds" in text


def test_check_passes_on_a_good_dataset(dataset):
    report = check_dataset(dataset, deep=True)
    assert not report.failed, report.lines
    text = "\n".join(t for _, t in report.lines)
    assert "splits follow the face partitions" in text and "recovery frames" in text
    assert "no face of a val or test episode appears in a training episode" in text


def test_truncated_file_fails_the_check_and_is_named(dataset):
    victim = episode_path(dataset, 5)
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 3])
    report = check_dataset(dataset, deep=True)
    assert report.failed
    assert any(level == "FAIL" and "ep_000005.h5" in text for level, text in report.lines)


def test_garbage_file_fails_even_without_deep(dataset):
    episode_path(dataset, 7).write_bytes(b"not an hdf5 file")
    report = check_dataset(dataset)
    assert any(level == "FAIL" and "ep_000007.h5" in text for level, text in report.lines)


def test_missing_label_fails(tmp_path):
    for i in range(10):
        write_episode(tmp_path, make_episode(i, label="track"))
    finalize_dataset(tmp_path, {"label_mix": ""})
    report = check_dataset(tmp_path)
    assert any(level == "FAIL" and "multi_left" in text for level, text in report.lines)


def test_idle_oracle_fails_the_velocity_check(tmp_path):
    for i in range(10):
        ep = make_episode(i)
        ep.pan_vel[:] = 0.0
        write_episode(tmp_path, ep)
    finalize_dataset(tmp_path, {"scenarios": "fixed.yaml"})
    assert any(level == "FAIL" and "pan_vel std" in text for level, text in check_dataset(tmp_path).lines)


def test_partial_writes_are_removed_and_never_listed(tmp_path):
    write_episode(tmp_path, make_episode(0))
    leftover = tmp_path / "episodes" / "ep_000001.h5.tmp"
    leftover.write_bytes(b"half")
    assert list(complete_episodes(tmp_path)) == [0]
    assert remove_partial(tmp_path) == [leftover] and not leftover.exists()


def test_a_write_that_fails_leaves_no_file(tmp_path):
    """In a process of its own, as the collector writes: HDF5 keeps a failed file's state until exit."""
    import resource
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from ocelot_dataset.episode_io import Episode, write_episode\n"
        "frames = np.random.default_rng(0).integers(0, 255, (12, 224, 224, 3), dtype=np.uint8)\n"
        "z = np.zeros(12)\n"
        "ep = Episode(0, frames, z, z, z, z.astype(bool), z, 'track the face', 'track', {})\n"
        "try:\n    write_episode(sys.argv[1], ep)\nexcept OSError as exc:\n    print('OSError', exc.errno)\n"
    )
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))  # noqa: E731  like a full disk
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], preexec_fn=limit, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.startswith("OSError"), result.stdout + result.stderr  # incompressible frames: EFBIG
    assert list((tmp_path / "episodes").iterdir()) == []


def test_unreadable_file_error_names_it(tmp_path):
    path = tmp_path / "ep_000009.h5"
    path.write_bytes(b"junk")
    with pytest.raises(EpisodeError, match="ep_000009.h5"):
        read_summary(path)


def test_merge_shards(tmp_path):
    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "merged"
    for i in range(4):
        write_episode(a, make_episode(i))
        write_episode(b, make_episode(i + 4))
    write_episode(b, make_episode(2))  # the same episode in both shards is taken once
    metadata = merge([a, b], out)
    assert metadata["n_episodes"] == 8 and sorted(complete_episodes(out)) == list(range(8))
    assert json.loads((out / "metadata.json").read_text())["split_counts"]["train"] >= 6
    write_episode(tmp_path / "c", make_episode(1, scenario="other"))
    with pytest.raises(FileExistsError, match="episode 1 differs"):
        merge([a, tmp_path / "c"], tmp_path / "merged2")
