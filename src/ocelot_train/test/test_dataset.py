import numpy as np
import pytest

from ocelot_common.attributes import ATTRIBUTE_VALUES, UNKNOWN
from ocelot_common.preprocessing import STANDARD, frames_to_input
from ocelot_dataset.episode_io import episode_path, read_episode, write_episode
from ocelot_train.dataset import DatasetError, FrameDataset, build_index
from ocelot_train.training_data import verify_episode_files


def test_length_and_shapes(tiny_dataset):
    train = FrameDataset(tiny_dataset, "train")
    assert len(train) == 12 * len(train.index.episodes)
    sample = train[5]
    assert sample["frame"].shape == (3, 224, 224) and sample["frame"].dtype == np.float32
    assert sample["action"].shape == (2,) and sample["action"].dtype == np.float32
    assert train.command_table[sample["command"]] in ("track the face", "follow the person on the left")


def test_frames_use_the_shared_preprocessing(tiny_dataset):
    train = FrameDataset(tiny_dataset, "train")
    episode = read_episode(episode_path(tiny_dataset, int(train.index.episodes[0])))
    np.testing.assert_array_equal(train[3]["frame"], frames_to_input(episode.frames[3])[0])
    np.testing.assert_array_equal(train[3]["action"], [episode.pan_vel[3], episode.tilt_vel[3]])
    # background 60 -> (60/255 - mean) / std per channel
    np.testing.assert_allclose(
        train[0]["frame"][:, 0, 0],
        (60 / 255 - np.array(STANDARD.mean, np.float32)) / np.array(STANDARD.std, np.float32),
        rtol=1e-6,
    )


def test_augmentation_changes_pixels_not_labels(tiny_dataset):
    plain, augmented = FrameDataset(tiny_dataset, "train"), FrameDataset(tiny_dataset, "train", augment=True)
    assert not np.array_equal(plain[0]["frame"], augmented[0]["frame"])
    np.testing.assert_array_equal(plain[0]["action"], augmented[0]["action"])


def test_splits_are_disjoint_by_episode_and_scenario(tiny_dataset):
    index = {name: build_index(tiny_dataset, name) for name in ("train", "val", "test")}
    episodes = [set(i.episodes.tolist()) for i in index.values()]
    assert not (episodes[0] & episodes[1] or episodes[0] & episodes[2] or episodes[1] & episodes[2])
    assert sum(len(e) for e in episodes) == 20


def test_index_comes_from_metadata_and_corrupt_files_are_named(tmp_path, dataset_factory):
    root = dataset_factory(tmp_path / "ds", 10)
    train = FrameDataset(root, "train")
    victim = episode_path(root, int(train.index.episodes[0]))
    victim.write_bytes(b"not hdf5")
    assert len(FrameDataset(root, "train")) == len(train)  # indexing opens no file
    with pytest.raises(DatasetError, match=victim.name):
        verify_episode_files(FrameDataset(root, "train"))


def test_missing_file_and_empty_split(tmp_path, dataset_factory):
    root = dataset_factory(tmp_path / "ds", 10)
    val = build_index(root, "val")
    episode_path(root, int(val.episodes[0])).unlink()
    with pytest.raises(DatasetError, match="missing"):
        build_index(root, "val")
    (root / "test.txt").write_text("")
    with pytest.raises(DatasetError, match="test split .* is empty"):
        build_index(root, "test")
    with pytest.raises(DatasetError, match="metadata.json is missing"):
        build_index(tmp_path / "nowhere", "train")


def test_previous_action_is_the_frame_before_and_zero_at_the_start(tiny_dataset):
    data = FrameDataset(tiny_dataset, "train")
    first, second = data.targets(0), data.targets(1)
    assert data.index.sample_frame[0] == 0 and data.index.sample_frame[1] == 1
    np.testing.assert_array_equal(first["previous_action"], np.zeros(2, np.float32))
    np.testing.assert_array_equal(second["previous_action"], first["action"])


def test_previous_action_is_the_applied_command_where_an_episode_records_it(dataset_factory, tmp_path):
    root = dataset_factory(tmp_path / "ds", n_episodes=4, frames=5)
    data = FrameDataset(root, "train")
    episode = int(data.index.episodes[0])
    recorded = read_episode(episode_path(root, episode))
    recorded.applied = np.stack([np.linspace(0.1, 0.5, 5), np.full(5, -0.2)], 1).astype(np.float32)
    write_episode(root, recorded)
    data = FrameDataset(root, "train")
    second = data.targets(1)  # frame 1 of the split's first episode
    np.testing.assert_allclose(second["previous_action"], recorded.applied[0])
    np.testing.assert_allclose(second["action"], [recorded.pan_vel[1], recorded.tilt_vel[1]])  # the label stays
    assert read_episode(episode_path(root, episode), frames=False).applied.shape == (5, 2)


def test_previous_frame_is_the_frame_before_augmented_alike_and_itself_at_the_start(tiny_dataset):
    plain = FrameDataset(tiny_dataset, "train")
    data = FrameDataset(tiny_dataset, "train", previous_frame=True)
    first, second = data[0], data[1]
    assert not first["has_previous"] and second["has_previous"] and "previous_frame" not in plain[0]
    np.testing.assert_array_equal(first["previous_frame"], first["frame"])
    np.testing.assert_array_equal(second["previous_frame"], plain.frame_input(0))
    augmented = FrameDataset(tiny_dataset, "train", augment=True, previous_frame=True)[0]
    # the same photometric draw on both frames (frame 0 is its own previous frame here)
    np.testing.assert_array_equal(augmented["previous_frame"], augmented["frame"])
    assert not np.array_equal(augmented["frame"], first["frame"])


def test_acquisition_frames_are_weighted_up(tiny_dataset):
    data = FrameDataset(tiny_dataset, "train")
    weights = data.sample_weights(5.0, frames=3, min_px=30.0)
    firsts = {int(ep): data._frames.first_error(int(ep)) for ep in data.index.episodes}
    for i in range(len(data)):
        ep = int(data.index.episodes[data.index.sample_episode[i]])
        early = data.index.sample_frame[i] < 3
        assert weights[i] == (5.0 if early and firsts[ep] >= 30.0 else 1.0)
    assert (weights == 5.0).any() and (weights == 1.0).any()


def test_label_weights_multiply_the_draw_weights_of_their_label(tiny_dataset):
    data = FrameDataset(tiny_dataset, "train")
    label = data.label_table[0]
    plain = data.sample_weights(5.0, frames=3, min_px=30.0)
    weights = data.sample_weights(5.0, frames=3, min_px=30.0, label_weights={label: 3.0})
    named = np.array([data.label_table[data._label_of[slot]] == label for slot in data.index.sample_episode])
    assert named.any() and (~named).any()
    np.testing.assert_array_equal(weights[named], 3.0 * plain[named])
    np.testing.assert_array_equal(weights[~named], plain[~named])
    with pytest.raises(ValueError, match="no_such_label: no episode of the train split has this label"):
        data.sample_weights(1.0, frames=3, min_px=30.0, label_weights={"no_such_label": 2.0})


def test_target_position_in_read_out_coordinates_and_nan_where_not_recorded(tiny_dataset):
    data = FrameDataset(tiny_dataset, "train")
    seen = set()
    for i in range(len(data)):
        _, episode, t = data._locate(i)
        target = data[i]["target_xy"]
        stored = read_episode(episode_path(tiny_dataset, episode), frames=False).target_px
        if stored is None:
            assert np.isnan(target).all()
        else:  # the square's centre column on the 224-px frame, from the camera's 640-px image
            column = int(np.argmax(data.frame_input(i)[0, 112] > 0))
            assert target[0] == pytest.approx((column + 12) / 224 * 2 - 1, abs=1e-4) and target[1] == 0.0
        seen.add(stored is None)
    assert seen == {True, False}


def test_target_attributes_are_the_commanded_faces_classes_and_unknown_where_not_recorded(tiny_dataset):
    data = FrameDataset(tiny_dataset, "train")
    seen = set()
    for i in range(len(data)):
        _, episode, _ = data._locate(i)
        classes = data[i]["target_attributes"]
        assert classes.dtype == np.int64 and classes.shape == (4,)
        if episode % 3 == 2:
            assert (classes == UNKNOWN).all()
        else:  # shirt, hair, glasses, hat
            expected = [("red", "blue")[episode % 3], "grey", "yes", "no"]
            assert [ATTRIBUTE_VALUES[kind][c] for kind, c in zip(ATTRIBUTE_VALUES, classes)] == expected
        seen.add(episode % 3 == 2)
    assert seen == {True, False}
