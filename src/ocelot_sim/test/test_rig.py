"""The MuJoCo rig, rendered for real (EGL): determinism, safe commands, ground truth that matches what Haar sees."""

import math

import numpy as np
import pytest

from ocelot_sim.exposure import motion_blur
from ocelot_sim.haar import box_centre, detect_faces
from ocelot_sim.perturbation import Perturbation
from ocelot_sim.rig import MAX_VELOCITY, PanTiltSim, sanitise_velocity
from ocelot_sim.robot_profile import RobotProfile, load_profile
from ocelot_sim.scenario import generate


@pytest.fixture(scope="module")
def sim():
    s = PanTiltSim()
    yield s
    s.close()


def run(sim, seed, commands, perturbation=Perturbation(), robot=RobotProfile()):
    sim.reset(generate(seed), perturbation, robot)
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


def test_an_episode_does_not_depend_on_how_long_the_one_before_ran(sim):
    """A jump holds the target where it jumped in its own episode: how many frames the episode before ran
    (a timing matter in lockstep: the sim runs on until the next reset) changes nothing."""
    perturbation, commands = Perturbation(3, 0.4, 2), [(0.1, 0.0)] * 8
    truths = []
    for frames_before in (3, 4, 7):  # ending before the first jump, inside it, after it
        run(sim, 30, [(0.2, 0.0)] * frames_before, perturbation)
        truths.append(run(sim, 31, commands, perturbation)[1])
    assert truths[0] == truths[1] == truths[2]


def test_frames_are_640x480_rgb(sim):
    sim.reset(generate(1))
    frame = sim.render()
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8


@pytest.mark.parametrize(
    "value, expected",
    [(math.nan, 0.0), (math.inf, 0.0), (-math.inf, 0.0), (5.0, MAX_VELOCITY), (-3.0, -MAX_VELOCITY), (0.4, 0.4)],
)
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
    for i, (_, b) in enumerate(zip(before, during)):
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


def test_same_commands_under_pi4_give_byte_identical_frames(sim):
    commands = [(0.6, -0.2)] * 5 + [(-0.4, 0.1)] * 5
    a_frames, a_truth = run(sim, 31, commands, robot=load_profile("pi4"))
    b_frames, b_truth = run(sim, 31, commands, robot=load_profile("pi4"))
    assert all(np.array_equal(a, b) for a, b in zip(a_frames, b_frames)) and a_truth == b_truth
    ideal_frames, _ = run(sim, 31, commands)
    assert not np.array_equal(a_frames[3], ideal_frames[3])  # the profile changes the loop


def test_under_latency_a_command_moves_the_joints_one_period_later(sim):
    late = RobotProfile(name="late", command_latency_s=0.1)
    sim.reset(generate(3), robot=late)
    sim.step(0.5, -0.2)
    (pan, tilt), rates = sim.joints()
    assert pan == pytest.approx(0.0, abs=1e-6) and rates[0] == pytest.approx(0.0, abs=1e-6)  # the rest held
    for _ in range(4):
        sim.step(0.5, -0.2)
    (pan, tilt), _ = sim.joints()
    assert pan == pytest.approx(0.2, abs=0.005) and tilt == pytest.approx(-0.08, abs=0.005)  # 4 of 5 periods
    sim.reset(generate(3), robot=late)  # a new episode starts at rest, nothing in flight
    sim.step(0.0, 0.0)
    assert sim.joints()[1][0] == pytest.approx(0.0, abs=1e-6)


def test_slow_servos_lag_the_command(sim):
    sim.reset(generate(3), robot=RobotProfile(name="slow", time_constant_s=(0.1, 0.1)))
    sim.step(0.5, 0.0)
    (pan, _), rates = sim.joints()
    assert 0.5 * (1 - 0.5) < rates[0] < 0.5 * (1 - 0.3)  # 1 - exp(-1) of the way after one time constant
    assert pan < 0.5 * 0.1 * 0.5


def test_a_turning_camera_blurs_its_frame_and_a_still_one_does_not(sim):
    scenario = generate(5, overrides={"camera_noise_sigma": 0.0})  # sensor noise would hide the detail measured
    blurry = RobotProfile(name="blurry", exposure_s=0.02)

    def frame_after(robot, command):
        sim.reset(scenario, robot=robot)
        if command:
            sim.step(*command)
        return sim.render()

    assert np.array_equal(frame_after(blurry, None), frame_after(RobotProfile(), None))  # at rest: no smear
    turning, sharp = frame_after(blurry, (1.0, 0.0)), frame_after(RobotProfile(), (1.0, 0.0))
    # 11 px of horizontal smear at 1 rad/s: horizontal detail goes, vertical detail stays
    horizontal = lambda image: np.abs(np.diff(image.astype(np.int16), axis=1)).mean()  # noqa: E731
    vertical = lambda image: np.abs(np.diff(image.astype(np.int16), axis=0)).mean()  # noqa: E731
    assert horizontal(turning) < 0.75 * horizontal(sharp)  # measured 0.65
    assert vertical(turning) > 0.85 * vertical(sharp)  # measured 0.93


def test_motion_blur_averages_along_the_line():
    image = np.zeros((21, 21, 3), np.uint8)
    image[10, 10] = 250
    blurred = motion_blur(image, 4.0, 0.0)
    row = blurred[10, :, 0].astype(int)
    assert row.sum() == pytest.approx(250, abs=6) and (row > 0).sum() >= 4  # spread along x, energy kept
    assert blurred[:10, :, 0].sum() == 0 and blurred[11:, :, 0].sum() == 0  # and nowhere else
    assert motion_blur(image, 0.5, 0.3) is image  # under a pixel: untouched
