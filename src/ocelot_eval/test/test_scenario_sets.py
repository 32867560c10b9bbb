"""The shipped scenario sets: each loads, and the sets that choose models share no episode with the gate's."""

from pathlib import Path

import pytest

from ocelot_sim.scenario import load_scenario_file

CONFIG = Path(__file__).resolve().parents[1] / "config"
CHOOSING = ("tune", "select")  # development sets: settings and models are chosen on these
GATE = ("standard", "photo", "ci", "unseen")


def seeds(name: str) -> set[int]:
    return {int(entry["seed"]) for entry in load_scenario_file(CONFIG / f"scenarios_{name}.yaml")}


@pytest.mark.parametrize("name", CHOOSING)
def test_a_development_set_shares_no_seed_with_the_gate_or_the_other_development_set(name):
    mine = seeds(name)
    others = set().union(*(seeds(other) for other in (*GATE, *CHOOSING) if other != name))
    assert mine and not (mine & others)


def test_the_selection_set_is_large_enough_to_rank_close_models_and_covers_every_label():
    entries = load_scenario_file(CONFIG / "scenarios_select.yaml")
    labels = {entry["label_key"] for entry in entries}
    assert len(entries) == len(seeds("select")) >= 100  # no seed twice
    assert labels == {"track", "multi_left", "multi_right", "multi_closest", "multi_attr"}
