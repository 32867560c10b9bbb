import math

import numpy as np
import pytest

from ocelot_common.labels import LABELS
from ocelot_common.phrasings import phrasings
from ocelot_sim.motion import angles_at
from ocelot_sim.scenario import (
    AZIMUTH_SPAN,
    ScenarioError,
    from_entry,
    generate,
    held_out_of_training,
    load_scenario_file,
    scenario_for_request,
)

SEEDS = range(60)


@pytest.fixture(scope="module")
def scenarios():
    return [generate(s) for s in SEEDS]


def test_same_seed_same_scenario():
    assert generate(7) == generate(7)
    assert generate(7).scenario_id == generate(7).scenario_id
    assert generate(7).scenario_id != generate(8).scenario_id


def test_every_label_and_motion_appears(scenarios):
    assert {s.label_key for s in scenarios} == set(LABELS)
    assert {f.motion.pattern for s in scenarios for f in s.faces} == {"static", "linear", "sine", "random_walk"}


def test_face_counts_and_commands(scenarios):
    table = phrasings()
    for s in scenarios:
        assert (len(s.faces) == 1) == (s.label_key == "track")
        assert 1 <= len(s.faces) <= 3 and 0 <= s.target < len(s.faces)
        if s.label_key != "multi_attr":
            assert s.command in table[s.label_key]
        for face in s.faces:
            assert 1.0 <= face.distance_m <= 4.0
            assert 0.0 <= face.motion.speed <= 0.5
            assert face.texture.startswith("procedural:")  # photos never in the training distribution


def _azimuths(scenario, seconds=30.0):
    times = np.arange(0, seconds, 0.1)
    return np.array([[angles_at(f.motion, t)[0] for f in scenario.faces] for t in times])


def test_the_named_target_stays_the_named_one(scenarios):
    for s in scenarios:
        if len(s.faces) < 2:
            continue
        az = _azimuths(s)
        if s.label_key == "multi_left":
            assert np.all(np.argmax(az, axis=1) == s.target), s.seed
        if s.label_key == "multi_right":
            assert np.all(np.argmin(az, axis=1) == s.target), s.seed
        if s.label_key == "multi_closest":
            distances = [f.distance_m for f in s.faces]
            assert min(range(len(distances)), key=distances.__getitem__) == s.target
        assert np.all(np.abs(az) <= AZIMUTH_SPAN + 1e-9)


def test_attribute_commands_name_what_only_the_target_has(scenarios):
    checked = 0
    for s in (x for x in scenarios if x.label_key == "multi_attr"):
        target = s.faces[s.target].attributes
        others = [f.attributes for i, f in enumerate(s.faces) if i != s.target]
        if "glasses" in s.command:
            assert target.glasses and not any(o.glasses for o in others)
        elif "hat" in s.command:
            assert target.hat and not any(o.hat for o in others)
        elif "hair" in s.command:
            assert target.hair_colour in s.command and all(o.hair_colour != target.hair_colour for o in others)
        else:
            assert target.shirt_colour in s.command and all(o.shirt_colour != target.shirt_colour for o in others)
        checked += 1
    assert checked >= 3


def test_posters_never_overlap_in_multi_face_scenes(scenarios):
    for s in (x for x in scenarios if len(x.faces) > 1):
        az = _azimuths(s, 20.0)
        half = [math.atan(0.25 / f.distance_m) for f in s.faces]
        order = np.argsort(az[0])
        for a, b in zip(order[:-1], order[1:]):
            assert np.all(az[:, b] - az[:, a] >= half[a] + half[b] - 1e-6), s.seed


def test_overrides_change_only_what_they_name():
    base = generate(11)
    changed = generate(11, overrides={"command": "watch the blue shirt", "faces": [{"distance_m": 2.5}]})
    assert changed.command == "watch the blue shirt" and changed.faces[0].distance_m == 2.5
    assert changed.label_key == base.label_key and changed.faces[0].texture == base.faces[0].texture
    photo = generate(11, overrides={"faces": [{"texture": "photo:astronaut", "motion": "static"}]})
    assert photo.faces[0].texture == "photo:astronaut" and photo.faces[0].motion.speed == 0.0


def test_scenario_file_round_trip(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("- seed: 3\n- seed: 4\n  label_key: multi_left\n  faces: [{texture: 'photo:grace_hopper'}, {}]\n")
    entries = load_scenario_file(path)
    second = from_entry(entries[1])
    assert second.label_key == "multi_left" and second.faces[0].texture == "photo:grace_hopper"
    assert from_entry(entries[0]) == generate(3)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"seed": 1, "faces": [{"texture": "procedural:x"}]}, r"faces\[0\]\.texture: unknown texture 'procedural:x'"),
        ({"seed": 1, "faces": [{"texture": "photo:mona_lisa"}]}, r"photo:<astronaut\|grace_hopper>"),
        ({"seed": 1, "faces": [{"distance_m": 7}]}, r"faces\[0\]\.distance_m: 7 is outside \[1.0, 4.0\]"),
        ({"seed": 1, "faces": [{"speed": 3.0}]}, r"faces\[0\]\.speed: 3.0 is outside \[0.0, 1.0\]"),
        ({"seed": 1, "faces": [{"speed": "fast"}]}, r"faces\[0\]\.speed: must be a number"),
        ({"seed": 1, "faces": [{"motion": "teleport"}]}, r"faces\[0\]\.motion: unknown motion 'teleport'"),
        ({"seed": 1, "faces": [{"colour": 1}]}, r"faces\[0\]\.colour: unknown field"),
        ({"seed": 1, "label_key": "multi_up"}, r"label_key: unknown label 'multi_up'"),
        ({"seed": 1, "flavour": 1}, r"unknown scenario field 'flavour'"),
        ({"seed": 1, "label_key": "multi_left", "faces": [{}]}, r"'multi_left' needs at least 2 faces"),
    ],
)
def test_bad_entries_name_the_field(entry, message):
    with pytest.raises(ScenarioError, match=message):
        from_entry(entry)


@pytest.mark.parametrize(
    "text, message",
    [
        ("- seed: [1\n", "not valid YAML"),
        ("seed: 1\n", "non-empty list"),
        ("- {label_key: track}\n", "entry 0 must be a mapping with a 'seed'"),
        ("- {seed: 1, faces: [{distance_m: 0.2}]}\n", r"entry 0: faces\[0\]\.distance_m"),
    ],
)
def test_bad_scenario_files(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        load_scenario_file(path)


def test_reset_request_spec():
    assert scenario_for_request(5, "") == generate(5)
    assert scenario_for_request(5, "label_key: multi_right").label_key == "multi_right"
    with pytest.raises(ScenarioError, match="spec_yaml must be a mapping"):
        scenario_for_request(5, "- 1")
    with pytest.raises(ScenarioError, match="seed must be a non-negative integer"):
        scenario_for_request(-2, "")


def test_face_split_draws_every_face_from_one_partition_and_seeds_spread_over_them():
    from ocelot_dataset.splits import FACE_SPLITS, split_for_seed, texture_split

    for split in FACE_SPLITS:
        for seed in range(6):
            scenario = generate(seed, face_split=split)
            assert {texture_split(face.texture) for face in scenario.faces} == {split}
    assert generate(3, overrides={"face_split": "val"}) == generate(3, face_split="val")
    assert generate(3) == generate(3, face_split=None)  # no partition: today's scenarios, unchanged
    shares = [split_for_seed(seed) for seed in range(2000)]
    assert abs(shares.count("train") / 2000 - 0.8) < 0.04 and shares.count("test") > 120
    with pytest.raises(ScenarioError, match="face_split: unknown split"):
        generate(3, overrides={"face_split": "holdout"})


def test_face_partitions_are_disjoint_and_photos_are_held_out():
    from ocelot_dataset.splits import face_split, texture_split
    from ocelot_sim.face_pool import face_pool, pool_of_split

    pools = [set(pool_of_split(name)) for name in ("train", "val", "test")]
    assert sum(map(len, pools)) == len(face_pool()) and not (pools[0] & pools[1] or pools[0] & pools[2])
    assert all(face_split(i) == "test" for i in pools[2])
    assert texture_split("photo:astronaut") == "test" and texture_split("photo:grace_hopper") == "test"


def test_held_out_phrasings_are_drawn_only_when_asked_and_training_refuses_them(scenarios):
    assert not any(held_out_of_training(s) for s in scenarios)  # generated scenarios: training phrasings
    for seed in range(40):
        scenario = generate(seed, overrides={"phrasing_split": "held_out"})
        if scenario.label_key != "multi_attr":
            assert scenario.command in phrasings("held_out")[scenario.label_key]
        assert "held-out phrasing" in held_out_of_training(scenario), scenario.command
    # a held-out phrasing written out in a file, with a colour in its slot, is still one
    written = from_entry({"seed": 2, "command": "Stay on the one dressed in  GREEN"})
    assert held_out_of_training(written) == "its command 'Stay on the one dressed in  GREEN' is a held-out phrasing"
    photo = from_entry({"seed": 2, "label_key": "track", "faces": [{"texture": "photo:astronaut"}]})
    assert held_out_of_training(photo) == "its face 'photo:astronaut' is a photograph"
    with pytest.raises(ScenarioError, match="phrasing_split: unknown split 'augment'; splits: train, held_out"):
        generate(3, overrides={"phrasing_split": "augment"})  # training-only phrasings are never drawn
