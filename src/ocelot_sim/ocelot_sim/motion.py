"""Face motion patterns in angular coordinates seen from the camera.

A face moves along a direction (mostly horizontal) inside its own azimuth
lane, so faces never cross: the one on the left stays on the left. Each
pattern's peak angular speed is the face's `speed` (rad/s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MOTIONS = ("static", "linear", "sine", "random_walk")


@dataclass(frozen=True)
class MotionSpec:
    pattern: str
    speed: float  # peak angular speed, rad/s
    centre: tuple[float, float]  # (azimuth, elevation) at the lane centre, rad; + is left / up
    half_width: float  # how far along `direction` the face may go from the centre, rad
    direction: float  # angle of travel from horizontal, rad
    phase: float  # in [0, 1): where in its cycle the pattern starts
    seed: int

    def __post_init__(self) -> None:
        if self.pattern not in MOTIONS:
            raise ValueError(f"unknown motion '{self.pattern}'; motions: {', '.join(MOTIONS)}")


def motion_from_dict(values: dict) -> MotionSpec:
    """A MotionSpec from its dict form (a scenario's JSON, as /episode/info carries it)."""
    return MotionSpec(
        str(values["pattern"]),
        float(values["speed"]),
        (float(values["centre"][0]), float(values["centre"][1])),
        float(values["half_width"]),
        float(values["direction"]),
        float(values["phase"]),
        int(values["seed"]),
    )


ROUNDING = 0.97  # < 1 rounds the turnarounds of `linear` (a real head needs time to reverse)
WALK_KNOT_S = 1.5  # s between the random walk's velocity knots


def _rounded_triangle(phi: float) -> float:
    """Period-1 wave in [-1, 1]: straight runs at constant speed, rounded turnarounds."""
    return math.asin(ROUNDING * math.sin(2 * math.pi * phi)) / math.asin(ROUNDING)


# peak of d/dphi of _rounded_triangle (at its zero crossings)
_ROUNDED_SLOPE = 2 * math.pi * ROUNDING / math.asin(ROUNDING)


def _walk_knots(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=n)


def _smooth_walk(seed: int, t: float) -> float:
    """Integral of a velocity that eases (smoothstep) between random knots in [-1, 1]."""
    k = int(t / WALK_KNOT_S)
    knots = _walk_knots(seed, k + 2)
    # each full segment between knots a, b integrates to (a + b) / 2 * WALK_KNOT_S
    total = float(np.sum((knots[:k] + knots[1 : k + 1]) / 2)) * WALK_KNOT_S
    x = t / WALK_KNOT_S - k
    a, b = knots[k], knots[k + 1]
    # integral of a + (b - a) * (3s^2 - 2s^3) over s in [0, x], times the segment length
    return total + (a * x + (b - a) * (x**3 - x**4 / 2)) * WALK_KNOT_S


def offset_along(spec: MotionSpec, t: float) -> float:
    """Signed distance (rad) from the lane centre along the direction of travel at time t."""
    a, v = spec.half_width, spec.speed
    if spec.pattern == "static" or v == 0 or a == 0:
        return 0.0
    if spec.pattern == "linear":
        return a * _rounded_triangle(spec.phase + v * t / (a * _ROUNDED_SLOPE))
    if spec.pattern == "sine":
        amplitude = a * (0.5 + 0.5 * ((spec.seed % 997) / 996))
        omega = v / amplitude
        return amplitude * math.sin(omega * t + 2 * math.pi * spec.phase)
    # random_walk: a smooth unbounded walk folded into the lane by a sine, which keeps |rate| <= speed
    w = v * _smooth_walk(spec.seed, t) + a * math.asin(2 * spec.phase - 1)
    return a * math.sin(w / a)


def angles_at(spec: MotionSpec, t: float) -> tuple[float, float]:
    """(azimuth, elevation) of the face at time t (s)."""
    s = offset_along(spec, max(0.0, t))
    return (spec.centre[0] + s * math.cos(spec.direction), spec.centre[1] + s * math.sin(spec.direction))


def rates_at(spec: MotionSpec, t: float, h: float = 1e-4) -> tuple[float, float]:
    """(d azimuth/dt, d elevation/dt) at time t, rad/s (central difference of the pattern)."""
    t = max(t, h)
    a0, e0 = angles_at(spec, t - h)
    a1, e1 = angles_at(spec, t + h)
    return (a1 - a0) / (2 * h), (e1 - e0) / (2 * h)
