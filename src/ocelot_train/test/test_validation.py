import math

import torch

from ocelot_train.validation import attribute_kinds, mean_per_attribute

COMMANDS = [
    "track the face",
    "track the person in the red shirt",
    "follow the person wearing glasses",
    "follow the blonde-haired person",
    "stay on the one dressed in blue",  # a held-out phrasing is still an attribute command
    "track the person wearing a hat",
    "wave at the camera",  # of no phrasing set
]


def test_each_attribute_command_is_named_by_its_kind_and_the_others_by_none():
    assert attribute_kinds(COMMANDS) == [None, "shirt", "glasses", "hair", "shirt", "hat", None]


def test_errors_are_averaged_per_attribute_kind_skipping_unknown_frames_and_other_commands():
    rows = torch.tensor([0, 1, 1, 4, 2, 2, 3, 6])
    errors = torch.tensor([5.0, 10.0, 20.0, 60.0, 7.0, math.nan, 30.0, 1.0])
    means = mean_per_attribute(errors, rows, COMMANDS)
    assert means == {"shirt": 30.0, "glasses": 7.0, "hair": 30.0}  # no hat frame: no hat entry
    assert mean_per_attribute(errors[:1], rows[:1], COMMANDS) == {}
