"""Per-frame scoring, episode summaries, aggregation and gates (ROS-free)."""

import json
import math

import numpy as np
import pytest

from ocelot_eval.episode_recorder import EpisodeRecorder
from ocelot_eval.gates import GateConfigError, check_gates, load_gates
from ocelot_eval.metrics import (
    CLOSED_LOOP_METRICS,
    EpisodeScore,
    FrameScore,
    TruthFace,
    aggregate,
    per_label,
    score_frame,
)


def box_at(u, v, size=60):
    return [u - size / 2, v - size / 2, size, size]


def test_the_box_containing_the_target_is_scored_not_the_one_nearest_the_centre():
    faces = [TruthFace(330.0, 240.0, True), TruthFace(500.0, 250.0, True)]
    boxes = np.array([box_at(331, 241), box_at(502, 252)])
    score = score_frame(0, boxes, faces, target_index=1)
    assert score.error_px == pytest.approx(math.hypot(182, 12))
    assert score.gt_error_px == pytest.approx(math.hypot(180, 10))
    assert not score.face_lost and not score.target_selected  # face 0 is nearer the centre


def test_no_box_on_the_target_or_target_out_of_view_is_a_lost_face():
    faces = [TruthFace(320.0, 240.0, True), TruthFace(100.0, 100.0, True)]
    lost = score_frame(3, np.array([box_at(100, 100)]), faces, target_index=0)
    assert lost.face_lost and math.isnan(lost.error_px) and lost.target_selected
    gone = score_frame(4, np.array([box_at(320, 240)]), [TruthFace(700.0, 240.0, False)], 0)
    assert gone.face_lost and math.isnan(gone.gt_error_px)
    with pytest.raises(ValueError, match="target_index"):
        score_frame(0, np.zeros((0, 4)), faces, target_index=2)


def episode(errors, num_faces=1, label="track", selected=True):
    frames = [
        FrameScore(i, e, 0.0 if math.isnan(e) else e + 0.5, math.isnan(e), selected, 0.5 if e == e else math.nan)
        for i, e in enumerate(errors)
    ]
    return EpisodeScore(0, 1, label, "track the face", num_faces, ["procedural:1"] * num_faces, frames)


def test_tracking_error_counts_from_the_response_on_and_response_is_the_first_frame_below_20_px():
    ep = episode([200.0, 60.0, 18.0, 2.0, 4.0, math.nan])
    assert ep.response_frames() == 2
    summary = ep.summary()
    assert summary["mean_error_px"] == pytest.approx(8.0)  # 18, 2, 4
    assert summary["mean_error_all_frames_px"] == pytest.approx(56.8)
    assert summary["face_lost_rate"] == pytest.approx(1 / 6)
    assert episode([50.0, 40.0]).response_frames() == -1


def test_aggregate_pools_frames_counts_never_responding_as_the_whole_episode_and_survives_json():
    eps = [
        episode([30.0, 10.0, 10.0]),
        episode([50.0, 50.0, 50.0, 50.0], num_faces=2, label="multi_left", selected=False),
    ]
    agg = aggregate(eps)
    assert agg["response_frames"] == pytest.approx((1 + 4) / 2)
    assert agg["episodes_never_responding"] == 1
    assert agg["target_selection"] == 0.0  # only the multi-face episode counts
    assert agg["haar_position_error_px"] == pytest.approx(0.5) and agg["haar_wrong_match_rate"] == 0.0
    assert set(CLOSED_LOOP_METRICS) <= set(agg)
    restored = EpisodeScore.from_dict(eps[0].to_dict())
    assert restored.frames == eps[0].frames


def test_all_frames_lost_gives_missing_metrics_and_those_gates_fail(tmp_path):
    agg = aggregate([episode([math.nan] * 5)])
    assert agg["mean_error_px"] is None and agg["face_lost_rate"] == 1.0
    passed, results = check_gates(load_gates(), agg)
    assert not passed and not results["mean_error_px"]["pass"]
    assert results["target_selection"]["pass"] and not results["target_selection"]["applies"]


def test_gates_use_strict_max_and_inclusive_min(tmp_path):
    path = tmp_path / "gates.yaml"
    path.write_text("closed_loop:\n  mean_error_px: {max: 10}\n  target_selection: {min: 0.9}\n")
    gates = load_gates(path, known=set(CLOSED_LOOP_METRICS))
    assert check_gates(gates, {"mean_error_px": 9.99, "target_selection": 0.9})[0]
    assert not check_gates(gates, {"mean_error_px": 10.0, "target_selection": 0.9})[0]
    assert not check_gates(gates, {"mean_error_px": 5.0, "target_selection": 0.89})[0]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("closed_loop:\n  mean_eror_px: {max: 10}\n", "unknown metric"),
        ("closed_loop:\n  mean_error_px: {below: 10}\n", "max: number"),
        ("closed_loop:\n  mean_error_px: {max: ten}\n", "must be a number"),
        ("closed_loop: [\n", "not valid YAML"),
        ("offline: {}\n", "needs a 'closed_loop'"),
    ],
)
def test_bad_gate_files_name_the_entry(tmp_path, text, problem):
    path = tmp_path / "gates.yaml"
    path.write_text(text)
    with pytest.raises(GateConfigError, match=problem):
        load_gates(path, known=set(CLOSED_LOOP_METRICS))


def test_recorder_pairs_streams_by_frame_and_ignores_the_previous_episode():
    seen = []
    recorder = EpisodeRecorder(3, detector=lambda rgb: seen.append(int(rgb[0, 0, 0])) or np.array([box_at(320, 240)]))
    recorder.start(EpisodeScore(0, 0, "track", "", 1, []))
    truth = [TruthFace(320.0, 240.0, True)]
    ms = 1_000_000
    assert recorder.add_image(700 * ms, np.full((2, 2, 3), 7, np.uint8)) == []  # old episode, before frame 0
    recorder.add_status(200 * ms, 99.0)  # the old episode's status for a stamp this one will have too
    assert recorder.add_truth(0, truth, 0) == []
    scored = recorder.add_image(0, np.full((2, 2, 3), 0, np.uint8))
    assert [s.frame for s in scored] == [0]
    recorder.add_image(100 * ms, np.full((2, 2, 3), 1, np.uint8))
    recorder.add_image(200 * ms, np.full((2, 2, 3), 2, np.uint8))
    recorder.add_truth(200 * ms, truth, 0)  # ground truth may come in any order
    assert not recorder.complete
    recorder.add_truth(100 * ms, truth, 0)
    recorder.add_status(0, 11.0)
    recorder.add_status(100 * ms, 12.5)
    assert recorder.complete and seen == [0, 2, 1]
    assert recorder.statuses_missing  # frame 2's status has not come yet (the old one does not count)
    recorder.add_status(200 * ms, 13.0)
    assert not recorder.statuses_missing
    done = recorder.finish()
    assert [f.frame for f in done.frames] == [0, 1, 2] and done.latency_ms == [11.0, 12.5, 13.0]


def test_the_policys_target_estimate_is_scored_as_grounding_and_control():
    """Grounding: the estimate against the truth; control: the image centre against the estimate. Frames
    without an estimate, or with the target out of view, score neither; a report row per label holds both."""
    recorder = EpisodeRecorder(4, detector=lambda rgb: np.array([box_at(330, 240)]))
    recorder.start(EpisodeScore(0, 0, "multi_left", "", 2, []))
    ms = 1_000_000
    truths = [
        TruthFace(330.0, 240.0, True),
        TruthFace(330.0, 240.0, True),
        TruthFace(330.0, 240.0, True),
        TruthFace(-50.0, 240.0, False),
    ]
    for k, truth in enumerate(truths):
        recorder.add_truth(k * 100 * ms, [truth, TruthFace(500.0, 240.0, True)], 0)
        recorder.add_image(k * 100 * ms, np.zeros((2, 2, 3), np.uint8))
    recorder.add_status(0, 9.0, (333.0, 244.0))  # 5 px from the truth, 5 px from the centre
    recorder.add_status(100 * ms, 9.0, None)  # a controller without an estimate on this frame
    recorder.add_status(200 * ms, 9.0, (math.nan, 1))  # NaN: none
    recorder.add_status(300 * ms, 9.0, (10.0, 10.0))  # the target is out of view: nothing to score against
    episode = recorder.finish()
    assert [f.grounding_px for f in episode.frames][0] == pytest.approx(5.0)
    assert (episode.frames[0].grounding_dx_px, episode.frames[0].grounding_dy_px) == (3.0, 4.0)
    assert episode.frames[0].control_px == pytest.approx(math.hypot(13, 4))
    assert all(math.isnan(f.grounding_px) and math.isnan(f.control_px) for f in episode.frames[1:])
    restored = EpisodeScore.from_dict(json.loads(json.dumps(episode.to_dict())))
    assert restored.frames[0].grounding_px == pytest.approx(5.0) and math.isnan(restored.frames[1].grounding_px)
    row = per_label([restored])["multi_left"]
    assert row["grounding_error_px"] == pytest.approx(5.0) and row["frames_with_estimate"] == 1
    assert row["control_error_px"] == pytest.approx(math.hypot(13, 4))
    old = episode.to_dict()
    del old["frames"]["grounding_px"], old["frames"]["control_px"]  # an episodes.jsonl from before
    del old["frames"]["grounding_dx_px"], old["frames"]["grounding_dy_px"]
    assert aggregate([EpisodeScore.from_dict(old)])["grounding_error_px"] is None
    assert aggregate([EpisodeScore.from_dict(old)])["grounding_bias_px"] is None


def test_grounding_splits_into_each_episodes_steady_offset_and_the_scatter_about_it():
    """An estimate 10 px left of a face, give or take 2 px (a face the policy sees elsewhere than the labels put
    it), against one scattered 10 px either side of it (unsure, unbiased): the same grounding error, told apart.
    Frames before the response, or without an estimate, count in neither."""

    def episode(index, offsets):
        frames = [FrameScore(0, 50.0, 50.0, False, True)]  # before the response: no estimate scored
        for k, (dx, dy) in enumerate(offsets, start=1):
            frames.append(
                FrameScore(
                    k, 5.0, 5.0, False, True, grounding_px=math.hypot(dx, dy), grounding_dx_px=dx, grounding_dy_px=dy
                )
            )
        frames.append(FrameScore(len(frames), 5.0, 5.0, False, True))  # no estimate on this frame
        return EpisodeScore(index, index, "track", "", 1, ["photo:astronaut"], frames)

    biased = episode(0, [(-10.0, 2.0), (-10.0, -2.0)] * 5)
    scattered = episode(1, [(10.0, 0.0), (-10.0, 0.0)] * 5)
    assert biased.summary()["grounding_offset_px"] == pytest.approx([-10.0, 0.0])
    assert scattered.summary()["grounding_offset_px"] == pytest.approx([0.0, 0.0])
    one, other = aggregate([biased]), aggregate([scattered])
    assert one["grounding_error_px"] == pytest.approx(math.hypot(10, 2))
    assert (one["grounding_bias_px"], one["grounding_jitter_px"]) == pytest.approx((10.0, 2.0))
    assert (other["grounding_bias_px"], other["grounding_jitter_px"]) == pytest.approx((0.0, 10.0))
    both = aggregate([biased, scattered])  # each episode's bias is its own: the two offsets do not cancel
    assert (both["grounding_bias_px"], both["grounding_jitter_px"]) == pytest.approx((5.0, 6.0))
    restored = EpisodeScore.from_dict(json.loads(json.dumps(biased.to_dict())))
    assert aggregate([restored])["grounding_bias_px"] == pytest.approx(10.0)
    assert (
        EpisodeScore(2, 2, "track", "", 1, [], [FrameScore(0, 5.0, 5.0, False, True)]).summary()["grounding_offset_px"]
        is None
    )


def test_recorder_takes_the_camera_rate_from_the_stamps():
    recorder = EpisodeRecorder(4, detector=lambda rgb: np.array([box_at(320, 240)]))
    recorder.start(EpisodeScore(0, 0, "track", "", 1, []))
    for k in range(4):  # a 30 Hz camera: stamps 33.3 ms apart, which a 0.1 s period would merge into frame 0-1
        stamp = round(k * 1e9 / 30)
        recorder.add_truth(stamp, [TruthFace(320.0, 240.0, True)], 0)
        recorder.add_image(stamp, np.zeros((2, 2, 3), np.uint8))
    assert recorder.complete and [f.frame for f in recorder.finish().frames] == [0, 1, 2, 3]


def test_haar_agreement_is_2d_on_every_frame_in_view_and_counts_misses_and_wrong_matches():
    target, other = TruthFace(300.0, 240.0, True), TruthFace(345.0, 240.0, True)
    # a box 12 px right of the point and one 12 px left: the same distance from the centre's column on
    # average, so a difference of distances from the centre cancels; the 2D offset does not
    right = score_frame(0, np.array([box_at(312, 240)]), [target], 0)
    left = score_frame(1, np.array([box_at(288, 240)]), [target], 0)
    assert right.haar_offset_px == pytest.approx(12.0) and left.haar_offset_px == pytest.approx(12.0)
    # the only box holding the target point sits on the other face: scored, but a wrong match
    wrong = score_frame(2, np.array([box_at(340, 240, size=100)]), [target, other], 0)
    assert wrong.wrong_match and not wrong.face_lost
    missed = score_frame(3, np.zeros((0, 4)), [target], 0)
    away = score_frame(4, np.zeros((0, 4)), [TruthFace(900.0, 240.0, False)], 0)
    frames = [right, left, wrong, missed, away]
    agg = aggregate([EpisodeScore(0, 1, "multi_left", "left", 2, ["procedural:1"] * 2, frames)])
    haar = agg["haar_vs_truth"]
    assert haar["frames_in_view"] == 4 and haar["frames_scored"] == 3  # the out-of-view frame is not counted
    assert haar["misses"] == 1 and haar["miss_rate"] == pytest.approx(0.25)
    assert haar["wrong_matches"] == 1 and agg["haar_wrong_match_rate"] == pytest.approx(0.25)
    assert agg["haar_position_error_px"] == pytest.approx((12 + 12 + 40) / 3)
    passed, results = check_gates(load_gates(), agg)
    assert not results["haar_position_error_px"]["pass"] and not results["haar_wrong_match_rate"]["pass"]
    assert EpisodeScore.from_dict(EpisodeScore(0, 1, "t", "c", 1, [], frames).to_dict()).frames[2].wrong_match
