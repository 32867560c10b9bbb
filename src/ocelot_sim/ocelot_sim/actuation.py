"""How a velocity command becomes joint velocity under a robot profile (ROS-free).

Time runs in physics steps (STEP_S, the world's timestep), so the sim and a controller that predicts it
agree exactly. A command issued at step k takes effect at step k + latency; until then the one before it
holds. Each axis' velocity then follows the command in effect with a first-order lag (time constant tau,
stepped exactly: v += (u - v)(1 - exp(-dt / tau))) and never changes faster than the acceleration limit.
With no latency, lag or limit the velocity is the command itself, as an ideal velocity servo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ocelot_sim.robot_profile import RobotProfile

STEP_S = 0.002  # the physics timestep of ocelot_world.xml; the rig checks the world has it


def ticks(seconds: float, step_s: float = STEP_S) -> int:
    """A time in physics steps (times in the loop are multiples of the step)."""
    return int(round(seconds / step_s))


@dataclass
class Actuation:
    """The command pipeline and the velocity state of both axes."""

    profile: RobotProfile
    step_s: float = STEP_S
    tick: int = 0
    velocity: list[float] = field(default_factory=lambda: [0.0, 0.0])
    setpoint: tuple[float, float] = (0.0, 0.0)
    pending: list[tuple[int, tuple[float, float]]] = field(default_factory=list)  # (effect tick, command)

    def __post_init__(self) -> None:
        self.latency_ticks = ticks(self.profile.command_latency_s, self.step_s)
        self._blend = [1.0 - math.exp(-self.step_s / tau) if tau > 0 else 1.0 for tau in self.profile.time_constant_s]
        self._max_change = [a * self.step_s for a in self.profile.accel_limit_rad_s2]

    def command(self, pan: float, tilt: float, issued_tick: int | None = None) -> None:
        """A command answering the frame of `issued_tick` (default: now); it takes effect a latency later."""
        issued = self.tick if issued_tick is None else issued_tick
        self.pending.append((issued + self.latency_ticks, (float(pan), float(tilt))))
        self.pending.sort(key=lambda item: item[0])

    def step(self) -> tuple[float, float]:
        """Advance one physics step: the joint velocity over it."""
        while self.pending and self.pending[0][0] <= self.tick:
            self.setpoint = self.pending.pop(0)[1]
        for axis in (0, 1):
            v = self.velocity[axis]
            change = (self.setpoint[axis] - v) * self._blend[axis]
            limit = self._max_change[axis]
            self.velocity[axis] = v + max(-limit, min(limit, change))
        self.tick += 1
        return self.velocity[0], self.velocity[1]

    def displacement(self, steps: int, axis: int) -> float:
        """How far `axis` turns over the next `steps` (rad); advances the state."""
        total = 0.0
        for _ in range(steps):
            total += self.step()[axis] * self.step_s
        return total

    def copy(self) -> Actuation:
        clone = Actuation(self.profile, self.step_s, self.tick, list(self.velocity), self.setpoint, list(self.pending))
        return clone
