"""The structured head: the oracle's law on the read-out, its gains' fit, and its closed loop."""

import math

import numpy as np
import pytest
import torch

from ocelot_common.camera import CAMERA_PERIOD_S, Camera
from ocelot_oracle.oracle_law import pixel_to_angles
from ocelot_train.law_head import LawHead, check_gains, fit_gains, oracle_gains

PI4_ORACLE = np.array([[7.0, 7.0], [1.7, 1.7], [-0.7, -0.7], [1.7, 1.7]], np.float32)  # gain 0.7, one period late


def test_angles_are_the_oracles_for_the_same_image_point():
    camera, law = Camera(), LawHead(1.0)
    points = np.array([[100.0, 50.0], [320.0, 240.0], [600.0, 470.0], [0.0, 479.0]])
    unit = torch.from_numpy(points / np.array([camera.width, camera.height]) * 2 - 1).float()
    expected = np.array([pixel_to_angles(u, v, camera) for u, v in points])
    np.testing.assert_allclose(law.angles(unit).numpy(), expected, atol=1e-6)


def test_the_first_frame_reads_as_no_motion_and_the_output_is_clipped():
    law = LawHead(0.5)
    xy = torch.tensor([[0.3, -0.2], [-0.9, 0.0]])
    rest = torch.zeros(2, 2)
    inputs = law.inputs(xy, torch.full((2, 2), math.nan), rest, rest)
    assert torch.isfinite(inputs).all() and not inputs[:, 1:].any()  # no image motion, no commands
    command = law(xy, torch.full((2, 2), math.nan), rest, rest)
    assert command.abs().max() <= 0.5 and command[1, 0] == 0.5  # far left of centre: pan at the limit
    assert command[0, 0] < 0 < command[0, 1]  # right of and above centre: pan right (negative), tilt up


def test_gains_come_from_the_config_or_start_as_the_oracles_and_bad_ones_are_refused():
    np.testing.assert_array_equal(LawHead(1.0).gains.numpy(), oracle_gains())
    np.testing.assert_array_equal(LawHead(1.0, PI4_ORACLE.tolist()).gains.numpy(), PI4_ORACLE)
    assert "law.gains" not in LawHead(1.0).state_dict()  # the config holds them, not the weights
    for bad in ([[1.0, 2.0]], [[1.0, 2.0, 3.0]] * 4, [[math.nan, 1.0]] + [[1.0, 1.0]] * 3):
        with pytest.raises(ValueError, match="4 rows"):
            check_gains(bad)


def simulate(gains: np.ndarray, latency_periods: int, steps: int = 80, rate: float = 0.3, noise: float = 0.0):
    """A one-axis loop: a target moving at `rate` rad/s, a camera turned by each command `latency_periods`
    late, the law seeing the target's angle (plus noise). Returns the angular errors."""
    law, rng = LawHead(10.0), np.random.default_rng(0)
    with torch.no_grad():
        law.gains.copy_(torch.from_numpy(np.asarray(gains, np.float32)))
    scale = float(law.scale[0])
    target, camera, commands, errors, before = 0.2, 0.0, [0.0, 0.0, 0.0], [], math.nan
    for _ in range(steps):
        error = target - camera + noise * rng.normal()
        xy = torch.tensor([[-math.tan(error) / scale, 0.0]])
        previous = torch.tensor([[before, 0.0]])
        u = law(xy, previous, torch.tensor([[commands[-1], 0.0]]), torch.tensor([[commands[-2], 0.0]]))
        commands.append(float(u[0, 0]))
        before = float(xy[0, 0])
        camera += commands[-1 - latency_periods] * CAMERA_PERIOD_S
        target += rate * CAMERA_PERIOD_S
        errors.append(target - camera)
    return np.array(errors)


def test_the_oracle_gains_track_a_moving_target_without_lag_each_in_its_loop():
    assert np.abs(simulate(oracle_gains(), latency_periods=0)[-20:]).max() < 1e-4
    assert np.abs(simulate(PI4_ORACLE, latency_periods=1)[-20:]).max() < 1e-4
    # the instant loop's gains in a loop one period late do not settle: what the fit is for
    assert np.abs(simulate(oracle_gains(), latency_periods=1)[-20:]).max() > 1e-2


def test_fit_recovers_the_gains_that_made_the_labels_and_ignores_clipped_ones():
    rng = np.random.default_rng(1)
    inputs = rng.normal(0, 0.2, (500, 4, 2)).astype(np.float32)
    labels = (inputs * PI4_ORACLE).sum(1)
    labels[:50] = np.sign(labels[:50]) * 1.0  # at the joint limit: says "at least", not what the law asks
    labels[50:60, 0] = np.nan
    np.testing.assert_allclose(fit_gains(inputs, labels, 1.0), PI4_ORACLE, atol=1e-4)


def test_fit_needs_enough_unclipped_labels():
    inputs = np.zeros((20, 4, 2), np.float32)
    with pytest.raises(ValueError, match="at least 12 unclipped labels"):
        fit_gains(inputs, np.ones((20, 2), np.float32), 1.0)
