import math

import torch

from ocelot_common.attributes import ATTRIBUTE_CLASSES, NO_ATTRIBUTE, UNKNOWN
from ocelot_train.modeling_vla import ATTRIBUTE_KINDS, CELL_LOGITS
from ocelot_train.validation import attribute_hits_of, attribute_kinds, mean_per_attribute

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


def test_attribute_hits_are_read_at_the_cell_nearest_the_commanded_face_and_unknown_where_nothing_is_known():
    grid = torch.stack(torch.meshgrid(torch.linspace(-1, 1, 14), torch.linspace(-1, 1, 14), indexing="xy"), -1)
    grid = grid.reshape(-1, 2)
    face = 3 * 14 + 9  # the cell the face is nearest
    cells = torch.zeros(3, 196, CELL_LOGITS)
    shirt, hair = ATTRIBUTE_KINDS[0], ATTRIBUTE_KINDS[1]
    cells[:, face, shirt.start + 2] = 5.0  # green, at the face's cell only
    cells[:, face, shirt.stop - 1] = 9.0  # "no face centred here" scores higher still: the values alone count
    cells[:, 0, shirt.start + 4] = 9.0  # black, far from it
    cells[:, face, hair.start + 1] = 5.0  # brown
    query = torch.zeros(3, NO_ATTRIBUTE + 1)
    query[:, ATTRIBUTE_CLASSES.index(("shirt", "green"))] = 3.0
    batch = {
        "target_xy": torch.stack([grid[face] + 0.02, grid[face], torch.full((2,), math.nan)]),
        "target_attributes": torch.tensor([[2, 1, UNKNOWN, UNKNOWN], [4, 0, UNKNOWN, UNKNOWN], [2, 1, 0, 0]]),
        "attribute_query": torch.tensor([ATTRIBUTE_CLASSES.index(("shirt", "green")), NO_ATTRIBUTE, UNKNOWN]),
    }
    hits = attribute_hits_of((cells, query), grid, batch)
    assert hits.shape == (3, len(ATTRIBUTE_KINDS) + 1)
    assert hits[0, :2].tolist() == [1.0, 1.0] and hits[1, :2].tolist() == [0.0, 0.0]  # shirt, hair
    assert hits[:2, 2:4].isnan().all() and hits[2, :4].isnan().all()  # not recorded; the face out of view
    assert hits[:, 4].tolist()[:2] == [1.0, 0.0] and hits[2, 4].isnan()  # the query
