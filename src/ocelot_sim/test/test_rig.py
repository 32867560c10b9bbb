"""The MuJoCo rig, rendered for real (EGL): determinism, safe commands, ground truth that matches what Haar sees."""
import math

import numpy as np
import pytest

from ocelot_sim.haar import box_centre, detect_faces
from ocelot_sim.perturbation import Perturbation
from ocelot_sim.rig import MAX_VELOCITY, PanTiltSim, sanitise_velocity
from ocelot_sim.scenario import generate


@pytest.fixture(scope="module")
def sim():
    s = PanTiltSim()
    yield s
    s.close()


def run(sim, seed, commands, perturbation=Perturbation()):
    sim.reset(generate(seed), perturbation)
    frames, truth = [], []
    for pan, tilt in commands:
        frames.append(sim.render())
        truth.append(sim.ground_truth())
        sim.step(pan, tilt)
    return frames, truth


def test_same_seed_gives_byte_identical_frames_and_truth(sim):
    commands = [(0.3, -0.1)] * 4 + [(-0.2, 0.05)] * 4
    a_frames, a_truth = run(sim, 21, commands, Perturbation(3, 0.4, 1))
    b_frames, b_truth = run(sim, 21, commands, Perturbation(3, 0.4, 1))
    assert all(np.array_equal(a, b) for a, b in zip(a_frames, b_frames))
    assert a_truth == b_truth
    c_frames, _ = run(sim, 22, commands)
    assert not np.array_equal(a_frames[0], c_frames[0])


def test_frames_are_640x480_rgb(sim):
    sim.reset(generate(1))
    frame = sim.render()
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8


@pytest.mark.parametrize("value, expected", [
    (math.nan, 0.0), (math.inf, 0.0), (-math.inf, 0.0), (5.0, MAX_VELOCITY), (-3.0, -MAX_VELOCITY), (0.4, 0.4)])
def test_sanitise(value, expected):
    assert sanitise_velocity(value) == expected


def test_bad_commands_never_break_the_physics(sim):
    sim.reset(generate(2))
    for pan, tilt in [(math.nan, math.inf), (1e9, -1e9), (-math.inf, math.nan)] * 5:
        sim.step(pan, tilt)
        positions, velocities = sim.joints()
        assert np.all(np.isfinite(positions)) and np.all(np.abs(velocities) <= MAX_VELOCITY * 1.01)
    assert np.all(np.isfinite(sim.data.qacc))


def test_velocity_command_is_followed(sim):
    sim.reset(generate(3))
    for _ in range(5):
        sim.step(0.5, -0.2)
    (pan, tilt), _ = sim.joints()
    assert pan == pytest.approx(0.25, abs=0.005) and tilt == pytest.approx(-0.1, abs=0.005)


def test_perturbation_moves_only_the_target(sim):
    scenario = generate(4)
    sim.reset(scenario, Perturbation(5, 0.5, 2))
    before = sim.ground_truth()
    for _ in range(5):
        sim.step(0.0, 0.0)
    during = sim.ground_truth()
    assert during[scenario.target].perturbed and during[scenario.target].rates == (0.0, 0.0)
    for i, (a, b) in enumerate(zip(before, during)):
        if i != scenario.target:
            assert not b.perturbed


def test_ground_truth_projection_agrees_with_haar(sim):
    """The projected target point lies within a few pixels of the Haar box centre on rendered frames."""
    gaps = []
    for seed in range(12):
        scenario = generate(seed)
        sim.reset(scenario)
        truth = sim.ground_truth()[scenario.target]
        boxes = detect_faces(sim.render())
        near = [np.hypot(*(np.array(box_centre(b)) - truth.pixel)) for b in boxes]
        if near and min(near) < 30:
            gaps.append(min(near))
    assert len(gaps) >= 9
    assert np.median(gaps) < 2.5 and max(gaps) < 8
