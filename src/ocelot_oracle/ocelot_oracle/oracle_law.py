"""The oracle's control law: P on the angular error plus velocity feed-forward.

A pure P controller at 10 Hz lags the target by a frame; adding the target's own
angular rate (feed-forward) removes that lag. The rate is the ground truth's
when given (extrapolated over the coming period with the change since the last
frame), else estimated from successive bearings. Angles follow the rig: pan is
positive counter-clockwise seen from above (target left of centre -> positive),
tilt is positive upwards (target above centre -> positive).

Under a robot profile with latency or slow actuators (`LoopState` given), the law
aims where the target will be when its command takes effect: the camera's own
motion until then is predicted from the commands still in flight and the joints'
velocity (ocelot_sim.actuation, the model the sim runs); the target's from the
scenario's motion of it when the oracle knows it (it is the sim's ground truth;
not while a perturbation jump holds the face), else from its rate and the rate's
last change. The command is the one whose predicted turn over the period it
holds removes `gain` of that error and follows the target's mean rate over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ocelot_common.camera import CAMERA_PERIOD_S, Camera
from ocelot_sim.actuation import Actuation, ticks
from ocelot_sim.motion import MotionSpec, angles_at
from ocelot_sim.robot_profile import RobotProfile

SOLVE_ITERATIONS = 30  # bisection on the command: 2 rad / 2^30, far below a pixel


@dataclass(frozen=True)
class OracleGains:
    gain: float = 0.7  # share of the angular error removed per camera period
    period_s: float = CAMERA_PERIOD_S
    max_velocity: float = 1.0  # joint limit, rad/s
    feed_forward: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.gain <= 1.0:
            raise ValueError(f"gain must be in (0, 1], got {self.gain}")
        if self.period_s <= 0 or self.max_velocity <= 0:
            raise ValueError("period_s and max_velocity must be positive")


def pixel_to_angles(u: float, v: float, camera: Camera) -> tuple[float, float]:
    """Angular offset (pan, tilt) of pixel (u, v) from the optical axis, in the rig's signs."""
    f = camera.focal_px
    return math.atan2(camera.width / 2 - u, f), math.atan2(camera.height / 2 - v, f)


@dataclass(frozen=True)
class LoopState:
    """What a controller knows of the loop at a frame: the joints' velocity then (rad/s), the commands
    that answered earlier frames, as (frame time, (pan, tilt)), some of which may not have taken effect, and
    the target's motion when it follows its scenario path (None: unknown, or a jump holds it)."""

    joint_rates: tuple[float, float] = (0.0, 0.0)
    commands: tuple[tuple[float, tuple[float, float]], ...] = field(default_factory=tuple)
    target_motion: MotionSpec | None = None


class OracleLaw:
    """Stateful: remembers the target's last world bearing to estimate its rate."""

    def __init__(
        self, gains: OracleGains = OracleGains(), camera: Camera = Camera(), robot: RobotProfile = RobotProfile()
    ) -> None:
        self.gains = gains
        self.camera = camera
        self.robot = robot
        self._last: tuple[float, float, float] | None = None  # (t, pan bearing, tilt bearing)
        self._last_rate: tuple[float, float, float] | None = None  # (t, pan rate, tilt rate)

    def reset(self) -> None:
        self._last = self._last_rate = None

    def command(
        self,
        t: float,
        u: float,
        v: float,
        pan: float,
        tilt: float,
        rate: tuple[float, float] | None = None,
        loop: LoopState | None = None,
    ) -> tuple[float, float]:
        """(pan_vel, tilt_vel) for target pixel (u, v) seen at time t with joints at (pan, tilt).

        `rate`: the target's true (azimuth, elevation) rate at t, when known. `loop`: the joints' rates,
        the earlier commands and the target's scenario path, for a robot profile whose commands do not act
        at once (None: at rest, nothing in flight, no path).
        """
        err_pan, err_tilt = pixel_to_angles(u, v, self.camera)
        bearing = (pan + err_pan, tilt + err_tilt)
        ff_pan = ff_tilt = 0.0
        change = (0.0, 0.0)  # the target's rate change per second, when two true rates tell it
        if self.gains.feed_forward and rate is not None:
            ff_pan, ff_tilt = rate
            last = self._last_rate
            if last is not None and 0 < t - last[0] <= 1.5 * self.gains.period_s:
                # the mean rate over the coming period: half a period of the recent change on top
                half = 0.5 * self.gains.period_s / (t - last[0])
                ff_pan += half * (rate[0] - last[1])
                ff_tilt += half * (rate[1] - last[2])
                change = ((rate[0] - last[1]) / (t - last[0]), (rate[1] - last[2]) / (t - last[0]))
            self._last_rate = (t, *rate)
        elif self.gains.feed_forward and self._last is not None and t > self._last[0]:
            dt = t - self._last[0]
            ff_pan = (bearing[0] - self._last[1]) / dt
            ff_tilt = (bearing[1] - self._last[2]) / dt
        self._last = (t, *bearing)
        if self.robot.instant_actuators:
            k = self.gains.gain / self.gains.period_s
            return self.clip(k * err_pan + ff_pan), self.clip(k * err_tilt + ff_tilt)
        rate_now = rate if rate is not None else (ff_pan, ff_tilt)
        return self._command_ahead(t, (err_pan, err_tilt), rate_now, change, loop or LoopState())

    def _target_motion(
        self, t: float, rate: float, change: float, path: MotionSpec | None, axis: int
    ) -> tuple[float, float]:
        """How far the target turns until the command takes effect, and its mean rate over the period the
        command holds: from its path when known, else from its rate and the rate's recent change."""
        lead, period = self.robot.command_latency_s, self.gains.period_s
        if not self.gains.feed_forward:
            return 0.0, 0.0
        if path is None:
            return rate * lead + 0.5 * change * lead**2, rate + change * (lead + 0.5 * period)
        now, effect, end = (angles_at(path, t + d)[axis] for d in (0.0, lead, lead + period))
        return effect - now, (end - effect) / period

    def _command_ahead(self, t: float, error, rate_now, change, loop: LoopState) -> tuple[float, float]:
        """The command for a loop whose commands act a latency late and through slow actuators."""
        lead, period = self.robot.command_latency_s, self.gains.period_s
        now = ticks(t)
        # from now: the joints' measured rates, and the earlier commands (the next step puts the one in
        # effect now in place; those issued less than a latency ago are still in flight)
        pipeline = Actuation(self.robot, tick=now, velocity=[float(r) for r in loop.joint_rates])
        for stamp, command in loop.commands:
            if ticks(stamp) < now:
                pipeline.command(*command, issued_tick=ticks(stamp))
        out = []
        for axis in (0, 1):
            ahead = pipeline.copy()
            camera_until = ahead.displacement(ticks(lead), axis)
            target_until, target_rate = self._target_motion(t, rate_now[axis], change[axis], loop.target_motion, axis)
            # the target's place when this command takes effect, less where the camera will be by then
            error_then = error[axis] + target_until - camera_until
            wanted = self.gains.gain * error_then + target_rate * period
            out.append(self._solve(ahead, axis, wanted, ticks(period)))
        return out[0], out[1]

    def _solve(self, state: Actuation, axis: int, wanted: float, steps: int) -> float:
        """The command (within the joint limit) whose turn over `steps` from `state` is nearest `wanted`."""

        def turn(command: float) -> float:
            trial = state.copy()
            trial.setpoint = (command, command)
            trial.pending = []
            return trial.displacement(steps, axis)

        low, high = -self.gains.max_velocity, self.gains.max_velocity
        if turn(high) <= wanted:
            return high
        if turn(low) >= wanted:
            return low
        for _ in range(SOLVE_ITERATIONS):
            middle = 0.5 * (low + high)
            low, high = (middle, high) if turn(middle) < wanted else (low, middle)
        return self.clip(0.5 * (low + high))

    def clip(self, value: float) -> float:
        limit = self.gains.max_velocity
        if not math.isfinite(value):
            return 0.0
        return max(-limit, min(limit, value))
