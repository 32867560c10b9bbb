"""A tiny synthetic dataset: a bright square the oracle-like label steers towards, two commands."""

import numpy as np
import pytest
from dataset_fixtures import faces_metadata, split_by_tenth

from ocelot_dataset.episode_io import Episode, write_episode
from ocelot_dataset.index import finalize_dataset

COMMANDS = {"track": "track the face", "multi_left": "follow the person on the left"}


SHIRTS = ("red", "blue", "green")


def make_episode(index: int, rng: np.random.Generator, frames: int = 12) -> Episode:
    label = "track" if index % 2 == 0 else "multi_left"
    faces = faces_metadata(split_by_tenth(index), index)
    if index % 3 != 2:  # the scenario's attributes of its face, which every third episode lacks
        shirt = SHIRTS[index % 3]
        faces[0]["attributes"] = {"shirt_colour": shirt, "hair_colour": "grey", "glasses": True, "hat": False}
    images = np.full((frames, 224, 224, 3), 60, np.uint8)
    xs = rng.integers(30, 194, frames)
    for t, x in enumerate(xs):
        images[t, 100:124, x - 12 : x + 12] = 230
    pan = np.clip(-(xs - 112) / 112.0, -1, 1).astype(np.float32)
    if label == "multi_left":
        pan = pan * 0.5
    return Episode(
        index=index,
        frames=images,
        pan_vel=pan,
        tilt_vel=np.zeros(frames, np.float32),
        gt_error_px=np.abs(xs - 112).astype(np.float32),
        perturbed=np.zeros(frames, bool),
        sim_time=np.arange(frames) * 0.1,
        cmd=COMMANDS[label],
        label_key=label,
        metadata={
            "scenario_id": f"s{index}",
            "command": COMMANDS[label],
            "faces": faces,
            "target": 0,
        },
        # the square's centre in camera pixels (frames are the 640x480 image squashed to 224);
        # every fifth episode predates the field
        target_px=None if index % 5 == 4 else np.stack([xs * 640 / 224, np.full(frames, 240.0)], 1),
    )


def make_dataset(root, n_episodes: int = 20, frames: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    for i in range(n_episodes):
        write_episode(root, make_episode(i, rng, frames))
    finalize_dataset(root, {})
    return root


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("tiny_dataset"))


@pytest.fixture(scope="session")
def dataset_factory():
    """make_dataset(root, n_episodes, frames): tests import no modules of their own (importlib mode)."""
    return make_dataset


@pytest.fixture(scope="session")
def episode_factory():
    """make_episode(index, rng, frames): one episode of the tiny dataset, to change before writing it."""
    return make_episode
