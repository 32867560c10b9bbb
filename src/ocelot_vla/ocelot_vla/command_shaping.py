"""What stands between the model's output and the motors (ROS-free).

NaN/inf -> zero (and say so), clip to max_velocity, limit the change per step
to max_acceleration * dt, optional exponential smoothing, and an emergency stop
that holds zero until released. The watchdog decides when images are stale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ocelot_common.episode_context import AT_REST


@dataclass
class ShapingLimits:
    max_velocity: float = 1.0  # rad/s, per axis
    # rad/s^2, per axis: at 10 Hz a command changes by at most 1 rad/s per frame, so a full reversal at the
    # joints' 1 rad/s takes two frames instead of slamming the servos from one end of their range to the other.
    # (8 rad/s^2 made the shipped model fail its photo gate, 15.15 px: it needs its fast starts.)
    max_acceleration: float = 10.0
    smoothing: float = 0.0  # 0: none; alpha in (0, 1): new = alpha * old + (1 - alpha) * command

    def __post_init__(self) -> None:
        problems = []
        if not (math.isfinite(self.max_velocity) and self.max_velocity > 0):
            problems.append(f"max_velocity must be a positive number, got {self.max_velocity}")
        if not (math.isfinite(self.max_acceleration) and self.max_acceleration > 0):
            problems.append(f"max_acceleration must be a positive number, got {self.max_acceleration}")
        if not 0.0 <= self.smoothing < 1.0:
            problems.append(f"smoothing must be in [0, 1), got {self.smoothing}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass
class Shaped:
    pan: float
    tilt: float
    guarded: bool  # the model's output was not finite and was replaced by zero
    estop: bool


class CommandShaper:
    def __init__(self, limits: ShapingLimits) -> None:
        self.limits = limits
        self.estop = False
        self._last = AT_REST

    def reset(self) -> None:
        self._last = AT_REST

    @property
    def last(self) -> tuple[float, float]:
        """The command most recently let through (zero after a reset or an emergency stop)."""
        return self._last

    def shape(self, pan: float, tilt: float, dt: float) -> Shaped:
        guarded = not (math.isfinite(pan) and math.isfinite(tilt))
        if guarded:
            pan = tilt = 0.0
        if self.estop:
            self._last = AT_REST
            return Shaped(0.0, 0.0, guarded, True)
        lim = self.limits
        step = lim.max_acceleration * max(dt, 0.0)
        out = []
        for value, last in zip((pan, tilt), self._last):
            value = min(max(value, -lim.max_velocity), lim.max_velocity)
            if lim.smoothing:
                value = lim.smoothing * last + (1.0 - lim.smoothing) * value
            out.append(min(max(value, last - step), last + step))
        self._last = (out[0], out[1])
        return Shaped(out[0], out[1], guarded, False)


def frame_interval(previous: float | None, current: float, nominal: float = 0.1) -> float:
    """Seconds between two camera frames by their stamps; `nominal` for the first frame or when the
    camera clock does not move forward (a simulator restarting its episode clock)."""
    if previous is None or not current > previous:
        return nominal
    return current - previous


class Watchdog:
    """Stale when no image for `timeout` s; fires once per stale period (one zero command)."""

    def __init__(self, timeout: float) -> None:
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"stale_image_timeout must be a positive number of seconds, got {timeout}")
        self.timeout = timeout
        self._last_image: float | None = None
        self._fired = False

    def image(self, now: float) -> None:
        self._last_image, self._fired = now, False

    def check(self, now: float) -> bool:
        """True exactly once when images have gone stale (the caller then publishes zero)."""
        if self._last_image is None or self._fired or now - self._last_image < self.timeout:
            return False
        self._fired = True
        return True

    @property
    def stale(self) -> bool:
        return self._fired
