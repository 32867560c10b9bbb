"""The training data's command table: paraphrase swaps keep the request, and held-out phrasings are refused."""

import dataclasses

import numpy as np
import pytest
import torch

from ocelot_common.phrasings import paraphrases, request
from ocelot_dataset.episode_io import write_episode
from ocelot_dataset.index import finalize_dataset
from ocelot_train.configuration_vla import load_run_config
from ocelot_train.dataset import DatasetError
from ocelot_train.training_data import TrainingData


def _texts(data, rows):
    return [data.commands[int(row)] for row in rows]


def test_without_paraphrases_the_recorded_commands_are_the_table(tiny_dataset):
    data = TrainingData(tiny_dataset, load_run_config(None, []))
    assert data.commands == ["follow the person on the left", "track the face"]
    indices = torch.arange(len(data.train_frames.command_table)).repeat(50)
    assert torch.equal(data.training_rows(indices), data.command_rows(indices, "train"))


def test_paraphrases_swap_the_share_asked_for_and_keep_the_request(tiny_dataset):
    data = TrainingData(tiny_dataset, load_run_config(None, ["train.paraphrase_share=0.5"]))
    table = data.train_frames.command_table
    for command in table:  # every paraphrase has a text row
        assert set(paraphrases(command)) <= set(data.commands)
    indices = torch.arange(len(table)).repeat(2000)
    recorded = _texts(data, data.command_rows(indices, "train"))
    drawn = _texts(data, data.training_rows(indices))
    swapped = [(r, d) for r, d in zip(recorded, drawn) if r != d]
    assert 0.45 < len(swapped) / len(drawn) < 0.55
    assert all(request(d) == request(r) for r, d in swapped)  # another phrasing of the same request
    for command in table:  # every paraphrase is drawn
        assert {d for r, d in swapped if r == command} == set(paraphrases(command))
    # the validation split keeps its recorded commands
    val = torch.arange(len(data.val_frames.command_table))
    assert _texts(data, data.command_rows(val, "val")) == list(data.val_frames.command_table)


def test_a_dataset_holding_a_held_out_phrasing_is_refused(tmp_path, dataset_factory, episode_factory):
    root = dataset_factory(tmp_path / "ds", n_episodes=6, frames=4)
    TrainingData(root, load_run_config(None, []))  # the dataset as collected is taken
    held_out = "watch whoever is on the left"
    episode = episode_factory(6, np.random.default_rng(0), 4)
    write_episode(root, dataclasses.replace(episode, cmd=held_out, metadata={**episode.metadata, "command": held_out}))
    finalize_dataset(root, {})
    with pytest.raises(DatasetError, match="holds the held-out phrasing 'watch whoever is on the left'"):
        TrainingData(root, load_run_config(None, []))
