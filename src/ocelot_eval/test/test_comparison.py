"""Paired comparison of two evaluation reports, on reports the report writer itself writes."""

import json
import math

import pytest

from ocelot_eval.cli_compare import main as compare_evals
from ocelot_eval.comparison import ComparisonError, compare, load_report, report_sets
from ocelot_eval.gates import load_gates
from ocelot_eval.metrics import EpisodeScore, FrameScore
from ocelot_eval.report import build_report, write_report

PI4 = {"name": "pi4", "command_latency_s": 0.1}
LABELS = ["track", "track", "track", "multi_left", "multi_left", "multi_attr"]


def episode(index: int, seed: int, label: str, error_px: float) -> EpisodeScore:
    frames = [FrameScore(i, error_px, error_px, math.isnan(error_px), True) for i in range(12)]
    return EpisodeScore(index, seed, label, f"command {index}", 1, ["procedural:1"], frames)


def report(folder, errors, seeds=None, robot=PI4, scenarios="sha-standard"):
    seeds = seeds or [1000 + i for i in range(len(errors))]
    episodes = [episode(i, s, LABELS[i % len(LABELS)], e) for i, (s, e) in enumerate(zip(seeds, errors))]
    run = {
        "controller": "onnx",
        "scenario_file": f"/somewhere/{folder.name}.yaml",
        "mode": "lockstep",
        "robot": robot,
        "binding": {"scenarios_sha256": scenarios},
    }
    folder.mkdir(parents=True)
    write_report(build_report(episodes, load_gates(), run), episodes, folder)
    return folder


BASE = [10.0, 8.0, 12.0, 6.0, 7.0, 20.0]


def test_a_candidate_better_on_every_episode_is_called_better_and_its_labels_are_split(tmp_path):
    base = load_report(report(tmp_path / "a" / "standard", BASE))
    better = load_report(report(tmp_path / "b" / "standard", [e - 2.0 + 0.1 * (i % 2) for i, e in enumerate(BASE)]))
    overall, *labels = compare(base, better)
    assert overall.episodes == 6 and overall.better == 6
    assert overall.difference_px == pytest.approx(-1.95, abs=1e-9)
    assert overall.verdict == "better"
    assert [row.name for row in labels] == ["multi_attr", "multi_left", "track"]
    attribute = labels[0]
    assert attribute.episodes == 1 and math.isnan(attribute.standard_error_px)
    assert attribute.verdict == "within noise"  # one episode cannot say


def test_a_change_smaller_than_the_spread_is_within_noise_and_a_worse_one_is_worse(tmp_path):
    base = load_report(report(tmp_path / "a" / "s", BASE))
    mixed = load_report(report(tmp_path / "b" / "s", [e + (3.0 if i % 2 else -3.0) for i, e in enumerate(BASE)]))
    worse = load_report(report(tmp_path / "c" / "s", [e + 1.0 + 0.2 * i for i, e in enumerate(BASE)]))
    assert compare(base, mixed)[0].verdict == "within noise"
    assert compare(base, worse)[0].verdict == "worse"
    assert compare(base, worse)[0].better == 0


def test_an_episode_that_never_saw_the_face_is_left_out_of_both(tmp_path):
    base = load_report(report(tmp_path / "a" / "s", BASE))
    lost = load_report(report(tmp_path / "b" / "s", [math.nan, *BASE[1:]]))
    overall = compare(base, lost)[0]
    assert overall.episodes == 5 and overall.difference_px == 0.0


def test_a_seed_that_a_set_holds_twice_is_two_episodes(tmp_path):
    twice = [1000, 1000, 1001, 1002, 1003, 1004]  # one seed, two overrides (labels): two episodes
    base = load_report(report(tmp_path / "a" / "s", BASE, seeds=twice))
    candidate = load_report(report(tmp_path / "b" / "s", [BASE[0], BASE[1] - 6.0, *BASE[2:]], seeds=twice))
    overall = compare(base, candidate)[0]
    assert overall.episodes == 6 and overall.better == 1 and overall.difference_px == pytest.approx(-1.0)


def test_reports_of_different_episodes_scenario_sets_or_robots_are_refused_with_the_reason(tmp_path):
    base = load_report(report(tmp_path / "a" / "s", BASE))
    other_seeds = load_report(report(tmp_path / "b" / "s", BASE, seeds=[2000 + i for i in range(6)]))
    other_set = load_report(report(tmp_path / "c" / "s", BASE, scenarios="sha-unseen"))
    ideal = load_report(report(tmp_path / "d" / "s", BASE, robot={"name": "ideal"}))
    with pytest.raises(ComparisonError, match=r"different episodes \(seeds in one only: \[1000"):
        compare(base, other_seeds)
    with pytest.raises(ComparisonError, match="different scenario sets"):
        compare(base, other_set)
    with pytest.raises(ComparisonError, match="differ in `robot`"):
        compare(base, ideal)


def test_folders_that_hold_no_report_or_a_broken_one_are_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ComparisonError, match="holds no eval_results.json"):
        report_sets(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "eval_results.json").write_text("{not json")
    with pytest.raises(ComparisonError, match="is not JSON"):
        load_report(broken)


def test_the_command_pairs_sets_by_name_and_writes_strict_json(tmp_path, capsys):
    report(tmp_path / "base" / "standard", BASE)
    report(tmp_path / "base" / "unseen", BASE, scenarios="sha-unseen")
    report(tmp_path / "base" / "ci", BASE, scenarios="sha-ci")
    renamed = report(tmp_path / "elsewhere" / "std_run7", [e - 1.0 for e in BASE])
    report(tmp_path / "new" / "standard", [e - 1.0 for e in BASE])
    report(tmp_path / "new" / "unseen", [e + 0.5 for e in BASE], scenarios="sha-unseen")
    out = tmp_path / "comparison.json"
    assert compare_evals([str(tmp_path / "base"), str(tmp_path / "new"), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "standard: candidate - base" in printed and "unseen: candidate - base" in printed
    assert "not compared (in one folder only): ci" in printed

    def no_nan(name):
        raise AssertionError(f"{name} in the JSON")

    table = json.loads(out.read_text(), parse_constant=no_nan)
    assert sorted(table) == ["standard", "unseen"]
    assert table["standard"][0]["difference_px"] == pytest.approx(-1.0)
    assert table["unseen"][0]["verdict"] == "worse"
    attribute = next(row for row in table["standard"] if row["name"] == "multi_attr")
    assert attribute["standard_error_px"] is None
    assert compare_evals([str(tmp_path / "base" / "standard"), str(renamed)]) == 0
    assert "report: candidate - base" in capsys.readouterr().out


def test_the_command_exits_2_naming_a_set_it_cannot_compare(tmp_path, capsys):
    report(tmp_path / "base" / "standard", BASE)
    report(tmp_path / "new" / "standard", BASE, seeds=[2000 + i for i in range(6)])
    assert compare_evals([str(tmp_path / "base"), str(tmp_path / "new")]) == 2
    assert "set standard: the reports played different episodes" in capsys.readouterr().err
    # two report folders are paired whatever their names
    assert compare_evals([str(tmp_path / "base" / "standard"), str(tmp_path / "new" / "standard")]) == 2
    assert capsys.readouterr().err.startswith("error: the reports played different episodes")
    assert compare_evals([str(tmp_path / "base"), str(tmp_path / "new"), "--sets", "photo"]) == 2
    assert "--sets photo: not a set both folders hold (standard)" in capsys.readouterr().err
