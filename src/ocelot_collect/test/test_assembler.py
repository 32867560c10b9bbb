import numpy as np
import pytest

from ocelot_collect.assembler import EpisodeAssembler


def feed(a, frames, streams=("image", "command", "truth"), offset=0, period_ns=100_000_000):
    for f in frames:
        t = f * period_ns
        for s in streams:
            value = {
                "image": np.full((2, 2, 3), f + offset, np.uint8),
                "command": (0.01 * (f + offset), 0.0),
                "truth": (float(f), f % 2 == 0, 300.0 + f, 200.0 - f),
            }[s]
            a.add(s, t, value)


def test_pairs_streams_by_frame_after_warmup():
    a = EpisodeAssembler(warmup_frames=3, episode_frames=4)
    a.start(7, {"command": "track the face", "label_key": "track", "scenario_id": "abc"})
    feed(a, range(0, 5))
    assert a.recorded == 2 and not a.complete
    feed(a, range(5, 9))
    assert a.complete
    ep = a.episode()
    assert ep.index == 7 and ep.cmd == "track the face" and ep.scenario_id == "abc"
    assert [int(x[0, 0, 0]) for x in ep.frames] == [3, 4, 5, 6]
    assert ep.pan_vel.tolist() == pytest.approx([0.03, 0.04, 0.05, 0.06])
    assert ep.sim_time.tolist() == pytest.approx([0.3, 0.4, 0.5, 0.6])
    assert ep.perturbed.tolist() == [False, True, False, True]
    np.testing.assert_array_equal(ep.target_px, [[303, 197], [304, 196], [305, 195], [306, 194]])


def test_stale_messages_before_frame_zero_are_ignored():
    a = EpisodeAssembler(warmup_frames=1, episode_frames=2)
    a.start(1, {})
    feed(a, [1, 2], offset=100)  # the previous episode, still in flight
    assert a.recorded == 0
    feed(a, [0, 1, 2])  # the new episode starts at frame 0
    assert a.complete and [int(x[0, 0, 0]) for x in a.episode().frames] == [1, 2]


def test_a_missing_stream_keeps_the_frame_open():
    a = EpisodeAssembler(warmup_frames=0, episode_frames=2)
    a.start(0, {})
    feed(a, [0, 1], streams=("image", "truth"))
    assert a.recorded == 0
    feed(a, [0, 1], streams=("command",))
    assert a.complete


def test_with_record_applied_a_frame_waits_for_the_applied_command_too():
    a = EpisodeAssembler(warmup_frames=0, episode_frames=2, record_applied=True)
    a.start(0, {})
    feed(a, [0, 1])
    assert a.recorded == 0 and "lacks applied" in a.first_gap()
    for f in (0, 1):
        a.add("applied", f * 100_000_000, (0.5 + f, -0.25))
    assert a.complete
    ep = a.episode()
    assert ep.applied.tolist() == [[0.5, -0.25], [1.5, -0.25]] and ep.pan_vel.tolist() == pytest.approx([0.0, 0.01])
    plain = EpisodeAssembler(warmup_frames=0, episode_frames=1)
    plain.start(0, {})
    plain.add("applied", 0, (1.0, 1.0))  # not recorded: ignored
    feed(plain, [0])
    assert plain.complete and plain.episode().applied is None


def test_sim_time_is_the_sims_own_stamps_whatever_the_camera_rate():
    a = EpisodeAssembler(warmup_frames=2, episode_frames=3)
    a.start(0, {})
    feed(a, range(6), period_ns=40_000_000)  # a 25 Hz camera
    assert a.complete
    ep = a.episode()
    assert ep.sim_time.tolist() == pytest.approx([0.08, 0.12, 0.16])
    assert [int(x[0, 0, 0]) for x in ep.frames] == [2, 3, 4]


def test_bad_lengths():
    with pytest.raises(ValueError):
        EpisodeAssembler(warmup_frames=-1, episode_frames=3)
