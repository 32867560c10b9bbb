"""The predictive head: its model of the robot's actuation, its filter, its aim, and its checks."""

import math

import numpy as np
import pytest
import torch

from ocelot_common.camera import CAMERA_PERIOD_S
from ocelot_sim.actuation import Actuation, ticks
from ocelot_sim.robot_profile import RobotProfile, load_profile
from ocelot_train.law_head import image_scale
from ocelot_train.predictive_law import STATE_SIZE, PredictiveLaw, check_predictive, predictive_law_for

NO_STATE = torch.full((1, STATE_SIZE), math.nan)


def read_out(angles: np.ndarray) -> torch.Tensor:
    """Angles off the optical axis (pan, tilt) -> the read-out position that shows them (law_head's inverse)."""
    return torch.from_numpy(-np.tan(angles) / np.array(image_scale())).float()[None]


def test_the_state_follows_a_steady_face_through_the_robots_actuation():
    """A face turning at a steady world rate, seen by a camera the sim's own actuation turns (a period late,
    slow servos, no acceleration limit): with an unfiltered read-out the head's state holds the face's angle
    and its world rate, whatever commands turned the camera. Any slip in the lag or latency terms leaves the
    camera's turn (tenths of a rad/s) in the rate; what remains is the sim's lag stepped in 2 ms steps where the
    head integrates it in closed form (up to 0.013 rad/s here; a slip, such as u1 for u2, leaves 0.23)."""
    profile = RobotProfile("late", 0.1, (0.06, 0.04))
    law = PredictiveLaw(1.0, predictive_law_for(profile, alpha=(1.0, 1.0), beta=(1.0, 1.0)))
    actuation, rate, bearing, camera = Actuation(profile), np.array([0.3, -0.2]), np.array([0.1, 0.05]), np.zeros(2)
    rng = np.random.default_rng(0)
    applied, state = [torch.zeros(1, 2), torch.zeros(1, 2)], NO_STATE
    for frame in range(8):
        seen = bearing + rate * frame * CAMERA_PERIOD_S - camera
        _, state = law(read_out(seen), state, applied[-1], applied[-2])
        np.testing.assert_allclose(state[0, :2].numpy(), seen, atol=1e-5)
        if frame >= 1:
            np.testing.assert_allclose(state[0, 2:4].numpy(), rate, atol=0.03)
        command = rng.uniform(-0.8, 0.8, 2)  # not the head's: the state must not depend on what turned the camera
        actuation.command(*command)
        for _ in range(ticks(CAMERA_PERIOD_S)):
            camera += np.array(actuation.step()) * actuation.step_s
        applied.append(torch.from_numpy(command).float()[None])


def test_an_instant_loop_gets_the_oracles_law_and_the_first_frame_reads_as_a_face_at_rest():
    law = PredictiveLaw(5.0, predictive_law_for(load_profile("ideal"), gain=(0.7, 0.7)))
    angles = np.array([0.1, -0.05])
    rest = torch.zeros(1, 2)
    command, state = law(read_out(angles), NO_STATE, rest, rest)
    np.testing.assert_allclose(command[0].numpy(), 0.7 / CAMERA_PERIOD_S * angles, rtol=1e-5)
    assert torch.isfinite(state).all() and not state[0, 2:].any()  # no rate, joints at rest
    # the joints already turning at u2 (a command change mid-episode): the state starts from that velocity
    turning = torch.tensor([[0.4, -0.2]])
    assert torch.equal(law(read_out(angles), NO_STATE, turning, turning)[1][0, 4:], turning[0])
    clipped, _ = PredictiveLaw(0.5, predictive_law_for(load_profile("ideal")))(read_out(angles), NO_STATE, rest, rest)
    assert clipped.abs().max() <= 0.5


def test_under_pi4_it_aims_ahead_of_a_face_the_camera_is_not_yet_following():
    """A period of latency: a face left of centre and moving left needs more than the instant law's command,
    and a camera already turning towards it (u1 still to act) needs less."""
    law = PredictiveLaw(1.0, predictive_law_for(load_profile("pi4")))
    rest, angles = torch.zeros(1, 2), np.array([0.05, 0.0])
    _, state = law(read_out(angles), NO_STATE, rest, rest)
    moving, state = law(read_out(angles + [0.02, 0.0]), state, rest, rest)  # 0.2 rad/s to the left
    still, _ = law(read_out(angles + [0.02, 0.0]), NO_STATE, rest, rest)
    assert moving[0, 0] > still[0, 0] > 0
    following, _ = law(read_out(angles + [0.02, 0.0]), NO_STATE, torch.tensor([[0.3, 0.0]]), rest)
    assert following[0, 0] < still[0, 0]


def test_bad_settings_are_refused_with_the_key_named():
    good = predictive_law_for(load_profile("pi4"))
    assert check_predictive(good) == good
    for change, message in (
        ({"alpha": [0.0, 0.5]}, "alpha must be in"),
        ({"beta": [0.5]}, "beta must be two finite numbers"),
        ({"gain": [1.5, 0.5]}, "gain must be in"),
        ({"latency_s": 0.25}, "latency_s must be in"),
        ({"time_constant_s": [-0.1, 0.0]}, "time_constant_s must be >= 0"),
    ):
        with pytest.raises(ValueError, match=message):
            check_predictive({**good, **change})
    with pytest.raises(ValueError, match="needs exactly the keys"):
        check_predictive({key: value for key, value in good.items() if key != "beta"})
    assert "predictive_law.gain" not in PredictiveLaw(1.0, good).state_dict()  # the config holds them


def _folding_state(estimate, rate, highest, lowest) -> torch.Tensor:
    """A folding head's state, camera at the episode's start and joints at rest: pan as given, tilt with no ends."""
    return torch.tensor([[estimate, 0.0, rate, 0.0, 0.0, 0.0, 0.0, 0.0, highest, -100.0, lowest, 100.0]])


def test_a_folding_head_turns_at_a_seen_end_and_follows_a_face_that_goes_past_one():
    pi4 = load_profile("pi4")
    plain = PredictiveLaw(1.0, predictive_law_for(pi4))
    folding = PredictiveLaw(1.0, predictive_law_for(pi4, fold_margin_rad=0.002))
    assert (plain.state_size, folding.state_size) == (6, 12)
    rest = torch.zeros(1, 2)
    seen = read_out(np.array([0.1, 0.0]))
    # an episode's first frame: no ends yet, the same command
    first, state = folding(seen, torch.full((1, 12), math.nan), rest, rest)
    torch.testing.assert_close(first, plain(seen, NO_STATE, rest, rest)[0])
    assert torch.equal(state[0, 8:], torch.tensor([-100.0, -100.0, 100.0, 100.0]))  # no ends seen: rate 0
    # a face 0.03 rad short of the end at 0.2 it turned at before, moving up at 0.5 rad/s: a period on the
    # prediction passes the end, so it is folded back (0.18) and the rate turned; the face is seen there
    before = _folding_state(0.17, 0.5, 0.2, -0.2)
    turned = read_out(np.array([0.18, 0.0]))
    command, state = folding(turned, before, rest, rest)
    unfolded_command, unfolded = plain(turned, before[:, :6], rest, rest)
    assert state[0, 2] < 0 < unfolded[0, 2]  # the rate turned round; unfolded it still points past the end
    assert command[0, 0] < unfolded_command[0, 0]
    # a face that goes on past a seen end (a wandering one): the end moves with it and the head follows it
    state, rate = _folding_state(0.0, 0.3, 0.1, -0.1), 0.3
    for frame in range(1, 25):
        truth = rate * frame * CAMERA_PERIOD_S
        _, state = folding(read_out(np.array([truth, 0.0])), state, rest, rest)
    assert abs(state[0, 0] - truth) < 0.01 and abs(state[0, 2] - rate) < 0.05
    assert state[0, 8] > truth - 0.05


def test_folding_settings_are_checked():
    good = predictive_law_for(load_profile("pi4"), fold_margin_rad=0.002)
    assert check_predictive(good)["fold_margin_rad"] == 0.002
    assert "fold_margin_rad" not in predictive_law_for(load_profile("pi4"))  # none: the head of before, 6 numbers
    for margin in (-0.01, 1.5, True, "0.1"):
        with pytest.raises(ValueError, match="fold_margin_rad must be a number in"):
            check_predictive({**good, "fold_margin_rad": margin})
    with pytest.raises(ValueError, match="optionally fold_margin_rad"):
        check_predictive({**good, "fold": 0.1})


def test_a_swinging_forecast_slows_a_face_towards_the_ends_of_its_lane():
    """Ends at +/-0.2 rad: a face at 0.1 moving up at 0.5 rad/s is forecast on the sine through it that turns at
    0.2 (w = 0.5 / sqrt(0.2^2 - 0.1^2)), which gets less far than its rate alone; in the lane's middle that is a
    smaller command. Beyond the fraction (a face at 0.17: 0.85 of the 0.2 half-width, over 0.8), and before both
    ends are seen, it is the folding head."""
    pi4 = load_profile("pi4")
    folding = PredictiveLaw(5.0, predictive_law_for(pi4, fold_margin_rad=0.002))  # commands not clipped here
    swinging = PredictiveLaw(5.0, predictive_law_for(pi4, fold_margin_rad=0.002, swing_fraction=0.8))
    assert swinging.state_size == 12
    rest = torch.zeros(1, 2)
    face, rate = torch.tensor([[0.1, 0.0]]), torch.tensor([[0.5, 0.0]])
    ends = (torch.tensor([[0.2, -100.0]]), torch.tensor([[-0.2, 100.0]]))
    w = 0.5 / math.sqrt(0.2**2 - 0.1**2)
    swung = 0.1 * math.cos(w * 0.1) + 0.5 / w * math.sin(w * 0.1) - 0.1
    assert swinging._forecast(face, rate, ends, 0.1)[0, 0].item() == pytest.approx(swung, rel=1e-5)
    assert swung < 0.05  # the rate alone: 0.05 rad in 0.1 s
    assert swinging._forecast(face, rate, ends, 0.1)[0, 1] == 0  # tilt: no ends seen, a face at rest
    # a period on, at 0.05 (where a forecast at the rate alone does not reach the end to fold)
    before = _folding_state(0.0, 0.5, 0.2, -0.2)
    seen = read_out(np.array([0.05, 0.0]))
    assert swinging(seen, before, rest, rest)[0][0, 0] < folding(seen, before, rest, rest)[0][0, 0]
    near = torch.tensor([[0.17, 0.0]])
    torch.testing.assert_close(swinging._forecast(near, rate, ends, 0.1), folding._forecast(near, rate, ends, 0.1))
    # a period on, the face seen at the end: the same command and state
    near_end = _folding_state(0.17, 0.5, 0.2, -0.2)
    seen = read_out(np.array([0.17 + 0.05, 0.0]))
    torch.testing.assert_close(swinging(seen, near_end, rest, rest), folding(seen, near_end, rest, rest))
    first = torch.full((1, 12), math.nan)
    torch.testing.assert_close(swinging(seen, first, rest, rest), folding(seen, first, rest, rest))


def test_swing_settings_are_checked():
    good = predictive_law_for(load_profile("pi4"), fold_margin_rad=0.002, swing_fraction=0.8)
    assert check_predictive(good)["swing_fraction"] == 0.8
    for fraction in (0.0, 1.0, True, "0.8"):
        with pytest.raises(ValueError, match="swing_fraction must be a number in"):
            check_predictive({**good, "swing_fraction": fraction})
    with pytest.raises(ValueError, match="swing_fraction needs the lane's ends"):
        check_predictive({key: value for key, value in good.items() if key != "fold_margin_rad"})
