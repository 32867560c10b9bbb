"""Frozen vision tokens cached per episode: equal to the encoder's output; only missing or stale episodes encoded."""

import os
import shutil

import h5py
import numpy as np
import torch

from ocelot_dataset.episode_io import episode_path
from ocelot_train.dataset import FrameDataset
from ocelot_train.features import cached_vision_tokens


class MeanColour(torch.nn.Module):
    """A 2x2 grid of mean colours: a frozen encoder small enough to export in a moment."""

    grid, out_dim = (2, 2), 3

    def forward(self, frames):
        return torch.nn.functional.adaptive_avg_pool2d(frames, 2).flatten(2).transpose(1, 2)


class CountingFrames(FrameDataset):
    reads = 0

    def frame_input(self, i):
        CountingFrames.reads += 1
        return super().frame_input(i)


def _cache(dataset, cache):
    CountingFrames.reads = 0
    return cached_vision_tokens(MeanColour(), dataset, cache, "key", batch_size=4, progress=False)


def test_tokens_are_the_encoders_and_only_missing_or_rewritten_episodes_are_encoded(dataset_factory, tmp_path):
    root = dataset_factory(tmp_path / "ds", n_episodes=4, frames=6)
    data, cache = CountingFrames(root, "train"), tmp_path / "cache"
    tokens = _cache(data, cache)
    assert CountingFrames.reads == len(data)
    with torch.no_grad():
        expected = MeanColour()(torch.from_numpy(np.stack([data.frame_input(i) for i in range(len(data))]))).numpy()
    np.testing.assert_allclose(np.stack([tokens[i] for i in range(len(data))]), expected, atol=1e-2)

    files = sorted((cache / "vision_key").iterdir())
    assert len(files) == len(data.index.episodes)
    stamps = {f.name: f.stat().st_mtime_ns for f in files}
    _cache(data, cache)
    assert CountingFrames.reads == 0  # all cached

    for episode in data.index.episodes:  # copied or pulled files: same content, new modification times
        os.utime(episode_path(root, int(episode)), ns=(1, 1))
    _cache(data, cache)
    assert CountingFrames.reads == 0

    files[0].unlink()  # as if a run was killed before this episode was written
    last = episode_path(root, int(data.index.episodes[-1]))  # a rewritten episode (the dataset holds it open)
    shutil.copy(last, tmp_path / "rewritten.h5")
    with h5py.File(tmp_path / "rewritten.h5", "r+") as f:
        f.attrs["rewritten"] = 1
    os.replace(tmp_path / "rewritten.h5", last)
    tokens = _cache(data, cache)
    assert CountingFrames.reads == 2 * 6
    now = sorted((cache / "vision_key").iterdir())
    assert len(now) == len(files) and now[-1].name != files[-1].name  # the stale file was replaced
    assert all(stamps[f.name] == f.stat().st_mtime_ns for f in now[1:-1])
    np.testing.assert_allclose(np.stack([tokens[i] for i in range(len(data))]), expected, atol=1e-2)


def test_shards_encode_each_episode_once_and_together_make_the_whole_cache(dataset_factory, tmp_path):
    root = dataset_factory(tmp_path / "ds", n_episodes=5, frames=6)
    data = CountingFrames(root, "train")
    whole = sorted(f.name for f in _cached(data, tmp_path / "whole").iterdir())
    CountingFrames.reads = 0
    for k in range(2):
        cached_vision_tokens(MeanColour(), data, tmp_path / "shared", "key", batch_size=4, progress=False, shard=(k, 2))
    assert CountingFrames.reads == len(data)  # every frame once, between the two shards
    shared = tmp_path / "shared" / "vision_key"
    assert sorted(f.name for f in shared.iterdir()) == whole
    for name in whole:
        assert (shared / name).read_bytes() == (tmp_path / "whole" / "vision_key" / name).read_bytes()


def _cached(data, cache):
    cached_vision_tokens(MeanColour(), data, cache, "key", batch_size=4, progress=False)
    return cache / "vision_key"
