"""The report files: JSON that parses, plots, the summary; stale results are removed."""

import json
import math

from ocelot_eval.gates import load_gates
from ocelot_eval.metrics import EpisodeScore, FrameScore
from ocelot_eval.report import PLOTS, RESULTS_FILE, SUMMARY_FILE, build_report, clear_outputs, write_report


def test_report_files_are_written_and_parse(tmp_path):
    frames = [FrameScore(i, e, e, math.isnan(e), True) for i, e in enumerate([40.0, 5.0, math.nan, 3.0])]
    episodes = [EpisodeScore(0, 10000, "track", "track the face", 1, ["procedural:3"], frames, [4.0, 5.0])]
    report = build_report(
        episodes,
        load_gates(),
        {
            "controller": "oracle",
            "model_path": None,
            "model_sha256": None,
            "scenario_file": "x.yaml",
            "mode": "lockstep",
        },
    )
    write_report(report, episodes, tmp_path)

    def no_nan(name):
        raise AssertionError(f"{name} in the report: strict JSON parsers reject it")

    parsed = json.loads((tmp_path / RESULTS_FILE).read_text(), parse_constant=no_nan)
    assert parsed["pass"] is False  # 1 of 4 frames lost is over the 10 % gate
    assert parsed["gates"]["face_lost_rate"]["value"] == 0.25
    assert parsed["episodes"][0]["response_frames"] == 1
    assert "FAIL" in (tmp_path / SUMMARY_FILE).read_text()
    for name in PLOTS:
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    clear_outputs(tmp_path)
    assert not (tmp_path / RESULTS_FILE).exists() and not (tmp_path / PLOTS[0]).exists()


def test_the_summary_splits_grounding_into_bias_and_jitter_where_the_policy_gives_an_estimate(tmp_path):
    def frame(k, dx):  # an estimate dx px right of the face, 3 px below it
        return FrameScore(
            k, 5.0, 5.0, False, True, grounding_px=math.hypot(dx, 3), grounding_dx_px=dx, grounding_dy_px=3
        )

    estimated = EpisodeScore(0, 1, "track", "", 1, ["photo:astronaut"], [frame(k, 4.0) for k in range(4)])
    plain = EpisodeScore(1, 2, "multi_left", "", 2, [], [FrameScore(k, 5.0, 5.0, False, True) for k in range(4)])
    run = {"controller": "vla", "scenario_file": "x.yaml", "mode": "lockstep"}
    write_report(build_report([estimated, plain], load_gates(), run), [estimated, plain], tmp_path)
    rows = {line.split(" | ")[0]: line for line in (tmp_path / SUMMARY_FILE).read_text().splitlines()}
    assert "| 5.00 (5.00 / 0.00) |" in rows["| track"]
    assert rows["| multi_left"].endswith("| n/a | n/a |")
    rows = json.loads((tmp_path / RESULTS_FILE).read_text())["episodes"]
    assert rows[0]["grounding_offset_px"] == [4.0, 3.0] and rows[1]["grounding_offset_px"] is None
