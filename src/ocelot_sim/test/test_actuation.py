"""The actuation model: the previous command holds for exactly the latency, the velocity follows a step
with its time constant, never faster than the acceleration limit, and the ideal profile is instant."""

import math

import pytest

from ocelot_sim.actuation import STEP_S, Actuation, ticks
from ocelot_sim.robot_profile import RobotProfile


def _run(actuation: Actuation, steps: int) -> list[tuple[float, float]]:
    return [actuation.step() for _ in range(steps)]


def test_ideal_is_the_command_at_once():
    actuation = Actuation(RobotProfile())
    actuation.command(0.5, -0.25)
    assert _run(actuation, 3) == [(0.5, -0.25)] * 3


def test_the_previous_command_holds_for_the_latency():
    actuation = Actuation(RobotProfile(command_latency_s=0.1))
    actuation.command(0.4, 0.2)
    velocities = _run(actuation, ticks(0.1) + 2)
    assert velocities[: ticks(0.1)] == [(0.0, 0.0)] * ticks(0.1)  # 50 steps of 2 ms: the rest it had
    assert velocities[ticks(0.1)] == (0.4, 0.2)
    # a command issued for an earlier frame keeps its own effect time
    late = Actuation(RobotProfile(command_latency_s=0.1), tick=30)
    late.command(1.0, 1.0, issued_tick=0)
    assert _run(late, 21)[19:] == [(0.0, 0.0), (1.0, 1.0)]


def test_the_velocity_follows_a_step_with_its_time_constant():
    tau = (0.05, 0.02)
    actuation = Actuation(RobotProfile(time_constant_s=tau))
    actuation.command(1.0, 1.0)
    velocities = _run(actuation, ticks(0.05))
    pan_at_tau = velocities[-1][0]
    assert pan_at_tau == pytest.approx(1 - math.exp(-1), abs=1e-9)  # 63 % after one time constant
    assert velocities[ticks(0.02) - 1][1] == pytest.approx(1 - math.exp(-1), abs=1e-9)
    assert all(b[0] > a[0] for a, b in zip(velocities, velocities[1:]))


def test_the_velocity_never_changes_faster_than_the_limit():
    actuation = Actuation(RobotProfile(accel_limit_rad_s2=(5.0, 20.0)))
    actuation.command(1.0, -1.0)
    velocities = _run(actuation, 60)
    assert velocities[9][0] == pytest.approx(10 * 5.0 * STEP_S)  # 5 rad/s^2 for 20 ms
    assert velocities[24][1] == pytest.approx(-1.0)  # 1 rad/s at 20 rad/s^2: 50 ms
    steps = [b[0] - a[0] for a, b in zip(velocities, velocities[1:])]
    assert max(steps) <= 5.0 * STEP_S + 1e-12


def test_a_copy_predicts_without_touching_the_original():
    actuation = Actuation(RobotProfile(command_latency_s=0.04, time_constant_s=(0.03, 0.03)))
    actuation.command(0.8, 0.0)
    ahead = actuation.copy()
    predicted = ahead.displacement(ticks(0.2), 0)
    assert actuation.tick == 0 and actuation.velocity == [0.0, 0.0] and actuation.pending
    assert predicted == pytest.approx(sum(v for v, _ in _run(actuation, ticks(0.2))) * STEP_S)
