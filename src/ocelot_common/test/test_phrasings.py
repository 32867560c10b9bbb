import pytest

from ocelot_common.labels import LABELS
from ocelot_common.phrasings import PhrasingError, is_held_out, paraphrases, phrasings, request


def _templates(split):
    table = phrasings(split)
    rows = {t for label, entries in table.items() if label != "multi_attr" for t in entries}
    return rows | {t for entries in table["multi_attr"].values() for t in entries}


def test_the_sets_are_disjoint_and_cover_every_request():
    train, augment, held_out = (_templates(s) for s in ("train", "augment", "held_out"))
    assert train.isdisjoint(augment) and train.isdisjoint(held_out) and augment.isdisjoint(held_out)
    for split in ("train", "augment", "held_out"):
        assert set(phrasings(split)) == set(LABELS)
        assert set(phrasings(split)["multi_attr"]) == {"glasses", "hat", "hair", "shirt"}


def test_every_phrasing_reads_back_as_its_own_request():
    for split in ("train", "augment", "held_out"):
        table = phrasings(split)
        for label in LABELS:
            kinds = table[label].items() if label == "multi_attr" else [("", table[label])]
            for kind, entries in kinds:
                for template in entries:
                    value = "teal" if "{" in template else ""
                    command = template.format(hair=value, shirt=value).upper()  # read after normalising
                    assert request(command) == (label, kind, value), command
                    assert is_held_out(command) == (split == "held_out")
    assert request("follow the person wearing glasses") == ("multi_attr", "glasses", "")  # not a shirt colour
    assert request("dance with the robot") is None and not is_held_out("dance with the robot")


def test_paraphrases_keep_the_request_and_never_hold_out():
    shirt = paraphrases("Track the person in the RED shirt")
    assert "follow the person wearing red" in shirt and "the person wearing a red shirt" in shirt
    assert "track the person in the red shirt" not in shirt  # not itself
    assert all(request(p) == ("multi_attr", "shirt", "red") for p in shirt)
    assert not any(is_held_out(p) for p in shirt)
    left = paraphrases("track the leftmost face")
    assert len(left) == len(phrasings("train")["multi_left"]) + len(phrasings("augment")["multi_left"]) - 1
    assert all(request(p) == ("multi_left", "", "") for p in left)
    assert paraphrases("watch whoever is on the left") == []  # held out: no training text comes of it
    assert paraphrases("dance with the robot") == []


def test_an_unknown_set_is_named():
    with pytest.raises(PhrasingError, match="unknown phrasing set 'test'; sets: train, augment, held_out"):
        phrasings("test")
